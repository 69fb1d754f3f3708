"""Benchmark of the executors (issue 14): one experiment run cold, in this process and on a local Ray instance.

For each ``--experiments`` name it runs ``interprim experiment run NAME --config CONFIG`` (with the
``--set`` overrides) three times, each cold in its own fresh output folder and store, as a separate
process so that every run pays its own start-up:

- ``inprocess, 1 thread``: every task after the other, ``--threads 1``;
- ``inprocess, N threads``: every task after the other, ``--threads N`` (N = ``--workers``);
- ``ray, N workers``: ``--executor ray --workers N`` (a local Ray instance of N CPUs, one thread per
  task, the seeds' parts side by side), its start-up (a few seconds) included.

It prints the wall time of each run, the speed-up of Ray over each in-process run, and whether the
``results`` of ``results.json`` are equal to those of each in-process run (Ray's tasks run with one
thread, so they must equal the 1-thread run bit for bit; float sums over N threads may differ in the
last bits, which can flip a rank). It writes the table as JSON.

Usage::

    python benchmarks/executor.py --out benchmarks/results/executor.json
    python benchmarks/executor.py --experiments transferability sparsity --set seeds=[0,1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def run(name: str, config: str, overrides: list[str], extra: list[str], out: Path) -> float:
    """Wall seconds of one cold ``interprim experiment run`` into ``out`` (raises if it fails)."""
    cmd = [sys.executable, "-c", "import sys; from interprim.cli import main; sys.exit(main(sys.argv[1:]))",
           "experiment", "run", name, "--config", config, "--out", str(out), *[f"--set={o}" for o in overrides], *extra]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return seconds


def results_of(out: Path) -> str:
    return json.dumps(json.loads((out / "results.json").read_text())["results"], sort_keys=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--experiments", nargs="+", default=["transferability"])
    p.add_argument("--config", default="cpu")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", help="write the table as JSON here")
    args = p.parse_args()
    rows: list[dict[str, Any]] = []
    variants = {
        "inprocess, 1 thread": ["--threads", "1"],
        f"inprocess, {args.workers} threads": ["--threads", str(args.workers)],
        f"ray, {args.workers} workers": ["--executor", "ray", "--workers", str(args.workers), "--threads", "1"],
    }
    print(f"{'experiment':<18} {'executor':<22} {'seconds':>8} {'Ray speed-up':>12} {'same results':>12}")
    for name in args.experiments:
        with tempfile.TemporaryDirectory() as tmp:
            outs = {label: Path(tmp) / label.replace(", ", "-").replace(" ", "") for label in variants}
            seconds = {}
            for label, extra in variants.items():
                seconds[label] = run(name, args.config, args.overrides, extra, outs[label])
                print(f"  ({name}, {label}: {seconds[label]:.1f} s)", flush=True)
            ray_label = list(variants)[-1]
            ray_results = results_of(outs[ray_label])
            for label in variants:
                row = {"experiment": name, "config": args.config, "overrides": args.overrides, "executor": label,
                       "seconds": seconds[label], "ray_speedup": seconds[label] / seconds[ray_label],
                       "same_results_as_ray": results_of(outs[label]) == ray_results}
                rows.append(row)
                print(f"{name:<18} {label:<22} {row['seconds']:>8.1f} {row['ray_speedup']:>11.2f}x "
                      f"{str(row['same_results_as_ray']):>12}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        doc = {"benchmark": "executor", "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                                    "load_average": os.getloadavg()}, "rows": rows}
        Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
