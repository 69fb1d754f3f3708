"""Benchmark of the extraction solvers on real MNIST games (issue 3; SPEC §3-4).

Two LeNets (seeds 0 and 1) are trained on the embedded MNIST-10k train split; their games are the
log-odds of the true label on MNIST-10k test digits with ``n`` foreground 4×4 patches as players
(baseline 0, the same players for both models: P2's input-level games). For every ``n`` it times

- the sparse method (SPEC §3.3) on every game of both models, and the generalizable method
  (SPEC §3.4, ``alpha``) on both models jointly;
- with the certified ADMM solver batched (all games in one call) and one game at a time, the exact
  LP (HiGHS) and the published SGD procedure (``--sgd-iter`` steps, ``--sgd-lr``);

and reports the time per sample and the relative gap of each objective to the LP optimum
(``objective / optimum − 1``) on the games that have an LP reference. For ``n > --lp-max-n`` the LP
is too slow here; the reference is then the certified lower bound of an ADMM run at ``tol = 1e-4``
(≤ the LP optimum; ``--ref-tol``), so the gaps printed are upper bounds on the gaps to the LP
optimum, and the published SGD is run only up to ``--sgd-max-n`` (about 10 minutes per game at
``n = 12`` on 2 CPU cores). Rows ``admm batched xB`` solve ``--batch-count`` games per model in one
call: the per-sample time of a batched solver falls with the batch size. Finally the transferability
(P2 Def. 1, top-``k`` with ``k = 50``) of the generalizable interactions is compared with that of the
sparse interactions extracted separately for each model.

Three more sections (``--sections``):

- ``single``: one game per call, the way a new user starts: the sparse method on the first
  ``--single-games`` games of model 0, each timed alone with ``solver="auto"`` (the default; for
  one game it runs the interior-point method ``"ipm"``) and ``"admm"`` at each of
  ``--single-tols`` (certified relative gaps), and with the exact ``"lp"``; it prints the median and
  the largest wall-clock seconds per game, the CPU seconds, the certified gap and the gap to the LP
  optimum, and the load average before and after;
- ``crossover``: the batch size at which the batched ADMM overtakes the interior-point method
  (sparse method, the first ``B`` games of both models for each of ``--crossover-batches``, one
  call each), and the interior-point method and the exact LP (generalizable method, ``B`` samples
  of both models; the LP up to ``--crossover-lp-max-n`` and ``--crossover-lp-max-batch``, pairs at
  ``n ≥ 10`` up to 20 samples): the measurements behind ``solver="auto"``'s rule
  (``interprim.extract._driver.choose``);
- ``targets``: issue 15's table: seconds per game (sparse method, model 0's games) and per pair
  (generalizable method, both models; ``--target-pair-n``) with ``solver="auto"`` and with the
  batched ADMM, for each certified gap of ``--single-tols`` and each batch of ``--target-batches``
  (one call per batch; batch 1 is the mean of ``--single-games`` calls; pairs at ``n = 10`` up to
  batches of 20). These rows are measured afresh on every run.

Games and every finished measurement are kept in ``--cache`` (an ``.npz``/JSON store), so an
interrupted run continues where it stopped. Usage::

    python benchmarks/solvers.py --n 8 10 12 --out benchmarks/results/solvers.json
    python benchmarks/solvers.py --n 8 10 12 --sections single --threads 1 --out benchmarks/results/solvers-single.json
    python benchmarks/solvers.py --n 8 10 --sections targets --out benchmarks/results/solvers-targets.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

import interprim as ip
from interprim.data import load_mnist10k
from interprim.games import foreground_values
from interprim.nn import build
from interprim.store import Store
from interprim.train import TrainConfig, train


def models(epochs: int) -> list[torch.nn.Module]:
    """Two LeNets trained on the MNIST-10k train split with seeds 0 and 1."""
    data = load_mnist10k("train")
    out = []
    for seed in (0, 1):
        model = build("lenet", in_channels=1, input_size=28, seed=seed)
        train(model, data.tensors(), None, TrainConfig(epochs=epochs, lr=0.05, batch_size=64, seed=seed), progress=False)
        out.append(model.eval())
    return out


def games(store: Store, n: int, count: int, epochs: int, cache: dict) -> np.ndarray:
    """``(2, count, 2**n)`` value vectors, from the store when they are there."""
    key = store.key("games", f"n{n}", f"count{count}", f"epochs{epochs}")
    if store.has(key):
        return store.get(key)[0]["values"]
    if "models" not in cache:
        cache["models"] = models(epochs)
    test = load_mnist10k("test")
    values, used = foreground_values(cache["models"], test.images, test.labels, n=n, count=count, progress=True)
    store.put(key, {"values": values.numpy(), "images": np.array(used)})
    return values.numpy()


def measure(store: Store, key: tuple, fn) -> dict:
    """Run ``fn`` (returning a JSON-able dict) once; later runs read the stored record."""
    if store.has_json(key):
        return store.get_json(key)
    record = fn()
    store.put_json(key, record)
    return record


def run_n(store: Store, n: int, args: argparse.Namespace, cache: dict) -> dict:
    count, big = args.count, max(args.count, args.batch_count)
    v = games(store, n, count, args.epochs, cache)
    # the games of an image do not depend on how many images are taken: the first `count` of the
    # `big` set are the games above, so the large batch is compared with the same LP references
    v_big = games(store, n, big, args.epochs, cache) if big > count else v
    lp, sgd, single = (np.arange(min(k, count)) for k in (args.lp_count, args.sgd_count, args.single))
    if n > args.sgd_max_n:
        sgd = sgd[:0]
    flat = v.reshape(-1, 2**n)  # the sparse method runs on both models' games: model 0 first, then model 1
    both = lambda idx: np.concatenate([idx, count + idx])  # noqa: E731 - the games of both models
    alpha, tag = args.alpha, f"n{n}-count{count}-tol{args.tol}"

    def sparse(solver: str, idx: np.ndarray, batched: bool = True, **kw) -> dict:
        def go(games_):
            r = ip.sparse_and_or(games_, solver=solver, **kw)
            return r.objective.tolist(), r.meta["gap"].tolist(), r.meta["lower_bound"].tolist()
        return _run(go, flat[idx], batched, idx)

    def joint(solver: str, idx: np.ndarray, batched: bool = True, **kw) -> dict:
        def go(games_):
            rs = ip.generalizable_and_or(list(games_.transpose(1, 0, 2)), alpha=alpha, solver=solver, **kw)
            meta = rs[0].meta
            return meta["joint_objective"].tolist(), meta["gap"].tolist(), meta["lower_bound"].tolist()
        return _run(go, v[:, idx].transpose(1, 0, 2), batched, idx)

    def big_batch(method: str) -> dict:
        """ADMM on all ``big`` games in one call; indices of games outside the small set are −1."""
        g = np.arange(big)
        if method == "sparse":
            r = ip.sparse_and_or(v_big.reshape(-1, 2**n), solver="admm", tol=args.tol)
            objective, gap, lower = r.objective, r.meta["gap"], r.meta["lower_bound"]
            index = np.concatenate([np.where(g < count, g, -1), np.where(g < count, count + g, -1)])
        else:
            rs = ip.generalizable_and_or(list(v_big), alpha=alpha, solver="admm", tol=args.tol)
            objective, gap, lower = (rs[0].meta[k] for k in ("joint_objective", "gap", "lower_bound"))
            index = np.where(g < count, g, -1)
        return {"index": index.tolist(), "objective": objective.tolist(), "gap": gap.tolist(),
                "lower_bound": lower.tolist()}

    sgd_kw = dict(max_iter=args.sgd_iter, lr=args.sgd_lr)
    # beyond --lp-max-n the LP takes too long: the reference is then the certified lower bound of a
    # tight ADMM run (tol --ref-tol), so the reported gaps are upper bounds on the gaps to the LP optimum
    exact = n <= args.lp_max_n
    ref = dict(solver="lp") if exact else dict(solver="admm", tol=args.ref_tol)
    plan = {
        "sparse/lp": lambda: sparse(idx=both(lp), **ref),
        "sparse/admm batched": lambda: sparse("admm", np.arange(2 * count), tol=args.tol),
        f"sparse/admm batched x{2 * big}": lambda: _timed(lambda: big_batch("sparse")),
        "sparse/admm single": lambda: sparse("admm", single, batched=False, tol=args.tol),
        "sparse/sgd": lambda: sparse("sgd", sgd, **sgd_kw),
        "generalizable/lp": lambda: joint(idx=lp, **ref),
        "generalizable/admm batched": lambda: joint("admm", np.arange(count), tol=args.tol),
        f"generalizable/admm batched x{big}": lambda: _timed(lambda: big_batch("generalizable")),
        "generalizable/admm single": lambda: joint("admm", single, batched=False, tol=args.tol),
        "generalizable/sgd": lambda: joint("sgd", sgd, **sgd_kw),
    }
    if big == count:
        plan = {k: f for k, f in plan.items() if " x" not in k}
    if not len(sgd):
        plan = {k: f for k, f in plan.items() if not k.endswith("sgd")}
    results = {}
    for name, fn in plan.items():
        extra = f"-{alpha}" if name.startswith("generalizable") else ""
        extra += "" if exact or not name.endswith("lp") else f"-admm-reference-{args.ref_tol}"
        extra += f"-{args.sgd_iter}-{args.sgd_lr}" if name.endswith("sgd") else ""
        results[name] = measure(store, (tag, name.replace("/", "-").replace(" ", "-") + extra), fn)
    for name, rec in results.items():
        reference = results[name.split("/")[0] + "/lp"]
        optimum = dict(zip(reference["index"], reference["objective" if exact else "lower_bound"]))
        rel = [obj / optimum[i] - 1 for i, obj in zip(rec["index"], rec["objective"]) if i in optimum]
        rec["gap_to_lp_median"] = float(np.median(rel))
        rec["gap_to_lp_max"] = float(np.max(rel))
        rec["seconds_per_sample"] = rec["seconds"] / len(rec["index"])
        certified = np.array(rec["gap"]) / np.array(rec["objective"])
        rec["certified_gap_median"] = float(np.nanmedian(certified)) if np.isfinite(certified).any() else None
    results["transferability"] = measure(store, (tag, f"transfer-{alpha}-{args.k}"), lambda: _transfer(v, alpha, args))
    return results


def _timed(fn) -> dict:
    start = time.perf_counter()
    record = fn()
    record["seconds"] = time.perf_counter() - start
    return record


def _run(go, games_: np.ndarray, batched: bool, idx: np.ndarray) -> dict:
    """``go`` on all games in one call (``batched``) or one at a time; objectives, gaps and seconds."""
    start = time.perf_counter()
    parts = [go(games_)] if batched else [go(g[None]) for g in games_]
    objective, gap, lower = (sum((p[k] for p in parts), []) for k in range(3))
    return {"index": idx.tolist(), "objective": objective, "gap": gap, "lower_bound": lower,
            "seconds": time.perf_counter() - start}


def _load() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]] if Path("/proc/loadavg").exists() else []


def _clocked(fn) -> tuple[object, float, float]:
    """``fn()``, its wall-clock and its CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def run_single(store: Store, n: int, args: argparse.Namespace, cache: dict) -> dict:
    """One game per call (sparse method, model 0): seconds per game of ``auto`` and ``admm`` per tol, and of ``lp``."""
    v = games(store, n, args.count, args.epochs, cache)[0, : args.single_games]
    runs = [("lp", None)] + [(s, t) for t in args.single_tols for s in ("auto", "admm")]
    results = {}
    for solver, tol in runs:
        name = solver if tol is None else f"{solver} tol {tol:g}"

        def go(solver=solver, tol=tol) -> dict:
            rec = {"solver": solver, "tol": tol, "load_before": _load(), "seconds": [], "cpu_seconds": [],
                   "objective": [], "gap": [], "ran": [], "iterations": []}
            for game in v:
                kw = {} if tol is None else {"tol": tol}
                r, wall, cpu = _clocked(lambda game=game, kw=kw: ip.sparse_and_or(game, solver=solver, **kw))
                rec["seconds"].append(wall)
                rec["cpu_seconds"].append(cpu)
                rec["objective"].append(float(r.objective))
                rec["gap"].append(float(r.meta["gap"]))
                rec["ran"].append(r.meta["solver"])
                rec["iterations"].append(float(r.meta["iterations"]))
            rec["load_after"] = _load()
            return rec

        results[name] = measure(store, (f"single-n{n}-games{args.single_games}", name.replace(" ", "-")), go)
    optimum = results["lp"]["objective"]
    for rec in results.values():
        rec["gap_to_lp"] = [o / p - 1 for o, p in zip(rec["objective"], optimum)]
    return results


def run_crossover(store: Store, n: int, args: argparse.Namespace, cache: dict) -> dict:
    """Seconds per game of the interior-point method and the batched ADMM (sparse), and of the exact LP
    and the ADMM (generalizable), for batches of ``B`` games (samples) in one call."""
    big = max(args.count, args.batch_count, max(args.crossover_batches) // 2)
    v_big = games(store, n, big, args.epochs, cache)
    flat = np.concatenate([v_big[0], v_big[1]])  # model 0's games, then model 1's
    out = {"sparse": {}, "generalizable": {}}
    for tol in args.single_tols:
        for b in args.crossover_batches:
            if b > len(flat) or "sparse" not in args.crossover_methods:
                continue
            for solver in ("ipm", "admm"):
                if n > 12 and solver == "ipm":
                    continue

                def go(solver=solver, b=b, tol=tol) -> dict:
                    r, wall, cpu = _clocked(lambda: ip.sparse_and_or(flat[:b], solver=solver, tol=tol))
                    return {"seconds": wall, "cpu_seconds": cpu, "load": _load(), "ran": r.meta["solver"],
                            "max_certified_gap": float(np.max(r.meta["gap"] / r.objective))}

                key = (f"crossover-n{n}-big{big}", f"sparse-{solver}-B{b}-tol{tol:g}")
                out["sparse"][f"{solver} B{b} tol {tol:g}"] = measure(store, key, go)
        for b in args.crossover_batches:
            if "generalizable" not in args.crossover_methods:
                continue
            if b > big or b > (args.crossover_pair_max_batch if n < 10 else TARGET_PAIR_MAX_BATCH):
                continue
            for solver in ("ipm", "lp", "admm"):
                if solver == "lp" and (n > args.crossover_lp_max_n or b > args.crossover_lp_max_batch):
                    continue
                if solver == "ipm" and n > 11:
                    continue

                def go(solver=solver, b=b, tol=tol) -> dict:
                    rs, wall, cpu = _clocked(
                        lambda: ip.generalizable_and_or(list(v_big[:, :b]), alpha=args.alpha, solver=solver, tol=tol)
                    )
                    return {"seconds": wall, "cpu_seconds": cpu, "load": _load(), "ran": rs[0].meta["solver"]}

                key = (f"crossover-n{n}-big{big}", f"generalizable-{solver}-B{b}-tol{tol:g}-{args.alpha}")
                out["generalizable"][f"{solver} B{b} tol {tol:g}"] = measure(store, key, go)
    return out


#: the largest batch of pairs at n ≥ 10 in the targets section (a pair there takes 1.5-7 s)
TARGET_PAIR_MAX_BATCH = 20


def run_targets(store: Store, n: int, args: argparse.Namespace, cache: dict) -> dict:
    """Issue 15's table: seconds per game (sparse, model 0's games) and per pair (generalizable, both
    models) of ``solver="auto"`` and of the batched ADMM for each certified gap of ``--single-tols``
    and each batch of ``--target-batches`` (one call per batch; batch 1 is the mean over
    ``--single-games`` calls). The fresh measurements are never cached: the solvers are what changes."""
    v = games(store, n, max(args.target_batches), args.epochs, cache)
    out = {"sparse": {}, "generalizable": {}}
    for method in ("sparse", "generalizable"):
        if method == "generalizable" and n not in args.target_pair_n:
            continue
        for tol in args.single_tols:
            for b in args.target_batches:
                for solver in ("auto", "admm"):
                    if method == "generalizable" and n >= 10 and b > TARGET_PAIR_MAX_BATCH:
                        continue
                    calls = [np.arange(i, i + 1) for i in range(args.single_games)] if b == 1 else [np.arange(b)]

                    def go(idx, solver=solver, tol=tol, method=method):
                        if method == "sparse":
                            return ip.sparse_and_or(v[0, idx], solver=solver, tol=tol)
                        return ip.generalizable_and_or([v[0, idx], v[1, idx]], solver=solver, tol=tol, alpha=args.alpha)

                    seconds, gaps, ran = 0.0, [], set()
                    for idx in calls:
                        r, wall, _ = _clocked(lambda idx=idx: go(idx))
                        first = r if method == "sparse" else r[0]
                        seconds += wall
                        gap, lower = np.asarray(first.meta["gap"]), np.asarray(first.meta["lower_bound"])
                        gaps.append(float(np.max(gap / np.maximum(lower + gap, 1e-300))))
                        ran.add(first.meta["solver"])
                    rec = {"seconds_per_sample": seconds / sum(len(i) for i in calls), "max_relative_gap": max(gaps),
                           "solver": "+".join(sorted(ran)), "load": _load()}
                    out[method][f"{solver} tol {tol:g} batch {b}"] = rec
                    print(f"{n:>3} {method:<14} {solver:<5} tol {tol:<6g} batch {b:>4}: {rec['seconds_per_sample']:8.3f} s "
                          f"per sample ({rec['solver']}, largest certified gap {100 * rec['max_relative_gap']:.3f} %)",
                          flush=True)
    return out


def _print_single(n: int, results: dict, batched: dict | None) -> None:
    print(f"{n:>3} single game (sparse, one call per game): {'s/game median / max':>20} {'CPU s':>7} "
          f"{'certified gap':>13} {'gap to LP':>10}  ran")
    for name, rec in results.items():
        rel = np.array(rec["gap"]) / np.array(rec["objective"])
        print(f"{n:>3}   {name:<22} {np.median(rec['seconds']):>9.3f} / {np.max(rec['seconds']):<8.3f} "
              f"{np.median(rec['cpu_seconds']):>7.3f} {100 * np.median(rel):>11.3f} % {100 * np.max(rec['gap_to_lp']):>8.3f} %"
              f"  {', '.join(sorted(set(rec['ran'])))} (load {rec['load_before'][0]:.1f} → {rec['load_after'][0]:.1f})")
    if batched:
        print(f"{n:>3}   batched ADMM for comparison: " + "; ".join(
            f"{name.split('/')[1]} {rec['seconds_per_sample']:.3f} s/game" for name, rec in batched.items()))


def _print_crossover(n: int, out: dict) -> None:
    for method, solvers in (("sparse", ("ipm", "admm")), ("generalizable", ("ipm", "lp", "admm"))):
        rows: dict = {}
        for name, rec in out[method].items():
            solver, b, _, tol = name.split()
            rows.setdefault((tol, int(b[1:])), {})[solver] = rec
        for (tol, b), recs in sorted(rows.items(), key=lambda kv: (float(kv[0][0]), kv[0][1])):
            cells = "  ".join(f"{s} {recs[s]['seconds'] / b:.3f} s/game (CPU {recs[s]['cpu_seconds'] / b:.3f})"
                              for s in solvers if s in recs)
            # CPU seconds decide: one torch thread, so they are the wall-clock time of an idle core, whatever
            # the load from other jobs was when each row ran
            faster = min((s for s in solvers if s in recs), key=lambda s: recs[s]["cpu_seconds"], default="")
            print(f"{n:>3} crossover {method:<13} tol {tol:<6} B {b:>4}: {cells}  → {faster}")


def _transfer(v: np.ndarray, alpha: float, args: argparse.Namespace) -> dict:
    """Transferability of the top-k interactions: generalizable (both models jointly) vs sparse (separately)."""
    joint = ip.generalizable_and_or(list(v), alpha=alpha, solver="admm", tol=args.tol)
    separate = [ip.sparse_and_or(g, solver="admm", tol=args.tol) for g in v]
    out = {}
    for name, rs in (("generalizable", joint), ("sparse", separate)):
        s_and, s_or = ip.metrics.transferability(
            np.stack([r.i_and for r in rs]), np.stack([r.i_or for r in rs]), top_k=args.k
        )
        out[name] = np.nanmean(np.stack([s_and, s_or]), axis=(0, 1)).tolist()  # per sample
    g, s = np.array(out["generalizable"]), np.array(out["sparse"])
    out["generalizable_higher"] = int(np.sum(g > s))
    out["samples"] = len(g)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[8, 10, 12])
    parser.add_argument("--count", type=int, default=16, help="games (samples) per n")
    parser.add_argument("--lp-count", type=int, default=8, help="samples with an LP reference per n")
    parser.add_argument("--batch-count", type=int, default=64,
                        help="games per model of the large-batch ADMM rows (the first --count are the games above)")
    parser.add_argument("--lp-max-n", type=int, default=10, help="largest n solved by the LP (beyond: ADMM, --ref-tol)")
    parser.add_argument("--ref-tol", type=float, default=1e-3, help="tolerance of the ADMM reference beyond --lp-max-n")
    parser.add_argument("--sgd-count", type=int, default=2, help="samples run with the published SGD per n")
    parser.add_argument("--sgd-max-n", type=int, default=10, help="largest n run with the published SGD")
    parser.add_argument("--single", type=int, default=4, help="samples run one at a time")
    parser.add_argument("--sgd-iter", type=int, default=20000)
    parser.add_argument("--sgd-lr", type=float, default=1e-5)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--k", type=int, default=50, help="top-k of the transferability")
    parser.add_argument("--tol", type=float, default=1e-2, help="certified relative gap of the ADMM solver")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sections", nargs="+", choices=["main", "single", "crossover", "targets"],
                        default=["main", "single"],
                        help="main: the solver table; single: one game per call; crossover: batch size at which ADMM "
                        "wins; targets: issue 15's seconds per game and per pair against the batch size")
    parser.add_argument("--target-batches", type=int, nargs="+", default=[1, 20, 128])
    parser.add_argument("--target-pair-n", type=int, nargs="+", default=[8, 10],
                        help="n of the generalizable rows of the targets section")
    parser.add_argument("--single-games", type=int, default=4, help="games of model 0 timed one per call (single)")
    parser.add_argument("--single-tols", type=float, nargs="+", default=[1e-2, 1e-3],
                        help="certified relative gaps of the single and crossover sections")
    parser.add_argument("--crossover-batches", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64, 128])
    parser.add_argument("--crossover-lp-max-n", type=int, default=8, help="largest n of the generalizable LP crossover")
    parser.add_argument("--crossover-lp-max-batch", type=int, default=16, help="largest B of the generalizable LP crossover")
    parser.add_argument("--crossover-methods", nargs="+", choices=["sparse", "generalizable"],
                        default=["sparse", "generalizable"], help="the methods of the crossover section")
    parser.add_argument("--crossover-pair-max-batch", type=int, default=128,
                        help="largest B of the generalizable crossover at n < 10 (at n ≥ 10: 20)")
    parser.add_argument("--cache", default="benchmarks/results/solvers-cache")
    parser.add_argument("--out", default="benchmarks/results/solvers.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    store, cache = Store(args.cache), {}
    report = {"config": vars(args), "machine": platform.platform(), "torch_threads": args.threads, "load_start": _load(),
              "by_n": {}, "single": {}, "crossover": {}, "targets": {}}
    if "main" in args.sections:
        print(f"{'n':>3} {'method':<14} {'solver':<19} {'s/sample':>9} {'gap to LP (median / max)':>26}")
    for n in args.n:
        batched = None
        if "main" in args.sections:
            results = run_n(store, n, args, cache)
            report["by_n"][str(n)] = results
            for name, rec in results.items():
                if name == "transferability":
                    continue
                method, solver = name.split("/")
                solver = solver if solver != "lp" or n <= args.lp_max_n else "ref (bound)"
                print(f"{n:>3} {method:<14} {solver:<19} {rec['seconds_per_sample']:>9.3f} "
                      f"{100 * rec['gap_to_lp_median']:>12.2f} % / {100 * rec['gap_to_lp_max']:.2f} %")
            t = results["transferability"]
            print(f"{n:>3} transferability top-{args.k}: generalizable {np.mean(t['generalizable']):.3f} vs sparse "
                  f"{np.mean(t['sparse']):.3f}; higher on {t['generalizable_higher']}/{t['samples']} samples", flush=True)
            batched = {k: r for k, r in results.items() if k.startswith("sparse/admm batched")}
        if "single" in args.sections:
            report["single"][str(n)] = run_single(store, n, args, cache)
            _print_single(n, report["single"][str(n)], batched)
        if "crossover" in args.sections:
            report["crossover"][str(n)] = run_crossover(store, n, args, cache)
            _print_crossover(n, report["crossover"][str(n)])
        if "targets" in args.sections:
            report["targets"][str(n)] = run_targets(store, n, args, cache)
    report["load_end"] = _load()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
