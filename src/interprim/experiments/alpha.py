"""``alpha`` (P2 Fig. 8): how the weight ``α`` of the non-maximal models trades sparsity for sharing.

The generalizable interactions minimise (P2 Eq. 6, SPEC §3.4), with ``X_type[i, T] = |I_type^(i)(T)|``,

``Σ_{type∈{and,or}} Σ_{T≠∅} (1 − α)·max_i X_type[i, T] + α·Σ_i X_type[i, T]``.

``α = 0`` is P2 Eq. 5: only the largest interaction of each ``T`` among the models is penalised, so
its optimum has the smallest ``Σ_type Σ_T max_i X`` (``l1_max``) of every ``α``; ``α = 1`` penalises
every model's own L1 norm, so its optimum has the smallest total ``Σ_i ‖I^(i)‖₁`` of every ``α``; it
is no smaller than the traditional one (each model alone, P2 Eq. 4), since the models' splits stay
coupled (``|γ_i − γ_shared| ≤ β_i``). P2 Fig. 8: as ``α`` grows the interactions get hardly sparser,
but less shared.

For every ``α`` in ``alphas`` (one keyed ``extract-joint`` task each, on the games of
:mod:`~interprim.experiments.p2`) and the traditional LP optimum as a reference, per model:

- **sparsity**: the L1 norm ``‖I^(i)‖₁ = Σ_{T≠∅} |I_and^(i)(T)| + |I_or^(i)(T)|`` (mean ± sd over samples;
  ``l1_relative``: the sample mean over traditional-lp's), ``l1_max`` (no model axis) and the number of
  salient interactions (SPEC ``τ`` per model, OR singletons merged);
- **transferability** ``s_and``, ``s_or`` of the top-``k`` interactions for every ``k`` in ``ks``
  (:func:`interprim.metrics.transferability_curve`, P2 Def. 1), mean ± sd over samples, with its
  chance floor (model ``b`` on another sample, :func:`~interprim.experiments.p2.mismatched`) and
  ``κ = (s − s_floor)/(1 − s_floor)`` of the sample means;

per seed, and the mean ± sd of the sample means over seeds. The figure plots, against ``α``, the
L1 norm relative to traditional-lp's and ``s_and``, ``s_or`` at ``k = k_plot``, per model. P2 runs the
ablation on SST-2 with two BERTs; here it runs on the task of :mod:`~interprim.experiments.p2` (MNIST-3).

**Sample browser** (``results["browser"]``, :mod:`.browser`): the first seed's first analysed samples with
their players drawn, and each model's top salient interactions (shared ones marked), η and loss, by the
generalizable extraction at the ``alphas`` value nearest ``alpha`` and by the traditional (exact LP) one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics
from ..interactions import Interactions, sparsity_objective
from . import browser, p2
from .figures import save_figure

NAME = "alpha"
DESCRIPTION = "P2 Fig. 8: sparsity and transferability of the generalizable interactions for every alpha of Eq. 6"
TYPES = ("and", "or")
REFERENCE = p2.TRADITIONAL


@dataclass
class Config(p2.Config):
    """:class:`~interprim.experiments.p2.Config` (its ``alpha`` unused) plus ``alphas``, the weights of Eq. 6
    compared, ``ks``, the sizes of the top-``k`` sets, and ``k_plot``, the ``k`` of the figure (one of ``ks``)."""

    alphas: list[float] = field(default_factory=lambda: [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ks: list[int] = field(default_factory=lambda: [1, 2, 3, 5, 10, 20, 30, 50])
    k_plot: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.alphas or any(isinstance(a, bool) or not 0 <= a <= 1 for a in self.alphas) or \
                sorted(set(self.alphas)) != list(self.alphas):
            raise ValueError(f"alphas must be increasing numbers in [0, 1], got {self.alphas!r}.")
        self.alphas = [float(a) for a in self.alphas]
        most = 2 * (2**self.n - 1) - self.n  # interactions once the OR singletons are merged
        if not self.ks or any(isinstance(k, bool) or not 1 <= k <= most for k in self.ks) or \
                sorted(set(self.ks)) != list(self.ks):
            raise ValueError(f"ks must be increasing integers in 1 .. {most} (the interactions of n = {self.n}), "
                             f"got {self.ks!r}.")
        if self.k_plot not in self.ks:
            raise ValueError(f"k_plot must be one of ks {self.ks!r}, got {self.k_plot!r}.")


def joint(ctx: Any, config: Config, records: list[Any]) -> tuple[list[list[Interactions]], list[float]]:
    """The generalizable interactions of every ``α`` (one ``extract-joint`` task each) and their certified gaps."""
    params = [dict(alpha=a, noise=config.noise, solver=config.solver, tol=config.tol) for a in config.alphas]
    done = ctx.map("extract-joint", p2.extract_joint, params, deps={f"values{j}": r for j, r in enumerate(records)})
    found = [[Interactions(i_and=d.value["i_and"][j], i_or=d.value["i_or"][j], gamma=d.value["gamma"][j],
                           noise=d.value["noise"][j]) for j in range(len(records))] for d in done]
    return found, [float(np.max(d.value["gap"])) for d in done]


def raw(results: list[Interactions], ks: list[int]) -> dict[str, Any]:
    """Per sample: ``l1`` ``(m, B)``, ``l1_max`` ``(B,)``, ``salient`` ``(m, B)``, and per type ``s`` and its
    ``floor`` ``(len(ks), m, B)``."""
    a = np.stack([np.abs(np.asarray(r.i_and, dtype=np.float64)[..., 1:]) for r in results])
    o = np.stack([np.abs(np.asarray(r.i_or, dtype=np.float64)[..., 1:]) for r in results])
    mask_and, mask_or = metrics.salient_mask(results)  # SPEC τ per model
    same = metrics.transferability_curve(results, ks=ks)
    floor = metrics.transferability_curve(p2.mismatched(results), ks=ks)
    return dict(l1=np.stack([np.asarray(sparsity_objective(r.i_and, r.i_or), dtype=np.float64) for r in results]),
                l1_max=a.max(0).sum(-1) + o.max(0).sum(-1),
                salient=(mask_and.sum(-1) + mask_or.sum(-1)).astype(np.float64),
                s={t: same[i] for i, t in enumerate(TYPES)}, floor={t: floor[i] for i, t in enumerate(TYPES)})


def statistics(x: dict[str, Any]) -> dict[str, Any]:
    """Sample means ± sd of :func:`raw` (the sample axis is the last), and ``κ`` of the means."""
    out = {key: p2.spread(x[key]) for key in ("l1", "l1_max", "salient")}
    for key in ("s", "floor"):
        out[key] = {t: p2.spread(x[key][t]) for t in TYPES}
    out["kappa"] = {t: p2.kappa(out["s"][t]["mean"], out["floor"][t]["mean"]).tolist() for t in TYPES}
    return out


def seed_statistics(found: list[list[Interactions]], reference: list[Interactions], ks: list[int]) -> dict[str, Any]:
    """Statistics of every ``α`` (first axis ``len(alphas)``) and of the reference, and ``l1_relative``."""
    per_alpha = [raw(results, ks) for results in found]
    stacked = {key: np.stack([x[key] for x in per_alpha]) for key in ("l1", "l1_max", "salient")}
    for key in ("s", "floor"):
        stacked[key] = {t: np.stack([x[key][t] for x in per_alpha]) for t in TYPES}
    out = {"generalizable": statistics(stacked), REFERENCE: statistics(raw(reference, ks))}
    with np.errstate(divide="ignore", invalid="ignore"):
        out["generalizable"]["l1_relative"] = (np.asarray(out["generalizable"]["l1"]["mean"])
                                               / np.asarray(out[REFERENCE]["l1"]["mean"])).tolist()
    return out


def over_seeds(per_seed: list[Any]) -> Any:
    """Mean ± sd over seeds of every sample mean (and of ``κ`` and ``l1_relative``), in the shape of one seed's."""
    first = per_seed[0]
    if isinstance(first, dict) and {"mean", "sd", "n"} <= set(first):
        return p2.spread(np.stack([np.asarray(s["mean"], dtype=np.float64) for s in per_seed]), axis=0)
    if isinstance(first, dict):
        return {key: over_seeds([s[key] for s in per_seed]) for key in first}
    return p2.spread(np.stack([np.asarray(s, dtype=np.float64) for s in per_seed]), axis=0)


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Per seed: train the models, build their games, extract them jointly for every ``α`` and by the traditional
    LP; sparsity and transferability of each; then over seeds."""
    per_seed = []
    for seed, found in zip(config.seeds, p2.extract_seeds(ctx, config, methods=(REFERENCE,))):
        by_alpha, gaps = joint(ctx, config, found.records)
        if seed == config.seeds[0]:  # the browser shows the α nearest the config's (that of the other experiments)
            k = int(np.argmin([abs(a - config.alpha) for a in config.alphas]))
            sections = browser.p2_sections(config, seed, found.archs, found.samples, found.values, {
                browser.extraction_p2(config, "generalizable", config.alphas[k]): by_alpha[k],
                browser.extraction_p2(config, REFERENCE): found.methods[REFERENCE]})
        per_seed.append(dict(seed=seed, accuracy=found.accuracy,
                             gaps={"alphas": gaps, REFERENCE: found.gaps[REFERENCE]},
                             statistics=seed_statistics(by_alpha, found.methods[REFERENCE], config.ks)))
    return dict(config=asdict(config), archs=p2.model_names(config.archs), samples=found.samples, alphas=list(config.alphas),
                ks=list(config.ks), k_plot=config.k_plot, seeds=per_seed,
                over_seeds=over_seeds([s["statistics"] for s in per_seed]), browser=sections)


def _at(x: Any, *index: int) -> Any:
    """``x[index[0]][index[1]]…``."""
    for i in index:
        x = x[i]
    return x


def _floats(rows: list[Any], *index: int) -> np.ndarray:
    """``rows[a][index…]`` for every ``a``, as floats (a JSON ``null`` becomes ``NaN``)."""
    return np.array([_at(row, *index) for row in rows], dtype=float)


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Against ``α``: the L1 norm relative to traditional-lp's, and ``s_and``/``s_or`` at ``k_plot`` with
    traditional-lp's as horizontal lines (mean ± sd over seeds), per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    archs, alphas, over = results["archs"], results["alphas"], results["over_seeds"]
    k = results["ks"].index(results["k_plot"])
    gen, ref = over["generalizable"], over[REFERENCE]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for j, arch in enumerate(archs):
        color = f"C{j}"
        rel = gen["l1_relative"]
        left.errorbar(alphas, _floats(rel["mean"], j), yerr=np.nan_to_num(_floats(rel["sd"], j)),
                      fmt="-o", color=color, capsize=2, markersize=4, label=arch)
        for t, style in (("and", "-o"), ("or", "--s")):
            s = gen["s"][t]
            right.errorbar(alphas, _floats(s["mean"], k, j), yerr=np.nan_to_num(_floats(s["sd"], k, j)),
                           fmt=style, color=color, capsize=2, markersize=4, label=f"{arch} s_{t}")
            level = _floats([ref["s"][t]["mean"]], k, j)[0]
            if np.isfinite(level):
                right.axhline(level, color=color, linestyle=":" if t == "and" else "-.", linewidth=1, alpha=0.6,
                              label=f"{arch} s_{t} ({REFERENCE})")
    left.axhline(1.0, color="gray", linewidth=0.8)
    left.set_xlabel("α")
    left.set_ylabel(f"L1 norm / {REFERENCE}'s")
    left.set_title("sparsity (lower: sparser)", fontsize=9)
    left.legend(fontsize=7)
    right.set_xlabel("α")
    right.set_ylabel(f"s at k = {results['k_plot']}")
    right.set_ylim(0, 1.02)
    right.set_title(f"transferability of the top-{results['k_plot']} interactions", fontsize=9)
    right.legend(fontsize=6)
    fig.suptitle(f"alpha ablation, mean ± sd over {len(results['seeds'])} seed(s) of the mean over "
                 f"{len(results['samples'])} samples", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir, NAME)


def _fmt(mean: Any, sd: Any = None, digits: int = 3) -> str:
    if mean is None or not np.isfinite(mean):
        return "n/a"
    return f"{mean:.{digits}f}" if sd is None or not np.isfinite(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _cell(entry: dict[str, Any], *index: int, digits: int = 3) -> str:
    return _fmt(_at(entry["mean"], *index), _at(entry["sd"], *index), digits)


def summary(results: dict[str, Any]) -> str:
    """Per model a table over ``α`` (and traditional-lp): L1 norm, salient count, ``s`` at ``k_plot`` with floor and
    ``κ``; ``l1_max``; ``s`` at every ``k``; the per-seed values at ``k_plot``."""
    archs, alphas, ks, over = results["archs"], results["alphas"], results["ks"], results["over_seeds"]
    config, k = results["config"], results["ks"].index(results["k_plot"])
    gen, ref = over["generalizable"], over[REFERENCE]
    lines = [
        (f"{p2.describe(config, archs, len(results['samples']))}; seeds {[s['seed'] for s in results['seeds']]}; "
         f"joint extraction (P2 Eq. 6) by {config['solver']} for α in {alphas}; mean ± sd over seeds of the mean over "
         f"samples. L1: Σ_T |I_and(T)| + |I_or(T)| per model; salient: SPEC τ per model; s at k = {results['k_plot']} "
         f"(floor: between different samples; κ = (s − floor)/(1 − floor))."),
        "", "Test accuracy: " + "; ".join(
            f"{a} {np.mean([s['accuracy'][a]['test'] for s in results['seeds']]):.3f}" for a in archs) + ".",
        "", "Largest certified gap: " + ", ".join(
            f"α = {a}: {max(s['gaps']['alphas'][i] for s in results['seeds']):.1e}" for i, a in enumerate(alphas))
        + f"; {REFERENCE}: {max(s['gaps'][REFERENCE] for s in results['seeds']):.1e}.",
    ]
    for j, arch in enumerate(archs):
        lines += ["", f"## {arch}", "",
                  f"| α | L1 | L1 / {REFERENCE} | salient | s_and (floor, κ) | s_or (floor, κ) |",
                  "|---|--:|--:|--:|--:|--:|"]
        for label, stat, at in [*((a, gen, (i,)) for i, a in enumerate(alphas)), (REFERENCE, ref, ())]:
            row = [_cell(stat["l1"], *at, j),
                   _cell(stat["l1_relative"], *at, j) if "l1_relative" in stat else "1",
                   _cell(stat["salient"], *at, j, digits=1)]
            for t in TYPES:
                row.append(f"{_cell(stat['s'][t], *at, k, j)} ({_fmt(_at(stat['floor'][t]['mean'], *at, k, j))}, "
                           f"{_fmt(_at(stat['kappa'][t]['mean'], *at, k, j))})")
            lines.append(f"| {label} | " + " | ".join(row) + " |")
    lines += ["", "## Σ_type Σ_T max_i |I_type^(i)(T)| (the penalty of Eq. 5), both models", "",
              "| α | " + " | ".join(str(a) for a in alphas) + f" | {REFERENCE} |",
              "|---|" + "--:|" * (len(alphas) + 1),
              "| mean | " + " | ".join(_cell(gen["l1_max"], i) for i in range(len(alphas)))
              + f" | {_cell(ref['l1_max'])} |"]
    for j, arch in enumerate(archs):
        for t in TYPES:
            lines += ["", f"## {arch}, s_{t} by k", "", "| α | " + " | ".join(f"k = {x}" for x in ks) + " |",
                      "|---|" + "--:|" * len(ks)]
            for i, a in enumerate(alphas):
                s = gen["s"][t]
                lines.append(f"| {a} | " + " | ".join(_fmt(s["mean"][i][q][j], s["sd"][i][q][j])
                                                       for q in range(len(ks))) + " |")
            s = ref["s"][t]
            lines.append(f"| {REFERENCE} | " + " | ".join(_fmt(s["mean"][q][j], s["sd"][q][j])
                                                           for q in range(len(ks))) + " |")
    lines += ["", f"## per seed (L1 / {REFERENCE}; s_and, s_or at k = {results['k_plot']})", "",
              "| seed | model | " + " | ".join(f"α = {a}" for a in alphas) + f" | {REFERENCE} |",
              "|---|---|" + "--:|" * (len(alphas) + 1)]
    for seed in results["seeds"]:
        st = seed["statistics"]
        for j, arch in enumerate(archs):
            g, r = st["generalizable"], st[REFERENCE]
            row = [f"{_fmt(g['l1_relative'][i][j])}; {_fmt(g['s']['and']['mean'][i][k][j])}, "
                   f"{_fmt(g['s']['or']['mean'][i][k][j])}" for i in range(len(alphas))]
            row.append(f"1; {_fmt(r['s']['and']['mean'][k][j])}, {_fmt(r['s']['or']['mean'][k][j])}")
            lines.append(f"| {seed['seed']} | {arch} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
