"""``init-diversity`` (P2 Table 2, §3.3.1): do two extractions of the same model from different starts agree?

P2 motivates its joint extraction by the diversity of the traditional one (Eq. 4): optimised by SGD
from two different initial ``γ``, the sparse AND-OR interactions of one BERT on one sentence
overlapped by only 21 %. Two causes are mixed there: SGD stops far from the optimum (so where it
stops depends on where it started), and the objective may have many optimal solutions. This
experiment separates them on the games of :mod:`~interprim.experiments.p2` (per model, the first
``diversity_samples`` analysed samples):

- ``sgd``: the published procedure (``max_iter_sgd`` steps) from two initial ``γ``;
- ``admm``: the certified solver (relative gap ``tol``) from the same two initial ``γ``;
- ``lp-vs-admm``: the exact LP optimum against the ADMM's from its default start: two (near-)optimal
  solutions of one problem, the non-unique-optima control P2 lacks.

The initial ``γ`` of start ``s`` (``init_seeds``) is ``init_scale · |v(N) − v(∅)| · z`` with ``z`` standard
normal (``numpy.random.default_rng(s)``), per sample and subset. Overlap: P2 Def. 1's transferability
between the two extractions of one model (:func:`interprim.metrics.transferability`; salient = above
the SPEC τ of that model, singletons merged), ``s_and`` and ``s_or`` per sample, and of the top-10
interactions; reported as mean ± sd over samples, and over seeds. Each extraction's objective is
given relative to the LP optimum, ``(L1 − L1_lp) / L1_lp``.

**Sample browser** (``results["browser"]``, :mod:`.browser`): the first seed's first analysed samples with
their players drawn, and each model's top salient interactions (shared ones marked), η and loss, by the exact
LP (the ``lp`` extraction) of the first ``diversity_samples``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics, sparse_and_or
from ..interactions import Interactions
from . import browser, p2
from .figures import save_figure

NAME = "init-diversity"
DESCRIPTION = ("P2 Table 2: overlap of two extractions of one model from two initial γ, by the published SGD and by "
               "the certified solver, and of two optima (LP vs ADMM)")
PAIRS = ("sgd", "admm", "lp-vs-admm")
TYPES = ("and", "or")
TOP_K = 10


@dataclass
class Config(p2.Config):
    """:class:`~interprim.experiments.p2.Config` plus the starts (module docstring)."""

    diversity_samples: int = 20
    init_seeds: list[int] = field(default_factory=lambda: [1, 2])
    init_scale: float = 0.5
    max_iter_sgd: int = 20000

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.diversity_samples <= self.samples:
            raise ValueError(f"diversity_samples must be 1 .. samples ({self.samples}), got {self.diversity_samples}.")
        if len(self.init_seeds) != 2 or len(set(self.init_seeds)) != 2 or any(s < 0 for s in self.init_seeds):
            raise ValueError(f"init_seeds must be two different integers >= 0, got {self.init_seeds!r}.")
        if not self.init_scale > 0 or self.max_iter_sgd < 1:
            raise ValueError(f"init_scale must be > 0 and max_iter_sgd >= 1, got {self.init_scale}, {self.max_iter_sgd}.")


def initial_gamma(v: np.ndarray, seed: int, scale: float) -> np.ndarray:
    """``scale · |v(N) − v(∅)| · z`` with ``z ~ N(0, 1)`` drawn by ``numpy.random.default_rng(seed)``, shape of ``v``."""
    z = np.random.default_rng(seed).standard_normal(v.shape)
    return scale * np.abs(v[..., -1:] - v[..., :1]) * z


def extract_from(
    *, solver: str, init_seed: int | None, init_scale: float, count: int, noise: float, tol: float, max_iter: int,
    values: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Sparse AND-OR interactions (P2 Eq. 4) of the first ``count`` games by ``solver``, started at
    :func:`initial_gamma` of ``init_seed`` (``None``: the solver's own start)."""
    v = np.asarray(values["values"], dtype=np.float64)[:count]
    init = None if init_seed is None else initial_gamma(v, init_seed, init_scale)
    options = dict(max_iter=max_iter) if solver in ("sgd", "admm") else {}
    r = sparse_and_or(v, solver=solver, noise=noise, tol=tol, init=init, **options)
    l1 = np.abs(r.i_and[..., 1:]).sum(-1) + np.abs(r.i_or[..., 1:]).sum(-1)
    return {"i_and": r.i_and, "i_or": r.i_or, "gamma": r.gamma, "noise": r.noise, "l1": l1}


def _interactions(record: dict[str, np.ndarray]) -> Interactions:
    return Interactions(i_and=record["i_and"], i_or=record["i_or"], gamma=record["gamma"], noise=record["noise"])


def overlap(a: Interactions, b: Interactions) -> dict[str, Any]:
    """P2 Def. 1 between two extractions of one model: ``s`` of ``a`` with respect to ``b`` per sample
    (salient above the SPEC τ, and top-:data:`TOP_K`), as mean ± sd over samples."""
    salient = metrics.transferability([a, b])
    top = metrics.transferability([a, b], top_k=TOP_K)
    return {f"s_{t}": p2.spread(salient[j][0]) | {"per_sample": salient[j][0].tolist()} for j, t in enumerate(TYPES)} | {
        f"top{TOP_K}_s_{t}": p2.spread(top[j][0]) for j, t in enumerate(TYPES)}


def extractions(ctx: Any, config: Config, found: p2.Extracted) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Per model, the :func:`extract_from` record of every start and solver (``sgd-a``, ``sgd-b``, ``admm-a``,
    ``admm-b``, ``admm``, ``lp``)."""
    common = dict(init_scale=config.init_scale, count=config.diversity_samples, noise=config.noise, tol=config.tol)
    runs = {
        "sgd-a": dict(solver="sgd", init_seed=config.init_seeds[0], max_iter=config.max_iter_sgd),
        "sgd-b": dict(solver="sgd", init_seed=config.init_seeds[1], max_iter=config.max_iter_sgd),
        "admm-a": dict(solver="admm", init_seed=config.init_seeds[0], max_iter=20000),
        "admm-b": dict(solver="admm", init_seed=config.init_seeds[1], max_iter=20000),
        "admm": dict(solver="admm", init_seed=None, max_iter=20000),
        "lp": dict(solver="lp", init_seed=None, max_iter=20000),
    }
    out = {}
    for arch, record in zip(found.archs, found.records):
        done = ctx.map("extract-from", extract_from, [common | p for p in runs.values()],
                       deps={"values": record})
        out[arch] = dict(zip(runs, (d.value for d in done)))
    return out


def seed_statistics(extracted: dict[str, dict[str, dict[str, np.ndarray]]]) -> dict[str, Any]:
    """Per model: the overlap of every pair of :func:`extractions` and the objective of each relative to the LP."""
    pairs = {"sgd": ("sgd-a", "sgd-b"), "admm": ("admm-a", "admm-b"), "lp-vs-admm": ("lp", "admm")}
    out: dict[str, Any] = {}
    for arch, got in extracted.items():
        optimum = np.asarray(got["lp"]["l1"])
        out[arch] = {
            "objective_vs_lp": {name: p2.spread((np.asarray(r["l1"]) - optimum) / optimum) for name, r in got.items()},
            "pairs": {pair: overlap(_interactions(got[a]), _interactions(got[b])) for pair, (a, b) in pairs.items()},
        }
    return out


def over_seeds(per_seed: list[dict[str, Any]], archs: list[str]) -> dict[str, Any]:
    """Mean ± sd over seeds of the sample means of every overlap and objective gap."""
    out: dict[str, Any] = {}
    for arch in archs:
        rows = [s["statistics"][arch] for s in per_seed]
        out[arch] = {
            "pairs": {pair: {key: p2.spread([r["pairs"][pair][key]["mean"] for r in rows], axis=0)
                             for key in rows[0]["pairs"][pair] if not key.endswith("per_sample")}
                      for pair in PAIRS},
            "objective_vs_lp": {name: p2.spread([r["objective_vs_lp"][name]["mean"] for r in rows], axis=0)
                                for name in rows[0]["objective_vs_lp"]},
        }
    return out


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Per seed: the models and games of P2's pipeline, six extractions per model, their overlaps; then over seeds."""
    per_seed = []
    for seed, found in zip(config.seeds, p2.extract_seeds(ctx, config, methods=())):
        extracted = extractions(ctx, config, found)
        if seed == config.seeds[0]:  # the exact LP's extraction of the first diversity_samples games
            sections = browser.p2_sections(config, seed, found.archs, found.samples, found.values, {
                browser.extraction_p2(config, "traditional-lp"): [extracted[a]["lp"] for a in found.archs]})
        per_seed.append(dict(seed=seed, accuracy=found.accuracy, statistics=seed_statistics(extracted)))
    return dict(config=asdict(config), archs=p2.model_names(config.archs), samples=found.samples[: config.diversity_samples],
                seeds=per_seed, over_seeds=over_seeds(per_seed, p2.model_names(config.archs)), browser=sections)


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Per model, the per-sample ``s_and`` and ``s_or`` of every pair of extractions (first seed) as box plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = results["seeds"][0]["statistics"]
    archs = results["archs"]
    fig, axes = plt.subplots(1, len(archs), figsize=(4.8 * len(archs), 3.6), squeeze=False)
    for ax, arch in zip(axes[0], archs):
        data, labels = [], []
        for pair in PAIRS:
            for t in TYPES:
                x = np.asarray([np.nan if s is None else s for s in first[arch]["pairs"][pair][f"s_{t}"]["per_sample"]],
                               dtype=float)
                data.append(x[np.isfinite(x)])
                labels.append(f"{pair}\n{t.upper()}")
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=7)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("overlap s (P2 Def. 1)")
        ax.set_title(f"{arch}: two extractions of one model (seed {results['seeds'][0]['seed']})", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir, NAME)


def _fmt(x: dict[str, Any] | None) -> str:
    if x is None or x["mean"] is None or not np.isfinite(x["mean"]):
        return "n/a"
    sd = x["sd"]
    return f"{x['mean']:.3f}" if sd is None or not np.isfinite(sd) else f"{x['mean']:.3f} ± {sd:.3f}"


def summary(results: dict[str, Any]) -> str:
    """The overlap table (P2 Table 2) per model and the objectives relative to the LP optimum."""
    config, over = results["config"], results["over_seeds"]
    lines = [
        f"Task {config['task']}, {len(results['samples'])} games per model (n = {config['n']}), seeds "
        f"{[s['seed'] for s in results['seeds']]}: mean ± sd over seeds of the mean over games. SGD runs "
        f"{config['max_iter_sgd']} steps (the published number is 20 000); ADMM is certified to a relative gap of "
        f"{config['tol']}; the initial γ of the two starts have scale {config['init_scale']}·|v(N) − v(∅)|. P2 saw "
        f"21 % overlap between two SGD runs (BERT on SST-2).",
    ]
    for arch in results["archs"]:
        lines += ["", f"## {arch}", "", "| extractions compared | s_and | s_or | top-10 s_and | top-10 s_or |",
                  "|---|--:|--:|--:|--:|"]
        for pair in PAIRS:
            p = over[arch]["pairs"][pair]
            lines.append(f"| {pair} | {_fmt(p['s_and'])} | {_fmt(p['s_or'])} | {_fmt(p['top10_s_and'])} | "
                         f"{_fmt(p['top10_s_or'])} |")
        lines += ["", "| extraction | objective − LP optimum (relative) |", "|---|--:|"]
        for name, x in over[arch]["objective_vs_lp"].items():
            lines.append(f"| {name} | {_fmt(x)} |")
    return "\n".join(lines) + "\n"
