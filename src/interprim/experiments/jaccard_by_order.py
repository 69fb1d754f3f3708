"""``jaccard-by-order`` (P1 Fig. 3, Def. 2.2, SPEC §4 and §7): do high-order interactions generalise less?

P1 (Hypothesis 1) measures the generalization power of the interactions of each order ``k`` as the
Jaccard similarity of their average over training samples and over test samples (Def. 2.2, SPEC §4):
with ``Ī`` the interaction vectors averaged over a set of samples (OR singletons merged into the AND
ones, non-salient interactions set to 0) and ``d = [max(Ī, 0); max(−Ī, 0)]`` (AND and OR together),

``Sim^(k) = ‖min(d_train, d_test)‖₁ / ‖max(d_train, d_test)‖₁`` restricted to the interactions of order ``k``,

computed by :func:`interprim.metrics.jaccard_by_order`. P1 reads a decrease of ``Sim^(k)`` with ``k``
off its Fig. 3. This experiment gives, per seed and choice of players:

- ``Sim^(k)`` for ``k = 1 … n`` with a bootstrap 95 % CI over samples;
- the **trend**: Spearman's ``ρ`` of ``k`` vs ``Sim^(k)`` (over the orders where ``Sim^(k)`` is
  defined), with its bootstrap CI; ``ρ < 0`` is P1's claim;
- a **control** the paper lacks: ``Sim^(k)`` between the training samples and a second, disjoint set
  of training samples of the same size (``control = true``). Averages over ``N`` samples differ by
  sampling noise alone, and that noise weighs more on high orders (more, weaker interactions), so a
  decrease with ``k`` is evidence of weaker generalization only where train-vs-test falls below
  train-vs-train; ``difference = Sim_train,test − Sim_train,train'`` per order, with its CI;

and over the seeds (≥ 3) the mean ± sd of each of them.

**Model** (P1 App. F.1, F.3): ``arch`` trained adversarially (one-step PGD, ε = α = 4/255) with
:func:`~interprim.experiments.models.train_model`, initial weights and data order from the seed.
**Players** are sampled once per experiment (``player_seed``) and are the same positions for every
sample (Def. 2.2 needs it): ``"layer"`` (P1: ``n`` cells of the 5×5 grid of the central region of the
feature map after the low layers) and/or ``"input"`` (the same cells on the image, SPEC §7's
control); baseline 0; ``v`` is the log-odds of the true label. **Samples** are drawn once per
experiment (``sample_seed``): ``samples`` training images the model was trained on (from its training
subset), ``samples`` test images, and, with ``control``, ``samples`` further training images.

**Salience.** One ``τ = 0.02·E_x|v(x) − v(x_∅)|`` per model and choice of players, over all its
analysed samples (train, test and control together, SPEC §4: per model over the analysed samples);
the bootstrap recomputes ``τ`` on every resample.

**Bootstrap.** The three sets of samples are independent, so each is resampled on its own (rows of
:func:`~interprim.experiments.stats.bootstrap_indices` with seeds ``3·seed``, ``3·seed + 1``,
``3·seed + 2`` for train, test and control); every statistic of a resample is recomputed from the
resampled interactions; percentile intervals skip resamples where a statistic is undefined (counted).

Extraction: sparse AND-OR interactions (SPEC §3.3) by the exact LP (``solver = "lp"``, fast for
``n ≤ 8``) or the certified ADMM (``"admm"``, batched, for a GPU and larger ``n``).

Text (``dataset = "sst2"``, P1's BERT-Tiny of Fig. 3): ``arch = "bert-tiny"`` trained from scratch
with AdamW (``optimizer = "adamw"``, no adversarial training); the players of a sentence are ``n``
of its words with meaning (drawn with ``player_seed``), masked after the low layers (``"layer"``)
or at the word embeddings (``"input"``) with the mean vector as baseline. Def. 2.2 averages the
interactions of the same players over samples; the words of different sentences are not the same
players, and P1 does not say how it aligns them. Here interaction ``S`` is indexed by the positions
of its words among the sentence's players, so for text ``Sim^(k)`` compares how the order-``k``
effects are spread over those positions, a weaker notion than for image patches. Only sentences
with at least ``n`` such words are drawn.

**Sample browser** (``results["browser"]``, :mod:`.browser`): per choice of players, the first seed's model on
the first samples of every set (train, test, control) with their players drawn, its top salient interactions
(τ over all its sets), η and loss.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics
from ..interactions import Interactions
from . import browser, datasets, pipeline, stats
from .checks import check_counts, check_data, check_n, check_players, check_seeds
from .figures import save_figure
from .models import accuracy, subset_indices, train_model

NAME = "jaccard-by-order"
DESCRIPTION = "P1 Fig. 3: Jaccard similarity Sim^(k) of the interactions of training and test samples, per order k"
SOLVERS = pipeline.SOLVERS
SPLITS = datasets.SPLITS
SETS = ("train", "test", "control")  # the sets of samples of the experiment
SET_SPLIT = {"train": "train", "test": "test", "control": "train"}  # the split each set is drawn from
TAU_RATIO = metrics.SPEC_RATIO
LP_MAX_PLAYERS = 12  # the exact LP of interprim.extract refuses larger games


@dataclass
class Config:
    """Settings of the experiment (module docstring).

    ``subset`` names the training data of the model as in
    :func:`~interprim.experiments.models.subset_indices` (``"all"``, ``"half0"``, ``"half1"``,
    ``"first:K"``); the training samples analysed are drawn from it.
    """

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    arch: str = "lenet"
    epochs: int = 10
    lr: float = 0.05
    adversarial: bool = True
    optimizer: str = "sgd"
    subset: str = "half0"
    subset_size: int = 1000
    samples: int = 50
    control: bool = True
    sample_seed: int = 0
    n: int = 8
    players: list[str] = field(default_factory=lambda: ["layer", "input"])
    player_seed: int = 0
    solver: str = "lp"
    tol: float = 1e-3
    n_boot: int = 1000
    dataset: str = "mnist10k"
    data_path: str = ""

    def __post_init__(self) -> None:
        check_seeds(self.seeds)
        check_data(self, text=True)
        check_common(self.arch, self.players, self.n, self.solver, self.tol, self.dataset)
        check_counts(self, ("epochs", "subset_size", "n_boot"))
        if self.samples < 3:
            raise ValueError(f"samples must be >= 3 (bootstrap over samples), got {self.samples}.")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}.")
        if self.sample_seed < 0 or self.player_seed < 0:
            raise ValueError(f"sample_seed and player_seed must be >= 0, got {self.sample_seed}, {self.player_seed}.")
        pools = sample_pools(self.dataset, self.subset, self.subset_size, self.n, self.data_path or None)
        needed = self.samples * (2 if self.control else 1)
        if needed > pools["train"].size:
            raise ValueError(f"samples={self.samples}{' (x2 with control)' if self.control else ''} training samples "
                             f"do not fit in the {pools['train'].size} training samples of subset {self.subset!r} "
                             f"with {self.n} players.")
        if self.samples > pools["test"].size:
            raise ValueError(f"samples must be <= {pools['test'].size} (the test samples with {self.n} players), "
                             f"got {self.samples}.")


def check_common(arch: str, players: Sequence[str], n: int, solver: str, tol: float, dataset: str = "mnist10k") -> None:
    """Raise ``ValueError`` unless the model has a representation for every choice of ``players`` and the
    extraction is valid.

    ``n`` players fit (:func:`~interprim.experiments.checks.check_n`); ``solver`` is one of
    :data:`SOLVERS`, the exact LP only up to :data:`LP_MAX_PLAYERS` players; ``0 < tol < 1``.
    """
    check_players(players)
    for where in players:
        pipeline.player_layer(arch, 0, where, dataset)  # an unknown arch, or one without a map after its low layers
    check_n(n, dataset)
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}.")
    if solver == "lp" and n > LP_MAX_PLAYERS:
        raise ValueError(f"solver='lp' takes at most n={LP_MAX_PLAYERS} players (got {n}); use solver='admm'.")
    if not 0 < tol < 1:
        raise ValueError(f"tol must be in (0, 1), got {tol!r}.")


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------


def sample_pools(dataset: str, subset: str, subset_size: int, n: int, data_path: str | None = None) -> dict[str, np.ndarray]:
    """The samples each set may be drawn from: ``"train"``, the model's training subset (``subset``,
    ``subset_size`` as in :func:`~interprim.experiments.models.subset_indices`), and ``"test"``, the
    test split; only samples with ``n`` players (:func:`~interprim.experiments.datasets.eligible`)."""
    train = subset_indices(subset, datasets.size(dataset, "train", data_path), subset_size)
    return {"train": np.intersect1d(train, datasets.eligible(dataset, "train", n, data_path)),
            "test": datasets.eligible(dataset, "test", n, data_path)}


def sample_sets(
    subset: str, subset_size: int, samples: int, control: bool, seed: int, *, dataset: str = "mnist10k", n: int = 2,
    data_path: str | None = None,
) -> dict[str, list[int]]:
    """The sample indices of every set (``train``/``control`` in the train split, ``test`` in the test split).

    Drawn once with ``numpy.random.default_rng(seed)`` from :func:`sample_pools`: first
    ``2·samples`` (``samples`` without ``control``) distinct training samples, split into ``train``
    and ``control``, then ``samples`` distinct test samples; each set sorted.
    """
    rng = np.random.default_rng(seed)
    pools = sample_pools(dataset, subset, subset_size, n, data_path)
    drawn = rng.choice(pools["train"], size=samples * (2 if control else 1), replace=False)
    sets = {"train": sorted(int(i) for i in drawn[:samples])}
    sets["test"] = sorted(int(i) for i in rng.choice(pools["test"], size=samples, replace=False))
    if control:
        sets["control"] = sorted(int(i) for i in drawn[samples:])
    return sets


def spearman_trend(sim: Sequence[float]) -> float:
    """Spearman's ``ρ`` of the order ``k = 1 … n`` vs ``Sim^(k)`` over the orders where ``Sim^(k)`` is defined.

    ``NaN`` when fewer than 3 orders are defined or ``Sim`` is constant over them.
    """
    from scipy.stats import spearmanr

    s = np.asarray(sim, dtype=np.float64)
    k = np.arange(1, s.size + 1)
    ok = np.isfinite(s)
    if ok.sum() < 3 or np.ptp(s[ok]) == 0:
        return math.nan
    return float(spearmanr(k[ok], s[ok]).statistic)


def spec_tau(*changes: np.ndarray) -> float:
    """``τ = 0.02·E_x|v(x) − v(x_∅)|`` over every sample of ``changes`` together (SPEC §4, one model).

    ``changes`` are the output changes ``v(x) − v(x_∅)`` of each set of samples
    (:meth:`~interprim.Interactions.output_change`).
    """
    return TAU_RATIO * float(np.abs(np.concatenate([np.ravel(c) for c in changes])).mean())


Pair = tuple[np.ndarray, np.ndarray]  # (i_and, i_or) of a set of samples


def similarities(train: Pair, test: Pair, control: Pair | None, tau: float) -> dict[str, np.ndarray]:
    """``Sim^(k)`` (orders ``1 … n``) of train vs test, and of train vs control, at the threshold ``tau``."""
    out = {"sim": metrics.jaccard_by_order(train, test, threshold=tau)[1:]}
    if control is not None:
        out["control"] = metrics.jaccard_by_order(train, control, threshold=tau)[1:]
    return out


def _ci(values: np.ndarray, level: float = 0.95) -> tuple[list[float], int]:
    """The percentile interval of the defined (finite) ``values``, and how many were undefined."""
    ok = values[np.isfinite(values)]
    if not ok.size:
        return [math.nan, math.nan], int(values.size)
    lo, hi = np.quantile(ok, [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)], int(values.size - ok.size)


def _with_ci(value: float, boot: np.ndarray) -> dict[str, Any]:
    ci, undefined = _ci(boot)
    return {"value": float(value), "ci": ci, "n_undefined": undefined}


def _per_order(values: np.ndarray, boot: np.ndarray) -> dict[str, Any]:
    """Per order ``k``: the point values, and the CI of each order over the resamples ``boot`` ``(B, n)``."""
    cis = [_ci(boot[:, j]) for j in range(values.size)]
    return {"value": [float(x) for x in values], "ci": [c for c, _ in cis], "n_undefined": [u for _, u in cis]}


def order_similarity(
    train: Interactions, test: Interactions, control: Interactions | None, *, n_boot: int, seed: int
) -> dict[str, Any]:
    """``Sim^(k)``, its trend and the train-vs-train control, each with a bootstrap CI (module docstring).

    Returns ``{"tau", "orders", "sim": P, "trend": S}`` and, with ``control``, ``"control": P``,
    ``"control_trend": S`` and ``"difference": P`` (``Sim − Sim_control`` per order), where
    ``P = {"value": [per order], "ci": [[lo, hi] per order], "n_undefined": [per order]}`` and
    ``S = {"value", "ci", "n_undefined"}``.
    """
    sets = [train, test] + ([] if control is None else [control])
    pairs = [(np.asarray(r.i_and, dtype=np.float64), np.asarray(r.i_or, dtype=np.float64)) for r in sets]
    changes = [np.asarray(r.output_change(), dtype=np.float64).reshape(-1) for r in sets]
    tau = spec_tau(*changes)
    point = similarities(*pairs[:2], pairs[2] if control is not None else None, tau)
    n = point["sim"].size
    idx = [stats.bootstrap_indices(c.size, n_boot, 3 * seed + j) for j, c in enumerate(changes)]
    boot_sim, boot_ctrl = np.empty((n_boot, n)), np.empty((n_boot, n))
    for b in range(n_boot):
        rows = [i[b] for i in idx]
        resampled = [(a[r], o[r]) for (a, o), r in zip(pairs, rows)]
        got = similarities(*resampled[:2], resampled[2] if control is not None else None,
                           spec_tau(*(c[r] for c, r in zip(changes, rows))))
        boot_sim[b] = got["sim"]
        if control is not None:
            boot_ctrl[b] = got["control"]
    out: dict[str, Any] = {
        "tau": tau,
        "orders": list(range(1, n + 1)),
        "sim": _per_order(point["sim"], boot_sim),
        "trend": _with_ci(spearman_trend(point["sim"]), np.array([spearman_trend(s) for s in boot_sim])),
    }
    if control is not None:
        out["control"] = _per_order(point["control"], boot_ctrl)
        out["control_trend"] = _with_ci(spearman_trend(point["control"]),
                                        np.array([spearman_trend(s) for s in boot_ctrl]))
        out["difference"] = _per_order(point["sim"] - point["control"], boot_sim - boot_ctrl)
    return out


def mean_sd(values: Sequence[float | None]) -> dict[str, Any] | None:
    """:func:`stats.over_seeds` of the defined values (``None``/``NaN`` dropped, counted), or ``None`` when none is."""
    ok = [float(v) for v in values if v is not None and np.isfinite(v)]
    return {**stats.over_seeds(ok), "n_undefined": len(values) - len(ok)} if ok else None


def below_zero(ci: Sequence[float | None]) -> bool:
    """Whether the interval ``ci`` lies below 0 (an undefined bound never does)."""
    return ci[1] is not None and bool(ci[1] < 0)


def above_zero(ci: Sequence[float | None]) -> bool:
    """Whether the interval ``ci`` lies above 0 (an undefined bound never does)."""
    return ci[0] is not None and bool(ci[0] > 0)


def over_seeds(per_seed: Sequence[Mapping[str, Any]], players: Sequence[str]) -> dict[str, Any]:
    """Per choice of players: mean ± sd over seeds of ``Sim^(k)`` per order, of the trend, and of the control."""
    out: dict[str, Any] = {}
    for where in players:
        rows = [s["players"][where] for s in per_seed]
        entry: dict[str, Any] = {"orders": rows[0]["orders"]}
        orders = range(len(entry["orders"]))
        for name in ("sim", "control", "difference"):
            if name in rows[0]:
                entry[name] = [mean_sd([r[name]["value"][j] for r in rows]) for j in orders]
        if "difference" in rows[0]:
            entry["difference_ci_below_zero"] = [sum(1 for r in rows if below_zero(r["difference"]["ci"][j])) for j in orders]
            entry["difference_ci_above_zero"] = [sum(1 for r in rows if above_zero(r["difference"]["ci"][j])) for j in orders]
        for name in ("trend", "control_trend"):
            if name in rows[0]:
                entry[name] = mean_sd([r[name]["value"] for r in rows])
                entry[f"{name}_ci_below_zero"] = sum(1 for r in rows if below_zero(r[name]["ci"]))
        out[where] = entry
    return out


# ---------------------------------------------------------------------------------------------
# the experiment
# ---------------------------------------------------------------------------------------------


def model_spec(config: Config, seed: int) -> dict[str, Any]:
    """The :func:`~interprim.experiments.models.train_model` parameters of the model of ``seed`` (init and data order)."""
    return dict(arch=config.arch, init_seed=seed, data_seed=seed, epochs=config.epochs, lr=config.lr,
                adversarial=config.adversarial, subset=config.subset, subset_size=config.subset_size,
                dataset=config.dataset, optimizer=config.optimizer)


def interactions_of(
    ctx: Any, config: Config, model: Any, players: str, sets: Mapping[str, list[int]]
) -> dict[str, tuple[Interactions, np.ndarray]]:
    """The interactions and games ``(B, 2**n)`` of ``model`` (a ``Done`` of :func:`train_model`) on every set of
    samples."""
    names = list(sets)
    params = [dict(arch=config.arch, players=players, n=config.n, player_seed=config.player_seed,
                   split=SET_SPLIT[name], samples=sets[name], dataset=config.dataset) for name in names]
    games = partial(pipeline.model_values, device=ctx.device, data_path=config.data_path or None)
    values = ctx.map("values", games, params, deps={"model": model})
    found = ctx.map("extract", pipeline.extract, [dict(solver=config.solver, tol=config.tol)] * len(names),
                    deps=[{"values": v} for v in values])
    return {name: (pipeline.interactions(r.value), v.value["values"]) for name, r, v in zip(names, found, values)}


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Train a model per seed, extract the interactions of every set of samples, compute ``Sim^(k)`` and its trend."""
    sets = sample_sets(config.subset, config.subset_size, config.samples, config.control, config.sample_seed,
                       dataset=config.dataset, n=config.n, data_path=config.data_path or None)
    per_seed = []
    fit = partial(train_model, device=ctx.device, data_path=config.data_path or None)
    models = ctx.map("train", fit, [model_spec(config, seed) for seed in config.seeds])
    for seed, model in zip(config.seeds, models):
        by_players, games = {}, {}
        for players in config.players:
            games[players] = {config.arch: interactions_of(ctx, config, model, players, sets)}
            found = {name: r for name, (r, _) in games[players][config.arch].items()}
            by_players[players] = order_similarity(found["train"], found["test"], found.get("control"),
                                                   n_boot=config.n_boot, seed=seed)
        if seed == config.seeds[0]:
            sections = browser.p1_set_sections(
                seed, games, {config.arch: config.arch}, sets, SET_SPLIT, shared_layers=0, n=config.n,
                player_seed=config.player_seed, dataset=config.dataset, data_path=config.data_path or None,
                extraction=browser.extraction_p1(config.solver, config.tol))
        per_seed.append(dict(seed=seed, accuracy=accuracy(model.value), players=by_players))
    return dict(config=asdict(config), samples=sets, seeds=per_seed, over_seeds=over_seeds(per_seed, config.players),
                browser=sections)


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """``Sim^(k)`` against ``k``, mean ± sd over seeds, one panel per choice of players (train-vs-train dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    where_list = list(results["over_seeds"])
    fig, axes = plt.subplots(1, len(where_list), figsize=(4.6 * len(where_list), 3.8), squeeze=False)
    for ax, where in zip(axes[0], where_list):
        entry = results["over_seeds"][where]
        k = np.asarray(entry["orders"])
        curves = [("sim", "train vs test", "-o")] + ([("control", "train vs train (control)", "--s")]
                                                     if "control" in entry else [])
        for name, label, style in curves:
            mean = np.array([np.nan if x is None else x["mean"] for x in entry[name]], dtype=float)
            sd = np.array([np.nan if x is None or x["sd"] is None else x["sd"] for x in entry[name]], dtype=float)
            ax.errorbar(k, mean, yerr=np.nan_to_num(sd), fmt=style, capsize=3, label=label)
        trend = entry["trend"]
        text = "trend ρ(k, Sim): n/a" if trend is None else (
            f"trend ρ(k, Sim) {trend['mean']:.2f} ± {0.0 if trend['sd'] is None else trend['sd']:.2f}"
            f"\nCI < 0 in {entry['trend_ci_below_zero']}/{len(results['seeds'])} seeds")
        ax.text(0.02, 0.97, text, transform=ax.transAxes, fontsize=8, family="monospace", va="top")
        ax.set_xlabel("order k")
        ax.set_ylabel("Sim^(k)")
        ax.set_ylim(0, 1.05)
        ax.set_xticks(k)
        ax.set_title(f"players at the {where} (mean ± sd, {len(results['seeds'])} seeds)", fontsize=9)
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return save_figure(fig, out_dir, NAME)


def _fmt(x: Mapping[str, Any] | None) -> str:
    if x is None:
        return "n/a"
    return f"{x['mean']:.3f} ± {x['sd']:.3f}" if x["n"] > 1 else f"{x['mean']:.3f}"


def summary(results: dict[str, Any]) -> str:
    """The trend per choice of players in words and a table of ``Sim^(k)`` per order."""
    config = results["config"]
    seeds = [s["seed"] for s in results["seeds"]]
    lines = [
        f"{config['arch']} trained {config['epochs']} epochs on {config['subset']} ({'adversarial' if config['adversarial'] else 'normal'} "
        f"training), seeds {seeds}; {config['samples']} training and {config['samples']} test samples, n = {config['n']} "
        f"players; mean ± sd over seeds. Test accuracy per seed: "
        + ", ".join(f"{s['accuracy']['test']:.3f}" for s in results["seeds"]) + ".",
    ]
    for where, entry in results["over_seeds"].items():
        lines += ["", f"## players at the {where}", "",
                  (f"Trend (Spearman ρ of k vs Sim^(k)): {_fmt(entry['trend'])}; its 95 % CI lies below 0 in "
                  f"{entry['trend_ci_below_zero']} of {len(seeds)} seeds.")]
        if "control_trend" in entry:
            lines.append(f"Control (train vs train', a second set of training samples): trend "
                         f"{_fmt(entry['control_trend'])}, CI below 0 in {entry['control_trend_ci_below_zero']} of "
                         f"{len(seeds)} seeds. 'difference' is train-vs-test minus train-vs-train', with the number "
                         f"of seeds whose 95 % CI of it lies below / above 0.")
        header = "| k | Sim^(k) train vs test |" + (
            " train vs train' | difference | seeds with CI < 0 / > 0 |" if "control" in entry else "")
        lines += ["", header, "|--:|--:|" + ("--:|--:|--:|" if "control" in entry else "")]
        for j, k in enumerate(entry["orders"]):
            row = f"| {k} | {_fmt(entry['sim'][j])} |"
            if "control" in entry:
                row += (f" {_fmt(entry['control'][j])} | {_fmt(entry['difference'][j])} | "
                        f"{entry['difference_ci_below_zero'][j]} / {entry['difference_ci_above_zero'][j]} |")
            lines.append(row)
    return "\n".join(lines) + "\n"
