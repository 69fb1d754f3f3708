"""``runtime`` (P2 Table 1, App. H): seconds per sample of each method and solver, and how close each gets.

P2 Table 1 reports the average running time of extracting the generalizable interactions of one
input sample for a pair of models (:data:`PUBLISHED`: 27.15 s for MNIST with ResNet-20 and VGG-16),
by the published procedure (SGD on the loss of Eq. 6, P2 App. N). This experiment times, on the
same real games of :mod:`~interprim.experiments.p2` (MNIST-3, its models, players and samples):

- ``traditional``: each model's own sparse AND-OR interactions (P2 Eq. 4, SPEC §3.3;
  :func:`~interprim.sparse_and_or`), ``min Σ_{T≠∅} |I_and(T)| + |I_or(T)|``, one row per model;
- ``generalizable``: the pair's jointly extracted interactions (P2 Eq. 6, SPEC §3.4, ``alpha``;
  :func:`~interprim.generalizable_and_or`), ``min Σ_type Σ_{T≠∅} (1 − α)·max_i |I_type^(i)(T)| +
  α·Σ_i |I_type^(i)(T)|`` (:func:`~interprim.extract.generalizable.joint_objective`), one row for both;

each by every solver of ``solvers``: ``lp``, the exact LP (HiGHS, one game after another), the
**certified optimum** every other solver is measured against; ``ipm``, the certified interior-point
method (one model, or the pair jointly: :mod:`interprim.extract.ipm_pair`; on the CPU, its batch
split over torch's threads) and
``admm``, the batched certified first-order solver, both stopped at the relative duality gap ``tol``; ``sgd``, the published procedure
(``max_iter_sgd`` steps, 20 000 published; lr 1e-5 decayed log-uniformly to 1e-6 for the traditional
loss, constant for the generalizable one), on the first ``sgd_samples`` games only, since it is slow.
The ``lp`` and ``admm`` rows use all ``samples`` games. The shared key ``solver`` is unused here.

**Timing**: one keyed task per (method, solver) (:func:`solve`) first solves one game untimed (a
warm-up: imports, kernels, a CUDA context; ``sgd``/``admm``/``ipm`` for :data:`WARMUP_ITER` steps), then
times the extraction of all its games with ``time.perf_counter`` — each model separately for the
traditional method, both models jointly for the generalizable one — values already in memory (on
``ctx.device`` for ``admm``/``sgd``; the LP runs on the CPU), results brought back to numpy. It
returns the seconds, the ``torch.get_num_threads()`` and the device it ran with, and the objective
per sample. **A reused task reports the time measured when it was computed**, with the threads and
device of that run (see its record), not of the current one. ``admm`` and ``sgd`` solve their games
as one batch, so their seconds per sample depend on the batch size (``samples`` vs ``sgd_samples``).

**Reported**, per row and seed, then mean ± sd over seeds:

- ``seconds_per_sample``: the measured seconds over the number of games solved (per model for
  traditional, per pair of games for generalizable, like P2 Table 1), and the games it ran on;
- ``speedup``: the ``sgd`` row's seconds per sample over this row's (same method and model);
- ``gap``: ``(obj − obj_lp) / obj_lp`` per sample, against the LP on the same game (``NaN`` where the
  LP's optimum is 0): mean ± sd over samples and the largest; ``within``: the fraction of samples with
  ``gap <= 1 %`` and ``<= 0.1 %`` (:data:`WITHIN`). Nothing can beat the LP: ``gap >= 0`` up to its
  solver tolerance;
- ``certified``: the largest certified relative gap ``(obj − lower bound) / obj`` a solver returns
  (``admm``: ``<= tol`` once converged; ``lp``: 0; ``sgd``: none, ``NaN``); ``iterations`` per sample.

Model inference is not timed (the games are built once, by :func:`~interprim.experiments.p2.extract`);
P2's seconds presumably include it (``2**n`` forward passes per model and sample).

**Sample browser** (``results["browser"]``, :mod:`.browser`): the first seed's first analysed samples with
their players drawn, and each model's top salient interactions (shared ones marked), η and loss, as the exact
LP (``lp``) extracted them, generalizable and traditional.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._array import to_numpy
from ..extract import ConvergenceWarning, generalizable_and_or, sparse_and_or
from ..extract._driver import LP_MAX_SIZE
from . import browser, p2
from .figures import save_figure

NAME = "runtime"
DESCRIPTION = ("P2 Table 1: seconds per sample of the traditional and generalizable extraction by the exact LP, the "
               "certified interior-point method and ADMM and the published SGD on the same games, with each "
               "objective's gap to the LP optimum")
METHODS = ("traditional", "generalizable")
SOLVERS = ("lp", "ipm", "admm", "sgd")
REFERENCE = "lp"
BASELINE = "sgd"
WITHIN = (0.01, 0.001)  # the gaps of the "within" fractions
WARMUP_ITER = 20  # steps of the untimed warm-up solve of sgd, admm and ipm
#: P2 Table 1: average seconds per input sample for a pair of models, by the published procedure
PUBLISHED = {"SST-2, BERT-base and BERT-large": 45.14, "SQuAD, LLaMA and OPT-1.3B": 46.61,
             "MNIST, ResNet-20 and VGG-16": 27.15}


@dataclass
class Config(p2.Config):
    """:class:`~interprim.experiments.p2.Config` (its ``solver`` unused) plus ``solvers``, the solvers timed
    (``lp`` required: the reference), ``sgd_samples``, the first games the slow ``sgd`` solves, and
    ``max_iter_sgd``, its steps (20 000 published)."""

    solvers: list[str] = field(default_factory=lambda: list(SOLVERS))
    sgd_samples: int = 20
    max_iter_sgd: int = 20000

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.solvers, list) or not self.solvers or any(s not in SOLVERS for s in self.solvers) \
                or len(set(self.solvers)) != len(self.solvers):
            raise ValueError(f"solvers must be a non-empty list of distinct solvers of {SOLVERS}, "
                             f"got {self.solvers!r}.")
        if REFERENCE not in self.solvers:
            raise ValueError(f"solvers must include {REFERENCE!r}, the certified optimum every gap is measured "
                             f"against, got {self.solvers!r}.")
        self.solvers = [s for s in SOLVERS if s in self.solvers]
        if len(self.archs) * 3**self.n > LP_MAX_SIZE:
            raise ValueError(f"the exact LP takes m·3**n <= 3**12 for the joint problem ({len(self.archs)} models, "
                             f"n = {self.n}); lower n or use fewer archs.")
        if isinstance(self.sgd_samples, bool) or not isinstance(self.sgd_samples, int) or \
                not 1 <= self.sgd_samples <= self.samples:
            raise ValueError(f"sgd_samples must be an integer in 1 .. samples = {self.samples} (sgd solves the first "
                             f"sgd_samples games), got {self.sgd_samples!r}.")
        if isinstance(self.max_iter_sgd, bool) or not isinstance(self.max_iter_sgd, int) or self.max_iter_sgd < 1:
            raise ValueError(f"max_iter_sgd must be an integer >= 1 (20000 published), got {self.max_iter_sgd!r}.")


# ---------------------------------------------------------------------------------------------
# the timed task
# ---------------------------------------------------------------------------------------------


def _extract(method: str, solver: str, v: list[Any], *, alpha: float, noise: float, tol: float,
             max_iter: int | None) -> list[Any]:
    """The interactions of the games ``v`` (one array per model): one result per model (traditional, solved one
    model after another) or the list of the joint solve (generalizable)."""
    options: dict[str, Any] = dict(noise=noise, solver=solver)
    if solver in ("admm", "ipm"):
        options["tol"] = tol
    if max_iter is not None:
        options["max_iter"] = max_iter
    if method == "traditional":
        return [sparse_and_or(x, **options) for x in v]
    return generalizable_and_or(v, alpha=alpha, **options)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def solve(
    *,
    method: str,
    solver: str,
    count: int,
    noise: float,
    alpha: float = 0.1,
    tol: float = 1e-3,
    max_iter: int | None = None,
    device: str = "cpu",
    **games: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Time ``method`` by ``solver`` on the first ``count`` games of ``values0, values1, …`` (module docstring).

    Returns ``seconds`` ``(R,)`` (``R`` = the models for traditional, 1 for generalizable), ``objective``,
    ``lower_bound`` and ``iterations`` ``(R, count)``, the interactions ``i_and``, ``i_or`` ``(m, count, 2**n)``,
    ``threads`` and ``device`` (of this run). ``max_iter``: the steps of ``sgd`` (``None``: the library's limit).
    """
    order = sorted(games, key=lambda name: int(name.removeprefix("values")))
    v = [np.asarray(games[name]["values"], dtype=np.float64)[:count] for name in order]
    where = "cpu" if solver in ("lp", "ipm") else device
    inputs = v if where == "cpu" else [torch.as_tensor(x, device=where) for x in v]
    options = dict(alpha=alpha, noise=noise, tol=tol, max_iter=max_iter)
    with warnings.catch_warnings():  # the warm-up stops early on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        _extract(method, solver, [x[:1] for x in inputs],
                 **{**options, "max_iter": None if solver == "lp" else WARMUP_ITER})
    found, seconds, objectives = [], [], []
    for part in ([[x] for x in inputs] if method == "traditional" else [inputs]):  # a model alone, or the pair
        _sync(where)
        start = time.perf_counter()
        results = _extract(method, solver, part, **options)
        objective = results[0].objective if method == "traditional" else results[0].meta["joint_objective"]
        objectives.append(np.asarray(to_numpy(objective), dtype=np.float64))  # on the host: the work is done
        _sync(where)
        seconds.append(time.perf_counter() - start)
        found += results
    metas = [found[0].meta] if method == "generalizable" else [r.meta for r in found]
    return {
        "seconds": np.asarray(seconds, dtype=np.float64),
        "objective": np.stack(objectives),
        "lower_bound": np.stack([np.asarray(to_numpy(m["lower_bound"]), dtype=np.float64) for m in metas]),
        "iterations": np.stack([np.asarray(to_numpy(m["iterations"]), dtype=np.float64) for m in metas]),
        "i_and": np.stack([to_numpy(r.i_and) for r in found]).astype(np.float64),
        "i_or": np.stack([to_numpy(r.i_or) for r in found]).astype(np.float64),
        "threads": np.asarray(torch.get_num_threads()),
        "device": np.asarray(where),
    }


def task_params(config: Config, method: str, solver: str) -> dict[str, Any]:
    """The parameters of the :func:`solve` task of ``(method, solver)``: only what changes its result."""
    params: dict[str, Any] = dict(method=method, solver=solver, noise=config.noise,
                                  count=config.sgd_samples if solver == BASELINE else config.samples)
    if method == "generalizable":
        params["alpha"] = config.alpha
    if solver in ("admm", "ipm"):
        params["tol"] = config.tol
    if solver == BASELINE:
        params["max_iter"] = config.max_iter_sgd
    return params


def timed(ctx: Any, config: Config, records: list[Any]) -> dict[tuple[str, str], Any]:
    """The finished :func:`solve` task of every (method, solver), one after another."""
    fn = partial(solve, device=ctx.device)
    deps = {f"values{j}": r for j, r in enumerate(records)}
    return {(method, solver): ctx.task("runtime-solve", fn, task_params(config, method, solver), deps=deps)
            for method in METHODS for solver in config.solvers}


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------


def relative_gap(objective: Any, optimum: Any) -> np.ndarray:
    """``(obj − obj_lp) / obj_lp`` per sample; ``NaN`` where the optimum is not positive."""
    objective, optimum = np.asarray(objective, dtype=np.float64), np.asarray(optimum, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(optimum > 0, (objective - optimum) / optimum, np.nan)


def _max(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.max()) if x.size else float("nan")


def seed_rows(done: dict[tuple[str, str], Any], archs: list[str], samples: list[int]) -> list[dict[str, Any]]:
    """One row per method, model (``"pair"`` for generalizable) and solver (module docstring)."""
    rows = []
    for method in METHODS:
        models = archs if method == "traditional" else ["pair"]
        optimum = np.asarray(done[method, REFERENCE].value["objective"], dtype=np.float64)
        for r, model in enumerate(models):
            per_solver = {}
            for (m, solver), task in done.items():
                if m != method:
                    continue
                value = task.value
                objective = np.asarray(value["objective"], dtype=np.float64)[r]
                count = objective.shape[-1]
                gap = relative_gap(objective, optimum[r, :count])
                lower = np.asarray(value["lower_bound"], dtype=np.float64)[r]
                with np.errstate(divide="ignore", invalid="ignore"):
                    certified = np.where(objective > 0, (objective - lower) / objective, 0.0)
                finite = gap[np.isfinite(gap)]
                seconds = float(np.asarray(value["seconds"])[r])
                per_solver[solver] = dict(
                    method=method, model=model, solver=solver, count=int(count), samples=samples[:count],
                    seconds=seconds, seconds_per_sample=seconds / count,
                    objective=p2.spread(objective), gap={**p2.spread(gap), "max": _max(gap)},
                    within={f"{w:g}": float(np.mean(finite <= w)) if finite.size else float("nan") for w in WITHIN},
                    certified=_max(certified), iterations=float(np.mean(value["iterations"][r])),
                    threads=int(np.asarray(value["threads"])), device=str(np.asarray(value["device"])), key=task.key)
            base = per_solver.get(BASELINE)
            for row in per_solver.values():
                row["speedup"] = (base["seconds_per_sample"] / row["seconds_per_sample"]
                                  if base is not None and row["seconds_per_sample"] > 0 else float("nan"))
                rows.append(row)
    return rows


def over_seeds(per_seed: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per row: mean ± sd over seeds of seconds per sample, speed-up, mean gap, largest gap, ``within`` fractions
    and the mean objective; the largest gap and certified gap over all seeds."""
    out = []
    for i, first in enumerate(per_seed[0]):
        rows = [seed[i] for seed in per_seed]
        assert all((r["method"], r["model"], r["solver"]) == (first["method"], first["model"], first["solver"])
                   for r in rows)

        def over(get: Any, rows: list[dict[str, Any]] = rows) -> dict[str, Any]:
            return p2.spread(np.array([get(r) for r in rows], dtype=np.float64), axis=0)

        out.append(dict(
            method=first["method"], model=first["model"], solver=first["solver"], count=first["count"],
            seconds_per_sample=over(lambda r: r["seconds_per_sample"]), speedup=over(lambda r: r["speedup"]),
            gap=over(lambda r: r["gap"]["mean"]), gap_max=float(np.nanmax([r["gap"]["max"] for r in rows]))
            if any(np.isfinite(r["gap"]["max"]) for r in rows) else float("nan"),
            within={w: over(lambda r, w=w: r["within"][w]) for w in first["within"]},
            objective=over(lambda r: r["objective"]["mean"]),
            certified=float(np.nanmax([r["certified"] for r in rows]))
            if any(np.isfinite(r["certified"]) for r in rows) else float("nan"),
            threads=sorted({r["threads"] for r in rows}), device=sorted({r["device"] for r in rows})))
    return out


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Per seed: train the models and build their games (:func:`~interprim.experiments.p2.extract`), time every
    method and solver on them; then over seeds."""
    per_seed = []
    for seed, found in zip(config.seeds, p2.extract_seeds(ctx, config, methods=())):  # timings stay one at a time
        done = timed(ctx, config, found.records)
        if seed == config.seeds[0]:  # the interactions the exact LP found, by both methods
            lp = {m: list(zip(done[m, REFERENCE].value["i_and"], done[m, REFERENCE].value["i_or"])) for m in METHODS}
            sections = browser.p2_sections(config, seed, found.archs, found.samples, found.values, {
                browser.extraction_p2(config, "generalizable", solver="lp"): lp["generalizable"],
                browser.extraction_p2(config, "traditional-lp"): lp["traditional"]})
        per_seed.append(dict(seed=seed, accuracy=found.accuracy, rows=seed_rows(done, found.archs, found.samples)))
    return dict(config=asdict(config), archs=p2.model_names(config.archs), samples=found.samples, solvers=list(config.solvers),
                sgd_samples=config.sgd_samples, max_iter_sgd=config.max_iter_sgd, published=dict(PUBLISHED),
                seeds=per_seed, over_seeds=over_seeds([s["rows"] for s in per_seed]), browser=sections)


# ---------------------------------------------------------------------------------------------
# figure and summary
# ---------------------------------------------------------------------------------------------


COLORS = {"lp": "C0", "ipm": "C1", "admm": "C2", "sgd": "C3"}


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _gap_label(row: dict[str, Any]) -> str:
    if row["solver"] == REFERENCE:
        return "optimum"
    mean = _num(row["gap"]["mean"])
    return "gap n/a" if not np.isfinite(mean) else f"+{100 * mean:.2g} %"


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Seconds per sample (log scale, mean ± sd over seeds) of every method/model and solver, each bar annotated
    with its mean objective gap to the LP; P2 Table 1's MNIST time as a dotted line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["over_seeds"]
    groups: list[tuple[str, str]] = []
    for row in rows:
        if (row["method"], row["model"]) not in groups:
            groups.append((row["method"], row["model"]))
    solvers = results["solvers"]
    width = 0.8 / len(solvers)
    fig, ax = plt.subplots(figsize=(2.2 + 2.0 * len(groups), 4.2))
    for row in rows:
        g, s = groups.index((row["method"], row["model"])), solvers.index(row["solver"])
        x = g - 0.4 + width * (s + 0.5)
        mean, sd = _num(row["seconds_per_sample"]["mean"]), _num(row["seconds_per_sample"]["sd"])
        if not np.isfinite(mean) or mean <= 0:
            continue
        ax.bar(x, mean, width * 0.9, color=COLORS.get(row["solver"], "k"),
               label=row["solver"] if g == 0 else None)
        if np.isfinite(sd) and sd > 0:
            ax.errorbar(x, mean, yerr=[[min(sd, 0.9 * mean)], [sd]], color="k", capsize=2, linewidth=0.8)
        ax.annotate(_gap_label(row), (x, mean * (1 + (sd / mean if np.isfinite(sd) else 0)) * 1.15),
                    ha="center", va="bottom", fontsize=6, rotation=90)
    mnist = results["published"].get("MNIST, ResNet-20 and VGG-16")
    if mnist:
        ax.axhline(mnist, color="0.4", linestyle=":", linewidth=1,
                   label=f"P2 Table 1, MNIST pair ({mnist:g} s, SGD, with inference)")
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 30)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{method}\n{model}" for method, model in groups], fontsize=8)
    ax.set_ylabel("seconds per sample")
    ax.legend(fontsize=7, loc="upper left")
    config = results["config"]
    fig.suptitle(f"runtime (P2 Table 1): n = {config['n']}, {config['samples']} samples (sgd: first "
                 f"{results['sgd_samples']}, {results['max_iter_sgd']} steps); mean ± sd over {len(results['seeds'])} "
                 f"seed(s); labels: mean objective gap to the LP", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out_dir, NAME)


def _fmt(entry: dict[str, Any], digits: str = ".3g", scale: float = 1.0) -> str:
    mean, sd = _num(entry["mean"]), _num(entry["sd"])
    if not np.isfinite(mean):
        return "n/a"
    return f"{scale * mean:{digits}}" if not np.isfinite(sd) else f"{scale * mean:{digits}} ± {scale * sd:{digits}}"


def _pct(x: Any) -> str:
    x = _num(x)
    return "n/a" if not np.isfinite(x) else f"{100 * x:.3g} %"


def summary(results: dict[str, Any]) -> str:
    """The timing table over seeds (seconds per sample, speed-up over SGD, objective gaps to the LP), the per-seed
    seconds, the traditional pair's seconds, and P2 Table 1."""
    config, archs, rows = results["config"], results["archs"], results["over_seeds"]
    threads = sorted({t for r in rows for t in r["threads"]})
    devices = sorted({d for r in rows for d in r["device"]})
    lines = [
        (f"{p2.describe(config, archs, len(results['samples']))}; seeds {[s['seed'] for s in results['seeds']]}. "
         f"Seconds per sample of the extraction alone (games built beforehand): per model for traditional (Eq. 4), "
         f"per pair for generalizable (Eq. 6, α = {config['alpha']}); lp, ipm and admm (both "
         f"certified to {config['tol']:g}) on "
         f"all {config['samples']} samples, sgd (the published procedure, {results['max_iter_sgd']} steps) on the "
         f"first {results['sgd_samples']}. gap = (obj − obj_lp)/obj_lp per sample; mean ± sd over seeds. Timed with "
         f"torch threads {threads} on {', '.join(devices)}; a reused task keeps the time measured when it was "
         f"computed."),
        "", "Test accuracy: " + "; ".join(
            f"{a} {np.mean([s['accuracy'][a]['test'] for s in results['seeds']]):.3f}" for a in archs) + ".",
        "", "## seconds per sample and objective gap to the LP", "",
        "| method | model | solver | samples | s / sample | speed-up over sgd | gap (mean) | gap (max) | "
        + " | ".join(f"≤ {100 * w:g} %" for w in WITHIN) + " | certified gap |",
        "|---|---|---|--:|--:|--:|--:|--:|" + "--:|" * len(WITHIN) + "--:|",
    ]
    for row in rows:
        within = [_fmt(row["within"][w], ".2f") for w in row["within"]]
        lines.append(f"| {row['method']} | {row['model']} | {row['solver']} | {row['count']} | "
                     f"{_fmt(row['seconds_per_sample'])} | {_fmt(row['speedup'])} | {_fmt(row['gap'], '.2g', 100)} % | "
                     f"{_pct(row['gap_max'])} | " + " | ".join(within) + f" | {_pct(row['certified'])} |")
    traditional = [r for r in rows if r["method"] == "traditional"]
    pair = {}
    for solver in results["solvers"]:
        per_seed = [sum(r["seconds_per_sample"] for r in s["rows"] if r["method"] == "traditional"
                        and r["solver"] == solver) for s in results["seeds"]]
        pair[solver] = p2.spread(np.array(per_seed, dtype=np.float64))
    if traditional:
        lines += ["", "Traditional, both models of a sample (sum over the models; compare with generalizable): "
                  + "; ".join(f"{s} {_fmt(e)} s" for s, e in pair.items()) + "."]
    lines += ["", "## per seed: seconds per sample (gap mean, max)", "",
              "| seed | " + " | ".join(f"{r['method']} {r['model']} {r['solver']}" for r in rows) + " |",
              "|---|" + "--:|" * len(rows)]
    for seed in results["seeds"]:
        lines.append(f"| {seed['seed']} | " + " | ".join(
            f"{r['seconds_per_sample']:.3g} ({_pct(r['gap']['mean'])}, {_pct(r['gap']['max'])})"
            for r in seed["rows"]) + " |")
    lines += ["", ("## P2 Table 1 (published procedure; seconds per sample for a pair of models, presumably with "
                   "the model inference)"), "", "| task | s / sample |", "|---|--:|"]
    lines += [f"| {task} | {seconds:g} |" for task, seconds in results["published"].items()]
    return "\n".join(lines) + "\n"
