"""``sparsity`` (P2 Fig. 2): how sparse are the interactions of each method, and what does sharing cost?

P2's claim: most AND-OR interactions have a negligible effect; the jointly extracted (generalizable,
Eq. 6) interactions are a bit less sparse than the traditional ones (Eq. 4) but still sparse, and
both are much sparser than the Harsanyi interactions (Eq. 1). P2 Fig. 2 draws, per method, the
strengths ``|I_and(T)|`` and ``|I_or(T)|`` of every ``T ≠ ∅`` of every analysed sample, pooled and
sorted descending (:func:`interprim.metrics.sparsity_curve`, OR singletons merged into AND).

The experiment reports, per method (:mod:`~interprim.experiments.p2`: generalizable, traditional by
the LP and by the ADMM — two optima of one problem — and Harsanyi) and model:

- the **sparsity curve**, at :data:`CURVE_POINTS` log-spaced ranks, divided by the largest strength
  among all the curves of that model (per seed), so the methods of one model keep their relative
  levels (as in P2) and the models, whose outputs have different scales, become comparable;
- numbers P2 lacks, per sample, then mean ± sd over the analysed samples (per seed) and mean ± sd
  of those means over seeds:

  - ``l1``: the **L1 norm** ``Σ_{T≠∅} |I_and(T)| + |I_or(T)|`` (the traditional objective, Eq. 4;
    stored vectors, singletons not merged);
  - ``salient``: the number of **salient** interactions ``|I(T)| > τ`` with the SPEC ``τ = 0.02·E_x
    |v(x) − v(x_∅)|`` of each model over its analysed samples (SPEC §4; singletons merged);
  - ``mass``: the number of strongest interactions (singletons merged, as in the curve) that hold
    the fraction ``mass`` (0.9) of the sample's total strength, ``min{k: Σ_{r≤k} s_(r) ≥ mass·Σ_r s_(r)}``;
  - ``l1_ratio``: ``l1`` of the method over ``l1`` of ``traditional-lp`` on the same sample and model.
    For ``generalizable`` it is the **sparsity cost** of sharing: each model's constraints are the
    same in both problems (``γ_i`` free, ``|q_i| ≤ ζ_i``) and the LP finds the minimum L1 norm of each
    model alone, so the ratio is ``>= 1``; for ``traditional-admm`` it is ``1`` up to the ADMM's gap.

**Sample browser** (``results["browser"]``, :mod:`.browser`): the first seed's first analysed samples with
their players drawn, and each model's top salient interactions (shared ones marked), η and loss, by the
generalizable and by the traditional (exact LP) extraction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics
from . import browser, p2
from .figures import save_figure

NAME = "sparsity"
DESCRIPTION = ("P2 Fig. 2: sorted interaction strengths, generalizable vs traditional vs Harsanyi, with L1 norms, "
               "salient counts and the sparsity cost of sharing")
CURVE_POINTS = 200  # log-spaced ranks at which the sparsity curves are kept
PLOT_FLOOR = 1e-6  # the figure's lowest normalised strength: the exact solvers leave ~1e-16 for zero
STATISTICS = ("l1", "salient", "mass", "l1_ratio")


@dataclass
class Config(p2.Config):
    """:class:`~interprim.experiments.p2.Config` plus ``mass``, the share of a sample's total strength that the
    ``mass`` count's strongest interactions hold."""

    mass: float = 0.9

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.mass, bool) or not 0 < self.mass <= 1:
            raise ValueError(f"mass must be in (0, 1], got {self.mass!r}.")


def curve_ranks(length: int, points: int = CURVE_POINTS) -> np.ndarray:
    """At most ``points`` distinct 1-based ranks from ``1`` to ``length``, log-spaced (the first and last included);
    every rank when ``length <= points``."""
    if length <= points:
        return np.arange(1, length + 1)
    return np.unique(np.round(np.geomspace(1, length, points)).astype(int))


def l1_norms(results: list[Any]) -> np.ndarray:
    """``Σ_{T≠∅} |I_and(T)| + |I_or(T)|`` per model and sample, ``(m, B)``: the objective of P2 Eq. 4."""
    return np.stack([np.abs(r.i_and[..., 1:]).sum(-1) + np.abs(r.i_or[..., 1:]).sum(-1) for r in results])


def salient_counts(results: list[Any], tau: np.ndarray) -> np.ndarray:
    """How many interactions of each sample are salient, ``|I(T)| > τ_i`` (singletons merged), ``(m, B)``."""
    m_and, m_or = metrics.salient_mask(results, threshold=np.asarray(tau, dtype=np.float64))
    return (m_and.sum(-1) + m_or.sum(-1)).astype(np.float64)


def mass_counts(results: list[Any], mass: float) -> np.ndarray:
    """The fewest strongest interactions of each sample that hold ``mass`` of its total strength, ``(m, B)``.

    Strengths as in the sparsity curve (singletons merged), per sample; ``NaN`` for a sample without any.
    """
    out = np.full((len(results), results[0].i_and.shape[0]), np.nan)
    for j, r in enumerate(results):
        for b in range(r.i_and.shape[0]):
            s = metrics.sparsity_curve(r.i_and[b], r.i_or[b])
            cum = np.cumsum(s)
            if cum[-1] > 0:
                out[j, b] = np.count_nonzero(cum < mass * cum[-1]) + 1
    return out


def seed_statistics(found: p2.Extracted, mass: float) -> dict[str, Any]:
    """Per method: the normalised sparsity curves at :func:`curve_ranks` and the per-sample statistics
    (module docstring) as mean ± sd over samples; with each model's ``τ`` and curve scale."""
    tau = metrics.salient_threshold(np.stack(found.values), per_model=True)
    pooled = {method: metrics.sparsity_curve(results) for method, results in found.methods.items()}
    length = next(iter(pooled.values())).shape[-1]
    ranks = curve_ranks(length)
    scale = np.max([c[:, 0] for c in pooled.values()], axis=0)  # the largest strength of each model
    with np.errstate(divide="ignore", invalid="ignore"):
        curves = {method: c[:, ranks - 1] / scale[:, None] for method, c in pooled.items()}
    l1 = {method: l1_norms(results) for method, results in found.methods.items()}
    statistics: dict[str, Any] = {}
    for method, results in found.methods.items():
        statistics[method] = {"l1": p2.spread(l1[method]), "salient": p2.spread(salient_counts(results, tau)),
                              "mass": p2.spread(mass_counts(results, mass))}
        if p2.TRADITIONAL in l1 and method != p2.TRADITIONAL:
            with np.errstate(divide="ignore", invalid="ignore"):
                statistics[method]["l1_ratio"] = p2.spread(l1[method] / l1[p2.TRADITIONAL])
    return dict(tau=tau.tolist(), scale=scale.tolist(), ranks=ranks.tolist(), length=int(length),
                curves={method: c.tolist() for method, c in curves.items()}, statistics=statistics)


def over_seeds(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method: mean ± sd over seeds of every per-seed sample mean and of the normalised curves."""
    out: dict[str, Any] = {}
    for method, by_key in per_seed[0]["statistics"].items():
        out[method] = {key: p2.spread(np.stack([np.asarray(s["statistics"][method][key]["mean"], dtype=float)
                                                for s in per_seed]), axis=0) for key in by_key}
        out[method]["curve"] = p2.spread(np.stack([np.asarray(s["curves"][method], dtype=float) for s in per_seed]),
                                         axis=0)
    return out


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Per seed: train the models, extract every method, compute the curves and the statistics; then over seeds."""
    per_seed = []
    for seed, found in zip(config.seeds, p2.extract_seeds(ctx, config)):
        if seed == config.seeds[0]:
            sections = browser.p2_browser(config, found, seed)
        per_seed.append(dict(seed=seed, accuracy=found.accuracy, gaps=found.gaps,
                             **seed_statistics(found, config.mass)))
    first = per_seed[0]
    return dict(config=asdict(config), archs=p2.model_names(config.archs), samples=found.samples, mass=config.mass,
                ranks=first["ranks"], length=first["length"], pool=2 * (2**config.n - 1) - config.n,
                seeds=per_seed, over_seeds=over_seeds(per_seed),
                tau_over_scale=p2.spread(np.stack([np.divide(s["tau"], s["scale"]) for s in per_seed]), axis=0),
                browser=sections)


LINES = {"generalizable": "-", "traditional-lp": "-", "traditional-admm": "--", "harsanyi": "-"}


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """P2 Fig. 2: per model, each method's strengths sorted descending (mean over seeds), log y cut at
    :data:`PLOT_FLOOR` (below it the solvers' zeros); the SPEC τ dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    archs, ranks, over = results["archs"], results["ranks"], results["over_seeds"]
    fig, axes = plt.subplots(1, len(archs), figsize=(4.8 * len(archs), 3.8), squeeze=False)
    for col, arch in enumerate(archs):
        ax = axes[0][col]
        for method in over:
            curve = np.array(over[method]["curve"]["mean"][col], dtype=float)
            ax.plot(ranks, np.where(curve > 0, curve, np.nan), LINES.get(method, "-"), color=p2.STYLE.get(method, ("k", ""))[0],
                    linewidth=1.4, label=method)
        tau = results["tau_over_scale"]["mean"][col]
        if tau is not None and np.isfinite(tau) and tau > 0:
            ax.axhline(tau, color="0.4", linestyle=":", linewidth=1, label="SPEC τ")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(PLOT_FLOOR, 1.5)
        ax.set_xlabel(f"rank among the {results['length']} interactions of {len(results['samples'])} samples")
        ax.set_ylabel("|I| / largest |I| of the model")
        ax.set_title(f"{arch}: strengths sorted descending", fontsize=9)
        if col == 0:
            ax.legend(fontsize=7)
    fig.suptitle(f"sparsity (P2 Fig. 2), mean over {len(results['seeds'])} seed(s); each model's curves divided by "
                 f"its largest strength; below {PLOT_FLOOR:g}: zero", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir, NAME)


def _fmt(entry: dict[str, Any], model: int, digits: str = ".4g") -> str:
    mean, sd = entry["mean"][model], entry["sd"][model]
    if mean is None or not np.isfinite(mean):
        return "n/a"
    return f"{mean:{digits}}" if sd is None or not np.isfinite(sd) else f"{mean:{digits}} ± {sd:{digits}}"


def summary(results: dict[str, Any]) -> str:
    """Per model a table of the L1 norm, salient count, ``mass`` count and L1 ratio per method; the sparsity cost."""
    archs, over, config = results["archs"], results["over_seeds"], results["config"]
    methods = list(over)
    pct = f"{100 * results['mass']:g} %"
    lines = [
        f"{p2.describe(config, archs, len(results['samples']))} ({results['pool']} interactions per sample, "
        f"OR singletons merged into AND); seeds {[s['seed'] for s in results['seeds']]}; mean ± sd over seeds of "
        f"the mean over samples. L1: Σ|I_and| + |I_or| (P2 Eq. 4); salient: |I| > τ = 0.02·E|v(N) − v(∅)| per "
        f"model; {pct} mass: the fewest strongest interactions holding {pct} of a sample's total strength; "
        f"L1 / {p2.TRADITIONAL}: per sample, then averaged.",
        "", "Test accuracy: " + "; ".join(
            f"{a} {np.mean([s['accuracy'][a]['test'] for s in results['seeds']]):.3f}" for a in archs) + ".",
    ]
    for j, arch in enumerate(archs):
        lines += ["", f"## {arch}", "",
                  f"| method | L1 norm | salient | {pct} mass | L1 / {p2.TRADITIONAL} |", "|---|--:|--:|--:|--:|"]
        for m in methods:
            ratio = _fmt(over[m]["l1_ratio"], j, ".3f") if "l1_ratio" in over[m] else "1"
            lines.append(f"| {m} | {_fmt(over[m]['l1'], j)} | {_fmt(over[m]['salient'], j, '.1f')} | "
                         f"{_fmt(over[m]['mass'], j, '.1f')} | {ratio} |")
    if "l1_ratio" in over.get("generalizable", {}):
        cost = "; ".join(f"{arch} {_fmt(over['generalizable']['l1_ratio'], j, '.3f')}" for j, arch in enumerate(archs))
        lines += ["", f"Sparsity cost of sharing (L1 of generalizable / L1 of {p2.TRADITIONAL}, the minimum of each "
                      f"model alone, so >= 1): {cost}."]
    return "\n".join(lines) + "\n"
