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

Games and every finished measurement are kept in ``--cache`` (an ``.npz``/JSON store), so an
interrupted run continues where it stopped. Usage::

    python benchmarks/solvers.py --n 8 10 12 --out benchmarks/results/solvers.json
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
            r = ip.sparse_and_or(v_big.reshape(-1, 2**n), tol=args.tol)
            objective, gap, lower = r.objective, r.meta["gap"], r.meta["lower_bound"]
            index = np.concatenate([np.where(g < count, g, -1), np.where(g < count, count + g, -1)])
        else:
            rs = ip.generalizable_and_or(list(v_big), alpha=alpha, tol=args.tol)
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


def _transfer(v: np.ndarray, alpha: float, args: argparse.Namespace) -> dict:
    """Transferability of the top-k interactions: generalizable (both models jointly) vs sparse (separately)."""
    joint = ip.generalizable_and_or(list(v), alpha=alpha, tol=args.tol)
    separate = [ip.sparse_and_or(g, tol=args.tol) for g in v]
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
    parser.add_argument("--cache", default="benchmarks/results/solvers-cache")
    parser.add_argument("--out", default="benchmarks/results/solvers.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    store, cache = Store(args.cache), {}
    report = {"config": vars(args), "machine": platform.platform(), "torch_threads": args.threads, "by_n": {}}
    print(f"{'n':>3} {'method':<14} {'solver':<19} {'s/sample':>9} {'gap to LP (median / max)':>26}")
    for n in args.n:
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
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
