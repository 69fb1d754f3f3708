"""How much a warm start saves the certified ADMM solver (issue 10, item 5).

A LeNet is trained on the embedded MNIST-10k train split one epoch at a time. After every epoch the
games of the same ``--samples`` test digits are built with the same players (``n`` patches of the
``pool1`` feature map, P1's players, baseline 0, log-odds of the true label). From the second epoch
on, each epoch's games are solved twice at ``--tol``: cold (from the fixed split) and warm-started
from the previous epoch's solution (``sparse_and_or(v, init=previous)``). A last row solves the final
games at ``--tol`` cold and warm-started from a solution at ``10·tol`` (refining a coarse solution).

It prints a table (relative change of the games, iterations and seconds per game, cold vs warm) and
writes it as JSON. Usage::

    python benchmarks/warm_start.py --epochs 4 --samples 32 --n 8 --out benchmarks/results/warm_start.json

Samples that reach ``max_iter`` (20 000) are counted in the JSON (``unconverged_*``); their
iterations count as 20 000.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import interprim as ip
from interprim.data import load_mnist10k
from interprim.games import ImageGame, central_grid_players
from interprim.nn import build
from interprim.train import TrainConfig, train


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/warm_start.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", ip.extract.ConvergenceWarning)  # counted in the table instead

    train_data, test_data = load_mnist10k("train"), load_mnist10k("test")
    model = build("lenet", in_channels=1, input_size=28, seed=args.seed)
    with torch.no_grad():
        shape = model[: list(model._modules).index("pool1") + 1](test_data.images[:1]).shape[-2:]
    players = central_grid_players(tuple(shape), grid=5, n=args.n, seed=args.seed)
    chosen = list(range(args.samples))
    rows, previous, values_before = [], None, None
    header = f"{'epoch':>5} {'change':>8} {'cold it':>8} {'warm it':>8} {'cold s/game':>11} {'warm s/game':>11} {'saved':>6}"
    print(header)
    for epoch in range(1, args.epochs + 1):
        config = TrainConfig(epochs=1, lr=0.05, batch_size=64, seed=args.seed + epoch)
        train(model, train_data.tensors(), None, config, progress=False)
        model.eval()
        values = torch.stack(
            [
                ImageGame(model, test_data.images[i], players, layer="pool1", target=int(test_data.labels[i])).values()
                for i in chosen
            ]
        ).numpy()
        cold, t_cold = timed(lambda: ip.sparse_and_or(values, tol=args.tol))
        if previous is not None:
            warm, t_warm = timed(lambda: ip.sparse_and_or(values, tol=args.tol, init=previous))
            scale = np.abs(values[:, -1] - values[:, 0])
            change = float(np.median(np.abs(values - values_before).max(-1) / scale))
            rows.append(record(f"epoch {epoch - 1}→{epoch}", change, cold, warm, t_cold, t_warm, args.samples))
        previous, values_before = cold, values
    coarse = ip.sparse_and_or(values, tol=10 * args.tol)
    warm, t_warm = timed(lambda: ip.sparse_and_or(values, tol=args.tol, init=coarse))
    rows.append(record(f"tol {10 * args.tol:g}→{args.tol:g}", 0.0, cold, warm, t_cold, t_warm, args.samples))
    report = {"config": vars(args), "machine": platform.platform(), "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"written: {args.out}")


def record(label, change, cold, warm, t_cold, t_warm, count) -> dict:
    # both are certified: each objective is within its gap of the other's lower bound
    assert np.all(warm.meta["lower_bound"] <= cold.objective + 1e-9)
    assert np.all(cold.meta["lower_bound"] <= warm.objective + 1e-9)
    it_cold, it_warm = float(cold.meta["iterations"].mean()), float(warm.meta["iterations"].mean())
    row = dict(
        step=label,
        median_change=change,
        iterations_cold=it_cold,
        iterations_warm=it_warm,
        seconds_per_game_cold=t_cold / count,
        seconds_per_game_warm=t_warm / count,
        saved=1 - t_warm / t_cold,
        unconverged_cold=int((cold.meta["gap"] > cold.meta["tol"] * cold.objective).sum()),
        unconverged_warm=int((warm.meta["gap"] > warm.meta["tol"] * warm.objective).sum()),
    )
    print(f"{label:>5} {change:8.3f} {it_cold:8.0f} {it_warm:8.0f} {row['seconds_per_game_cold']:11.3f} "
          f"{row['seconds_per_game_warm']:11.3f} {100 * row['saved']:5.0f}%")
    return row


if __name__ == "__main__":
    main()
