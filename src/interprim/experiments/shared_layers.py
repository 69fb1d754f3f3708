"""``shared-layers`` (P1 Fig. 9, 10; SPEC §6-7): how many shared low layers make two DNNs agree on confusing samples?

P1 §3.2 / App. G.1 copy the first ``L`` layers of two DNNs of the same architecture from one
well-trained DNN (App. F.5), train their upper layers on two disjoint sets of 1000 training
images, and compare the average orders ``η`` (SPEC §4) of the same test samples by eye, for
``L = 0, 1, 3, 5, 7, 9, 11, 13``; they read Fig. 9 as "sharing the first layer is already
enough to let two DNNs have similar sets of confusing samples". This experiment gives the
numbers: per ``L``, per seed and per choice of players, the Pearson and Spearman correlation of
``η`` and the IoU of the two top-10 % sets (with its chance level), each with a bootstrap 95 % CI;
their mean ± sd over the seeds; and the paired differences to two reference pairs, as a curve
over ``L`` (one figure).

Models, for every seed ``s`` (one seed per role, so a pair differs in exactly what it names):

- ``donor``: ``arch`` trained on ``donor_subset`` (default the whole training split) for
  ``donor_epochs`` (``init_seed = data_seed = s + 2000``), trained only when some ``L > 0``;
- ``L{L}-half0``: ``arch`` with its first ``L`` layers (:func:`interprim.nn.layers`) copied
  from the donor (frozen unless ``freeze = false``), the upper layers initialised with
  ``init_seed = s`` and trained on the subset ``half0`` with ``data_seed = s``;
- ``L{L}-half1``: the same with ``s + 1000`` for both seeds on the disjoint subset ``half1``;
- ``init-only``: like ``L0-half0`` (same data, same data order, nothing shared) with
  ``init_seed = s + 1000``.

Pairs: ``L={L}`` = (``L{L}-half0``, ``L{L}-half1``) for every ``L > 0`` of the sweep; the point
``L = 0`` of the sweep *is* the reference pair ``everything`` (``L0-half0`` vs ``L0-half1``:
different initialisation of all layers, different data, different order; the same models as
confusing-randomness's ``everything`` pair, so a shared store trains them once); the second
reference ``init-only`` is (``L0-half0``, ``init-only``). Every pair reports its difference to
``everything`` (``vs_reference``) and to ``init-only`` (``vs_init_only``), each with a paired
bootstrap CI over the same samples.

Values of ``L`` that are not below the architecture's number of layers are dropped (sharing every
layer would make the two models one model); the results say which and why.

Players: ``"layer"`` (P1: cells of the 5×5 grid of the feature map after the low layers) and/or
``"input"`` (the same cells on the image). Caveat of SPEC §7: with players at the layer, two
models that share ``L ≥`` (number of low layers) layers compute their games on *identical* player
features (the shared low layers are frozen), which alone could make their ``η`` agree, while the
reference pairs compute theirs on different features; the ``input`` players put every pair on the
same footing. ``shares_player_features`` marks those points of the sweep (never with
``freeze = false``, where the copied layers train on).

**Sample browser** (``results["browser"]``, :mod:`.browser`): per choice of players, the first seed's first
test samples with their players drawn and every compared model's top salient interactions, η and loss.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..nn import layers, low_layer_count
from . import browser, comparison, stats
from .checks import check_counts, check_data, check_players, check_seeds, check_test_samples
from .figures import save_figure
from .models import accuracy, build_model

NAME = "shared-layers"
DESCRIPTION = "P1 Fig. 9-10: η agreement of two models that share their first L layers and train on different data"
REFERENCE = "everything"
INIT_ONLY = "init-only"
OTHER_SEED = 1000  # the offset of the second model's seeds in a pair
DONOR_SEED = 2000  # the offset of the donor's seeds (a role of its own)
P1_LAYERS = [0, 1, 3, 5, 7, 9, 11, 13]
DONOR = "donor"  # the name of the model the pairs copy their first L layers from


@dataclass
class Config:
    """Settings of the experiment; see the module docstring for the models and pairs."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    arch: str = "lenet"
    shared_layers: list[int] = field(default_factory=lambda: list(P1_LAYERS))
    freeze: bool = True
    donor_epochs: int = 2
    donor_subset: str = "all"
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
    dataset: str = "mnist10k"
    data_path: str = ""

    def __post_init__(self) -> None:
        check_seeds(self.seeds)
        check_players(self.players)
        check_data(self, arches=("arch",))
        if (not self.shared_layers or any(not isinstance(L, int) or L < 0 for L in self.shared_layers)
                or len(set(self.shared_layers)) != len(self.shared_layers)):
            raise ValueError(f"shared_layers must be a non-empty list of distinct integers >= 0 (P1: {P1_LAYERS}), "
                             f"got {self.shared_layers!r}.")
        check_counts(self, ("donor_epochs", "subset_size", "subset_epochs", "samples", "n", "n_boot"))
        check_test_samples(self)
        if not (self.donor_subset == "all" or re.fullmatch(r"first:[1-9][0-9]*", self.donor_subset)):
            raise ValueError(f"donor_subset must be 'all' or 'first:K' (K >= 1; not a half, which one model of a "
                             f"pair trains on), got {self.donor_subset!r}.")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}.")
        if not 0 < self.top <= 1:
            raise ValueError(f"top must be in (0, 1], got {self.top!r}.")
        count = layer_count(self.arch, self.dataset)
        if min(self.shared_layers) >= count:
            raise ValueError(f"shared_layers {self.shared_layers}: {self.arch} has {count} layers, so every value "
                             f"shares the whole model; use values below {count}.")


def layer_count(arch: str, dataset: str = "mnist10k") -> int:
    """The number of parameterised layers of ``arch`` (:func:`interprim.nn.layers`), what ``L`` counts."""
    return len(layers(build_model(arch, dataset=dataset)))


def sweep(config: Config) -> tuple[list[int], dict[str, str]]:
    """The values of ``L`` the experiment runs (sorted), and why the others were dropped."""
    count = layer_count(config.arch, config.dataset)
    kept = sorted(L for L in config.shared_layers if L < count)
    dropped = {
        str(L): f"{config.arch} has {count} layers; sharing L={L} >= {count} would share the whole model."
        for L in sorted(config.shared_layers) if L >= count
    }
    return kept, dropped


def pair_name(L: int) -> str:
    """The pair of the sweep at ``L``: the reference ``everything`` at ``L = 0``, else ``L={L}``."""
    return REFERENCE if L == 0 else f"L={L}"


def _models(config: Config, seed: int, kept: Sequence[int]) -> dict[str, dict[str, Any]]:
    """The training parameters of every model of a seed (one seed per role; module docstring)."""
    half = dict(arch=config.arch, epochs=config.subset_epochs, subset_size=config.subset_size, lr=config.lr,
                adversarial=config.adversarial, dataset=config.dataset)
    other = seed + OTHER_SEED
    specs: dict[str, dict[str, Any]] = {}
    if any(L > 0 for L in kept):
        donor = seed + DONOR_SEED
        specs[DONOR] = dict(arch=config.arch, init_seed=donor, data_seed=donor, epochs=config.donor_epochs,
                              subset=config.donor_subset, lr=config.lr, adversarial=config.adversarial,
                              dataset=config.dataset)
    for L in sorted({0, *kept}):
        shared = {} if L == 0 else dict(shared_layers=L, freeze=config.freeze, donor_arch=config.arch,
                                        **{comparison.DONOR: DONOR})
        specs[f"L{L}-half0"] = dict(init_seed=seed, data_seed=seed, subset="half0", **half, **shared)
        specs[f"L{L}-half1"] = dict(init_seed=other, data_seed=other, subset="half1", **half, **shared)
    specs[INIT_ONLY] = dict(init_seed=other, data_seed=seed, subset="half0", **half)
    return specs


def pair_models(kept: Sequence[int]) -> dict[str, tuple[str, str]]:
    """The models of every pair: the sweep's ``L > 0`` points and the two references."""
    pairs = {REFERENCE: ("L0-half0", "L0-half1"), INIT_ONLY: ("L0-half0", INIT_ONLY)}
    pairs.update({pair_name(L): (f"L{L}-half0", f"L{L}-half1") for L in kept if L > 0})
    return pairs


def _with_init_only(
    eta: Mapping[str, Sequence[float]], pairs: Mapping[str, tuple[str, str]], *, top: float, n_boot: int, seed: int
) -> dict[str, Any]:
    """:func:`comparison.compare` against ``everything``, each pair also with its difference to ``init-only``."""
    out = comparison.compare(eta, pairs, REFERENCE, top=top, n_boot=n_boot, seed=seed)
    against_init = comparison.compare(eta, pairs, INIT_ONLY, top=top, n_boot=n_boot, seed=seed)
    for pair, entry in out.items():
        if "vs_reference" in against_init.get(pair, {}):
            entry["vs_init_only"] = against_init[pair]["vs_reference"]
    return out


def _over_seeds(per_seed: Sequence[Mapping[str, Any]], players: Sequence[str], pairs: Sequence[str]) -> dict[str, Any]:
    """:func:`comparison.over_seeds` plus ``<stat>_minus_init_only``: mean ± sd over seeds of the difference to it."""
    out = comparison.over_seeds(per_seed, players, pairs)
    for where in players:
        for pair, entry in out[where].items():
            rows = [s["comparisons"][where][pair] for s in per_seed if pair in s["comparisons"][where]]
            if "vs_init_only" not in rows[0]:
                continue
            for stat in stats.STATISTICS:
                diff = [r["vs_init_only"][stat]["value"] for r in rows]
                diff = [x for x in diff if x is not None and np.isfinite(x)]
                entry[f"{stat}_minus_init_only"] = stats.over_seeds(diff) if diff else None
    return out


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Train the donor and the pairs of every ``L``, extract every model's interactions on the same samples, compare ``η``."""
    kept, dropped = sweep(config)
    pairs = pair_models(kept)
    low = low_layer_count(build_model(config.arch, dataset=config.dataset))
    samples = list(range(config.samples))
    per_seed: list[dict[str, Any]] = []
    trained_by_seed = ctx.each(lambda seed: comparison.train(ctx, _models(config, seed, kept), config.data_path or None),
                               config.seeds)
    for seed, trained in zip(config.seeds, trained_by_seed):
        specs = _models(config, seed, kept)
        compared = {m: s for m, s in specs.items() if m != DONOR}  # the donor's own η enters no pair
        etas, skipped, comparisons, games = {}, {}, {}, {}
        for players in config.players:
            etas[players], missing, games[players] = comparison.average_orders(
                ctx, compared, trained, players, n=config.n, player_seed=config.player_seed, samples=samples,
                tol=config.tol, dataset=config.dataset, data_path=config.data_path or None,
            )
            skipped.update(missing)
            comparisons[players] = _with_init_only(etas[players], pairs, top=config.top, n_boot=config.n_boot,
                                                   seed=seed)
        if seed == config.seeds[0]:
            sections = browser.p1_sections(
                seed, games, {m: s["arch"] for m, s in compared.items()}, [("test", i) for i in samples],
                shared_layers=0, n=config.n, player_seed=config.player_seed, dataset=config.dataset,
                data_path=config.data_path or None, extraction=browser.extraction_p1("admm", config.tol))
        per_seed.append(
            dict(
                seed=seed,
                accuracy={m: accuracy(d.value) for m, d in trained.items()},
                eta=etas,
                comparisons=comparisons,
                skipped=skipped,
            )
        )
    return dict(
        config=asdict(config),
        layers=dict(arch=config.arch, count=layer_count(config.arch), low=low),
        sweep=[
            dict(L=L, pair=pair_name(L), models=list(pairs[pair_name(L)]),
                 shares_player_features=L >= low and config.freeze)
            for L in kept
        ],
        dropped=dropped,
        pairs={name: list(models) for name, models in pairs.items()},
        seeds=per_seed,
        over_seeds=_over_seeds(per_seed, config.players, list(pairs)),
        browser=sections,
    )


def _mean_sd(entry: Mapping[str, Any] | None) -> tuple[float, float]:
    """``(mean, sd)`` of an :func:`stats.over_seeds` entry as read back from JSON (``sd`` 0 when undefined)."""
    if entry is None:
        return float("nan"), 0.0
    sd = entry.get("sd")
    return float(entry["mean"]), 0.0 if sd is None or not np.isfinite(sd) else float(sd)


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """P1 Fig. 9-10 as one figure: agreement vs ``L`` per choice of players, references as bands; and the scatters.

    One panel per statistic (Spearman, Pearson, top-10 % IoU); x = ``L``; y = mean ± sd over seeds;
    one line per choice of players; the reference pairs ``everything`` (dashed) and ``init-only``
    (dotted) as horizontal bands (mean ± sd) in the colour of their players; the chance IoU in grey;
    a vertical line where the shared layers cover the low layers (players at the layer see
    identical features from there on). The scatter plots of ``η`` are
    :func:`comparison.scatter_figures`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = results["sweep"]
    xs = np.array([p["L"] for p in points], dtype=float)
    span = max(xs.max() - xs.min(), 1.0) if len(xs) else 1.0
    colours = {"layer": "tab:blue", "input": "tab:orange"}
    names = {"pearson": "Pearson of η", "spearman": "Spearman of η", "iou": "top-10 % IoU"}
    fig, axes = plt.subplots(1, len(stats.STATISTICS), figsize=(5.0 * len(stats.STATISTICS), 4.2), squeeze=False)
    wheres = list(results["over_seeds"])
    for ax, stat in zip(axes[0], ("spearman", "pearson", "iou")):
        for j, where in enumerate(wheres):
            table = results["over_seeds"][where]
            colour = colours.get(where, f"C{j + 2}")
            shift = (j - (len(wheres) - 1) / 2) * 0.012 * span
            got = [(x, *_mean_sd(table.get(p["pair"], {}).get(stat))) for x, p in zip(xs, points)]
            got = [g for g in got if np.isfinite(g[1])]
            if got:
                x, mean, sd = map(np.asarray, zip(*got))
                ax.errorbar(x + shift, mean, yerr=sd, color=colour, marker="o", capsize=3,
                            label=f"shared L, players at the {where}")
            for pair, style, hatch in ((REFERENCE, "--", None), (INIT_ONLY, ":", "///")):
                if pair not in table or table[pair].get(stat) is None:
                    continue
                mean, sd = _mean_sd(table[pair][stat])
                ax.axhline(mean, color=colour, linestyle=style, linewidth=1, label=f"{pair} ({where})")
                if sd > 0:
                    ax.axhspan(mean - sd, mean + sd, facecolor=colour, edgecolor=colour, alpha=0.08, hatch=hatch,
                               linewidth=0)
        if stat == "iou":
            chance = next((e["chance_iou"] for t in results["over_seeds"].values() for e in t.values()), None)
            if chance is not None:
                ax.axhline(chance, color="grey", linewidth=1)
                ax.annotate("chance", (0.99, chance), xycoords=("axes fraction", "data"), ha="right", va="bottom",
                            fontsize=7, color="grey")
        low = results["layers"]["low"]
        if len(xs) and xs.min() <= low <= xs.max():
            ax.axvline(low, color="black", linewidth=0.6, alpha=0.4)
        ax.set_xticks(xs)
        ax.set_xlabel("L (shared first layers)")
        ax.set_ylabel(names[stat])
        ax.set_title(f"{names[stat]} vs L ({results['layers']['arch']})", fontsize=10)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{NAME}: mean ± sd over seeds {[s['seed'] for s in results['seeds']]}; vertical line: L = low "
                 f"layers ({results['layers']['low']}), from there players at the layer are identical", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir, f"{NAME}-agreement-vs-L") + comparison.scatter_figures(results, out_dir, NAME)


def _fmt(x: Mapping[str, Any] | None) -> str:
    if x is None:
        return "n/a"
    return f"{x['mean']:.3f} ± {x['sd']:.3f}" if x["n"] > 1 and x["sd"] is not None else f"{x['mean']:.3f}"


def _ci_signs(results: Mapping[str, Any], where: str, pair: str, key: str) -> str:
    """``"+a/−b of n"``: in how many seeds the 95 % CI of the Spearman difference ``key`` lies above / below 0."""
    cis = [s["comparisons"][where][pair][key]["spearman"]["ci"] for s in results["seeds"]
           if key in s["comparisons"][where].get(pair, {})]
    cis = [ci for ci in cis if ci[0] is not None and ci[1] is not None]
    above, below = sum(ci[0] > 0 for ci in cis), sum(ci[1] < 0 for ci in cis)
    return f"+{above}/−{below} of {len(cis)}"


def summary(results: dict[str, Any]) -> str:
    """The agreement per ``L`` and choice of players, the references, the accuracies and the caveat."""
    seeds = [s["seed"] for s in results["seeds"]]
    info = results["layers"]
    lines = [
        (f"{info['arch']}: {info['count']} layers, the first {info['low']} of them low (players at the layer "
         f"live after them). Seeds {seeds}; statistics over the same {results['config']['samples']} test samples; "
         f"mean ± sd over seeds. L = 0 is the reference pair `everything`; the differences are paired bootstrap "
         f"differences over the same samples, averaged over seeds; (+a/−b of n): in a of n seeds the 95 % CI of "
         f"the difference lies above 0, in b below."),
    ]
    for L, why in results["dropped"].items():
        lines.append(f"- dropped L = {L}: {why}")
    for where, table in results["over_seeds"].items():
        lines += ["", f"## players at the {where}", "",
                  ("| L | pair | Spearman | Pearson | top-10 % IoU (chance) | Spearman − everything | "
                   "Spearman − init-only | identical player features |"),
                  "|--:|---|--:|--:|--:|--:|--:|---|"]
        rows = [(str(p["L"]), p["pair"], p["shares_player_features"] and where == "layer") for p in results["sweep"]]
        if INIT_ONLY in table:
            rows.append(("–", INIT_ONLY, False))
        for L, pair, same in rows:
            if pair not in table:
                continue
            e = table[pair]
            vs_ref = "–" if pair == REFERENCE else (
                f"{_fmt(e.get('spearman_minus_reference'))} ({_ci_signs(results, where, pair, 'vs_reference')})")
            vs_init = "–" if pair == INIT_ONLY else (
                f"{_fmt(e.get('spearman_minus_init_only'))} ({_ci_signs(results, where, pair, 'vs_init_only')})")
            lines.append(
                f"| {L} | {pair} | {_fmt(e['spearman'])} | {_fmt(e['pearson'])} | {_fmt(e['iou'])} "
                f"({e['chance_iou']:.3f}) | {vs_ref} | {vs_init} | {'yes' if same else 'no'} |"
            )
    test_acc: dict[str, list[float]] = {}
    for s in results["seeds"]:
        for model, acc in s["accuracy"].items():
            test_acc.setdefault(model, []).append(acc["test"])
    lines += ["", "## test accuracy (mean over seeds)", "", "| model | test accuracy |", "|---|--:|"]
    lines += [f"| {m} | {np.mean(v):.3f} |" for m, v in test_acc.items()]
    lines += ["", (f"Caveat (SPEC §7): with players at the layer, the two models of a pair with L ≥ {info['low']} "
                   "compute their games on identical (shared, frozen) player features, which alone can make their η "
                   "agree; the reference pairs do not share them. Players at the input compare every pair on the "
                   "same footing.")]
    return "\n".join(lines) + "\n"
