"""Benchmark of the AND/OR interaction transforms (SPEC §2).

Times ``and_interactions``, ``or_interactions`` and ``reconstruct`` on one value vector of
``2**n`` entries for n = ``--n-min`` … ``--n-max``, best of ``--repeat`` runs, for numpy float64,
torch float64 on the CPU and (when available) torch float64 on CUDA. Next to each time it
reports the peak extra memory of one call:

- numpy: ``tracemalloc`` peak (numpy reports its buffers to it);
- torch CPU: growth of the process's peak resident set (``VmHWM``, reset through
  ``/proc/self/clear_refs``) over the resident set before the call (Linux only);
- torch CUDA: ``torch.cuda.max_memory_allocated`` over the memory allocated before the call.

When ``shapiq`` is importable (``pip install interprim[bench]``), it also times shapiq's exact
Möbius transform, ``ExactComputer(game, n)("Moebius")`` — a double loop over every subset and
each of its subsets, ``O(3**n)`` Python steps — on the same game for the ``--shapiq-n`` sizes,
checks that its numbers match ``and_interactions`` and prints the ratio of the two times.
Evaluating the game on all coalitions is done before shapiq's clock starts.

Usage::

    python benchmarks/transforms.py --n-min 10 --n-max 22 --repeat 3 \
        --out benchmarks/results/transforms.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np

try:
    import interprim  # noqa: F401
except ModuleNotFoundError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch

from interprim.transforms import and_interactions, or_interactions, reconstruct

FUNCTIONS = ("and_interactions", "or_interactions", "reconstruct")
SHAPIQ_SLOW_S = 60.0  # a shapiq run longer than this is timed once


# ---------------------------------------------------------------------------------------------
# Memory probes
# ---------------------------------------------------------------------------------------------


def _proc_status(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


_LIBC: Any = None


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6")
        except OSError:
            _LIBC = False
    return _LIBC


def pin_large_allocations_to_mmap() -> bool:
    """Make glibc serve allocations >= 64 KiB with mmap and give them back on free.

    Otherwise freed buffers stay resident and are reused, and the resident-set probe below
    would miss them. Called after the timings, since it makes allocations slower.
    """
    libc = _libc()
    if not libc:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 1 << 16)) and bool(libc.mallopt(m_trim_threshold, 1 << 16))


def _reset_peak_rss() -> bool:
    libc = _libc()
    if libc:
        libc.malloc_trim(0)  # hand freed heap pages back, so reusing them shows in the RSS
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_extra_bytes(backend: str, call: Callable[[], Any]) -> tuple[int | None, str]:
    """Peak extra memory of one ``call()`` (its result included) and how it was measured."""
    gc.collect()
    if backend == "numpy":
        tracemalloc.start()
        try:
            out = call()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        del out
        return int(peak), "tracemalloc"
    if backend == "torch-cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        out = call()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
        del out
        return int(peak), "cuda max_memory_allocated"
    # torch CPU: resident set high-water mark
    if not _reset_peak_rss():
        return None, "unavailable"
    base = _proc_status("VmRSS")
    out = call()
    hwm = _proc_status("VmHWM")
    del out
    if base is None or hwm is None:
        return None, "unavailable"
    return max(hwm - base, 0), "VmHWM - VmRSS"


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def best_time(call: Callable[[], Any], repeat: int, sync: Callable[[], None]) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        sync()
        t0 = time.perf_counter()
        out = call()
        sync()
        times.append(time.perf_counter() - t0)
        del out
    return min(times), times


def backends() -> list[tuple[str, Callable[[np.ndarray], Any], Callable[[], None]]]:
    out: list[tuple[str, Callable[[np.ndarray], Any], Callable[[], None]]] = [
        ("numpy", lambda a: a, lambda: None),
        ("torch-cpu", lambda a: torch.from_numpy(a), lambda: None),
    ]
    if torch.cuda.is_available():
        out.append(("torch-cuda", lambda a: torch.from_numpy(a).to("cuda"), torch.cuda.synchronize))
    return out


def bench_ours(n_values: list[int], repeat: int, seed: int, measure_memory: bool = False) -> list[dict]:
    rows = []
    for backend, convert, sync in backends():
        for n in n_values:
            rng = np.random.default_rng(seed + n)
            v = convert(rng.normal(size=2**n))
            i_and = convert(rng.normal(size=2**n))
            i_or = convert(rng.normal(size=2**n))
            calls = {
                "and_interactions": lambda: and_interactions(v),
                "or_interactions": lambda: or_interactions(v),
                "reconstruct": lambda: reconstruct(i_and, i_or),
            }
            calls["and_interactions"]()  # warm-up (CUDA context, kernel caches)
            sync()
            for fname, call in calls.items():
                best, times = best_time(call, repeat, sync)
                peak, how = peak_extra_bytes(backend, call) if measure_memory else (None, "not measured")
                rows.append(
                    {
                        "backend": backend,
                        "dtype": "float64",
                        "n": n,
                        "function": fname,
                        "best_s": best,
                        "times_s": times,
                        "input_bytes": 8 * 2**n,
                        "peak_extra_bytes": peak,
                        "peak_method": how,
                    }
                )
            del v, i_and, i_or
            gc.collect()
            if backend == "torch-cuda":
                torch.cuda.empty_cache()
    return rows


# ---------------------------------------------------------------------------------------------
# shapiq
# ---------------------------------------------------------------------------------------------


def bench_shapiq(n_values: list[int], repeat: int, seed: int, ours: dict[int, float]) -> list[dict]:
    from shapiq import ExactComputer

    import shapiq

    rows = []
    for n in n_values:
        v = np.random.default_rng(seed + 1000 + n).normal(size=2**n)
        weights = 1 << np.arange(n, dtype=np.int64)

        def game(coalitions: np.ndarray, v=v, weights=weights) -> np.ndarray:
            # the same game as ours: a coalition's row of booleans is its bitmask
            return v[np.asarray(coalitions, dtype=np.int64) @ weights]

        times = []
        result = None
        for _ in range(repeat):
            computer = ExactComputer(game, n_players=n, evaluate_game=True)  # game values: untimed
            t0 = time.perf_counter()
            result = computer("Moebius")
            times.append(time.perf_counter() - t0)
            if times[-1] > SHAPIQ_SLOW_S:
                break
        # check that it is the same transform: shapiq's tuples of players vs our bitmasks
        mine = and_interactions(v)
        theirs = np.array([result[tuple(i for i in range(n) if s >> i & 1)] for s in range(2**n)])
        max_abs_diff = float(np.max(np.abs(theirs - mine)))
        t_ours = ours.get(n)
        if t_ours is None:
            t_ours, _ = best_time(lambda: and_interactions(v), 5, lambda: None)
        rows.append(
            {
                "n": n,
                "shapiq_version": shapiq.__version__,
                "shapiq_call": 'ExactComputer(game, n_players=n)("Moebius")',
                "shapiq_best_s": min(times),
                "shapiq_times_s": times,
                "timed_once": len(times) < repeat,
                "ours_s": t_ours,
                "ratio": min(times) / t_ours,
                "max_abs_diff": max_abs_diff,
                "max_abs_value": float(np.max(np.abs(mine))),
            }
        )
        print(
            f"  shapiq n={n}: {min(times):.3f} s (best of {len(times)}), ours {t_ours * 1e3:.3f} ms, "
            f"ratio {min(times) / t_ours:,.0f}x, max |diff| {max_abs_diff:.1e}",
            flush=True,
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def _fmt_time(t: float) -> str:
    return f"{t * 1e3:9.3f} ms" if t < 1 else f"{t:9.3f} s "


def _fmt_mem(row: dict) -> str:
    if row["peak_extra_bytes"] is None:
        return "     n/a"
    return f"{row['peak_extra_bytes'] / row['input_bytes']:5.2f}x"


def print_table(rows: list[dict]) -> None:
    by_key = {(r["backend"], r["n"], r["function"]): r for r in rows}
    header = (
        f"{'backend':<11}{'n':>3}  "
        + "".join(f"{f:>18}" for f in FUNCTIONS)
        + "   peak extra / input (and, or, rec)   input"
    )
    print(header)
    print("-" * len(header))
    for backend in dict.fromkeys(r["backend"] for r in rows):
        for n in sorted({r["n"] for r in rows if r["backend"] == backend}):
            rs = [by_key[(backend, n, f)] for f in FUNCTIONS]
            times = "".join(f"{_fmt_time(r['best_s']):>18}" for r in rs)
            mems = ", ".join(_fmt_mem(r) for r in rs)
            size = rs[0]["input_bytes"]
            print(f"{backend:<11}{n:>3}  {times}   {mems:<34}{size / 2**20:8.2f} MiB")
        print()


def targets(rows: list[dict], shapiq_rows: list[dict]) -> dict:
    out: dict[str, Any] = {}
    at20 = [r for r in rows if r["n"] == 20 and r["backend"] in ("numpy", "torch-cpu")]
    if at20:
        worst = max(at20, key=lambda r: r["best_s"])
        out["n20_under_1s"] = {
            "met": all(r["best_s"] < 1.0 for r in at20),
            "slowest": f"{worst['backend']} {worst['function']}: {worst['best_s']:.3f} s",
        }
    at14 = [r for r in shapiq_rows if r["n"] == 14]
    if at14:
        out["n14_1000x_faster_than_shapiq"] = {"met": at14[0]["ratio"] >= 1000, "ratio": at14[0]["ratio"]}
    def ratios(backend: str) -> list[float]:
        return [
            r["peak_extra_bytes"] / r["input_bytes"]
            for r in rows
            if r["backend"] == backend and r["peak_extra_bytes"] is not None and r["n"] >= 16
        ]

    exact = ratios("numpy")  # tracemalloc: exact; the torch CPU figure (resident set) is approximate
    if exact:
        out["memory_O_2n"] = {
            "numpy_max_peak_extra_over_input_n_ge_16": max(exact),
            "torch_cpu_max_peak_extra_over_input_n_ge_16_approx": max(ratios("torch-cpu"), default=None),
            "torch_cuda_max_peak_extra_over_input_n_ge_16": max(ratios("torch-cuda"), default=None),
            "met": max(exact) <= 4.0,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-min", type=int, default=10)
    p.add_argument("--n-max", type=int, default=22)
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is reported")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/transforms.json"))
    p.add_argument("--shapiq-n", type=int, nargs="*", default=[10, 12, 14], help="n for shapiq (none: skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads for the CPU runs (default: torch's own choice); on a loaded "
        "machine 1 avoids waiting on a descheduled worker thread at every pass",
    )
    args = p.parse_args(argv)
    if args.n_min < 1 or args.n_max < args.n_min or args.repeat < 1:
        p.error("need 1 <= --n-min <= --n-max and --repeat >= 1")
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)

    meta = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "repeat": args.repeat,
    }
    print(
        f"interprim transforms benchmark: numpy {meta['numpy']}, torch {meta['torch']} "
        f"({meta['torch_threads']} threads), {meta['cpu_count']} CPUs ({meta['processor']}), "
        f"CUDA: {meta['cuda'] or 'none'}; best of {args.repeat}; load average {meta['load_average_at_start']}",
        flush=True,
    )
    n_values = list(range(args.n_min, args.n_max + 1))
    rows = bench_ours(n_values, args.repeat, args.seed)
    # memory in a second pass, after every timing: the probes change how memory is allocated
    pinned = pin_large_allocations_to_mmap()
    mem_rows = bench_ours(n_values, 1, args.seed, measure_memory=True)
    for r, m in zip(rows, mem_rows):
        r["peak_extra_bytes"], r["peak_method"] = m["peak_extra_bytes"], m["peak_method"]
    meta["malloc_pinned_to_mmap_for_memory_pass"] = pinned
    print()
    print_table(rows)

    shapiq_rows: list[dict] = []
    shapiq_note = None
    if args.shapiq_n:
        try:
            import shapiq  # noqa: F401
        except ImportError:
            shapiq_note = "shapiq not importable (pip install 'interprim[bench]'); comparison skipped"
            print(shapiq_note)
        else:
            print("shapiq exact Möbius vs and_interactions (numpy float64):")
            ours = {r["n"]: r["best_s"] for r in rows if r["backend"] == "numpy" and r["function"] == "and_interactions"}
            shapiq_rows = bench_shapiq(args.shapiq_n, args.repeat, args.seed, ours)
            print()

    tg = targets(rows, shapiq_rows)
    print("targets:")
    for k, val in tg.items():
        print(f"  {k}: {val}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"meta": meta, "results": rows, "shapiq": shapiq_rows, "shapiq_note": shapiq_note, "targets": tg}, indent=2)
        + "\n"
    )
    print(f"\nwrote {args.out}")
    return 0


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
