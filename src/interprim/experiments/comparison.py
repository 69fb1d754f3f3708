"""What every comparison of two models in P1's experiments shares (SPEC §7, issue 11).

An experiment names its models (training parameters of :func:`~interprim.experiments.models.train_model`,
one seed per role) and its pairs of models, one of them the reference; per seed this module

1. trains the models (:func:`train`), those that copy low layers from a donor after the donor;
2. builds every model's games on the same test samples with the players at the ``layer`` and/or
   the ``input`` and extracts them (:func:`average_orders` gives ``η`` per model);
3. compares ``η`` of every pair (:func:`compare`): Pearson, Spearman, top-10 % IoU with bootstrap
   CIs, and the paired difference to the reference pair;

and over the seeds it gives mean ± sd (:func:`over_seeds`), scatter plots (:func:`scatter_figures`)
and the tables of the summary (:func:`summary_tables`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import pipeline, stats
from .figures import save_figure
from .models import train_model
from .tasks import Context, Done

DONOR = "donor"  # the key of a model's spec that names the model it copies its low layers from


def train(ctx: Context, specs: Mapping[str, Mapping[str, Any]], data_path: str | None = None) -> dict[str, Done]:
    """Train every model of ``specs``; a spec with ``"donor": name`` gets that model's arrays as its donor.

    Donors are trained first, so a chain of donors works; a model trained once (a donor shared by
    several models, or by several experiments with one store) is a single task. ``data_path`` is the
    folder of a data set read from files (:mod:`~interprim.experiments.datasets`); like the device,
    it is not part of the task keys.
    """
    done: dict[str, Done] = {}
    pending = dict(specs)
    fn = functools.partial(train_model, device=ctx.device, data_path=data_path)
    while pending:
        ready = {m: s for m, s in pending.items() if s.get(DONOR) is None or s[DONOR] in done}
        if not ready:
            raise ValueError(f"the donors of {sorted(pending)} are not models of this experiment (or form a cycle).")
        params = [{k: v for k, v in s.items() if k != DONOR} for s in ready.values()]
        deps = [{} if s.get(DONOR) is None else {"donor": done[s[DONOR]]} for s in ready.values()]
        for name, result in zip(ready, ctx.map("train", fn, params, deps=deps)):
            done[name] = result
        pending = {m: s for m, s in pending.items() if m not in done}
    return done


def average_orders(
    ctx: Context,
    specs: Mapping[str, Mapping[str, Any]],
    trained: Mapping[str, Done],
    players: str,
    *,
    n: int,
    player_seed: int,
    samples: Sequence[int],
    tol: float,
    shared_layers: int = 0,
    dataset: str = "mnist10k",
    data_path: str | None = None,
) -> tuple[dict[str, list[float]], dict[str, str], dict[str, tuple[dict[str, np.ndarray], np.ndarray]]]:
    """``η`` of every model that has a representation where ``players`` live, why the others were skipped, and
    the games: per model its extraction record and value vectors (for the sample browser, :mod:`.browser`).

    The games are :func:`pipeline.model_values <interprim.experiments.pipeline.model_values>` on
    the test ``samples`` with the layer players after the first ``shared_layers`` layers (0: P1's
    low layers), extracted by :func:`pipeline.extract <interprim.experiments.pipeline.extract>`.
    """
    usable, skipped = [], {}
    for name, spec in specs.items():
        try:
            pipeline.player_layer(spec["arch"], shared_layers, players, dataset)
            usable.append(name)
        except ValueError as err:
            skipped[f"{players}/{name}"] = str(err)
    params = [
        dict(arch=specs[m]["arch"], players=players, n=n, player_seed=player_seed, samples=[int(i) for i in samples],
             shared_layers=shared_layers, dataset=dataset)
        for m in usable
    ]
    games = functools.partial(pipeline.model_values, device=ctx.device, data_path=data_path)
    values = ctx.map("values", games, params, deps=[{"model": trained[m]} for m in usable])
    found = ctx.map("extract", pipeline.extract, [dict(tol=tol)] * len(usable), deps=[{"values": v} for v in values])
    eta = {m: pipeline.average_orders(r.value).tolist() for m, r in zip(usable, found)}
    return eta, skipped, {m: (r.value, v.value["values"]) for m, r, v in zip(usable, found, values)}


def compare(
    eta: Mapping[str, Sequence[float]],
    pairs: Mapping[str, tuple[str, str]],
    reference: str,
    *,
    top: float,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """Agreement of every pair whose models both have ``η``, and its paired difference to ``reference``.

    Samples whose ``η`` is undefined (no salient interaction) in a model of a pair are dropped from
    that comparison (``n_dropped``).
    """
    out: dict[str, Any] = {}
    ref = pairs[reference]
    kw = dict(top=top, n_boot=n_boot, seed=seed, drop_nan=True)
    for pair, (a, b) in pairs.items():
        if a not in eta or b not in eta:
            continue
        entry: dict[str, Any] = {"models": [a, b], "agreement": stats.agreement_with_ci(eta[a], eta[b], **kw)}
        if pair != reference and ref[0] in eta and ref[1] in eta:
            entry["vs_reference"] = {
                s: stats.paired_difference(eta[a], eta[b], eta[ref[0]], eta[ref[1]], stat=s, **kw)["difference"]
                for s in stats.STATISTICS
            }
        out[pair] = entry
    return out


def over_seeds(per_seed: Sequence[Mapping[str, Any]], players: Sequence[str], pairs: Sequence[str]) -> dict[str, Any]:
    """Mean ± sd over the seeds of every statistic (and its difference to the reference) of every pair."""
    out: dict[str, Any] = {}
    for where in players:
        out[where] = {}
        for pair in pairs:
            rows = [s["comparisons"][where][pair] for s in per_seed if pair in s["comparisons"][where]]
            if not rows:
                continue
            entry: dict[str, Any] = {"chance_iou": rows[0]["agreement"]["chance_iou"]}
            for stat in stats.STATISTICS:
                point = [r["agreement"][stat]["value"] for r in rows]
                point = [x for x in point if x is not None and np.isfinite(x)]
                entry[stat] = stats.over_seeds(point) if point else None
                if "vs_reference" in rows[0]:
                    diff = [r["vs_reference"][stat]["value"] for r in rows]
                    diff = [x for x in diff if x is not None and np.isfinite(x)]
                    entry[f"{stat}_minus_reference"] = stats.over_seeds(diff) if diff else None
            out[where][pair] = entry
    return out


def scatter_figures(results: Mapping[str, Any], out_dir: Path, name: str) -> list[Path]:
    """Scatter plots of ``η`` of every pair (first seed), each carrying its statistics, as PNG and SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = results["seeds"][0]
    paths = []
    for where, eta in first["eta"].items():
        comparisons = first["comparisons"][where]
        if not comparisons:
            continue
        fig, axes = plt.subplots(1, len(comparisons), figsize=(4.2 * len(comparisons), 4.0), squeeze=False)
        for ax, (pair, entry) in zip(axes[0], comparisons.items()):
            a, b = entry["models"]
            agreement = entry["agreement"]
            ax.scatter(np.asarray(eta[a], dtype=float), np.asarray(eta[b], dtype=float), s=8, alpha=0.6)
            ax.set_xlabel(f"η, model {a}")
            ax.set_ylabel(f"η, model {b}")
            lines = [
                f"{s} {agreement[s]['value']:.2f} [{agreement[s]['ci'][0]:.2f}, {agreement[s]['ci'][1]:.2f}]"
                if agreement[s]["value"] is not None else f"{s} undefined"
                for s in stats.STATISTICS
            ]
            ax.set_title(f"{pair} (seed {first['seed']}, players at the {where})", fontsize=9)
            ax.text(0.02, 0.98, "\n".join(lines) + f"\nchance IoU {agreement['chance_iou']:.3f}",
                    transform=ax.transAxes, va="top", fontsize=7, family="monospace")
        fig.tight_layout()
        paths += save_figure(fig, out_dir, f"{name}-eta-{where}")
    return paths


def _fmt(x: Mapping[str, Any] | None) -> str:
    if x is None:
        return "n/a"
    return f"{x['mean']:.3f} ± {x['sd']:.3f}" if x["n"] > 1 else f"{x['mean']:.3f}"


def summary_tables(results: Mapping[str, Any]) -> list[str]:
    """Markdown lines: per choice of players, one row per pair with mean ± sd over seeds."""
    lines = []
    for where, pairs in results["over_seeds"].items():
        lines += ["", f"## players at the {where}", "",
                  "| pair | Pearson | Spearman | top-10 % IoU (chance) | Spearman − reference |", "|---|--:|--:|--:|--:|"]
        for pair, entry in pairs.items():
            diff = entry.get("spearman_minus_reference")
            lines.append(f"| {pair} | {_fmt(entry['pearson'])} | {_fmt(entry['spearman'])} | "
                         f"{_fmt(entry['iou'])} ({entry['chance_iou']:.3f}) | {'–' if diff is None else _fmt(diff)} |")
    return lines
