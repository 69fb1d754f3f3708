"""The ``interprim`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import __version__
from .extract import and_or, harsanyi, sparse_and_or
from .interactions import Interactions

_METHODS = {"harsanyi": harsanyi, "and_or": and_or, "sparse_and_or": sparse_and_or}


def _toy_game() -> tuple[np.ndarray, tuple[str, ...]]:
    """A small built-in game with known structure: two AND patterns and one OR pattern.

    ``v(S) = 3·[it ∧ works] + 2·[not ∧ bad] − 1.5·[slow ∨ boring] + 0.5·[great]`` over 7 players.
    """
    words = ("it", "works", "not", "bad", "slow", "boring", "great")
    bits = {w: 1 << i for i, w in enumerate(words)}
    s = np.arange(2 ** len(words))

    def has(*ws: str) -> np.ndarray:
        m = sum(bits[w] for w in ws)
        return (s & m) == m

    def any_of(*ws: str) -> np.ndarray:
        return (s & sum(bits[w] for w in ws)) != 0

    v = 3.0 * has("it", "works") + 2.0 * has("not", "bad") - 1.5 * any_of("slow", "boring") + 0.5 * has("great")
    return v.astype(np.float64), words


def _print_top(r: Interactions, k: int) -> None:
    print(f"{'type':<5} {'effect':>10}  players")
    for kind, players, effect in r.top(k):
        print(f"{kind:<5} {effect:>10.4f}  {{{', '.join(players)}}}")


def _demo(args: argparse.Namespace) -> int:
    v, words = _toy_game()
    print(f"interprim {__version__} demo: a built-in game over {len(words)} players ({', '.join(words)}).")
    print("v(S) = 3·[it ∧ works] + 2·[not ∧ bad] − 1.5·[slow ∨ boring] + 0.5·[great]\n")
    for name, method in _METHODS.items():
        r = method(v, players=words)
        err = float(r.matching_error(v))
        print(f"== {name}: objective Σ|I| = {float(r.objective):.3f}, matching error {err:.2e}")
        _print_top(r, args.top)
        print()
    return 0


def _extract(args: argparse.Namespace) -> int:
    path = Path(args.values)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    try:
        v = np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path, ndmin=1)
        r = _METHODS[args.method](v)
        print(r)
        if not r.batch_shape:
            _print_top(r, args.top)
        if args.out:
            print(f"saved to {r.save(args.out)}")
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _positive_int(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        k = 0
    if k < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return k


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="interprim", description="AND-OR interaction primitives of neural networks.")
    p.add_argument("--version", action="version", version=f"interprim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="compute and print the interactions of a small built-in example")
    d.add_argument("--top", type=_positive_int, default=6, help="how many interactions to list per method")
    d.set_defaults(func=_demo)
    e = sub.add_parser("extract", help="interactions of value vectors stored in a .npy or text file")
    e.add_argument("values", help="a .npy file (shape (..., 2**n)) or a text file with 2**n numbers")
    e.add_argument("--method", choices=sorted(_METHODS), default="harsanyi")
    e.add_argument("--top", type=_positive_int, default=10, help="how many interactions to list")
    e.add_argument("--out", help="save the interactions to this .npz file")
    e.set_defaults(func=_extract)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
