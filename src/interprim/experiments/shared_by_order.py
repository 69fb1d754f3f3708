"""``shared-by-order`` (P2 Fig. 4): are low-order interactions shared by the models more than high-order ones?

P2's claims: low-order interactions are more likely to be shared by different DNNs than high-order
ones, and a larger share of the jointly extracted (generalizable, Eq. 6) interactions is shared than
of the traditional ones (Eq. 4). For model ``i``, order ``k`` and the salient interactions (``|I| > τ_i``,
the SPEC ``τ_i = 0.02·E_x|v_i(x) − v_i(x_∅)|`` per model; OR singletons merged into AND), with
``Ω^shared`` those salient in every model (same type):

``r_pos^(i)(k) = Σ_type Σ_{T∈Ω_type^shared, |T|=k} max(I_type^(i)(T), 0)
/ Σ_type Σ_{T∈Ω_type^(i), |T|=k} max(I_type^(i)(T), 0)``

and ``r_neg`` the same with ``|min(I, 0)|``, numerator and denominator each summed over the analysed
samples before the ratio (:func:`interprim.metrics.shared_ratio_by_order`).

The experiment reports, per method (:mod:`~interprim.experiments.p2`), model, sign and order ``k = 1 … n``:

- ``ratio``: ``r`` per seed, and its mean ± sd over seeds;
- ``floor``: the **chance floor**, the same ratio when model ``b`` explains a different sample than
  model ``a`` (:func:`~interprim.experiments.p2.mismatched`), and ``κ = (r − floor)/(1 − floor)``:
  sharing beyond chance (P2 lacks both). Low orders have few subsets (``C(n, 1) = n``), so two
  unrelated explanations already share many of their salient low-order interactions;
- ``trend``: Spearman's ``ρ`` of ``k`` against ``ratio``, ``floor`` and ``κ`` over the orders where they
  are defined (``NaN`` with fewer than 3 such orders or a constant series). ``ρ < 0``: low orders are
  shared more (P2's claim); for ``κ``: even beyond chance.

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
from .jaccard_by_order import spearman_trend

NAME = "shared-by-order"
DESCRIPTION = ("P2 Fig. 4: share of the positive and negative salient interactions of each order shared by the models, "
               "with its chance floor, κ and the trend over orders")
SIGNS = ("pos", "neg")
SERIES = ("ratio", "floor", "kappa")


@dataclass
class Config(p2.Config):
    """:class:`~interprim.experiments.p2.Config`; this experiment adds nothing."""


def ratios(results: list[Any]) -> dict[str, dict[str, np.ndarray]]:
    """Per sign, ``r`` of every model and order ``1 … n`` ``(m, n)`` on the same samples, its chance floor
    and ``κ``."""
    same = metrics.shared_ratio_by_order(results)
    floor = metrics.shared_ratio_by_order(p2.mismatched(results))
    out = {}
    for j, sign in enumerate(SIGNS):
        r, f = same[j][:, 1:], floor[j][:, 1:]
        out[sign] = {"ratio": r, "floor": f, "kappa": p2.kappa(r, f)}
    return out


def seed_statistics(found: p2.Extracted) -> dict[str, Any]:
    """Per method and sign: ``ratio``, ``floor``, ``κ`` by model and order, and the Spearman trend of each,
    per model."""
    out: dict[str, Any] = {}
    for method, results in found.methods.items():
        out[method] = {}
        for sign, series in ratios(results).items():
            out[method][sign] = {key: value.tolist() for key, value in series.items()}
            out[method][sign]["trend"] = {key: [spearman_trend(row) for row in value] for key, value in series.items()}
    return out


def over_seeds(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± sd over seeds of every ratio, floor, ``κ`` and trend."""
    out: dict[str, Any] = {}
    for method, by_sign in per_seed[0]["statistics"].items():
        out[method] = {}
        for sign in by_sign:
            stats = [s["statistics"][method][sign] for s in per_seed]
            out[method][sign] = {key: p2.spread(np.stack([np.asarray(x[key], dtype=float) for x in stats]), axis=0)
                                 for key in SERIES}
            out[method][sign]["trend"] = {
                key: p2.spread(np.stack([np.asarray(x["trend"][key], dtype=float) for x in stats]), axis=0)
                for key in SERIES}
    return out


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Per seed: train the models, extract every method, compute ``r`` by order with its floor; then over seeds."""
    per_seed = []
    for seed, found in zip(config.seeds, p2.extract_seeds(ctx, config)):
        if seed == config.seeds[0]:
            sections = browser.p2_browser(config, found, seed)
        per_seed.append(dict(seed=seed, accuracy=found.accuracy, gaps=found.gaps, statistics=seed_statistics(found)))
    return dict(config=asdict(config), archs=p2.model_names(config.archs), samples=found.samples,
                orders=list(range(1, config.n + 1)), seeds=per_seed, over_seeds=over_seeds(per_seed),
                browser=sections)


ROWS = (("pos", "ratio"), ("neg", "ratio"), ("pos", "kappa"), ("neg", "kappa"))


def _column(entry: dict[str, Any], key: str, model: int) -> np.ndarray:
    return np.array(entry[key][model], dtype=float)


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """``r_pos``, ``r_neg`` (floors dashed) and their ``κ`` against the order, per model and method
    (mean ± sd over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    archs, orders, over = results["archs"], results["orders"], results["over_seeds"]
    fig, axes = plt.subplots(len(ROWS), len(archs), figsize=(4.6 * len(archs), 3.0 * len(ROWS)), squeeze=False)
    for row, (sign, key) in enumerate(ROWS):
        for col, arch in enumerate(archs):
            ax = axes[row][col]
            for method, by_sign in over.items():
                color, style = p2.STYLE.get(method, ("k", "-"))
                entry = by_sign[sign][key]
                ax.errorbar(orders, _column(entry, "mean", col), yerr=np.nan_to_num(_column(entry, "sd", col)),
                            fmt=style, color=color, capsize=2, markersize=4, label=method)
                if key == "ratio":
                    ax.plot(orders, _column(by_sign[sign]["floor"], "mean", col), "--", color=color, alpha=0.6,
                            linewidth=1)
            if key == "ratio":
                ax.set_ylim(0, 1.02)
                ax.set_ylabel(f"r_{sign} (shared / all)")
                ax.set_title(f"{arch}: {'positive' if sign == 'pos' else 'negative'} (dashed: chance floor)",
                             fontsize=9)
            else:
                ax.axhline(0, color="0.5", linewidth=0.8)
                ax.set_ylabel(f"κ_{sign} = (r − floor)/(1 − floor)")
                ax.set_title(f"{arch}: {'positive' if sign == 'pos' else 'negative'}, beyond chance", fontsize=9)
            ax.set_xticks(orders)
            ax.set_xlabel("order k")
            if row == 0 and col == 0:
                ax.legend(fontsize=7)
    fig.suptitle(f"shared ratio by order (P2 Fig. 4), mean ± sd over {len(results['seeds'])} seed(s), strengths "
                 f"pooled over {len(results['samples'])} samples", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir, NAME)


def _fmt(entry: dict[str, Any], *index: int, digits: str = ".3f") -> str:
    mean, sd = entry["mean"], entry["sd"]
    for i in index:
        mean, sd = mean[i], sd[i]
    if mean is None or not np.isfinite(mean):
        return "n/a"
    return f"{mean:{digits}}" if sd is None or not np.isfinite(sd) else f"{mean:{digits}} ± {sd:{digits}}"


def _negative(entry: dict[str, Any], model: int) -> str:
    mean = entry["mean"][model]
    if mean is None or not np.isfinite(mean):
        return "undefined"
    return "yes" if mean < 0 else "no"


def summary(results: dict[str, Any]) -> str:
    """Per model and sign a table over orders (``r``, floor, ``κ`` per method), then the trends over orders."""
    archs, orders, over, config = results["archs"], results["orders"], results["over_seeds"], results["config"]
    methods = list(over)
    lines = [
        f"{p2.describe(config, archs, len(results['samples']))}; seeds {[s['seed'] for s in results['seeds']]}; "
        f"mean ± sd over seeds. r: strength of the salient interactions of order k shared by all models over that "
        f"of all salient ones (SPEC τ per model, strengths pooled over samples); 'floor': the same between "
        f"different samples (chance); κ = (r − floor)/(1 − floor).",
        "", "Test accuracy: " + "; ".join(
            f"{a} {np.mean([s['accuracy'][a]['test'] for s in results['seeds']]):.3f}" for a in archs) + ".",
        "", "## Are low orders shared more? Spearman ρ of the order k vs r, its floor and κ", "",
        "ρ < 0: the lower the order, the larger the shared ratio (P2's claim); 'beyond chance' is the sign of ρ "
        "for κ.", "",
        "| method | model | sign | ρ(k, r) | ρ(k, floor) | ρ(k, κ) | low orders shared more? raw / beyond chance |",
        "|---|---|---|--:|--:|--:|---|",
    ]
    for m in methods:
        for j, arch in enumerate(archs):
            for sign in SIGNS:
                trend = over[m][sign]["trend"]
                lines.append(f"| {m} | {arch} | {sign} | {_fmt(trend['ratio'], j)} | {_fmt(trend['floor'], j)} | "
                             f"{_fmt(trend['kappa'], j)} | {_negative(trend['ratio'], j)} / "
                             f"{_negative(trend['kappa'], j)} |")
    for j, arch in enumerate(archs):
        for sign in SIGNS:
            lines += ["", f"## {arch}, r_{sign}", "", "| k | " + " | ".join(f"{m} (floor, κ)" for m in methods) + " |",
                      "|--:|" + "--:|" * len(methods)]
            for i, k in enumerate(orders):
                cells = [f"{_fmt(over[m][sign]['ratio'], j, i)} ({_fmt(over[m][sign]['floor'], j, i)}, "
                         f"{_fmt(over[m][sign]['kappa'], j, i)})" for m in methods]
                lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
