"""The ``interprim`` command."""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .extract import and_or, harsanyi, sparse_and_or
from .interactions import Interactions

_METHODS = {"harsanyi": harsanyi, "and_or": and_or, "sparse_and_or": sparse_and_or}
_LAYER = "pool1"  # the LeNet's first block: the demo's players live on its output feature map
#: the most players the demo explains: its solver takes minutes at n = 12 on a CPU, and each player doubles the work
DEMO_MAX_PLAYERS = 12


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


def _print_top(r: Interactions, k: int, merge_singletons: bool = False) -> None:
    """The ``k`` strongest interactions of one sample; merged, a singleton is one ``single`` row (I_and + I_or)."""
    print(f"{'type':<6} {'effect':>10}  players")
    for kind, players, effect in r.top(k, merge_singletons=merge_singletons):
        print(f"{kind:<6} {effect:>10.4f}  {{{', '.join(players)}}}")


def _demo(args: argparse.Namespace) -> int:
    """The main job on the embedded data: a LeNet on MNIST-10k, interactions of feature-map patches."""
    if args.toy:
        return _toy_demo(args)
    import torch

    from .data import load_mnist10k
    from .games import central_grid_players, image_values
    from .nn import build, split_at
    from .plot import interaction_panel
    from .train import TrainConfig, train

    out_dir = Path(args.out_dir)
    problem = _unwritable(out_dir)
    if problem:
        print(f"error: --out-dir {out_dir}: {problem}", file=sys.stderr)
        return 2
    train_data, test_data = load_mnist10k("train"), load_mnist10k("test")
    if args.images > len(test_data):
        print(f"error: --images {args.images}: the embedded test split has {len(test_data)} digits; ask for at most "
              f"that many.", file=sys.stderr)
        return 2
    if args.train_size:
        train_data = train_data.subset(np.arange(min(args.train_size, len(train_data))))
    print(f"interprim {__version__} demo: a LeNet trained on {len(train_data)} embedded MNIST-10k digits, then the "
          f"sparse AND-OR interactions of {args.players} patches of its '{_LAYER}' feature map on {args.images} test "
          f"digits (P1's players: a 5x5 grid on the map, edges excluded, sampled with seed {args.seed}). A singleton "
          f"{{i}} is listed once, as 'single' with I_and({{i}}) + I_or({{i}}); the saved arrays keep both.")
    model = build("lenet", in_channels=1, input_size=28, seed=args.seed)
    config = TrainConfig(epochs=args.epochs, lr=0.05, batch_size=64, seed=args.seed)
    history = train(model, train_data.tensors(), test_data.tensors(), config, progress=True)
    print(f"test accuracy after {args.epochs} epoch(s): {history.test_acc[-1]:.3f}")
    model.eval()
    with torch.no_grad():
        feature_shape = split_at(model, _LAYER)[0](test_data.images[:1]).shape[-2:]
        predicted = model(test_data.images).argmax(1)
    players = central_grid_players(tuple(feature_shape), grid=5, n=args.players, seed=args.seed)
    chosen = torch.nonzero(predicted == test_data.labels).flatten()[: args.images].tolist()
    values = image_values(model, test_data.images[chosen], players, layer=_LAYER, targets=test_data.labels[chosen])
    names = [f"p{i}" for i in range(args.players)]
    r = sparse_and_or(values, tol=args.tol, max_iter=args.max_iter, players=names, progress=True)
    for row, i in enumerate(chosen):
        s = r[row]
        print(f"\n== test digit #{i}, label {int(test_data.labels[i])}: v(N) − v(∅) = "
              f"{float(values[row, -1] - values[row, 0]):.3f} (log-odds), Σ|I| = {float(s.objective):.3f} "
              f"(certified within {float(s.meta['gap']):.3f} of the optimum), matching error "
              f"{float(s.matching_error(values[row])):.1e}")
        _print_top(s, args.top, merge_singletons=True)
    titles = [f"#{i}: label {int(test_data.labels[i])}" for i in chosen]
    figure = interaction_panel([test_data.images[i, 0].numpy() for i in chosen], players.numpy(), r, titles,
                               out_dir / "interactions.png", top=args.top)
    saved = r.save(out_dir / "interactions.npz")
    print(f"\nfigure: {figure}\ninteractions: {saved}")
    return 0


def _toy_demo(args: argparse.Namespace) -> int:
    v, words = _toy_game()
    print(f"interprim {__version__} demo: a built-in game over {len(words)} players ({', '.join(words)}).")
    print("v(S) = 3·[it ∧ works] + 2·[not ∧ bad] − 1.5·[slow ∨ boring] + 0.5·[great]")
    print("A singleton {i} is listed once, as 'single' with I_and({i}) + I_or({i}).\n")
    for name, method in _METHODS.items():
        r = method(v, players=words)
        err = float(r.matching_error(v))
        print(f"== {name}: objective Σ|I| = {float(r.objective):.3f}, matching error {err:.2e}")
        _print_top(r, args.top, merge_singletons=True)
        print()
    return 0


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be written into ``folder`` (created if missing), or ``None`` when they can."""
    if folder.exists() and not folder.is_dir():
        return "it exists and is not a folder; pass a folder."
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        return f"cannot write there ({e.strerror or e}); pass a folder you can write to."
    return None


def _read_values(path: Path) -> np.ndarray:
    """The value vectors in ``path``: a ``.npy`` file or a text file of numbers, told apart by their content."""
    with open(path, "rb") as f:
        start = f.read(6)
    if start == b"\x93NUMPY":
        try:
            return np.load(path, allow_pickle=False)
        except (EOFError, ValueError) as e:
            raise ValueError(f"{path} is not a readable .npy file of numbers ({e}).") from None
    if start.startswith(b"PK"):
        raise ValueError(
            f"{path} is an .npz archive (saved interactions?); extract reads value vectors from a .npy file or a text "
            f"file of 2**n numbers (read saved interactions with interprim.Interactions.load)."
        )
    try:
        return np.loadtxt(path, ndmin=1)
    except UnicodeDecodeError:
        raise ValueError(
            f"{path} is neither a .npy file nor a text file of numbers; extract reads value vectors of length 2**n "
            f"from one of those."
        ) from None
    except ValueError as e:
        raise ValueError(f"{path} is not a text file of numbers ({e}).") from None


def _extract(args: argparse.Namespace) -> int:
    path = Path(args.values)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    if args.out is not None:
        out = Path(args.out)
        if out.is_dir() or not out.name:
            print(f"error: --out {args.out} is a folder; pass a file name, e.g. {out / 'interactions.npz'}",
                  file=sys.stderr)
            return 2
        if not out.parent.is_dir():
            print(f"error: --out {args.out}: the folder {out.parent} does not exist", file=sys.stderr)
            return 2
    try:
        v = _read_values(path)
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


def _experiment_list(args: argparse.Namespace) -> int:
    from .experiments import get, names

    rows = [(name, get(name).DESCRIPTION) for name in names()]
    width = max(len(name) for name, _ in rows)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    print(f"{'all':<{width}}  every experiment above, into <out>/<name>/ with one shared store")
    return 0


def _experiment_run(args: argparse.Namespace) -> int:
    from .experiments import run_all, run_experiment
    from .experiments.runner import default_out

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else default_out(args.name)
    try:
        executor = _executor(args)
    except (ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    options = {"config_source": args.config, "overrides": args.overrides, "out": out, "device": args.device,
               "store": args.store, "executor": executor}
    try:
        if args.name == "all":
            docs = run_all(**options)
            folders = {name: out / name for name in docs}
        else:
            docs = {args.name: run_experiment(args.name, **options)}
            folders = {args.name: out}
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if executor is not None:
            executor.close()
    for name, doc in docs.items():
        tasks = doc["tasks"]
        print(f"{name}: {folders[name]} ({tasks['computed']} tasks computed, {tasks['reused']} reused, "
              f"{doc['seconds']:.1f} s); see {folders[name] / 'report.html'} (or summary.md)")
    return 0


def _executor(args: argparse.Namespace) -> Any:
    """The executor of ``experiment run``: ``None`` (in this process) or a :class:`RayExecutor` (not yet connected)."""
    ray_only = {"--address": args.address, "--workers": args.workers, "--task-cpus": args.task_cpus,
                "--task-gpus": args.task_gpus}
    if args.executor != "ray":
        given = [flag for flag, value in ray_only.items() if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to --executor ray.")
        return None
    if args.address is not None and args.workers is not None:
        raise ValueError("--workers sizes a local Ray instance; with --address the cluster has its own workers.")
    from .experiments.executor import RayExecutor

    gpus = args.task_gpus if args.task_gpus is not None else 1.0
    return RayExecutor(args.address, workers=args.workers, cpus=args.task_cpus or 1.0, gpus=gpus)


def _experiment_report(args: argparse.Namespace) -> int:
    from .experiments import report

    try:
        paths = report(args.dir)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report import write_index

    try:
        index = write_index(args.dirs, args.out)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(index)
    return 0


def _positive_int(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        k = 0
    if k < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return k


def _finite_float(text: str, *, zero: bool) -> float:
    """A finite number ``> 0`` (or ``>= 0`` with ``zero``) from the command line."""
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not (0 <= x if zero else 0 < x) or not x < math.inf:
        raise argparse.ArgumentTypeError(f"expected a number {'>= 0' if zero else '> 0'}, got {text!r}")
    return x


def _positive_float(text: str) -> float:
    return _finite_float(text, zero=False)


def _non_negative_float(text: str) -> float:
    return _finite_float(text, zero=True)


def _non_negative_int(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        k = -1
    if not 0 <= k < 2**63:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return k


def _demo_players(text: str) -> int:
    k = _positive_int(text)
    if k > DEMO_MAX_PLAYERS:
        raise argparse.ArgumentTypeError(
            f"the demo explains at most {DEMO_MAX_PLAYERS} players (its solver takes minutes at n = {DEMO_MAX_PLAYERS} "
            f"on a CPU and each player doubles the work), got {k}"
        )
    return k


def _relative_gap(text: str) -> float:
    try:
        tol = float(text)
    except ValueError:
        tol = math.nan
    if not 0 < tol < 1:
        raise argparse.ArgumentTypeError(f"expected a relative gap in (0, 1), e.g. 0.01, got {text!r}")
    return tol


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="interprim", description="AND-OR interaction primitives of neural networks.")
    p.add_argument("--version", action="version", version=f"interprim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train a LeNet on the embedded MNIST-10k and explain a few test digits")
    d.add_argument("--top", type=_positive_int, default=6, help="how many interactions to list per sample")
    d.add_argument("--epochs", type=_positive_int, default=2, help="training epochs")
    d.add_argument("--train-size", type=_positive_int, default=None, help="train on the first N digits only")
    d.add_argument("--images", type=_positive_int, default=3, help="how many test digits to explain")
    d.add_argument("--players", type=_demo_players, default=10,
                   help=f"feature-map patches (players), at most {DEMO_MAX_PLAYERS}")
    d.add_argument("--tol", type=_relative_gap, default=1e-2, help="certified relative gap of the solver, in (0, 1)")
    d.add_argument("--max-iter", type=_positive_int, default=5000, help="iteration limit of the solver")
    d.add_argument("--seed", type=_non_negative_int, default=0)
    d.add_argument("--out-dir", default="interprim-demo", help="where the figure and the interactions go")
    d.add_argument("--toy", action="store_true", help="only the small built-in example with a planted structure")
    d.set_defaults(func=_demo)
    e = sub.add_parser("extract", help="interactions of value vectors stored in a .npy or text file")
    e.add_argument("values", help="a .npy file (shape (..., 2**n)) or a text file with 2**n numbers")
    e.add_argument("--method", choices=sorted(_METHODS), default="harsanyi")
    e.add_argument("--top", type=_positive_int, default=10, help="how many interactions to list")
    e.add_argument("--out", help="save the interactions to this .npz file")
    e.set_defaults(func=_extract)
    x = sub.add_parser("experiment", help="run the experiments of the papers and render their reports")
    xs = x.add_subparsers(dest="action", required=True)
    xs.add_parser("list", help="the experiments and what each shows").set_defaults(func=_experiment_list)
    r = xs.add_parser("run", help="run an experiment (or all) into an output folder; reruns resume from the store")
    r.add_argument("name", help="an experiment of `interprim experiment list`, or all")
    r.add_argument("--config", default="cpu", help="cpu (minutes on a CPU), paper (the papers' scale), text-cpu or "
                   "text-paper (SST-2 with BERT-Tiny or MiniLM), lm-cpu or lm-paper (P2's next-word task), "
                   "or a FILE.toml")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (a TOML value: seeds=[0,1,2], lr=0.01, arch=lenet); repeatable")
    r.add_argument("--out", help="output folder (default runs/<name>-<timestamp>)")
    r.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    r.add_argument("--store", help="task store shared between runs (default <out>/store)")
    r.add_argument("--threads", type=_positive_int, default=None,
                   help="torch CPU threads (default: torch's); 1 is much faster on a CPU other jobs share")
    r.add_argument("--executor", choices=("inprocess", "ray"), default="inprocess",
                   help="where tasks run: one after the other in this process, or as Ray tasks, many at once "
                   "(pip install 'interprim[ray]')")
    r.add_argument("--address", help="with --executor ray: a running Ray cluster (auto, HOST:6379 or "
                   "ray://HOST:10001); default: start a local Ray instance")
    r.add_argument("--workers", type=_positive_int, default=None,
                   help="with --executor ray and no --address: CPUs of the local Ray instance (default: all)")
    r.add_argument("--task-cpus", type=_positive_float, default=None,
                   help="with --executor ray: CPUs (and torch threads) per task (default 1)")
    r.add_argument("--task-gpus", type=_non_negative_float, default=None,
                   help="with --executor ray: GPUs per task that runs on a CUDA --device; a fraction shares "
                   "a GPU (default 1)")
    r.set_defaults(func=_experiment_run)
    rep = xs.add_parser("report", help="re-render the figures, summary.md and report.html of a run from its "
                        "results.json")
    rep.add_argument("dir", help="the output folder of `interprim experiment run`")
    rep.set_defaults(func=_experiment_report)
    ix = sub.add_parser("report", help="rewrite the report.html of runs and an index page that links them")
    ix.add_argument("dirs", nargs="+", metavar="DIR",
                    help="output folders of `interprim experiment run` (the folder of `run all` stands for its runs)")
    ix.add_argument("--out", metavar="FILE",
                    help="the index page (default: report.html in the nearest folder that holds every run)")
    ix.set_defaults(func=_report)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a reader that went away shows here, not at exit
    except BrokenPipeError:  # e.g. `interprim demo --toy | head`: stop quietly, as other commands do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
