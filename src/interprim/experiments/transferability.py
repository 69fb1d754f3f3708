"""``transferability`` (P2 Fig. 3, Def. 1): are jointly extracted interactions shared by the models more?

P2's claim: the top-``k`` AND-OR interactions of each model, extracted jointly (generalizable, Eq. 6)
are shared by the other model much more than those extracted from each model alone (traditional,
Eq. 4). For model ``i`` and its top-``k`` interactions ``Ω^(i)`` (AND and OR pooled, OR singletons
merged into AND), ``s_type^(i) = Σ_{T∈Ω^shared} |I_type^(i)(T)| / Σ_{T∈Ω^(i)} |I_type^(i)(T)|``
(:func:`interprim.metrics.transferability_curve`), per sample, for every ``k`` in ``ks``.

The experiment reports, per method (:mod:`~interprim.experiments.p2`: generalizable, traditional by
the LP and by the ADMM — two optima of one problem — and Harsanyi), model, type and ``k``:

- the mean ± sd of ``s`` over the analysed samples, per seed, and the mean ± sd of those means over
  seeds;
- the **chance floor** ``s_floor``: the same statistic when model ``b`` explains a different sample
  than model ``a`` (:func:`~interprim.experiments.p2.mismatched`), and ``κ = (s − s_floor)/(1 − s_floor)``
  of the sample means: sharing beyond chance;
- ``generalizable − traditional``: the paired difference of the sample means (per seed, then over
  seeds), for the traditional optimum of each solver.

**Sample browser** (``results["browser"]``, :mod:`.browser`): the first seed's first analysed samples with
their players drawn, and each model's top salient interactions (shared ones marked), η and loss, by the
generalizable and by the traditional (exact LP) extraction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics
from . import browser, p2
from .figures import save_figure

NAME = "transferability"
DESCRIPTION = "P2 Fig. 3: transferability of the top-k interactions, generalizable vs traditional vs Harsanyi, with its chance floor"
TYPES = ("and", "or")


@dataclass
class Config(p2.Config):
    """:class:`~interprim.experiments.p2.Config` plus ``ks``, the sizes of the top-``k`` sets."""

    ks: list[int] = field(default_factory=lambda: [1, 2, 3, 5, 10, 20, 30, 50])

    def __post_init__(self) -> None:
        super().__post_init__()
        most = 2 * (2**self.n - 1) - self.n  # interactions once the OR singletons are merged
        if not self.ks or any(isinstance(k, bool) or not 1 <= k <= most for k in self.ks) or \
                sorted(set(self.ks)) != list(self.ks):
            raise ValueError(f"ks must be increasing integers in 1 .. {most} (the interactions of n = {self.n}), "
                             f"got {self.ks!r}.")


def curves(results: list[Any], ks: list[int]) -> dict[str, Any]:
    """Per type, ``s`` of every ``k``, model and sample ``(len(ks), m, B)``: same samples, and the chance floor."""
    same = metrics.transferability_curve(results, ks=ks)
    floor = metrics.transferability_curve(p2.mismatched(results), ks=ks)
    return {t: {"same": same[j], "floor": floor[j]} for j, t in enumerate(TYPES)}


def seed_statistics(found: p2.Extracted, ks: list[int]) -> dict[str, Any]:
    """Sample means ± sd of ``s`` and of its floor, and ``κ`` of the means, per method, type, model and ``k``."""
    out: dict[str, Any] = {}
    means: dict[str, dict[str, np.ndarray]] = {}
    for method, results in found.methods.items():
        c = curves(results, ks)
        out[method] = {}
        means[method] = {}
        for t in TYPES:
            same, floor = p2.spread(c[t]["same"]), p2.spread(c[t]["floor"])
            kappa = p2.kappa(same["mean"], floor["mean"])
            out[method][t] = {"s": same, "floor": floor, "kappa": kappa.tolist()}
            means[method][t] = np.asarray(same["mean"], dtype=np.float64)  # (len(ks), m), NaN where undefined
    for method in found.methods:
        if method.startswith("traditional") and "generalizable" in found.methods:
            out[f"generalizable-minus-{method}"] = {
                t: (means["generalizable"][t] - means[method][t]).tolist() for t in TYPES}
    return out


def over_seeds(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± sd over seeds of every sample mean, floor, ``κ`` and difference."""
    first = per_seed[0]["statistics"]
    out: dict[str, Any] = {}
    for method, by_type in first.items():
        out[method] = {}
        for t in TYPES:
            if method.startswith("generalizable-minus-"):
                out[method][t] = p2.spread(np.stack([np.asarray(s["statistics"][method][t]) for s in per_seed]), axis=0)
                continue
            stack = {key: np.stack([np.asarray(s["statistics"][method][t][key]["mean"] if key != "kappa"
                                               else s["statistics"][method][t][key]) for s in per_seed])
                     for key in ("s", "floor", "kappa")}
            out[method][t] = {key: p2.spread(value, axis=0) for key, value in stack.items()}
    return out


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Per seed: train the models, extract every method, compute ``s`` by ``k`` with its floor; then over seeds."""
    per_seed = []
    for seed, found in zip(config.seeds, p2.extract_seeds(ctx, config)):
        if seed == config.seeds[0]:
            sections = browser.p2_browser(config, found, seed)
        per_seed.append(dict(seed=seed, accuracy=found.accuracy, gaps=found.gaps,
                             statistics=seed_statistics(found, config.ks)))
    return dict(config=asdict(config), archs=p2.model_names(config.archs), samples=found.samples, ks=list(config.ks),
                seeds=per_seed, over_seeds=over_seeds(per_seed), browser=sections)




def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """``s_and`` and ``s_or`` against ``k`` per model and method (mean ± sd over seeds), floors dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    archs, ks, over = results["archs"], results["ks"], results["over_seeds"]
    methods = [m for m in over if not m.startswith("generalizable-minus-")]
    fig, axes = plt.subplots(len(TYPES), len(archs), figsize=(4.6 * len(archs), 3.6 * len(TYPES)), squeeze=False)
    for row, t in enumerate(TYPES):
        for col, arch in enumerate(archs):
            ax = axes[row][col]
            for method in methods:
                if t == "or" and method == "harsanyi":
                    continue  # Harsanyi interactions have no OR part
                color, style = p2.STYLE.get(method, ("k", "-"))
                s, floor = over[method][t]["s"], over[method][t]["floor"]
                mean = np.array([x[col] for x in s["mean"]], dtype=float)
                sd = np.nan_to_num(np.array([x[col] for x in s["sd"]], dtype=float))
                ax.errorbar(ks, mean, yerr=sd, fmt=style, color=color, capsize=2, markersize=4, label=method)
                ax.plot(ks, [x[col] for x in floor["mean"]], "--", color=color, alpha=0.6, linewidth=1)
            ax.set_xscale("log")
            ax.set_ylim(0, 1.02)
            ax.set_xlabel("k (top-k interactions)")
            ax.set_ylabel(f"s_{t}")
            ax.set_title(f"{arch}: {t.upper()} (dashed: chance floor)", fontsize=9)
            if row == 0 and col == 0:
                ax.legend(fontsize=7)
    fig.suptitle(f"transferability, mean ± sd over {len(results['seeds'])} seed(s) of the mean over "
                 f"{len(results['samples'])} samples", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir, NAME)


def _fmt(entry: dict[str, Any], k: int, model: int) -> str:
    mean, sd = entry["mean"][k][model], entry["sd"][k][model]
    if mean is None or not np.isfinite(mean):
        return "n/a"
    return f"{mean:.3f}" if sd is None or not np.isfinite(sd) else f"{mean:.3f} ± {sd:.3f}"


def summary(results: dict[str, Any]) -> str:
    """Per model and type a table over ``k``: ``s``, its floor and ``κ`` per method, and generalizable − traditional."""
    archs, ks, over = results["archs"], results["ks"], results["over_seeds"]
    config = results["config"]
    methods = [m for m in over if not m.startswith("generalizable-minus-")]
    lines = [
        f"{p2.describe(config, archs, len(results['samples']))}; seeds {[s['seed'] for s in results['seeds']]}; "
        f"mean ± sd over seeds of the mean over samples. 'floor': the same statistic between different samples "
        f"(chance); κ = (s − floor)/(1 − floor).",
        "", "Test accuracy: " + "; ".join(
            f"{a} {np.mean([s['accuracy'][a]['test'] for s in results['seeds']]):.3f}" for a in archs) + ".",
    ]
    for j, arch in enumerate(archs):
        for t in TYPES:
            shown = [m for m in methods if not (t == "or" and m == "harsanyi")]
            lines += ["", f"## {arch}, s_{t}", "", "| k | " + " | ".join(f"{m} (floor, κ)" for m in shown) + " |",
                      "|--:|" + "--:|" * len(shown)]
            for i, k in enumerate(ks):
                cells = [f"{_fmt(over[m][t]['s'], i, j)} ({_fmt(over[m][t]['floor'], i, j)}, "
                         f"{_fmt(over[m][t]['kappa'], i, j)})" for m in shown]
                lines.append(f"| {k} | " + " | ".join(cells) + " |")
    diffs = [m for m in over if m.startswith("generalizable-minus-")]
    if diffs:
        lines += ["", "## generalizable − traditional (paired, sample means; mean ± sd over seeds)", "",
                  "| model | type | " + " | ".join(f"k = {k}" for k in ks) + " |", "|---|---|" + "--:|" * len(ks)]
        for d in diffs:
            for j, arch in enumerate(archs):
                for t in TYPES:
                    lines.append(f"| {arch} ({d.removeprefix('generalizable-minus-')}) | {t} | "
                                 + " | ".join(_fmt(over[d][t], i, j) for i in range(len(ks))) + " |")
    return "\n".join(lines) + "\n"
