"""``confusing-randomness`` (P1 Fig. 7, SPEC §7): do two DNNs find the same samples confusing?

P1 shows scatter plots of the average order ``η`` (SPEC §4) that two models give the same test
samples and reads them by eye: two models of the same architecture that differ only in their
initialisation, and two different architectures, disagree on which samples are confusing. This
experiment gives the numbers: per pair of models and per seed, the Pearson and Spearman
correlation of ``η`` and the IoU of the two top-10 % sets (with its chance level), each with a
bootstrap 95 % CI; their mean ± sd over the seeds; and the difference to the reference pair that
differs in everything (initialisation, data order and training data), with its CI.

Pairs, for every seed ``s`` (one seed per role, so that a pair differs in exactly what it names):

- ``init``: ``arch`` with ``init_seed = s`` vs ``s + 1000``, the same data and data order;
- ``architecture``: ``arch`` vs ``other_arch``, the same seeds and data;
- ``everything`` (reference): ``arch`` trained on one half of the data (``init_seed = s``,
  ``data_seed = s``) vs the other half (``s + 1000`` for both seeds).

Players: ``"layer"`` (P1: cells of the 5×5 grid of the feature map after the low layers) and/or
``"input"`` (the same cells on the image, SPEC §7's control). A pair whose model has no spatial map
after its low layers (an MLP) is compared at the input only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import pipeline, stats
from .models import accuracy, train_model

NAME = "confusing-randomness"
DESCRIPTION = "P1 Fig. 7: η agreement of two models that differ in initialisation, or in architecture"
PAIRS = ("init", "architecture", "everything")
REFERENCE = "everything"
OTHER_SEED = 1000  # the offset of the second model's seeds in a pair


@dataclass
class Config:
    """Settings of the experiment; see the module docstring for the pairs."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    arch: str = "lenet"
    other_arch: str = "mlp"
    epochs: int = 2
    subset_size: int = 1000
    subset_epochs: int = 10
    lr: float = 0.05
    adversarial: bool = True
    samples: int = 200
    n: int = 8
    players: list[str] = field(default_factory=lambda: ["layer", "input"])
    player_seed: int = 0
    tol: float = 0.01
    top: float = 0.1
    n_boot: int = 1000

    def __post_init__(self) -> None:
        if not self.seeds or any(not isinstance(s, int) or s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be a non-empty list of integers >= 0, got {self.seeds!r}.")
        bad = [p for p in self.players if p not in pipeline.PLAYERS]
        if not self.players or bad:
            raise ValueError(f"players must be a non-empty list of {pipeline.PLAYERS}, got {self.players!r}.")
        for name in ("epochs", "subset_size", "subset_epochs", "samples", "n", "n_boot"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}.")
        if self.samples < 3:
            raise ValueError(f"samples must be >= 3 (correlations over samples), got {self.samples}.")


def _models(config: Config, seed: int) -> dict[str, dict[str, Any]]:
    """The training parameters of every model of a seed (one seed per role)."""
    common = dict(lr=config.lr, adversarial=config.adversarial)
    full = dict(epochs=config.epochs, subset="all", **common)
    half = dict(epochs=config.subset_epochs, subset_size=config.subset_size, **common)
    other = seed + OTHER_SEED
    return {
        "a": dict(arch=config.arch, init_seed=seed, data_seed=seed, **full),
        "a_init": dict(arch=config.arch, init_seed=other, data_seed=seed, **full),
        "b": dict(arch=config.other_arch, init_seed=seed, data_seed=seed, **full),
        "half0": dict(arch=config.arch, init_seed=seed, data_seed=seed, subset="half0", **half),
        "half1": dict(arch=config.arch, init_seed=other, data_seed=other, subset="half1", **half),
    }


_PAIR_MODELS = {"init": ("a", "a_init"), "architecture": ("a", "b"), "everything": ("half0", "half1")}


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Train the models, extract the interactions of every model on the same samples, compare ``η``."""
    samples = list(range(config.samples))
    per_seed: list[dict[str, Any]] = []
    for seed in config.seeds:
        specs = _models(config, seed)
        trained = dict(zip(specs, ctx.map("train", train_model, list(specs.values()))))
        etas: dict[str, dict[str, list[float]]] = {}
        skipped: dict[str, str] = {}
        for players in config.players:
            usable = {}
            for name, spec in specs.items():
                try:
                    pipeline.player_map(spec["arch"], players)
                    usable[name] = spec
                except ValueError as err:
                    skipped[f"{players}/{name}"] = str(err)
            names = list(usable)
            params = [
                dict(arch=usable[m]["arch"], players=players, n=config.n, player_seed=config.player_seed,
                     samples=samples)
                for m in names
            ]
            values = ctx.map("values", pipeline.model_values, params, deps=[{"model": trained[m]} for m in names])
            found = ctx.map("extract", pipeline.extract, [dict(tol=config.tol)] * len(names),
                            deps=[{"values": v} for v in values])
            etas[players] = {m: pipeline.average_orders(r.value).tolist() for m, r in zip(names, found)}
        comparisons = {
            players: _compare(etas[players], config, seed) for players in config.players
        }
        per_seed.append(
            dict(
                seed=seed,
                accuracy={m: accuracy(d.value) for m, d in trained.items()},
                eta=etas,
                comparisons=comparisons,
                skipped=skipped,
            )
        )
    return dict(config=asdict(config), seeds=per_seed, over_seeds=_over_seeds(per_seed, config))


def _compare(eta: dict[str, list[float]], config: Config, seed: int) -> dict[str, Any]:
    """Agreement of each pair whose models both have ``η``, and its difference to the reference pair."""
    out: dict[str, Any] = {}
    ref = _PAIR_MODELS[REFERENCE]
    for pair, (a, b) in _PAIR_MODELS.items():
        if a not in eta or b not in eta:
            continue
        kw = dict(top=config.top, n_boot=config.n_boot, seed=seed, drop_nan=True)
        entry = {"agreement": stats.agreement_with_ci(eta[a], eta[b], **kw)}
        if pair != REFERENCE and ref[0] in eta and ref[1] in eta:
            entry["vs_reference"] = {
                s: stats.paired_difference(eta[a], eta[b], eta[ref[0]], eta[ref[1]], stat=s, **kw)["difference"]
                for s in stats.STATISTICS
            }
        out[pair] = entry
    return out


def _over_seeds(per_seed: list[dict[str, Any]], config: Config) -> dict[str, Any]:
    """Mean ± sd over the seeds of every statistic of every pair, per choice of players."""
    out: dict[str, Any] = {}
    for players in config.players:
        out[players] = {}
        for pair in PAIRS:
            rows = [s["comparisons"][players][pair] for s in per_seed if pair in s["comparisons"][players]]
            if not rows:
                continue
            entry = {}
            for stat in stats.STATISTICS:
                point = [r["agreement"][stat]["value"] for r in rows if np.isfinite(r["agreement"][stat]["value"])]
                entry[stat] = stats.over_seeds(point) if point else None
                if "vs_reference" in rows[0]:
                    diff = [r["vs_reference"][stat]["value"] for r in rows]
                    entry[f"{stat}_minus_reference"] = stats.over_seeds(diff) if np.all(np.isfinite(diff)) else None
            entry["chance_iou"] = rows[0]["agreement"]["chance_iou"]
            out[players][pair] = entry
    return out


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Scatter plots of ``η`` per pair (first seed) carrying their statistics, as PNG and SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = results["seeds"][0]
    paths = []
    for players, eta in first["eta"].items():
        pairs = [p for p in PAIRS if p in first["comparisons"][players]]
        fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 4.0), squeeze=False)
        for ax, pair in zip(axes[0], pairs):
            a, b = _PAIR_MODELS[pair]
            agreement = first["comparisons"][players][pair]["agreement"]
            ax.scatter(np.asarray(eta[a], dtype=float), np.asarray(eta[b], dtype=float), s=8, alpha=0.6)
            ax.set_xlabel(f"η, model {a}")
            ax.set_ylabel(f"η, model {b}")
            text = "\n".join(
                f"{s} {agreement[s]['value']:.2f} [{agreement[s]['ci'][0]:.2f}, {agreement[s]['ci'][1]:.2f}]"
                for s in stats.STATISTICS
            )
            ax.set_title(f"{pair} (seed {first['seed']}, players at {players})", fontsize=9)
            ax.text(0.02, 0.98, text + f"\nchance IoU {agreement['chance_iou']:.3f}", transform=ax.transAxes,
                    va="top", fontsize=7, family="monospace")
        fig.tight_layout()
        for suffix in (".png", ".svg"):
            path = Path(out_dir) / f"eta-scatter-{players}{suffix}"
            fig.savefig(path, dpi=120)
            paths.append(path)
        plt.close(fig)
    return paths


def summary(results: dict[str, Any]) -> str:
    """The headline numbers in words and a table per choice of players."""
    lines = [f"# {NAME}", "", DESCRIPTION + ".", ""]
    seeds = [s["seed"] for s in results["seeds"]]
    lines.append(f"Seeds {seeds}; statistics over the same {results['config']['samples']} test samples; "
                 f"mean ± sd over seeds; 'minus reference' is the paired bootstrap difference to the pair "
                 f"that differs in everything.")
    for players, pairs in results["over_seeds"].items():
        lines += ["", f"## players at the {players}", "",
                  "| pair | Pearson | Spearman | top-10 % IoU (chance) | Spearman − reference |", "|---|--:|--:|--:|--:|"]
        for pair, entry in pairs.items():
            def fmt(x: Any) -> str:
                return "n/a" if x is None else f"{x['mean']:.3f} ± {x['sd']:.3f}" if x["n"] > 1 else f"{x['mean']:.3f}"
            diff = entry.get("spearman_minus_reference")
            lines.append(f"| {pair} | {fmt(entry['pearson'])} | {fmt(entry['spearman'])} | "
                         f"{fmt(entry['iou'])} ({entry['chance_iou']:.3f}) | {'–' if diff is None else fmt(diff)} |")
    return "\n".join(lines) + "\n"
