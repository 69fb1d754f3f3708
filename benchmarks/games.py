"""Benchmark of games on the model zoo (issues 4, 10; SPEC §5-6): throughput, batching, share of extraction.

1. **Throughput.** For zoo models (``interprim.nn.build``, random weights: the speed of a forward
   pass does not depend on them; default LeNet and the MLP on 28×28×1 MNIST-like inputs, AlexNet,
   VGG-11 and ResNet-20 on 32×32×3 CIFAR-like inputs; ``--models``/``--inputs`` choose others) it
   evaluates ``--games`` :class:`~interprim.games.ImageGame` games of ``n`` players (all ``2**n``
   masked evaluations each) on random images in [0, 1], with the players

   - at the **input**: ``n`` of the 4×4 patches tiling the image, sampled with the seed (P2);
   - after the **low layers** (``layer="low"``, :func:`interprim.nn.low_layers_output`: ``pool1``
     of LeNet, AlexNet and VGG-11, ``relu1`` of VGG-13/16 and ResNet-20/32, ``stage1_block3`` of
     ResNet-56): ``n`` cells of the central 5×5 grid of that feature map (P1,
     ``central_grid_players``), on the **split path** (the zoo model: low layers once per game,
     only the high layers on the masked maps) and on the **hook path** (the same model wrapped in a
     plain ``nn.Module``: the whole model runs on every masked copy of the image, a forward hook
     swaps the masked map in; what every zoo model ran before issue 10). The MLP has no spatial
     map after its first layer, so it has no layer rows.

   Each game is timed from its construction (the forward pass on the unmasked image) to the end of
   its ``values()``; it reports the median over the games as masked evaluations per second. One
   small batch per model and placement runs first, untimed.

2. **Many samples in one call.** For the ``--batch-models`` and each ``--batch-n``, the values of
   ``--batch-samples`` random images with P1's players after the low layers, computed by a loop of
   ``ImageGame(...).values()`` and by one call of :func:`interprim.games.image_values` (which
   batches the masked maps across images): the best of ``--repeat`` calls of each, taken in turns.
   With ``transformers`` installed, the same for BERT-Tiny (random weights) on ``--batch-samples``
   random sentences of a made-up vocabulary, ``TextGame(..., layer=1)`` against
   :func:`interprim.games.text_values`.

3. **Share of extraction time.** For the ``--share`` models (default: LeNet on 28×28×1 trained for
   ``--epochs`` on ``--train-size`` digits of the embedded MNIST-10k, and ResNet-20 on 32×32×3 with
   random weights, since training it takes minutes on a CPU; the 32×32×3 models see the digits padded
   by 2 pixels and repeated over 3 channels, as there is no CIFAR-10 here), it computes P1's
   games after the low layers (as above; log-odds of the true label) of the first ``--share-games``
   correctly classified test digits for each ``--share-n`` with ``image_values``, and times that
   against ``interprim.sparse_and_or(values, tol=--tol)`` on the whole batch (after one untimed call
   of each). It prints the model's share ``t_model / (t_model + t_solver)``.

Usage::

    python benchmarks/games.py --threads 1 --out benchmarks/results/games.json
    python benchmarks/games.py --models vgg16 resnet56 --inputs 28 32 --n 8 --games 3 --batch-models --share
    python benchmarks/games.py --models --batch-models --share vgg11:32:1 --share-n 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

try:
    import interprim  # noqa: F401
except ModuleNotFoundError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch

import interprim as ip
from interprim.data import load_mnist10k
from interprim.games import ImageGame, TextGame, central_grid_players, image_values, patch_grid, text_values
from interprim.games.players import sample_indices
from interprim.nn import build, low_layers_output, names, split_at
from interprim.train import TrainConfig, train
from transforms import _cpu_name  # benchmarks/transforms.py: this script's folder is on sys.path

CHANNELS = {28: 1, 32: 3}  # input size -> channels: 28×28×1 MNIST-like, 32×32×3 CIFAR-like
NATURAL_SIZE = {"lenet": 28, "mlp": 28}  # the models meant for MNIST; every other zoo model: 32×32×3
DEFAULT_MODELS = ("lenet", "mlp", "alexnet", "vgg11", "resnet20")
BATCH_MODELS = ("lenet", "alexnet", "vgg11", "resnet20")
PLACEMENTS = ("input", "split", "hook")


class Wrapped(torch.nn.Module):
    """The model behind a plain ``forward``: an image game can only take the hook path on it."""

    def __init__(self, body: torch.nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


# ---------------------------------------------------------------------------------------------
# Players
# ---------------------------------------------------------------------------------------------


def feature_shape(model: torch.nn.Module, layer: str, image: torch.Tensor) -> tuple[int, ...]:
    with torch.no_grad():
        return tuple(split_at(model, layer)[0](image[None]).shape[1:])


def input_players(size: int, n: int, seed: int) -> torch.Tensor:
    """``n`` of the 4×4 patches tiling a ``size × size`` image, sampled with ``seed`` (row-major)."""
    grid = patch_grid(size, size, 4)
    return grid[sample_indices(grid.shape[0], n, seed)]


def layer_players(model: torch.nn.Module, image: torch.Tensor, n: int, seed: int) -> tuple[Any, str]:
    """P1's players after the low layers and that layer; ``(None, reason)`` when its output has no spatial map."""
    layer = low_layers_output(model)
    shape = feature_shape(model, layer, image)
    if len(shape) < 3:
        return None, f"'{layer}' outputs {shape}: no spatial map"
    return central_grid_players(shape, grid=5, n=n, seed=seed), layer


def game_args(model: torch.nn.Module, placement: str, image: torch.Tensor, n: int, seed: int) -> dict[str, Any]:
    """``ImageGame`` arguments of a placement (``model``, ``players``, ``layer``); ``{"skipped": reason}`` if none."""
    if placement == "input":
        return {"model": model, "players": input_players(image.shape[-1], n, seed), "layer": None}
    players, layer = layer_players(model, image, n, seed)
    if players is None:
        return {"skipped": layer}
    if placement == "split":
        return {"model": model, "players": players, "layer": layer}
    return {"model": Wrapped(model), "players": players, "layer": f"body.{layer}"}


# ---------------------------------------------------------------------------------------------
# 1. Throughput
# ---------------------------------------------------------------------------------------------


def throughput(name: str, size: int, placement: str, args: argparse.Namespace) -> dict:
    channels = CHANNELS[size]
    model = build(name, in_channels=channels, input_size=size, seed=args.seed).eval()
    images = torch.rand(args.games, channels, size, size, generator=torch.Generator().manual_seed(args.seed))
    row: dict[str, Any] = {"model": name, "input": f"{size}x{size}x{channels}", "placement": placement,
                           "n": args.n, "games": args.games, "parameters": sum(p.numel() for p in model.parameters())}
    kwargs = game_args(model, placement, images[0], args.n, args.seed)
    if "skipped" in kwargs:
        return {**row, "skipped": kwargs["skipped"]}
    warm = ImageGame(image=images[0], batch_size=args.batch_size, **kwargs)
    row["path"], row["layer"] = warm.path, low_layers_output(model) if kwargs["layer"] else "input"
    row["map"] = list(warm.features.shape)
    row["batch_size"] = min(warm.default_batch_size(), 2**args.n)
    warm(torch.ones(min(64, 2**args.n), args.n, dtype=torch.bool))  # untimed: allocator, kernels, caches
    times = []
    for image in images:
        start = time.perf_counter()
        ImageGame(image=image, batch_size=args.batch_size, **kwargs).values()
        times.append(time.perf_counter() - start)
    row["seconds"] = times
    row["ms_per_game"] = 1e3 * float(np.median(times))  # the median resists a neighbour's burst of load
    row["evals_per_s"] = 2**args.n / float(np.median(times))
    return row


def print_throughput(rows: list[dict]) -> None:
    print(f"\n### Masked evaluations per second (n = {rows[0]['n']}: {2 ** rows[0]['n']} per game)\n")
    print("| model | input | params | input | layer | map | split path | hook path | split ÷ hook |")
    print("|---|---|--:|--:|---|---|--:|--:|--:|")
    keyed = {(r["model"], r["input"], r["placement"]): r for r in rows}
    for model, size in dict.fromkeys((r["model"], r["input"]) for r in rows):
        a, split, hook = (keyed.get((model, size, p)) for p in PLACEMENTS)
        params = next(r["parameters"] for r in (a, split, hook) if r)
        cells = [model, size, f"{params / 1e3:,.1f} k", _rate(a)]
        if split is None or "skipped" in split:
            cells += ["–", split["skipped"] if split else "", "n/a", "n/a", ""]
        else:
            cells += [split["layer"], "×".join(map(str, split["map"])), _rate(split), _rate(hook)]
            both = hook is not None and "evals_per_s" in hook
            cells.append(f"{split['evals_per_s'] / hook['evals_per_s']:.2f}×" if both else "")
        print("| " + " | ".join(cells) + " |")


def _rate(row: dict | None) -> str:
    return "" if row is None or "evals_per_s" not in row else f"{row['evals_per_s']:,.0f}"


# ---------------------------------------------------------------------------------------------
# 2. Many samples in one call
# ---------------------------------------------------------------------------------------------


def _best_of(loop: Any, batched: Any, repeat: int) -> tuple[float, float, Any, Any]:
    """The shortest of ``repeat`` timed calls of ``loop`` and of ``batched``, taken in turns so that a
    neighbour's burst of load hits both alike, and their last results."""
    times: dict[Any, float] = {loop: float("inf"), batched: float("inf")}
    out: dict[Any, Any] = {}
    for _ in range(repeat):
        for fn in (loop, batched):
            start = time.perf_counter()
            out[fn] = fn()
            times[fn] = min(times[fn], time.perf_counter() - start)
    return times[loop], times[batched], out[loop], out[batched]


def batched_images(name: str, n: int, args: argparse.Namespace) -> dict:
    size = NATURAL_SIZE.get(name, 32)
    channels = CHANNELS[size]
    model = build(name, in_channels=channels, input_size=size, seed=args.seed).eval()
    images = torch.rand(args.batch_samples, channels, size, size, generator=torch.Generator().manual_seed(args.seed))
    players, layer = layer_players(model, images[0], n, args.seed)
    image_values(model, images[:2], players, layer=layer)  # untimed warm-up
    t_loop, t_batch, looped, batched = _best_of(
        lambda: torch.stack([ImageGame(model, x, players, layer=layer).values() for x in images]),
        lambda: image_values(model, images, players, layer=layer),
        args.repeat,
    )
    return _batch_row(name, f"{size}x{size}x{channels}", layer, n, args.batch_samples, t_loop, t_batch, looped, batched)


def _batch_row(model: str, data: str, layer: str, n: int, samples: int, t_loop: float, t_batch: float,
               looped: torch.Tensor, batched: torch.Tensor) -> dict:
    evals = samples * 2**n
    return {"model": model, "input": data, "layer": layer, "n": n, "samples": samples, "loop_seconds": t_loop,
            "batched_seconds": t_batch, "loop_evals_per_s": evals / t_loop, "batched_evals_per_s": evals / t_batch,
            "speedup": t_loop / t_batch, "max_abs_difference": float((looped - batched).abs().max())}


WORDS = ("film", "plot", "actor", "scene", "story", "music", "dull", "great", "slow", "funny", "sad", "bright",
         "dark", "long", "short", "brilliant", "boring", "moving", "cast", "ending", "script", "camera", "light",
         "score")


def batched_text(n: int, args: argparse.Namespace) -> dict | None:
    """BERT-Tiny (random weights) on random sentences of 12-24 made-up-vocabulary words, players after block 1."""
    try:
        import transformers
    except ImportError:
        return None
    from interprim.nn import bert_tiny

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vocab.txt"
        path.write_text("\n".join(vocab) + "\n")
        tokenizer = transformers.BertTokenizerFast(str(path))
    model = bert_tiny(vocab_size=len(vocab), seed=args.seed).eval()
    rng = np.random.default_rng(args.seed)
    sentences = [" ".join(rng.choice(WORDS, size=int(rng.integers(12, 25)))) for _ in range(args.batch_samples)]
    text_values(model, tokenizer, sentences[:2], n=n, layer=1)  # untimed warm-up
    t_loop, t_batch, looped, (batched, _) = _best_of(
        lambda: torch.stack([TextGame(model, tokenizer, s, n=n, layer=1).values() for s in sentences]),
        lambda: text_values(model, tokenizer, sentences, n=n, layer=1),
        args.repeat,
    )
    return _batch_row("bert_tiny", "12-24 words", "block 1", n, args.batch_samples, t_loop, t_batch, looped, batched)


def print_batched(rows: list[dict]) -> None:
    print("\n### Many samples in one call: a loop of single games vs image_values / text_values\n")
    print("| model | input | layer | n | samples | loop: evals/s | one call: evals/s | speed-up | max abs diff |")
    print("|---|---|---|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        print(f"| {r['model']} | {r['input']} | {r['layer']} | {r['n']} | {r['samples']} | "
              f"{r['loop_evals_per_s']:,.0f} | {r['batched_evals_per_s']:,.0f} | {r['speedup']:.2f}× | "
              f"{r['max_abs_difference']:.1e} |")


# ---------------------------------------------------------------------------------------------
# 3. Share of extraction time
# ---------------------------------------------------------------------------------------------


def _as_size(images: torch.Tensor, size: int) -> torch.Tensor:
    """MNIST digits as 28×28×1 or, padded by 2 and repeated over 3 channels, as 32×32×3."""
    if size == 28:
        return images
    pad = (size - 28) // 2
    return torch.nn.functional.pad(images, (pad, pad, pad, pad)).repeat(1, CHANNELS[size], 1, 1)


def share(name: str, size: int, epochs: int, args: argparse.Namespace) -> dict:
    train_data, test_data = load_mnist10k("train"), load_mnist10k("test")
    train_data = train_data.subset(np.arange(min(args.train_size, len(train_data))))
    test_data = test_data.subset(np.arange(min(args.eval_size, len(test_data))))
    model = build(name, in_channels=CHANNELS[size], input_size=size, seed=args.seed)
    x_test = _as_size(test_data.images, size)
    start = time.perf_counter()
    if epochs:
        config = TrainConfig(epochs=epochs, lr=args.lr, batch_size=64, seed=args.seed)
        train(model, (_as_size(train_data.images, size), train_data.labels), None, config, progress=False)
    train_seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(x_test[i : i + 256]).argmax(1) for i in range(0, len(x_test), 256)])
    correct = predicted == test_data.labels
    out: dict[str, Any] = {"model": name, "input": f"{size}x{size}x{CHANNELS[size]}", "epochs": epochs,
                           "train_size": len(train_data) if epochs else 0, "train_seconds": train_seconds,
                           "test_accuracy": float(correct.double().mean()), "test_size": len(test_data), "by_n": {}}
    chosen = torch.nonzero(correct).flatten()[: args.share_games].tolist()
    if len(chosen) < args.share_games:
        raise SystemExit(f"{name}: only {len(chosen)} of {len(test_data)} test digits are classified correctly; "
                         f"raise --eval-size or train longer.")
    layer = low_layers_output(model)
    out["layer"] = layer
    for n in args.share_n:
        players = central_grid_players(feature_shape(model, layer, x_test[0]), grid=5, n=n, seed=args.seed)
        image_values(model, x_test[chosen[:1]], players, layer=layer)  # warm-up
        start = time.perf_counter()
        values = image_values(model, x_test[chosen], players, layer=layer, targets=test_data.labels[chosen])
        t_model = time.perf_counter() - start
        ip.sparse_and_or(values[:1, :], tol=args.tol)  # warm-up of the solver (first call)
        start = time.perf_counter()
        r = ip.sparse_and_or(values, tol=args.tol)
        t_solver = time.perf_counter() - start
        out["by_n"][str(n)] = {
            "games": len(chosen),
            "model_seconds": t_model,
            "solver_seconds": t_solver,
            "model_share": t_model / (t_model + t_solver),
            "solver_iterations": np.asarray(r.meta["iterations"]).astype(int).tolist(),
            "relative_gap_max": float(np.max(np.asarray(r.meta["gap"]) / np.asarray(r.objective))),
            "converged": bool(np.all(r.meta["converged"])),
        }
    return out


def print_share(rows: list[dict], tol: float) -> None:
    print(f"\n### Extraction time: model vs solver (sparse_and_or, tol {tol}, all games in one batch)\n")
    print("| model | input | test acc. | layer | n | games | model s | solver s | model share | solver iterations (max) |")
    print("|---|---|--:|---|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        acc = f"{r['test_accuracy']:.2f}" + ("" if r["epochs"] else " (random weights)")
        for n, m in r["by_n"].items():
            print(f"| {r['model']} | {r['input']} | {acc} | {r['layer']} | {n} | {m['games']} | "
                  f"{m['model_seconds']:.2f} | {m['solver_seconds']:.2f} | {100 * m['model_share']:.0f} % | "
                  f"{max(m['solver_iterations'])} |")


# ---------------------------------------------------------------------------------------------


def _share_spec(text: str) -> tuple[str, int, int | None]:
    """``MODEL:SIZE`` or ``MODEL:SIZE:EPOCHS`` (default epochs: ``--epochs``)."""
    parts = text.split(":")
    ok = len(parts) in (2, 3) and parts[0] in names() and parts[1] in ("28", "32")
    ok = ok and (len(parts) == 2 or parts[2].isdigit())
    if not ok:
        raise argparse.ArgumentTypeError(
            f"expected MODEL:SIZE[:EPOCHS] with MODEL in {', '.join(names())} and SIZE 28 or 32, got {text!r}"
        )
    return parts[0], int(parts[1]), int(parts[2]) if len(parts) == 3 else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="*", default=list(DEFAULT_MODELS), choices=names(), metavar="MODEL",
                   help=f"zoo models of the throughput table (none: skip it), any of {' '.join(names())}; "
                   f"default {' '.join(DEFAULT_MODELS)}")
    p.add_argument("--inputs", type=int, nargs="+", default=None, choices=sorted(CHANNELS),
                   help="input sizes, 28 (28x28x1) and/or 32 (32x32x3), for every model; default: 28 for lenet "
                   "and mlp, 32 for the others")
    p.add_argument("--n", type=int, default=10, help="players of the throughput games")
    p.add_argument("--games", type=int, default=2, help="games per model, input size and placement")
    p.add_argument("--batch-size", type=int, default=None, help="masked evaluations per forward pass of the "
                   "throughput games (default: the games' memory budget, 256 MiB of masked inputs, at most 4 MiB "
                   "on a CPU)")
    p.add_argument("--batch-models", nargs="*", default=list(BATCH_MODELS), choices=names(), metavar="MODEL",
                   help=f"zoo models of the loop-vs-one-call table (none: skip it); default {' '.join(BATCH_MODELS)}")
    p.add_argument("--batch-n", type=int, nargs="+", default=[4, 8], help="players of the loop-vs-one-call games")
    p.add_argument("--batch-samples", type=int, default=8, help="samples per loop-vs-one-call row")
    p.add_argument("--text", action=argparse.BooleanOptionalAction, default=True,
                   help="add BERT-Tiny rows to the loop-vs-one-call table (needs transformers)")
    p.add_argument("--repeat", type=int, default=3, help="the loop-vs-one-call rows report the best of this many")
    p.add_argument("--share", type=_share_spec, nargs="*", default=[("lenet", 28, None), ("resnet20", 32, 0)],
                   metavar="MODEL:SIZE[:EPOCHS]", help="models of the model-vs-solver table (none: skip it); "
                   "default lenet:28 (trained for --epochs) and resnet20:32:0 (random weights: training it "
                   "takes minutes on a CPU)")
    p.add_argument("--share-n", type=int, nargs="+", default=[8, 10])
    p.add_argument("--share-games", type=int, default=4, help="games per model and n, solved in one batch")
    p.add_argument("--epochs", type=int, default=1, help="default training epochs of the --share models")
    p.add_argument("--train-size", type=int, default=4000, help="embedded MNIST-10k training digits they train on")
    p.add_argument("--eval-size", type=int, default=500,
                   help="test digits for the accuracy; the games' digits are the first correctly classified")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--tol", type=float, default=1e-2, help="certified relative gap of sparse_and_or")
    p.add_argument("--threads", type=int, default=2,
                   help="torch.set_num_threads; on a machine other jobs load, 1 (see benchmarks/README.md)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/games.json"))
    args = p.parse_args(argv)
    counts = (args.games, args.share_games, args.batch_samples, args.repeat)
    if any(not 1 <= n <= 16 for n in [args.n, *args.share_n, *args.batch_n]) or min(counts) < 1:
        p.error("need 1 <= --n, --share-n, --batch-n <= 16 and --games, --share-games, --batch-samples, --repeat >= 1")
    torch.set_num_threads(args.threads)
    meta = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "processor": _cpu_name(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    print(f"interprim games benchmark: torch {meta['torch']} ({meta['torch_threads']} threads), {meta['cpu_count']} "
          f"CPUs ({meta['processor']}); load average {meta['load_average_at_start']}", flush=True)
    report: dict[str, Any] = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                              "meta": meta, "throughput": [], "batched": [], "share": []}
    started = time.perf_counter()
    for name in args.models:
        for size in args.inputs or [NATURAL_SIZE.get(name, 32)]:
            for placement in PLACEMENTS:
                row = throughput(name, size, placement, args)
                report["throughput"].append(row)
                done = row.get("skipped") or f"{row['evals_per_s']:,.0f} evals/s, {row['ms_per_game']:,.1f} ms/game"
                print(f"  {name:<9} {row['input']:<8} {placement:<12} {done}", flush=True)
    for n in args.batch_n:
        rows = [batched_images(name, n, args) for name in args.batch_models]
        text = batched_text(n, args) if args.text else None
        for row in rows + ([text] if text else []):
            report["batched"].append(row)
            print(f"  {row['model']:<9} n={n:<3} {row['samples']} samples: loop {row['loop_evals_per_s']:,.0f} "
                  f"evals/s, one call {row['batched_evals_per_s']:,.0f} evals/s ({row['speedup']:.2f}×)", flush=True)
    for name, size, epochs in args.share:
        row = share(name, size, args.epochs if epochs is None else epochs, args)
        report["share"].append(row)
        print(f"  {name:<9} {row['input']:<8} {row['epochs']} epoch(s) in {row['train_seconds']:.0f} s, test accuracy "
              f"{row['test_accuracy']:.2f}; model share "
              + ", ".join(f"n={n}: {100 * m['model_share']:.0f} %" for n, m in row["by_n"].items()), flush=True)
    report["seconds"] = time.perf_counter() - started
    meta["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    if report["throughput"]:
        print_throughput(report["throughput"])
    if report["batched"]:
        print_batched(report["batched"])
    if report["share"]:
        print_share(report["share"], args.tol)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"\n{report['seconds']:.0f} s in all; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
