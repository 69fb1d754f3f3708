"""Benchmark of time and peak memory against the number of players ``n`` (issue 15).

For every ``n`` of ``--n`` it measures, each in a fresh process (so that its peak resident memory is
its own: the peak RSS of the process minus its RSS once the game is loaded):

- ``mobius`` / ``zeta``: one fast transform of one float64 vector of ``2**n`` values (best of 5);
- ``sparse/<solver>``: :func:`interprim.sparse_and_or` of one game at ``--tol`` with ``admm``,
  ``ipm`` (``n ≤ 12``) and ``lp`` (``n ≤ --lp-max-n``);
- ``generalizable/<solver>``: :func:`interprim.generalizable_and_or` of one pair of games with ``admm``
  and ``ipm`` (``n ≤ --pair-ipm-max-n``).

Memory is the peak resident memory of the whole process (Python, torch and the game included) next
to its resident memory just before the measured call: below ``n ≈ 14`` the imports dominate.

The ADMM runs at most ``--max-iter`` iterations, so for large ``n`` a row may end unconverged: it
reports the certified gap it reached and the seconds per iteration, from which the time to any
number of iterations follows. The games are P2's input-level games of two LeNets trained on the
embedded MNIST-10k (``benchmarks/solvers.py``'s models; the log-odds of the true label of the first
test digit with ``n`` foreground 4×4 patches), computed once and kept in ``--cache``.

Usage::

    python benchmarks/scaling.py --threads 1 --out benchmarks/results/scaling.json
    python benchmarks/scaling.py --n 8 10 12 14 16 --transforms-n 8 12 16 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def child(kind: str, n: int, path: str, tol: float, max_iter: int, threads: int) -> dict:
    """Run one measurement in this process; returns seconds, peak memory and the solver's certificate."""
    import warnings

    import torch

    import interprim as ip
    from interprim.transforms import mobius, zeta

    torch.set_num_threads(threads)
    warnings.simplefilter("ignore")
    if kind in ("mobius", "zeta"):
        x = torch.randn(1, 2**n, dtype=torch.float64)
        fn = mobius if kind == "mobius" else zeta
        fn(x, n)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        best = min(_seconds(lambda: fn(x, n)) for _ in range(5))
        return {"seconds": best, **_peak_mib(base)}
    v = np.load(path)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    method, solver = kind.split("/")
    start = time.perf_counter()
    if method == "sparse":
        r = ip.sparse_and_or(v[0, :1], solver=solver, tol=tol, max_iter=max_iter)
        objective, gap, iterations = r.objective[0], r.meta["gap"][0], r.meta.get("iterations")
    else:
        rs = ip.generalizable_and_or([v[0, :1], v[1, :1]], solver=solver, tol=tol, max_iter=max_iter)
        objective, gap, iterations = rs[0].meta["joint_objective"][0], rs[0].meta["gap"][0], rs[0].meta.get("iterations")
    seconds = time.perf_counter() - start
    iterations = None if iterations is None else int(np.max(iterations))
    return {"seconds": seconds, **_peak_mib(base), "relative_gap": float(gap / objective) if objective else 0.0,
            "iterations": iterations, "seconds_per_iteration": seconds / iterations if iterations else None}


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _peak_mib(base_kib: int) -> dict:
    """The process's peak resident memory, and its resident memory before the measured call (MiB)."""
    return {"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "baseline_mib": base_kib / 1024}


def games(n: int, cache: Path) -> Path:
    """The ``(2, 1, 2**n)`` games of the two LeNets at ``n``, from ``cache`` when there."""
    path = cache / f"games-n{n}.npy"
    if path.exists():
        return path
    import torch

    sys.path.insert(0, str(HERE))
    from solvers import models

    from interprim.data import load_mnist10k
    from interprim.games import foreground_values

    if not hasattr(games, "models"):
        games.models = models(2)
    test = load_mnist10k("test")
    values, _ = foreground_values(games.models, test.images, test.labels, n=n, count=1, progress=False)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, torch.as_tensor(values).numpy())
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[8, 10, 12, 14, 16])
    p.add_argument("--transforms-n", type=int, nargs="+", default=[8, 10, 12, 14, 16, 18, 20])
    p.add_argument("--tol", type=float, default=1e-2)
    p.add_argument("--max-iter", type=int, default=2000)
    p.add_argument("--lp-max-n", type=int, default=10)
    p.add_argument("--ipm-max-n", type=int, default=12)
    p.add_argument("--pair-ipm-max-n", type=int, default=11)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cache", default="benchmarks/results/scaling-cache")
    p.add_argument("--out")
    p.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        kind, n, path, tol, max_iter, threads = args.child
        print(json.dumps(child(kind, int(n), path, float(tol), int(max_iter), int(threads))))
        return
    plan = [(kind, n) for n in args.transforms_n for kind in ("mobius", "zeta")]
    for n in args.n:
        plan += [("sparse/admm", n), ("generalizable/admm", n)]
        plan += [("sparse/ipm", n)] if n <= args.ipm_max_n else []
        plan += [("generalizable/ipm", n)] if n <= args.pair_ipm_max_n else []
        plan += [("sparse/lp", n)] if n <= args.lp_max_n else []
    rows = []
    print(f"{'what':<20} {'n':>3} {'seconds':>9} {'peak MiB':>9} {'before':>7} {'gap':>8} {'iters':>6} {'s/iter':>8}")
    for kind, n in plan:
        path = "" if kind in ("mobius", "zeta") else str(games(n, Path(args.cache)))
        cmd = [sys.executable, __file__, "--child", kind, str(n), path or "-", str(args.tol), str(args.max_iter),
               str(args.threads)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            rows.append({"what": kind, "n": n, "error": done.stderr.strip().splitlines()[-1]})
            print(f"{kind:<20} {n:>3} failed: {rows[-1]['error']}")
            continue
        row = {"what": kind, "n": n, **json.loads(done.stdout.strip().splitlines()[-1])}
        rows.append(row)
        gap = "" if row.get("relative_gap") is None else f"{row['relative_gap']:.1e}"
        per = "" if row.get("seconds_per_iteration") is None else f"{row['seconds_per_iteration']:.2e}"
        print(f"{kind:<20} {n:>3} {row['seconds']:>9.4f} {row['peak_mib']:>9.1f} {row['baseline_mib']:>7.1f} {gap:>8} "
              f"{row.get('iterations') or '':>6} {per:>8}", flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        doc = {"benchmark": "scaling", "tol": args.tol, "max_iter": args.max_iter, "threads": args.threads,
               "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load": os.getloadavg()},
               "rows": rows}
        Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
