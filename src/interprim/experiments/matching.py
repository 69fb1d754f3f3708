"""``matching`` (P2 Fig. 6, 13; App. F): do the extracted interactions reproduce the outputs on masked samples?

Universal matching (P2 Thm. 3, SPEC §2) says the AND-OR interactions of a sample reproduce the output
on every masked sample ``x_S``: ``h(x_S) = Σ_{T⊆S} I_and(T) + Σ_{T∩S≠∅} I_or(T) = v(x_S) + q_S``,
with ``q`` the learned noise (:func:`interprim.reconstruct`). P2 shows that the network output is
well matched by all the interactions without the noise term (Fig. 13) and by the salient ones alone
(Fig. 6, App. F). For each method (:mod:`~interprim.experiments.p2`; by default generalizable,
traditional by the LP, and Harsanyi), model and analysed sample, over all ``2**n`` masked states ``S``:

- ``h`` from **all** the interactions, or from the **salient** ones only (``|I(T)| > τ``, the SPEC
  ``τ = 0.02·E_x|v(x_N) − v(x_∅)|`` per model over the analysed samples; OR singletons merged into
  AND; the bias ``I_and(∅)`` always kept; :meth:`~interprim.Interactions.salient`);
- the error against the noisy output the interactions were fitted to, ``|h(x_S) − (v(x_S) + q_S)|``
  (``"v+q"``), and against the network output itself, ``|h(x_S) − v(x_S)|`` (``"v"``);
- its **max** and its **mean** over the ``2**n`` states, relative to ``|v(x_N) − v(x_∅)|`` of the
  sample (``NaN`` where that is 0).

Universal matching means the ``all``/``v+q`` error is 0 to float precision; ``all``/``v`` is then
``|q_S|``, at most ``noise`` (``|q_S| ≤ ζ = noise·|v(x_N) − v(x_∅)|``); Harsanyi has no noise, so
its two targets agree. The experiment reports, per method, selection, target and model, the mean ± sd
over the samples of the relative max and mean errors (and their worst sample), per seed, and the
mean ± sd of the sample means over seeds; with the number of salient interactions. The figure
plots the real output ``v(x_S)`` against the interaction output ``h(x_S)`` on ``masks`` random masked
states of every sample of the first seed (drawn with that seed), for all and for the salient
interactions, with the line ``y = x``. P2 shows these on SST-2 with BERTs; here they run on the task of
:mod:`~interprim.experiments.p2` (MNIST-3).

**Sample browser** (``results["browser"]``, :mod:`.browser`): the first seed's first analysed samples with
their players drawn, and each model's top salient interactions (shared ones marked), η and loss, by the
generalizable and by the traditional (exact LP) extraction where ``methods`` holds them (else its first
method).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics
from ..interactions import Interactions
from ..transforms import reconstruct
from . import browser, p2
from .figures import save_figure

NAME = "matching"
DESCRIPTION = "P2 Fig. 6, 13: the output on every masked sample vs its reconstruction from all or salient interactions"
SELECTIONS = ("all", "salient")
TARGETS = ("v+q", "v")
ERRORS = ("max", "mean")


@dataclass
class Config(p2.Config):
    """:class:`~interprim.experiments.p2.Config` plus the ``methods`` compared (of ``p2.METHODS``) and ``masks``,
    the random masked states per sample drawn for the scatter plot."""

    methods: list[str] = field(default_factory=lambda: ["generalizable", "traditional-lp", "harsanyi"])
    masks: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.methods or len(set(self.methods)) != len(self.methods) or \
                any(m not in p2.METHODS for m in self.methods):
            raise ValueError(f"methods must be different names of {p2.METHODS}, got {self.methods!r}.")
        if isinstance(self.masks, bool) or not isinstance(self.masks, int) or not 1 <= self.masks <= 2**self.n:
            raise ValueError(f"masks must be an integer in 1 .. {2**self.n} (the masked states of n = {self.n}), "
                             f"got {self.masks!r}.")


def reconstruction(result: Interactions, selection: str) -> np.ndarray:
    """``h(x_S)`` for every ``S``, ``(B, 2**n)``, from all the interactions or the salient ones (SPEC ``τ`` of the
    samples held, one model)."""
    r = result if selection == "all" else result.salient()
    return np.asarray(reconstruct(np.asarray(r.i_and, dtype=np.float64), np.asarray(r.i_or, dtype=np.float64)),
                      dtype=np.float64)


def errors(values: np.ndarray, result: Interactions, selection: str) -> dict[str, dict[str, np.ndarray]]:
    """Per target (``v+q``, ``v``) and error (``max``, ``mean``) over the ``2**n`` states, relative to
    ``|v(x_N) − v(x_∅)|``: arrays ``(B,)``."""
    v = np.asarray(values, dtype=np.float64)
    h = reconstruction(result, selection)
    scale = np.abs(v[:, -1] - v[:, 0])
    out: dict[str, dict[str, np.ndarray]] = {}
    for target, goal in (("v+q", v + np.asarray(result.noise, dtype=np.float64)), ("v", v)):
        err = np.abs(h - goal)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[target] = {"max": np.where(scale > 0, err.max(-1) / scale, np.nan),
                           "mean": np.where(scale > 0, err.mean(-1) / scale, np.nan)}
    return out


def seed_statistics(found: p2.Extracted) -> dict[str, Any]:
    """Per method, selection, target and error the sample mean ± sd per model, and the worst sample; the number
    of salient interactions per model."""
    out: dict[str, Any] = {}
    for method, results in found.methods.items():
        out[method] = {}
        for selection in SELECTIONS:
            per_model = [errors(v, r, selection) for v, r in zip(found.values, results)]
            out[method][selection] = {
                target: {e: {**p2.spread(np.stack([x[target][e] for x in per_model])),
                             "worst": [float(np.nanmax(x[target][e])) if np.isfinite(x[target][e]).any()
                                       else np.nan for x in per_model]}
                         for e in ERRORS}
                for target in TARGETS}
        mask_and, mask_or = metrics.salient_mask(results)  # (m, B, 2**n), SPEC τ per model
        out[method]["salient_count"] = p2.spread(mask_and.sum(-1) + mask_or.sum(-1))
    return out


def scatter(found: p2.Extracted, masks: int, seed: int) -> dict[str, Any]:
    """``v(x_S)`` and ``h(x_S)`` of every method, model and selection on ``masks`` random states ``S`` per sample."""
    rng = np.random.default_rng(seed)
    size = found.values[0].shape[-1]
    subsets = np.stack([rng.choice(size, size=masks, replace=False) for _ in found.samples])  # (B, masks)
    rows = np.arange(len(found.samples))[:, None]
    return dict(seed=seed, subsets=subsets.tolist(),
                v=[v[rows, subsets].ravel().tolist() for v in found.values],
                h={method: {selection: [reconstruction(r, selection)[rows, subsets].ravel().tolist() for r in results]
                            for selection in SELECTIONS}
                   for method, results in found.methods.items()})


def over_seeds(per_seed: list[Any]) -> Any:
    """Mean ± sd over seeds of every sample mean (and of every worst sample), in the shape of one seed's statistics."""
    first = per_seed[0]
    if isinstance(first, dict) and {"mean", "sd", "n"} <= set(first):
        out = p2.spread(np.stack([np.asarray(s["mean"], dtype=np.float64) for s in per_seed]), axis=0)
        if "worst" in first:
            out["worst"] = np.nanmax(np.stack([np.asarray(s["worst"], dtype=np.float64) for s in per_seed]),
                                     axis=0).tolist()
        return out
    return {key: over_seeds([s[key] for s in per_seed]) for key in first}


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Per seed: train the models, extract every method, measure the matching errors; the scatter of the first
    seed; then over seeds."""
    per_seed = []
    points = None
    for seed, found in zip(config.seeds, p2.extract_seeds(ctx, config, methods=tuple(config.methods))):
        found.methods = {m: found.methods[m] for m in config.methods}
        per_seed.append(dict(seed=seed, accuracy=found.accuracy, gaps=found.gaps,
                             statistics=seed_statistics(found)))
        if points is None:
            points = scatter(found, config.masks, seed)
            sections = browser.p2_browser(config, found, seed)
    return dict(config=asdict(config), archs=p2.model_names(config.archs), samples=found.samples, methods=list(config.methods),
                seeds=per_seed, over_seeds=over_seeds([s["statistics"] for s in per_seed]), scatter=points,
                browser=sections)




def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Real output ``v(x_S)`` against the interaction output ``h(x_S)`` on random masked states, one panel per
    model and selection (all, salient), one colour per method, with ``y = x``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    archs, points = results["archs"], results["scatter"]
    fig, axes = plt.subplots(len(SELECTIONS), len(archs), figsize=(4.4 * len(archs), 4.2 * len(SELECTIONS)),
                             squeeze=False)
    for row, selection in enumerate(SELECTIONS):
        for col, arch in enumerate(archs):
            ax = axes[row][col]
            v = np.asarray(points["v"][col], dtype=float)
            for method in results["methods"]:
                h = np.asarray(points["h"][method][selection][col], dtype=float)
                ax.scatter(v, h, s=6, alpha=0.5, color=p2.STYLE.get(method, ("k", ""))[0], label=method, linewidths=0)
            finite = v[np.isfinite(v)]
            if finite.size:
                lo, hi = float(finite.min()), float(finite.max())
                ax.plot([lo, hi], [lo, hi], "k-", linewidth=0.8, label="y = x")
            ax.set_xlabel("real output v(x_S)")
            ax.set_ylabel("interaction output h(x_S)")
            ax.set_title(f"{arch}: {selection} interactions", fontsize=9)
            if row == 0 and col == 0:
                ax.legend(fontsize=7, markerscale=2)
    fig.suptitle(f"matching, seed {points['seed']}: {len(points['subsets'][0])} random masked states of each of "
                 f"{len(results['samples'])} samples", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir, NAME)


def _fmt(entry: dict[str, Any], model: int) -> str:
    mean, sd = entry["mean"][model], entry["sd"][model]
    if mean is None or not np.isfinite(mean):
        return "n/a"
    return f"{mean:.2e}" if sd is None or not np.isfinite(sd) else f"{mean:.2e} ± {sd:.1e}"


def summary(results: dict[str, Any]) -> str:
    """Per selection a table of the relative errors per model and method (mean ± sd over seeds of the sample
    means), the worst sample, and the salient counts."""
    archs, over, config = results["archs"], results["over_seeds"], results["config"]
    methods = results["methods"]
    seeds = [s["seed"] for s in results["seeds"]]
    worst = max((x for m in methods for x in over[m]["all"]["v+q"]["max"]["worst"]
                 if x is not None and np.isfinite(x)), default=float("nan"))
    lines = [
        (f"{p2.describe(config, archs, len(results['samples']))} (all {2 ** config['n']} masked states); "
         f"seeds {seeds}. Errors are relative to |v(N) − v(∅)| of the sample: the max and the mean over the masked "
         f"states, mean ± sd over seeds of the mean over samples. 'v+q': against the output with the learned noise "
         f"(noise bound {config['noise']}); 'v': against the network output itself."),
        "", "Test accuracy: " + "; ".join(
            f"{a} {np.mean([s['accuracy'][a]['test'] for s in results['seeds']]):.3f}" for a in archs) + ".",
        "", (f"Universal matching: the largest relative error of all interactions against v + q over every seed, "
             f"sample, model and method is {worst:.1e}."),
    ]
    for selection in SELECTIONS:
        what = "all interactions" if selection == "all" else "salient interactions only (SPEC τ per model)"
        lines += ["", f"## {what}", "",
                  ("| model | method | max \\|h − (v+q)\\| | mean \\|h − (v+q)\\| | max \\|h − v\\| "
                   "| mean \\|h − v\\| | worst max \\|h − v\\| |"),
                  "|---|---|--:|--:|--:|--:|--:|"]
        for j, arch in enumerate(archs):
            for m in methods:
                e = over[m][selection]
                w = e["v"]["max"]["worst"][j]
                cells = [_fmt(e[t][x], j) for t in TARGETS for x in ERRORS]
                cells.append(f"{w:.2e}" if w is not None and np.isfinite(w) else "n/a")
                lines.append(f"| {arch} | {m} | " + " | ".join(cells) + " |")
    lines += ["", "## salient interactions per sample", "",
              "| model | " + " | ".join(methods) + " |", "|---|" + "--:|" * len(methods)]
    for j, arch in enumerate(archs):
        lines.append(f"| {arch} | " + " | ".join(
            f"{over[m]['salient_count']['mean'][j]:.1f}" for m in methods) + " |")
    lines += ["", f"Of {2 * (2 ** config['n'] - 1) - config['n']} interactions per sample (OR singletons merged)."]
    return "\n".join(lines) + "\n"
