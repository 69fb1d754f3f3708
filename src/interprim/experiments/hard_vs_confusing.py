"""``hard-vs-confusing`` (P1 §2.3, Fig. 5, 6, 11, fn. 9, App. F.4; SPEC §6-§7): are hard samples confusing?

P1 plants hard samples (App. F.4: three training samples of each class 1-9 relabelled to class 0),
trains a model, calls *hard* the training samples with the highest per-sample training loss
averaged over the epochs (fn. 9) and compares them with the *confusing* samples, those whose
interactions have a high average order ``η`` (SPEC §4). P1 reads three things from plots:

- Fig. 5: hard samples carry many high-order, mutually offsetting interactions; easy samples mostly
  low-order ones (``J_pos^(k)``, ``J_neg^(k)`` of P1 Eq. 4, averaged over the samples of each set);
- Fig. 6 / 11: the hard and the confusing sets overlap "considerably" but are not the same; hard
  but not confusing samples have few interactions, confusing but not hard ones many.

This experiment gives numbers for each, per seed and as mean ± sd over the seeds:

1. **Training** (task ``train-planted``): ``arch`` on the first ``train_size`` MNIST-10k training
   images (the pipeline is MNIST-only for now), ``per_class`` samples of each class 1-9 relabelled
   to 0 by :func:`interprim.data.corrupt_labels`, adversarially (one-step PGD, ``ε = α = 4/255``):
   P1 App. F.1 trains every model adversarially except those of §2.2, and this figure is §2.3 (its
   "following the setting in Section 2.2" refers to the plots of ``J`` by order). The trainer
   records the clean cross-entropy of every training sample after every epoch
   (:attr:`interprim.train.History.sample_loss`); ``mean loss = Σ_e loss_e(x) / epochs``.
2. **Analysed samples**: all planted samples plus ``ordinary`` others drawn at random from the
   rest of the training set. Their games use P1's players (``"layer"``: ``n`` cells of the central
   5×5 grid of the feature map after the low layers) or the input control (``"input"``), baseline
   0, and the log-odds of the label the model was **trained** on (class 0 for a planted sample: the
   label whose loss makes it hard) — task ``train-values``, the training-split counterpart of
   :func:`~interprim.experiments.pipeline.model_values`; the sparse AND-OR interactions come from
   :func:`~interprim.experiments.pipeline.extract`.
3. **Sets** among the ``N`` analysed samples: *hard* = the ``ceil(hard_top·N)`` highest mean
   training losses; *easy* = the other analysed samples (P1: "the remaining samples"); *confusing*
   = the ``ceil(confusing_top·N)`` highest ``η`` (a sample without salient interactions has no
   ``η`` and is never confusing). Ties go to the smaller training index. The salient threshold is
   the SPEC τ = ``0.02·E_x|v(x) − v(x_∅)|`` of the model over the analysed samples, singletons merged.
   Both sets are drawn from this pool, which is enriched in planted samples (27 of 200 in the
   ``cpu`` config), so every chance level below refers to the pool, not to the training set.
4. **Statistics** per seed:

   - ``J_pos^(k)``, ``J_neg^(k)`` (P1 Eq. 4) averaged over the hard and over the easy samples;
     mean ``η`` of each set and the two-sided Mann-Whitney ``p`` of ``η`` hard vs easy;
   - overlap of hard ``H`` and confusing ``C``: the counts of the four groups, ``IoU = |H∩C| /
     |H∪C|``, its chance level ``e / (|H| + |C| − e)`` with ``e = |H|·|C|/N`` (two random sets of
     those sizes), and the hypergeometric ``p = P(X ≥ |H∩C|)``, ``X ~ Hypergeom(N, |H|, |C|)``
     (the probability of an overlap at least this large if ``C`` were a random ``|C|``-subset);
   - per group (hard∧confusing, hard only, confusing only, neither): the mean number of salient
     interactions per sample, positive and negative (P1 Fig. 6, 11), the mean ``η`` and mean loss;
   - how many planted samples are hard (among the analysed samples, and among the top
     ``|planted|`` mean losses of the whole training set) and how many the model fitted.

Seeds: seed ``s`` sets every role of one run — ``init_seed``, ``data_seed`` (order of the training
samples), ``plant_seed`` (which samples are relabelled) and ``sample_seed`` (which ordinary samples
are analysed) — all ``s``; the players are drawn once per experiment (``player_seed``), P1 App. F.2.

**Sample browser** (``results["browser"]``, :mod:`.browser`): the first seed's first analysed training
samples, labelled with the label the model was trained on (planted ones with their true label), their players
drawn, the model's top salient interactions, η, the loss of the trained label after training and the mean
training loss (``train_loss``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import metrics
from ..data import corrupt_labels
from ..interactions import singletons_merged
from ..train import TrainConfig, evaluate, train
from . import browser, datasets, pipeline, stats
from .checks import check_counts, check_data, check_seeds
from .figures import save_figure
from .models import build_model, load_model

NAME = "hard-vs-confusing"
DESCRIPTION = "P1 Fig. 5, 6, 11: interactions of hard vs easy training samples; overlap of hard and confusing samples"
PLANT_CLASSES = tuple(range(1, 10))  # P1 App. F.4: classes 1-9 ...
PLANT_TARGET = 0  # ... relabelled to class 0
GROUPS = ("hard_confusing", "hard_only", "confusing_only", "neither")
GROUP_LABELS = {
    "hard_confusing": "hard ∧ confusing",
    "hard_only": "hard only",
    "confusing_only": "confusing only",
    "neither": "neither",
}
# the arrays of a train-planted record that are not weights of the model
_EXTRA = ("accuracy", "sample_loss", "labels", "planted", "predicted")


@dataclass
class Config:
    """Settings of the experiment (module docstring). ``train_size = 0`` means the whole train split."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    arch: str = "lenet"
    epochs: int = 12
    lr: float = 0.05
    batch_size: int = 128
    adversarial: bool = True
    train_size: int = 2000
    per_class: int = 3
    ordinary: int = 173
    players: str = "layer"
    n: int = 8
    player_seed: int = 0
    tol: float = 0.02
    hard_top: float = 0.15
    confusing_top: float = 0.15
    dataset: str = "mnist10k"
    data_path: str = ""

    def __post_init__(self) -> None:
        check_seeds(self.seeds)
        check_data(self)
        if self.players not in pipeline.PLAYERS:
            raise ValueError(f"players must be one of {pipeline.PLAYERS}, got {self.players!r}.")
        check_counts(self, ("epochs", "batch_size", "per_class", "ordinary", "n"))
        split = datasets.size(self.dataset, "train", self.data_path or None)
        if not 0 <= self.train_size <= split:
            raise ValueError(f"train_size must be in [0, {split}] (0: the whole train split of {self.dataset}), "
                             f"got {self.train_size}.")
        size = self.train_size or split
        planted = self.per_class * len(PLANT_CLASSES)
        if planted + self.ordinary > size:
            raise ValueError(f"{planted} planted + ordinary={self.ordinary} analysed samples exceed the "
                             f"{size} training samples; lower ordinary or per_class, or raise train_size.")
        for name in ("hard_top", "confusing_top"):
            top = getattr(self, name)
            if not 0 < top < 1 or math.ceil(top * (planted + self.ordinary)) >= planted + self.ordinary:
                raise ValueError(f"{name} must be a fraction of the analysed samples in (0, 1) that leaves some "
                                 f"of the {planted + self.ordinary} outside the set, got {top!r}.")
        if not self.lr > 0 or not self.tol > 0:
            raise ValueError(f"lr and tol must be > 0, got lr={self.lr!r}, tol={self.tol!r}.")


# ---------------------------------------------------------------------------------------------
# tasks
# ---------------------------------------------------------------------------------------------


def planted_labels(
    train_size: int, per_class: int, plant_seed: int, dataset: str = "mnist10k", data_path: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, planted)``: the training labels with the planted ones changed, and the planted indices.

    The training set is the first ``train_size`` images of the train split of ``dataset`` (0: all);
    ``per_class`` samples of each class 1-9 are relabelled to 0 (P1 App. F.4).
    """
    labels = datasets.load(dataset, "train", data_path).labels.numpy()[: train_size or None]
    return corrupt_labels(labels, per_class=per_class, classes=PLANT_CLASSES, target=PLANT_TARGET, seed=plant_seed)


def train_planted(
    *,
    arch: str,
    init_seed: int,
    data_seed: int,
    plant_seed: int,
    train_size: int,
    per_class: int,
    epochs: int,
    lr: float,
    batch_size: int,
    adversarial: bool,
    dataset: str = "mnist10k",
    device: str = "cpu",
    data_path: str | None = None,
) -> dict[str, np.ndarray]:
    """Train on ``dataset`` (images) with planted hard samples; the weights plus what the hard samples need.

    Returns the model's ``state_dict`` as numpy arrays and ``accuracy`` = ``[train, test]`` (train on
    the planted labels, clean images, after training), ``sample_loss`` ``(epochs, N)`` (the clean
    cross-entropy of every training sample after each epoch, P1 fn. 9), ``labels`` (the training
    labels, planted ones changed), ``planted`` (their indices) and ``predicted`` (the class the
    trained model gives every training sample).
    """
    data = datasets.load(dataset, "train", data_path)
    images = data.images[: train_size or None]
    labels, planted = planted_labels(train_size, per_class, plant_seed, dataset, data_path)
    targets = torch.as_tensor(labels)
    model = build_model(arch, seed=init_seed, dataset=dataset)
    config = TrainConfig(epochs=epochs, lr=lr, batch_size=batch_size, adversarial=adversarial, seed=data_seed,
                         device=device)
    history = train(model, (images, targets), None, config, progress=False)
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(x.to(device)).argmax(1).cpu() for x in images.split(256)])
    test = datasets.load(dataset, "test", data_path)
    accuracy = [float((predicted == targets).double().mean()), evaluate(model, *test.tensors(), batch_size=256).acc]
    state = {name: tensor.detach().cpu().numpy() for name, tensor in model.state_dict().items()}
    return {
        **state,
        "accuracy": np.asarray(accuracy, dtype=np.float64),
        "sample_loss": history.sample_loss,
        "labels": labels.astype(np.int64),
        "planted": planted,
        "predicted": predicted.numpy().astype(np.int64),
    }


def train_values(
    *,
    arch: str,
    players: str,
    n: int,
    player_seed: int,
    samples: list[int],
    model: dict[str, np.ndarray],
    dataset: str = "mnist10k",
    device: str = "cpu",
    data_path: str | None = None,
) -> dict[str, np.ndarray]:
    """``{"values": (B, 2**n)}``: the games of a :func:`train_planted` model on its training samples ``samples``.

    :func:`~interprim.experiments.pipeline.games` on the training split, for the label the model
    was trained on (planted ones changed).
    """
    weights = {name: value for name, value in model.items() if name not in _EXTRA}
    net = load_model(arch, weights, device=device, dataset=dataset)
    return {"values": pipeline.games(net, arch=arch, players=players, n=n, player_seed=player_seed, samples=samples,
                                     split="train", dataset=dataset, targets=model["labels"][samples], device=device,
                                     data_path=data_path)}


# ---------------------------------------------------------------------------------------------
# statistics of one seed
# ---------------------------------------------------------------------------------------------


def analysed_samples(planted: np.ndarray, size: int, ordinary: int, sample_seed: int) -> np.ndarray:
    """The analysed training samples: every planted one plus ``ordinary`` others drawn with ``sample_seed``, sorted."""
    others = np.setdiff1d(np.arange(size), planted)
    chosen = np.random.default_rng(sample_seed).choice(others, size=ordinary, replace=False)
    return np.sort(np.concatenate([planted, chosen])).astype(np.int64)


def top_set(scores: np.ndarray, top: float) -> np.ndarray:
    """Bool mask of the ``ceil(top·N)`` highest scores (``NaN`` lowest; ties to the earlier position)."""
    k = math.ceil(top * scores.shape[0])
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    mask = np.zeros(scores.shape[0], dtype=bool)
    mask[order[:k]] = True
    return mask


def overlap(hard: np.ndarray, confusing: np.ndarray) -> dict[str, Any]:
    """Overlap of two sets of the same ``N`` samples (bool masks): counts, IoU, its chance level, hypergeometric p."""
    from scipy.stats import hypergeom

    n, k_h, k_c = hard.shape[0], int(hard.sum()), int(confusing.sum())
    both = int((hard & confusing).sum())
    expected = k_h * k_c / n
    return {
        "n": n,
        "hard": k_h,
        "confusing": k_c,
        "both": both,
        "iou": both / (k_h + k_c - both),
        "expected_both": expected,
        "chance_iou": expected / (k_h + k_c - expected),
        "p_value": float(hypergeom.sf(both - 1, n, k_h, k_c)),
    }


def salient_counts(record: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, the number of positive and of negative salient interactions (AND and OR, singletons merged, SPEC τ)."""
    r = pipeline.interactions(record)
    mask_and, mask_or = metrics.salient_mask(r)
    a, o = singletons_merged(np.asarray(r.i_and), np.asarray(r.i_or))
    pos = (mask_and & (a > 0)).sum(-1) + (mask_or & (o > 0)).sum(-1)
    neg = (mask_and & (a < 0)).sum(-1) + (mask_or & (o < 0)).sum(-1)
    return pos.astype(np.int64), neg.astype(np.int64)


def _mean(x: np.ndarray) -> float:
    """Mean of the finite entries; NaN (``null`` in results.json) when there are none."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def seed_statistics(
    config: Config, seed: int, model: dict[str, np.ndarray], samples: np.ndarray, record: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Every statistic of one seed (module docstring, step 4) from its training record and extraction."""
    from scipy.stats import mannwhitneyu

    mean_loss_all = np.asarray(model["sample_loss"]).mean(axis=0)
    planted_all = np.asarray(model["planted"])
    labels = np.asarray(model["labels"])
    mean_loss = mean_loss_all[samples]
    is_planted = np.isin(samples, planted_all)
    eta = pipeline.average_orders(record)
    r = pipeline.interactions(record)
    j_pos, j_neg = metrics.order_strengths(r)
    pos, neg = salient_counts(record)
    hard, confusing = top_set(mean_loss, config.hard_top), top_set(eta, config.confusing_top)
    easy = ~hard
    groups = {
        "hard_confusing": hard & confusing,
        "hard_only": hard & ~confusing,
        "confusing_only": ~hard & confusing,
        "neither": ~hard & ~confusing,
    }
    eta_h, eta_e = eta[hard & np.isfinite(eta)], eta[easy & np.isfinite(eta)]
    mw = float(mannwhitneyu(eta_h, eta_e, alternative="two-sided").pvalue) if eta_h.size and eta_e.size else math.nan
    global_top = np.argsort(-mean_loss_all, kind="stable")[: planted_all.size]
    return {
        "seed": seed,
        "accuracy": dict(zip(("train", "test"), np.asarray(model["accuracy"]).tolist())),
        "samples": samples.tolist(),
        "planted": is_planted.tolist(),
        "mean_loss": mean_loss.tolist(),
        "eta": eta.tolist(),
        "salient_pos": pos.tolist(),
        "salient_neg": neg.tolist(),
        "hard": hard.tolist(),
        "confusing": confusing.tolist(),
        "n_no_salient": int(np.isnan(eta).sum()),
        "planting": {
            "count": int(planted_all.size),
            "in_hard": int((hard & is_planted).sum()),
            "in_confusing": int((confusing & is_planted).sum()),
            "in_global_top": int(np.isin(global_top, planted_all).sum()),
            "fitted": int((np.asarray(model["predicted"])[planted_all] == labels[planted_all]).sum()),
            "mean_loss_planted": _mean(mean_loss_all[planted_all]),
            "mean_loss_others": _mean(np.delete(mean_loss_all, planted_all)),
        },
        "by_order": {
            "hard": {"pos": j_pos[hard].mean(0).tolist(), "neg": j_neg[hard].mean(0).tolist()},
            "easy": {"pos": j_pos[easy].mean(0).tolist(), "neg": j_neg[easy].mean(0).tolist()},
        },
        "eta_hard": _mean(eta_h),
        "eta_easy": _mean(eta_e),
        "eta_mannwhitney_p": mw,
        "overlap": overlap(hard, confusing),
        "groups": {
            name: {
                "count": int(mask.sum()),
                "salient": _mean((pos + neg)[mask]),
                "positive": _mean(pos[mask]),
                "negative": _mean(neg[mask]),
                "eta": _mean(eta[mask]),
                "mean_loss": _mean(mean_loss[mask]),
                "planted": int((mask & is_planted).sum()),
            }
            for name, mask in groups.items()
        },
    }


# ---------------------------------------------------------------------------------------------
# over seeds
# ---------------------------------------------------------------------------------------------


def _scalar_over_seeds(values: list[Any]) -> dict[str, Any] | None:
    """:func:`stats.over_seeds` of the defined values (``None``/NaN dropped, ``n`` counts the rest)."""
    kept = [float(v) for v in values if v is not None and np.isfinite(v)]
    return stats.over_seeds(kept) if kept else None


def _vector_over_seeds(rows: list[list[float]]) -> dict[str, list[float]]:
    """Mean and sample sd (``ddof = 1``; NaN for one seed) per entry of equally long vectors."""
    a = np.asarray(rows, dtype=np.float64)
    sd = a.std(axis=0, ddof=1) if a.shape[0] > 1 else np.full(a.shape[1], np.nan)
    return {"mean": a.mean(axis=0).tolist(), "sd": sd.tolist()}


def over_seeds(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± sd over the seeds of every statistic of :func:`seed_statistics`."""
    def over(get: Any) -> dict[str, Any] | None:
        return _scalar_over_seeds([get(s) for s in per_seed])

    out: dict[str, Any] = {
        "by_order": {
            part: {sign: _vector_over_seeds([s["by_order"][part][sign] for s in per_seed]) for sign in ("pos", "neg")}
            for part in ("hard", "easy")
        },
        "eta_hard": over(lambda s: s["eta_hard"]),
        "eta_easy": over(lambda s: s["eta_easy"]),
        "eta_hard_minus_easy": _scalar_over_seeds(
            [None if s["eta_hard"] is None or s["eta_easy"] is None else s["eta_hard"] - s["eta_easy"]
             for s in per_seed]
        ),
        "overlap": {key: over(lambda s, key=key: s["overlap"][key])
                    for key in ("both", "iou", "chance_iou", "p_value", "hard", "confusing")},
        "planting": {key: over(lambda s, key=key: s["planting"][key]) for key in per_seed[0]["planting"]},
        "accuracy": {key: over(lambda s, key=key: s["accuracy"][key]) for key in ("train", "test")},
        "groups": {
            g: {key: over(lambda s, g=g, key=key: s["groups"][g][key])
                for key in ("count", "salient", "positive", "negative", "eta", "mean_loss", "planted")}
            for g in GROUPS
        },
    }
    return out


# ---------------------------------------------------------------------------------------------
# the experiment
# ---------------------------------------------------------------------------------------------


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Per seed: train with planted hard samples, extract the analysed training samples, compare hard and confusing.

    The device (``ctx.device``) is bound to the tasks and stays out of their keys.
    """
    data_path = config.data_path or None
    size = config.train_size or datasets.size(config.dataset, "train", data_path)
    per_seed = []
    trained_by_seed = ctx.map(  # one model per seed, side by side on a parallel executor
        "train-planted",
        partial(train_planted, device=ctx.device, data_path=data_path),
        [dict(arch=config.arch, init_seed=seed, data_seed=seed, plant_seed=seed, train_size=config.train_size,
              per_class=config.per_class, epochs=config.epochs, lr=config.lr, batch_size=config.batch_size,
              adversarial=config.adversarial, dataset=config.dataset) for seed in config.seeds],
    )
    for seed, trained in zip(config.seeds, trained_by_seed):
        samples = analysed_samples(np.asarray(trained.value["planted"]), size, config.ordinary, sample_seed=seed)
        values = ctx.task(
            "train-values",
            partial(train_values, device=ctx.device, data_path=data_path),
            dict(arch=config.arch, players=config.players, n=config.n, player_seed=config.player_seed,
                 samples=samples.tolist(), dataset=config.dataset),
            deps={"model": trained},
        )
        found = ctx.task("extract", pipeline.extract, dict(tol=config.tol), deps={"values": values})
        if seed == config.seeds[0]:
            sections = browser_sections(config, seed, trained.value, samples, values.value, found.value)
        per_seed.append(seed_statistics(config, seed, trained.value, samples, found.value))
    return dict(config=asdict(config), train_size=size, seeds=per_seed, over_seeds=over_seeds(per_seed),
                browser=sections)


def browser_sections(config: Config, seed: int, model: dict[str, np.ndarray], samples: np.ndarray,
                     values: dict[str, np.ndarray], record: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The sample browser (:mod:`.browser`) of one seed: the analysed training samples, labelled with the label the
    model was trained on (``planted``, with the true one, where it was changed), each with its mean training
    loss over the epochs (``train_loss``); ``loss`` is that of the trained label after training."""
    true = datasets.load(config.dataset, "train", config.data_path or None)
    planted, labels = set(np.asarray(model["planted"]).tolist()), np.asarray(model["labels"])
    names = [true.classes[int(labels[i])] + (f" (planted; true {true.classes[int(true.labels[i])]})" if i in planted
                                             else "") for i in samples.tolist()]
    return browser.p1_sections(
        seed, {config.players: {config.arch: (record, values["values"])}}, {config.arch: config.arch},
        [("train", i) for i in samples.tolist()], shared_layers=0, n=config.n, player_seed=config.player_seed,
        dataset=config.dataset, data_path=config.data_path or None,
        extraction=browser.extraction_p1("admm", config.tol), labels=names, note="training samples",
        extra={config.arch: {"train_loss": np.asarray(model["sample_loss"]).mean(axis=0)[samples].tolist()}})


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------


def _save(fig: Any, out_dir: Path, stem: str) -> list[Path]:
    """Lay out ``fig`` and write it as PNG and SVG."""
    fig.tight_layout()
    return save_figure(fig, out_dir, stem)


def _num(x: Any) -> float:
    """A number of results.json as a float (``null`` → NaN)."""
    return math.nan if x is None else float(x)


def _arr(xs: list[Any]) -> np.ndarray:
    return np.asarray([_num(x) for x in xs], dtype=np.float64)


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """J by order of hard vs easy samples (P1 Fig. 5); salient counts of the four groups (Fig. 6, 11);
    ``η`` vs mean training loss per seed. PNG and SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    paths: list[Path] = []
    agg, n_seeds = results["over_seeds"], len(results["seeds"])

    # 1. J_pos (up) and J_neg (down) by order, hard vs easy: mean over seeds, sd as error bars
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, part in zip(axes, ("hard", "easy")):
        for sign, colour, flip in (("pos", "tab:red", 1), ("neg", "tab:blue", -1)):
            mean, sd = _arr(agg["by_order"][part][sign]["mean"]), _arr(agg["by_order"][part][sign]["sd"])
            k = np.arange(1, mean.shape[0])
            ax.bar(k, flip * mean[1:], color=colour, yerr=None if n_seeds < 2 else sd[1:], capsize=2,
                   label=f"J_{sign}")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xlabel("order k")
        ax.set_title(f"{part} samples (mean over {n_seeds} seeds)", fontsize=9)
        ax.set_xticks(k)
    axes[0].set_ylabel("J_pos^(k) (up), −J_neg^(k) (down)")
    axes[0].legend(fontsize=8)
    paths += _save(fig, out_dir, "hard-vs-confusing-by-order")

    # 2. salient interactions per sample in the four groups
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    x = np.arange(len(GROUPS))
    for offset, key, colour in ((-0.2, "positive", "tab:red"), (0.2, "negative", "tab:blue")):
        stat = [agg["groups"][g][key] for g in GROUPS]
        mean = np.array([math.nan if s is None else s["mean"] for s in stat])
        sd = np.array([math.nan if s is None or s["n"] < 2 else s["sd"] for s in stat])
        ax.bar(x + offset, mean, width=0.4, yerr=sd, capsize=3, color=colour, label=f"{key} salient")
    counts = [agg["groups"][g]["count"] for g in GROUPS]
    ax.set_xticks(x, [f"{GROUP_LABELS[g]}\n(n ≈ {c['mean']:.1f})" if c else GROUP_LABELS[g]
                      for g, c in zip(GROUPS, counts)], fontsize=8)
    ax.set_ylabel("salient interactions per sample")
    ax.set_title(f"mean ± sd over {n_seeds} seeds", fontsize=9)
    ax.legend(fontsize=8)
    paths += _save(fig, out_dir, "hard-vs-confusing-groups")

    # 3. η vs mean training loss, one panel per seed
    fig, axes = plt.subplots(1, n_seeds, figsize=(4.2 * n_seeds, 3.9), squeeze=False)
    for ax, s in zip(axes[0], results["seeds"]):
        loss, eta = _arr(s["mean_loss"]), _arr(s["eta"])
        planted, hard, conf = (np.asarray(s[key], dtype=bool) for key in ("planted", "hard", "confusing"))
        ax.scatter(loss[~planted], eta[~planted], s=9, alpha=0.6, label="ordinary")
        ax.scatter(loss[planted], eta[planted], s=16, marker="x", color="tab:red", label="planted")
        ax.axvline(loss[hard].min(), color="grey", ls="--", lw=0.8)
        if conf.any() and np.isfinite(eta[conf]).any():
            ax.axhline(np.nanmin(eta[conf]), color="grey", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("mean training loss over epochs")
        ax.set_ylabel("η (average order)")
        o = s["overlap"]
        ax.set_title(f"seed {s['seed']}: |H∩C| = {o['both']} of {o['hard']}/{o['confusing']}\n"
                     f"IoU {o['iou']:.2f} (chance {o['chance_iou']:.2f}), p = {o['p_value']:.2g}", fontsize=8)
        ax.legend(fontsize=7, loc="best")
    paths += _save(fig, out_dir, "hard-vs-confusing-eta-loss")
    return paths


def _fmt(x: dict[str, Any] | None, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    return f"{x['mean']:.{digits}f} ± {x['sd']:.{digits}f}" if x["n"] > 1 else f"{x['mean']:.{digits}f}"


def summary(results: dict[str, Any]) -> str:
    """The headline numbers: planting, η and J of hard vs easy, overlap with chance and p, the four groups."""
    agg, cfg = results["over_seeds"], results["config"]
    seeds = [s["seed"] for s in results["seeds"]]
    n = results["seeds"][0]["overlap"]["n"]
    pl = agg["planting"]
    mw = ", ".join(f"{_num(s['eta_mannwhitney_p']):.2g}" for s in results["seeds"])
    hyper = ", ".join(f"{s['overlap']['p_value']:.2g}" for s in results["seeds"])
    setup = (
        f"{cfg['arch']} on {results['train_size']} MNIST-10k training images, {cfg['epochs']} epochs, "
        f"{'adversarial' if cfg['adversarial'] else 'normal'} training, {int(pl['count']['mean'])} planted hard samples "
        f"(classes 1-9 → 0); {n} analysed training samples (planted + {cfg['ordinary']} ordinary), "
        f"{cfg['n']} players at the {cfg['players']}. Hard = top {cfg['hard_top']:.0%} mean training loss, "
        f"confusing = top {cfg['confusing_top']:.0%} η, among the analysed samples. Seeds {seeds}; mean ± sd over seeds."
    )
    planting = (
        f"- accuracy: train {_fmt(agg['accuracy']['train'])}, test {_fmt(agg['accuracy']['test'])}; planted samples "
        f"fitted (predicted 0) {_fmt(pl['fitted'], 1)}; planted among the top-{int(pl['count']['mean'])} mean losses of "
        f"the whole training set {_fmt(pl['in_global_top'], 1)}; planted among the analysed hard samples "
        f"{_fmt(pl['in_hard'], 1)} of {_fmt(agg['overlap']['hard'], 0)}; planted among the confusing samples "
        f"{_fmt(pl['in_confusing'], 1)}"
    )
    lines = [
        setup, "", planting,
        (f"- η: hard {_fmt(agg['eta_hard'])}, easy {_fmt(agg['eta_easy'])}, hard − easy "
        f"{_fmt(agg['eta_hard_minus_easy'])}; Mann-Whitney p per seed {mw}"),
        (f"- overlap of hard and confusing: |H∩C| {_fmt(agg['overlap']['both'], 1)}, IoU {_fmt(agg['overlap']['iou'])} "
        f"(chance {_fmt(agg['overlap']['chance_iou'])}); hypergeometric p per seed {hyper}"),
        "",
        "| order k | J_pos hard | J_pos easy | J_neg hard | J_neg easy |", "|--:|--:|--:|--:|--:|",
    ]
    by = agg["by_order"]
    for k in range(1, len(by["hard"]["pos"]["mean"])):
        cells = [f"{_num(by[p][s]['mean'][k]):.3f}" + (f" ± {_num(by[p][s]['sd'][k]):.3f}" if len(seeds) > 1 else "")
                 for s, p in (("pos", "hard"), ("pos", "easy"), ("neg", "hard"), ("neg", "easy"))]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines += ["", "| group | samples | planted | salient / sample | positive | negative | η | mean loss |",
              "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for g in GROUPS:
        e = agg["groups"][g]
        lines.append(f"| {GROUP_LABELS[g]} | {_fmt(e['count'], 1)} | {_fmt(e['planted'], 1)} | {_fmt(e['salient'], 1)} | "
                     f"{_fmt(e['positive'], 1)} | {_fmt(e['negative'], 1)} | {_fmt(e['eta'], 2)} | "
                     f"{_fmt(e['mean_loss'], 2)} |")
    return "\n".join(lines) + "\n"
