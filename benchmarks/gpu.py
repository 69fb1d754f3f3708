"""Throughput of the batched solver on a GPU (issue 15): games per second against the batch size.

For every ``n`` of ``--n`` it computes real games (P2's input-level games of ``benchmarks/solvers.py``'s
two LeNets: the log-odds of the true label of MNIST-10k test digits with ``n`` foreground 4×4
patches; ``--distinct`` games per ``n``, computed on the device and repeated in order to fill
batches larger than that), then times :func:`interprim.sparse_and_or` with the batched ADMM on
``--device`` for each batch of ``--batches`` at ``--tol`` (float32 iterations, float64 certificate,
the defaults), with the interior-point method (``solver="ipm"``, ``n ≤ 12``, batched Cholesky
factorisations on the device) up to ``--ipm-max-batch``, and, for pairs,
:func:`interprim.generalizable_and_or` with the ADMM up to ``--pair-max-batch`` and with the
interior-point method (``pair-ipm`` rows, ``n ≤ 11``) up to ``--pair-ipm-max-batch``. The
first ``--check`` games are solved on the CPU too: the two certified intervals ``[lower bound,
objective]`` must overlap (both contain the optimum), which the script asserts.

It prints a table (games per second, seconds per game, the largest certified relative gap, peak
device memory) and writes JSON. Prepared for the GPU sessions, in one short run::

    python benchmarks/gpu.py --device cuda --n 10 14 --out benchmarks/results/gpu.json

and runnable on a CPU with small sizes to check the script itself::

    python benchmarks/gpu.py --device cpu --n 6 --batches 1 10 --distinct 10 --check 2
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import interprim as ip  # noqa: E402
from interprim.data import load_mnist10k  # noqa: E402
from interprim.games import foreground_values  # noqa: E402
from solvers import models  # noqa: E402


def device_games(n: int, count: int, device: torch.device, epochs: int) -> torch.Tensor:
    """``(2, count, 2**n)`` float64 games of the two LeNets, evaluated on ``device``."""
    nets = [m.to(device) for m in models(epochs)]
    test = load_mnist10k("test")
    values, _ = foreground_values(nets, test.images, test.labels, n=n, count=count, progress=True)
    return torch.as_tensor(values, dtype=torch.float64, device=device)


def filled(v: torch.Tensor, batch: int) -> torch.Tensor:
    """The first ``batch`` games of ``v`` ``(2, count, 2**n)``, its games repeated in order beyond ``count``."""
    return v.repeat(1, -(-batch // v.shape[1]), 1)[:, :batch]


def numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def interval(r, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The certified ``[lower bound, objective]`` of the first ``count`` samples of a result."""
    lower, gap = numpy(r.meta["lower_bound"])[:count], numpy(r.meta["gap"])[:count]
    return lower, lower + gap


def timed(device: torch.device, fn):
    """``fn()``, its seconds (synchronised) and the peak device memory it added (bytes; 0 on a CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return out, time.perf_counter() - start, torch.cuda.max_memory_allocated(device) - base
    return out, time.perf_counter() - start, 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--n", type=int, nargs="+", default=[10, 14])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 10, 100, 1000, 10000])
    p.add_argument("--pair-max-batch", type=int, default=1000, help="largest batch of the generalizable rows")
    p.add_argument("--ipm-max-batch", type=int, default=1000, help="largest batch of the interior-point rows")
    p.add_argument("--pair-ipm-max-batch", type=int, default=100,
                   help="largest batch of the interior-point rows for pairs (n ≤ 11; 72 MiB per pair at n = 10)")
    p.add_argument("--distinct", type=int, default=1000, help="distinct games per n (repeated beyond)")
    p.add_argument("--tol", type=float, default=1e-2)
    p.add_argument("--check", type=int, default=8, help="games also solved on the CPU")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--out")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device here (use --device cpu to check the script).")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    report = {"device": name, "torch": torch.__version__, "tol": args.tol, "rows": []}
    print(f"device: {name}")
    print(f"{'n':>3} {'method':<14} {'batch':>6} {'games/s':>9} {'s/game':>9} {'max gap':>8} {'peak MiB':>9}")
    for n in args.n:
        v = device_games(n, args.distinct, device, args.epochs)
        for method in ("sparse", "sparse-ipm", "generalizable", "pair-ipm"):
            largest = {"generalizable": args.pair_max_batch, "sparse-ipm": args.ipm_max_batch if n <= 12 else 0,
                       "pair-ipm": args.pair_ipm_max_batch if n <= 11 else 0}
            for batch in args.batches:
                last = min(max(args.batches), largest.get(method, max(args.batches)))
                if batch > last:
                    continue
                x = filled(v, batch)

                def go(x=x, method=method):
                    solver = "ipm" if method.endswith("-ipm") else "admm"
                    if method.startswith("sparse"):
                        return ip.sparse_and_or(x[0], solver=solver, tol=args.tol)
                    return ip.generalizable_and_or([x[0], x[1]], solver=solver, tol=args.tol)[0]

                r, seconds, peak = timed(device, go)
                lower, upper = interval(r, batch)
                gap = float(np.max((upper - lower) / np.maximum(upper, 1e-300)))
                row = {"n": n, "method": method, "batch": batch, "seconds": seconds, "games_per_second": batch / seconds,
                       "max_relative_gap": gap, "peak_bytes": int(peak)}
                report["rows"].append(row)
                print(f"{n:>3} {method:<14} {batch:>6} {row['games_per_second']:>9.1f} {seconds / batch:>9.4f} "
                      f"{100 * row['max_relative_gap']:>7.2f}% {peak / 2**20:>9.1f}", flush=True)
                if batch == last:
                    check = min(args.check, batch)
                    lo_d, hi_d = interval(r, check)
                    lo_c, hi_c = interval(go(x[:, :check].cpu(), method), check)
                    overlap = bool(np.all(np.maximum(lo_d, lo_c) <= np.minimum(hi_d, hi_c) * (1 + 1e-9) + 1e-12))
                    row["cpu_check"] = {"games": check, "intervals_overlap": overlap}
                    print(f"    CPU check on {check} games: certified intervals overlap: {overlap}", flush=True)
                    assert overlap, "the device and the CPU certify disjoint intervals"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
