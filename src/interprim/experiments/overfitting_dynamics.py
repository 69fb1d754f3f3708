"""``overfitting-dynamics`` (P1 Fig. 4, §2.2 Hypothesis 2, SPEC §4 and §7): what the overfitting phase adds.

P1 trains a DNN **normally** (no adversarial training, P1 App. F.1 and §2.2), splits training into a
*learning phase* (the gap between test and training loss stays small) and an *overfitting phase*
(the gap widens), and shows that the interactions at a late epoch of the overfitting phase have
more strength at high orders, and more mutually offsetting (negative) strength, than at the end of
the learning phase. Per order ``k`` (P1 Eq. 4, SPEC §4), over the salient interactions:

``J_pos^(k) = Σ_{type} Σ_{|S|=k} max(I_type(S), 0)``, ``J_neg^(k) = Σ_{type} Σ_{|S|=k} |min(I_type(S), 0)|``

(:func:`interprim.metrics.order_strengths`), averaged over samples.

**Training.** ``arch`` on a small subset of MNIST-10k (``subset``, e.g. 1000 images) so that it
overfits within ``epochs``: SGD with momentum 0.9, constant ``lr``, ``batch_size``; initial weights
from ``init_seed = seed``, data order from ``data_seed = seed``. Train and test loss (clean, eval
mode) are recorded after every epoch; ``gap = test_loss − train_loss``.

**End of the learning phase** (:func:`learning_phase_end`, the rule of this experiment): the
early-stopping epoch. Walking through the epochs, an epoch *improves* when its test loss is below the
best test loss so far minus ``min_delta``; the end of the learning phase is the last improving epoch
at the first moment that ``patience`` consecutive epochs have not improved. After it the test loss
no longer falls while the training loss keeps falling, so the gap widens (P1's overfitting phase).
A run in which the test loss keeps improving (no ``patience`` epochs without improvement) has no
boundary: its interactions are not analysed and the seed says so. The rule uses the test loss, not
the gap, because the gap grows from the first epochs on (the training loss falls faster from the
start), so "where the gap begins to widen" is not a point of the curve.

**Epochs analysed**: the boundary ``e*``, the late epoch (``late_epoch``, ``0`` = the last one) and
``intermediate`` epochs evenly spaced between them. The run is trained twice: once for the curves
(which give ``e*``), then again, identically (same seeds; bitwise identical on a CPU, which the
results check as ``rerun_max_abs_diff`` of the loss curves), keeping the weights of the analysed
epochs; so only those checkpoints are stored.

**Interactions**: ``samples`` training images (from the model's training subset) and ``samples``
test images, drawn once (``sample_seed``); players as in :mod:`.jaccard_by_order` (``"layer"``: P1's
cells of the 5×5 grid on the feature map after the low layers; ``"input"``: the control), the same
for every epoch; sparse AND-OR interactions; one SPEC ``τ`` per model (epoch) and choice of players
over all its analysed samples (both splits).

**Numbers** per seed, epoch and split: ``J̄_pos^(k)``, ``J̄_neg^(k)`` (means over samples), the mean
average order ``η̄`` (P1 §3.1, samples without salient interactions left out), the *high-order share*
``Σ_{k>n/2} (J̄_pos+J̄_neg)^(k) / Σ_k (J̄_pos+J̄_neg)^(k)``, the *negative share*
``Σ_k J̄_neg^(k) / Σ_k (J̄_pos+J̄_neg)^(k)`` and the mean ``|v(x) − v(x_∅)|`` (the output scale, which
grows with the confidence of an overfitting model and with it every raw strength). The change
late − boundary of each (η, high-order share, high-order strength ``Σ_{k>n/2}``, negative share) comes
with a paired bootstrap 95 % CI over the samples (the same samples at both epochs); over seeds, mean ±
sd and the number of seeds whose CI lies above 0. P1's claim is a positive change of the high-order
share and of η (the scale-free numbers).

**Sample browser** (``results["browser"]``, :mod:`.browser`): per choice of players, the first analysed seed's
model at the end of the learning phase and at the late epoch on the first samples of every split, with their
players drawn, the top salient interactions of each epoch (salient at both: shared), η and loss.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics
from ..interactions import Interactions
from ..train import TrainConfig, epoch_path, load_model_state, train
from . import browser, datasets, pipeline, stats
from .checks import check_counts, check_data, check_seeds
from .figures import save_figure
from .jaccard_by_order import (
    SPLITS,
    above_zero,
    below_zero,
    check_common,
    mean_sd,
    sample_pools,
    sample_sets,
    spec_tau,
)
from .models import build_model, load_model, subset_indices

NAME = "overfitting-dynamics"
DESCRIPTION = "P1 Fig. 4: loss curves, the end of the learning phase, and J_pos/J_neg by order there and when overfitting"
CURVES = ("train_loss", "test_loss", "train_acc", "test_acc")
CHANGES = ("eta", "high_share", "high_strength", "neg_share")


@dataclass
class Config:
    """Settings of the experiment (module docstring). ``late_epoch = 0`` analyses the last epoch."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    arch: str = "lenet"
    epochs: int = 40
    lr: float = 0.01
    batch_size: int = 64
    subset: str = "half0"
    subset_size: int = 1000
    patience: int = 5
    min_delta: float = 0.0
    late_epoch: int = 0
    intermediate: int = 1
    samples: int = 50
    splits: list[str] = field(default_factory=lambda: ["train", "test"])
    sample_seed: int = 0
    n: int = 8
    players: list[str] = field(default_factory=lambda: ["layer"])
    player_seed: int = 0
    solver: str = "lp"
    tol: float = 1e-3
    n_boot: int = 1000
    dataset: str = "mnist10k"
    data_path: str = ""

    def __post_init__(self) -> None:
        check_seeds(self.seeds)
        check_data(self)
        check_common(self.arch, self.players, self.n, self.solver, self.tol, self.dataset)
        bad = [s for s in self.splits if s not in SPLITS]
        if not self.splits or bad or len(set(self.splits)) != len(self.splits):
            raise ValueError(f"splits must be a non-empty list of distinct values of {SPLITS}, got {self.splits!r}.")
        check_counts(self, ("epochs", "batch_size", "subset_size", "patience", "n_boot"))
        if self.patience >= self.epochs:
            raise ValueError(f"patience={self.patience} must be < epochs={self.epochs}: the rule needs `patience` "
                             f"epochs after the end of the learning phase.")
        if not 0 <= self.late_epoch <= self.epochs:
            raise ValueError(f"late_epoch must be in [0, epochs={self.epochs}] (0: the last epoch), got {self.late_epoch}.")
        if self.intermediate < 0 or self.min_delta < 0:
            raise ValueError(f"intermediate and min_delta must be >= 0, got {self.intermediate}, {self.min_delta}.")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}.")
        if self.samples < 3:
            raise ValueError(f"samples must be >= 3 (bootstrap over samples), got {self.samples}.")
        if self.sample_seed < 0 or self.player_seed < 0:
            raise ValueError(f"sample_seed and player_seed must be >= 0, got {self.sample_seed}, {self.player_seed}.")
        pools = sample_pools(self.dataset, self.subset, self.subset_size, self.n, self.data_path or None)
        if self.samples > min(pools["train"].size, pools["test"].size):
            raise ValueError(f"samples={self.samples} does not fit in the {pools['train'].size} training images of "
                             f"subset {self.subset!r} (or the {pools['test'].size} test images).")


# ---------------------------------------------------------------------------------------------
# the rule for the end of the learning phase
# ---------------------------------------------------------------------------------------------


def learning_phase_end(test_loss: Sequence[float], patience: int, min_delta: float = 0.0) -> int | None:
    """The end of the learning phase: the 1-based early-stopping epoch of ``test_loss`` (module docstring).

    Epoch ``e`` improves when ``test_loss[e] < best − min_delta``, ``best`` the lowest test loss of
    the epochs before it (``+∞`` before the first). The result is the last improving epoch at the
    first time ``patience`` consecutive epochs have not improved; ``None`` when that never happens.
    A non-finite loss never improves.
    """
    if patience < 1 or min_delta < 0:
        raise ValueError(f"patience must be >= 1 and min_delta >= 0, got {patience}, {min_delta}.")
    best, best_epoch, waited = math.inf, None, 0
    for epoch, loss in enumerate(test_loss, start=1):
        if math.isfinite(loss) and loss < best - min_delta:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited >= patience and best_epoch is not None:
                return best_epoch
    return None


def analysed_epochs(boundary: int, late: int, intermediate: int) -> list[int]:
    """``[boundary, …, late]``: ``intermediate`` epochs evenly spaced strictly between the two (rounded, unique)."""
    inner = np.rint(np.linspace(boundary, late, intermediate + 2)[1:-1]).astype(int)
    return sorted({boundary, late, *(int(e) for e in inner)})


# ---------------------------------------------------------------------------------------------
# task functions
# ---------------------------------------------------------------------------------------------


def train_run(
    *,
    arch: str,
    init_seed: int,
    data_seed: int,
    epochs: int,
    lr: float,
    batch_size: int,
    subset: str,
    subset_size: int,
    keep: Sequence[int],
    dataset: str = "mnist10k",
    device: str = "cpu",
    data_path: str | None = None,
) -> dict[str, np.ndarray]:
    """Train ``arch`` normally on the MNIST-10k ``subset``; the per-epoch curves and the weights after the epochs ``keep``.

    Returns ``{"train_loss", "test_loss", "train_acc", "test_acc"}`` (one value per epoch, clean
    inputs, eval mode; :class:`~interprim.train.History`) and ``"epoch{k}.{name}"`` for every weight
    ``name`` of the model after epoch ``k`` in ``keep``.
    """
    train_data, test_data = (datasets.load(dataset, split, data_path) for split in datasets.SPLITS)
    train_data = train_data.subset(subset_indices(subset, len(train_data), subset_size))
    model = build_model(arch, seed=init_seed, dataset=dataset)
    config = TrainConfig(epochs=epochs, lr=lr, batch_size=batch_size, adversarial=False, seed=data_seed,
                         checkpoint_epochs=tuple(keep), device=device)
    with tempfile.TemporaryDirectory() as tmp:
        history = train(model, train_data.tensors(), test_data.tensors(), config, out_dir=tmp if keep else None,
                        progress=False)
        out = {name: np.asarray(getattr(history, name), dtype=np.float64) for name in CURVES}
        for k in keep:
            for name, tensor in load_model_state(epoch_path(tmp, k)).items():
                out[f"epoch{k}.{name}"] = tensor.numpy()
    return out


def epoch_values(
    *,
    arch: str,
    players: str,
    n: int,
    player_seed: int,
    split: str,
    samples: Sequence[int],
    epoch: int,
    run: Mapping[str, np.ndarray],
    dataset: str = "mnist10k",
    device: str = "cpu",
    data_path: str | None = None,
) -> dict[str, np.ndarray]:
    """``{"values": (B, 2**n)}``: the games (:func:`~interprim.experiments.pipeline.games`) of the model after
    ``epoch`` of ``run``."""
    prefix = f"epoch{epoch}."
    weights = {name[len(prefix):]: value for name, value in run.items() if name.startswith(prefix)}
    if not weights:
        raise ValueError(f"the training run keeps no weights of epoch {epoch}; it keeps "
                         f"{sorted({k.split('.')[0] for k in run if k.startswith('epoch')})}.")
    model = load_model(arch, weights, device=device, dataset=dataset)
    return {"values": pipeline.games(model, arch=arch, players=players, n=n, player_seed=player_seed, split=split,
                                     samples=samples, dataset=dataset, device=device, data_path=data_path)}


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------


def per_sample(r: Interactions, tau: float) -> dict[str, np.ndarray]:
    """``j_pos``, ``j_neg`` ``(S, n)`` (orders ``1 … n``), ``eta`` ``(S,)`` and ``change`` ``(S,)`` of a batch at ``τ``."""
    j_pos, j_neg = metrics.order_strengths(r, threshold=tau)
    eta = np.asarray(metrics.average_order(r, threshold=tau), dtype=np.float64)
    return {"j_pos": j_pos[:, 1:], "j_neg": j_neg[:, 1:], "eta": eta,
            "change": np.abs(np.asarray(r.output_change(), dtype=np.float64))}


def _shares(j_pos: np.ndarray, j_neg: np.ndarray) -> dict[str, np.ndarray]:
    """High-order share, high-order strength and negative share of mean strengths ``(..., n)`` (module docstring)."""
    n = j_pos.shape[-1]
    total = j_pos + j_neg
    high = total[..., np.arange(1, n + 1) > n / 2].sum(-1)
    all_ = total.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"high_share": np.where(all_ > 0, high / all_, np.nan), "high_strength": high,
                "neg_share": np.where(all_ > 0, j_neg.sum(-1) / all_, np.nan)}


def epoch_summary(x: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Means over the samples of :func:`per_sample` ``x``: ``J̄`` per order, ``η̄``, the shares, the output scale."""
    j_pos, j_neg = x["j_pos"].mean(0), x["j_neg"].mean(0)
    eta = x["eta"][np.isfinite(x["eta"])]
    return {
        "j_pos": j_pos.tolist(),
        "j_neg": j_neg.tolist(),
        "eta": float(eta.mean()) if eta.size else math.nan,
        "n_eta_undefined": int(x["eta"].size - eta.size),
        **{name: float(v) for name, v in _shares(j_pos, j_neg).items()},
        "output_change": float(x["change"].mean()),
    }


def _statistics(early: Mapping[str, np.ndarray], late: Mapping[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """late − early of :data:`CHANGES` on the samples ``rows`` ``(B, S)``; η over the samples defined at both epochs."""
    out = {}
    for name in ("high_share", "high_strength", "neg_share"):
        a = _shares(early["j_pos"][rows].mean(-2), early["j_neg"][rows].mean(-2))[name]
        b = _shares(late["j_pos"][rows].mean(-2), late["j_neg"][rows].mean(-2))[name]
        out[name] = b - a
    d = late["eta"] - early["eta"]
    d = d[rows]
    ok = np.isfinite(d)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["eta"] = np.where(ok.sum(-1) > 0, np.where(ok, d, 0).sum(-1) / ok.sum(-1), np.nan)
    return out


def change(early: Mapping[str, np.ndarray], late: Mapping[str, np.ndarray], *, n_boot: int, seed: int) -> dict[str, Any]:
    """Late − early of η̄ and of the shares on the same samples, each with a paired bootstrap 95 % CI over samples.

    A resample draws sample indices with replacement (:func:`~.stats.bootstrap_indices`) and recomputes
    both epochs' means on them; ``Δη`` is the mean of the per-sample ``η_late − η_early`` over the
    samples whose ``η`` is defined at both epochs.
    """
    count = early["eta"].size
    point = _statistics(early, late, np.arange(count)[None])
    boot = _statistics(early, late, stats.bootstrap_indices(count, n_boot, seed))
    out = {}
    for name in CHANGES:
        values = boot[name][np.isfinite(boot[name])]
        ci = (np.quantile(values, [0.025, 0.975]).tolist() if values.size else [math.nan, math.nan])
        out[name] = {"value": float(point[name][0]), "ci": [float(c) for c in ci],
                     "n_undefined": int(boot[name].size - values.size)}
    return out


def over_seeds(per_seed: Sequence[Mapping[str, Any]], players: Sequence[str], splits: Sequence[str]) -> dict[str, Any]:
    """Per choice of players and split: mean ± sd over the analysed seeds at the boundary and the late epoch, and of the changes."""
    done = [s for s in per_seed if s["skipped"] is None]
    out: dict[str, Any] = {
        "boundary": mean_sd([s["boundary"] for s in per_seed]),
        "seeds_analysed": [s["seed"] for s in done],
        "gap_at_boundary": mean_sd([s["gap_at"]["boundary"] for s in done]),
        "gap_at_late": mean_sd([s["gap_at"]["late"] for s in done]),
    }
    for where in players:
        out[where] = {}
        for split in splits:
            entry: dict[str, Any] = {}
            for role in ("boundary", "late"):
                rows = [s["players"][where]["by_role"][role][split] for s in done]
                n = len(rows[0]["j_pos"]) if rows else 0
                entry[role] = {
                    **{name: [mean_sd([r[name][j] for r in rows]) for j in range(n)] for name in ("j_pos", "j_neg")},
                    **{name: mean_sd([r[name] for r in rows])
                       for name in ("eta", "high_share", "high_strength", "neg_share", "output_change")},
                }
            entry["change"] = {}
            for name in CHANGES:
                rows = [s["players"][where]["change"][split][name] for s in done]
                entry["change"][name] = mean_sd([r["value"] for r in rows])
                entry["change"][f"{name}_ci_above_zero"] = sum(1 for r in rows if above_zero(r["ci"]))
                entry["change"][f"{name}_ci_below_zero"] = sum(1 for r in rows if below_zero(r["ci"]))
            out[where][split] = entry
    return out


# ---------------------------------------------------------------------------------------------
# the experiment
# ---------------------------------------------------------------------------------------------


def run_spec(config: Config, seed: int) -> dict[str, Any]:
    """The :func:`train_run` parameters of the run of ``seed`` (without ``keep``)."""
    return dict(arch=config.arch, init_seed=seed, data_seed=seed, epochs=config.epochs, lr=config.lr,
                batch_size=config.batch_size, subset=config.subset, subset_size=config.subset_size,
                dataset=config.dataset)


def _analyse(
    ctx: Any, config: Config, run: Any, epochs: list[int], players: str, sets: Mapping[str, list[int]]
) -> dict[int, dict[str, tuple[Interactions, np.ndarray]]]:
    """The interactions and games ``(B, 2**n)`` of every analysed epoch and split of ``run`` (a ``Done`` of
    :func:`train_run`)."""
    jobs = [(e, split) for e in epochs for split in config.splits]
    params = [dict(arch=config.arch, players=players, n=config.n, player_seed=config.player_seed, split=split,
                   samples=sets[split], epoch=e, dataset=config.dataset) for e, split in jobs]
    games = partial(epoch_values, device=ctx.device, data_path=config.data_path or None)
    values = ctx.map("epoch-values", games, params, deps={"run": run})
    found = ctx.map("extract", pipeline.extract, [dict(solver=config.solver, tol=config.tol)] * len(jobs),
                    deps=[{"values": v} for v in values])
    out: dict[int, dict[str, tuple[Interactions, np.ndarray]]] = {e: {} for e in epochs}
    for (e, split), r, v in zip(jobs, found, values):
        out[e][split] = (pipeline.interactions(r.value), v.value["values"])
    return out


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Train per seed, find the end of the learning phase, extract the interactions of the analysed epochs, compare."""
    sets = sample_sets(config.subset, config.subset_size, config.samples, False, config.sample_seed,
                       dataset=config.dataset, n=config.n, data_path=config.data_path or None)
    trainer = partial(train_run, device=ctx.device, data_path=config.data_path or None)
    per_seed, sections = [], None
    runs = ctx.map("train-run", trainer, [{**run_spec(config, seed), "keep": []} for seed in config.seeds])
    for seed, curves_done in zip(config.seeds, runs):
        spec = run_spec(config, seed)
        curves_run = curves_done.value
        curves = {name: np.asarray(curves_run[name], dtype=np.float64) for name in CURVES}
        curves["gap"] = curves["test_loss"] - curves["train_loss"]
        boundary = learning_phase_end(curves["test_loss"].tolist(), config.patience, config.min_delta)
        late = config.late_epoch or config.epochs
        entry: dict[str, Any] = dict(seed=seed, curves={k: v.tolist() for k, v in curves.items()}, boundary=boundary,
                                     late=late, epochs_analysed=[], skipped=None, players={})
        if boundary is None:
            entry["skipped"] = (f"the test loss improved at least once in every {config.patience} epochs up to epoch "
                                f"{config.epochs}: no end of the learning phase; train longer or lower patience.")
        elif boundary >= late:
            entry["skipped"] = f"the learning phase ends at epoch {boundary}, not before the late epoch {late}."
        if entry["skipped"] is not None:
            per_seed.append(entry)
            continue
        epochs = analysed_epochs(boundary, late, config.intermediate)
        kept = ctx.task("train-run", trainer, {**spec, "keep": epochs})
        entry["epochs_analysed"] = epochs
        entry["gap_at"] = {"boundary": float(curves["gap"][boundary - 1]), "late": float(curves["gap"][late - 1])}
        entry["rerun_max_abs_diff"] = max(float(np.max(np.abs(np.asarray(kept.value[name]) - curves[name])))
                                          for name in CURVES)
        games = {}
        for players in config.players:
            games[players] = _analyse(ctx, config, kept, epochs, players, sets)
            found = {e: {split: r for split, (r, _) in by_split.items()} for e, by_split in games[players].items()}
            by_epoch, samples_of = [], {}
            for e in epochs:
                tau = spec_tau(*(np.asarray(r.output_change()) for r in found[e].values()))
                samples_of[e] = {split: per_sample(r, tau) for split, r in found[e].items()}
                by_epoch.append(dict(epoch=e, tau=tau, splits={s: epoch_summary(x) for s, x in samples_of[e].items()}))
            entry["players"][players] = dict(
                by_epoch=by_epoch,
                by_role={"boundary": by_epoch[0]["splits"], "late": by_epoch[-1]["splits"]},
                change={split: change(samples_of[boundary][split], samples_of[late][split], n_boot=config.n_boot,
                                      seed=seed) for split in config.splits},
            )
        per_seed.append(entry)
        if sections is None:  # the first seed analysed: the end of the learning phase and the late epoch
            roles = {boundary: f"epoch {boundary} (end of the learning phase)", late: f"epoch {late} (late)"}
            sections = browser.p1_set_sections(
                seed, {p: {roles[e]: by_epoch[e] for e in roles} for p, by_epoch in games.items()},
                {name: config.arch for name in roles.values()}, {split: sets[split] for split in config.splits},
                {split: split for split in config.splits}, shared_layers=0, n=config.n,
                player_seed=config.player_seed, dataset=config.dataset, data_path=config.data_path or None,
                extraction=browser.extraction_p1(config.solver, config.tol), note=f"{config.arch}, trained normally")
    return dict(config=asdict(config), samples=sets, seeds=per_seed,
                over_seeds=over_seeds(per_seed, config.players, config.splits), browser=sections or [])


# ---------------------------------------------------------------------------------------------
# figures and summary
# ---------------------------------------------------------------------------------------------


def _mean(x: Mapping[str, Any] | None) -> float:
    return math.nan if x is None else float(x["mean"])


def _sd(x: Mapping[str, Any] | None) -> float:
    return 0.0 if x is None or x["sd"] is None or not np.isfinite(x["sd"]) else float(x["sd"])


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """The loss curves with the phase boundary (Fig. 4a, b) and ``J_pos``/``J_neg`` by order at the two epochs (Fig. 4c)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_gap) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, s in enumerate(results["seeds"]):
        color = f"C{i}"
        epochs = np.arange(1, len(s["curves"]["train_loss"]) + 1)
        ax_loss.plot(epochs, s["curves"]["train_loss"], "--", color=color, label=f"seed {s['seed']} train")
        ax_loss.plot(epochs, s["curves"]["test_loss"], "-", color=color, label=f"seed {s['seed']} test")
        ax_gap.plot(epochs, s["curves"]["gap"], "-", color=color, label=f"seed {s['seed']}")
        for ax in (ax_loss, ax_gap):
            if s["boundary"] is not None:
                ax.axvline(s["boundary"], color=color, linestyle=":", linewidth=1)
            for e in s["epochs_analysed"]:
                ax.plot([e], [s["curves"]["test_loss" if ax is ax_loss else "gap"][e - 1]], "o", color=color, ms=4)
    ax_loss.set(xlabel="epoch", ylabel="loss", yscale="log", title="(a) train (dashed) and test loss")
    ax_gap.set(xlabel="epoch", ylabel="test − train loss", title="(b) loss gap; dotted: end of the learning phase")
    ax_loss.legend(fontsize=6, ncol=2)
    ax_gap.legend(fontsize=7)
    fig.tight_layout()
    paths = save_figure(fig, out_dir, f"{NAME}-loss")

    rows = [(where, split) for where in results["config"]["players"] for split in results["config"]["splits"]]
    if not results["over_seeds"]["seeds_analysed"]:
        return paths
    fig, axes = plt.subplots(len(rows), 2, figsize=(10, 3.3 * len(rows)), squeeze=False)
    width = 0.38
    for (ax_raw, ax_share), (where, split) in zip(axes, rows):
        entry = results["over_seeds"][where][split]
        for j, (role, color) in enumerate((("boundary", "C0"), ("late", "C3"))):
            pos = np.array([_mean(x) for x in entry[role]["j_pos"]])
            neg = np.array([_mean(x) for x in entry[role]["j_neg"]])
            k = np.arange(1, pos.size + 1) + (j - 0.5) * width
            ax_raw.bar(k, pos, width, yerr=[_sd(x) for x in entry[role]["j_pos"]], color=color, alpha=0.8,
                       label=f"{role} epoch", capsize=2)
            ax_raw.bar(k, -neg, width, yerr=[_sd(x) for x in entry[role]["j_neg"]], color=color, alpha=0.45,
                       capsize=2)
            total = pos + neg
            ax_share.bar(k, total / total.sum() if total.sum() > 0 else total, width, color=color, alpha=0.8,
                         label=f"{role}: η̄ {_mean(entry[role]['eta']):.2f}, high-order share "
                               f"{_mean(entry[role]['high_share']):.2f}")
        ax_raw.axhline(0, color="black", linewidth=0.6)
        ax_raw.set(xlabel="order k", ylabel="J_pos (up), −J_neg (down)",
                   title=f"players at the {where}, {split} samples (mean ± sd over seeds)")
        ax_share.set(xlabel="order k", ylabel="share of strength (J_pos + J_neg)",
                     title=f"normalised by the total strength, {split} samples")
        ax_raw.legend(fontsize=7)
        ax_share.legend(fontsize=7)
    fig.tight_layout()
    return paths + save_figure(fig, out_dir, f"{NAME}-orders")


def _fmt(x: Mapping[str, Any] | None, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    return f"{x['mean']:.{digits}f} ± {x['sd']:.{digits}f}" if x["n"] > 1 else f"{x['mean']:.{digits}f}"


def summary(results: dict[str, Any]) -> str:
    """The phase boundaries, and per choice of players and split the numbers at the two epochs and their change."""
    config, overall = results["config"], results["over_seeds"]
    lines = [
        (f"{config['arch']} trained normally for {config['epochs']} epochs on {config['subset']} ({config['subset_size']} "
        f"images), lr {config['lr']}; end of the learning phase = early-stopping epoch of the test loss with patience "
        f"{config['patience']}. {config['samples']} samples per split, n = {config['n']} players."), "",
        ("| seed | end of learning phase | late epoch | min test loss | test loss at late | gap at boundary | gap at late |"
        " analysed |"), "|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for s in results["seeds"]:
        test = s["curves"]["test_loss"]
        b = s["boundary"]
        lines.append(f"| {s['seed']} | {b if b is not None else 'none'} | {s['late']} | {min(test):.4f} | "
                     f"{test[s['late'] - 1]:.4f} | {s['curves']['gap'][b - 1] if b else float('nan'):.4f} | "
                     f"{s['curves']['gap'][s['late'] - 1]:.4f} | {s['skipped'] or s['epochs_analysed']} |")
    lines += ["", (f"Seeds analysed: {overall['seeds_analysed']}. Changes are late − boundary, mean ± sd over seeds; "
              f"'CI > 0' counts the seeds whose paired bootstrap 95 % CI over samples lies above 0.")]
    for where in config["players"]:
        for split in config["splits"]:
            entry = overall[where][split]
            lines += ["", f"## players at the {where}, {split} samples", "",
                      "| statistic | boundary | late | change | CI > 0 | CI < 0 |", "|---|--:|--:|--:|--:|--:|"]
            for name in CHANGES:
                lines.append(f"| {name} | {_fmt(entry['boundary'][name])} | {_fmt(entry['late'][name])} | "
                             f"{_fmt(entry['change'][name])} | {entry['change'][f'{name}_ci_above_zero']} | "
                             f"{entry['change'][f'{name}_ci_below_zero']} |")
            lines.append(f"| mean abs(v(x) − v(x_∅)) | {_fmt(entry['boundary']['output_change'])} | "
                         f"{_fmt(entry['late']['output_change'])} | | | |")
            lines += ["", "Every analysed epoch (η̄ / high-order share):", ""]
            for s in results["seeds"]:
                if s["skipped"] is None:
                    steps = [f"epoch {e['epoch']}: {e['splits'][split]['eta']:.3f} / {e['splits'][split]['high_share']:.4f}"
                             for e in s["players"][where]["by_epoch"]]
                    lines.append(f"- seed {s['seed']}: " + " → ".join(steps))
    return "\n".join(lines) + "\n"
