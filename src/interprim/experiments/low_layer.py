"""``low-layer`` (P1 Fig. 8a, SPEC §6-7): do the low layers or the training data decide the confusing samples?

P1 §3.2 gives two ResNet-56s the same low layers (copied from one well-trained donor, P1 App. F.5)
and trains their upper layers on two disjoint sets of 1000 images (red points of Fig. 8a), and
gives two others different low layers (copied from two donors) and trains them on the same data
(blue points). It reads the scatter plots of the average order ``η`` (SPEC §4) by eye: the same low
layers keep the confusing samples although the data change; different low layers jumble them. This
experiment gives the numbers: per pair and seed the Pearson and Spearman correlation of ``η`` and
the IoU of the two top-10 % sets (with its chance level), each with a bootstrap 95 % CI; their mean
± sd over seeds; and the paired bootstrap difference (with its CI) of every pair to each reference.

Models, for every seed ``s`` (one seed per role, so that a pair differs in exactly what it names;
"half0"/"half1" are the two disjoint training subsets of ``subset_size`` images,
:func:`~interprim.experiments.models.subset_indices`):

- donors ``donor-A`` / ``donor-B``: ``arch`` trained on ``donor_subset`` (all of the training data by
  default) for ``donor_epochs`` with ``init_seed = data_seed = s + 2000`` / ``s + 3000``;
- ``dA-half0``, ``dA-half1``, ``dB-half0``: the first ``L`` layers copied from donor A (B), frozen
  unless ``freeze = false``; the upper layers initialised with ``init_seed = s`` and trained on
  half0 (half1) for ``subset_epochs`` with the data order ``data_seed = s``;
  every model with SGD (momentum 0.9) at ``lr`` in batches of ``batch_size``;
- references without shared layers: ``r-half0`` (``init_seed = data_seed = s``, half0), ``r-half1``
  (``s + 1000`` for both seeds, half1) and ``r-init`` (``init_seed = s + 1000``, ``data_seed = s``,
  half0).

Pairs:

- ``same-low-different-data`` (Fig. 8a red): ``dA-half0`` vs ``dA-half1``;
- ``different-low-same-data`` (Fig. 8a blue): ``dA-half0`` vs ``dB-half0``;
- ``everything`` (reference, SPEC §7): ``r-half0`` vs ``r-half1``: every layer initialised
  differently, different data, different data order, no shared layers;
- ``init-only`` (reference): ``r-half0`` vs ``r-init``: the same data and order, different
  initialisation, no shared layers.

Every pair is compared with ``everything`` (``vs_reference``, :func:`comparison.compare
<interprim.experiments.comparison.compare>`) and with each further reference (``vs``): here
``init-only`` and ``different-low-same-data``, so that P1's claim (red agrees more than blue) is
the difference ``same-low-different-data`` − ``different-low-same-data`` with its CI.

``L = shared_layers``, or :func:`interprim.nn.low_layer_count` of ``arch`` (P1's low layers: the
first layer; 9 for ResNet-56) when it is 0. Players (SPEC §5): ``"layer"``: ``n`` cells of the 5×5
grid on the central region of the feature map **after the first L layers** (P1 App. F.2;
:func:`pipeline.player_layer <interprim.experiments.pipeline.player_layer>`), the same cells for every model and sample (``player_seed``); ``"input"``:
the same cells of the image (SPEC §7's control: two models that share their low layers see
identical player features at the layer). Baseline 0, the log-odds of the true label,
adversarial training (one-step PGD, ε = α = 4/255) unless ``adversarial = false``.

Text (``dataset = "sst2"``, P1's BERT-Tiny experiments): ``arch = "bert-tiny"`` trained from scratch
(AdamW, ``optimizer = "adamw"``); the low layers are the embeddings and the first block; the players
are ``n`` words with meaning of each test sentence, masked after the shared layers (``"layer"``) or
at the word embeddings (``"input"``) with the mean vector as baseline (P1 App. F.2); the halves hold
``subset_size`` sentences (2000 in P1); only test sentences with at least ``n`` such words are analysed.

This module also holds what ``low-layer``, ``high-layer`` and ``architecture`` share (the config,
the donors and references, the player layer after the shared layers, the run over seeds and the
summary); :mod:`.high_layer` and :mod:`.architecture` define their models and pairs only.

**Sample browser** (``results["browser"]``, :mod:`.browser`): per choice of players, the first seed's first
analysed test samples with their players drawn (layer cells scaled to the image) and every compared model's
top salient interactions (those salient in all of them marked shared), η and loss; also of ``high-layer`` and
``architecture``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..nn import low_layer_count
from . import browser, comparison, datasets, pipeline, stats
from .checks import check_counts, check_data, check_n, check_players, check_seeds
from .models import accuracy, build_model, subset_indices

NAME = "low-layer"
DESCRIPTION = (
    "P1 Fig. 8a: η agreement of two models with the same low layers trained on different data, vs "
    "different low layers trained on the same data"
)

OTHER_SEED = 1000  # offset of the seeds of the second model of a reference pair
DONOR_SEEDS = {"donor-A": 2000, "donor-B": 3000}  # offsets of the donors' init and data seeds
EVERYTHING = "everything"
INIT_ONLY = "init-only"
REFERENCE_PAIRS = {EVERYTHING: ("r-half0", "r-half1"), INIT_ONLY: ("r-half0", "r-init")}

SAME_LOW = "same-low-different-data"
DIFFERENT_LOW = "different-low-same-data"
PAIRS = {SAME_LOW: ("dA-half0", "dA-half1"), DIFFERENT_LOW: ("dA-half0", "dB-half0"), **REFERENCE_PAIRS}
EXTRA_REFERENCES = (INIT_ONLY, DIFFERENT_LOW)  # compared with besides `everything`


# ---------------------------------------------------------------------------------------------
# config
# ---------------------------------------------------------------------------------------------


@dataclass
class Config:
    """Settings of ``low-layer`` (and the base of ``high-layer`` and ``architecture``); see the module docstring.

    ``shared_layers = 0`` means P1's low layers of ``arch``; ``donor_subset`` is ``"all"`` (P1) or
    ``"first:K"`` (the first ``K`` training images, a cheaper donor).
    """

    TEXT: ClassVar[bool] = True  # whether the experiment also runs on SST-2

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    arch: str = "lenet"
    shared_layers: int = 0
    freeze: bool = True
    donor_epochs: int = 2
    donor_subset: str = "all"
    subset_size: int = 1000
    subset_epochs: int = 10
    lr: float = 0.05
    batch_size: int = 64
    adversarial: bool = True
    optimizer: str = "sgd"
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
        check_seeds(self.seeds, OTHER_SEED, f" (the other roles' seeds are s + {OTHER_SEED}, s + 2000, s + 3000)")
        check_players(self.players)
        check_counts(self, ("donor_epochs", "subset_size", "subset_epochs", "batch_size", "samples", "n_boot"))
        check_data(self, text=self.TEXT)
        check_n(self.n, self.dataset)
        if not (self.lr > 0 and self.tol > 0 and 0 < self.top <= 1):
            raise ValueError(f"lr and tol must be > 0 and 0 < top <= 1, got lr={self.lr}, tol={self.tol}, top={self.top}.")
        if self.shared_layers < 0:
            raise ValueError(f"shared_layers must be >= 0 (0: P1's low layers of arch), got {self.shared_layers}.")
        train_size = datasets.size(self.dataset, "train", self.data_path or None)
        subset_indices("half0", train_size, self.subset_size)
        if self.donor_subset != "all" and not self.donor_subset.startswith("first:"):
            raise ValueError(f"donor_subset must be 'all' or 'first:K', got {self.donor_subset!r}.")
        subset_indices(self.donor_subset, train_size, self.subset_size)
        for players in self.players:
            pipeline.player_layer(self.arch, self.layers_shared(), players, self.dataset)
        usable = len(self.test_samples(limit=False))
        if not 3 <= self.samples <= usable:
            raise ValueError(f"samples must be >= 3 (correlations over samples) and at most the {usable} test samples "
                             f"of {self.dataset} with {self.n} players, got {self.samples}.")

    def layers_shared(self) -> int:
        """``L``, the number of layers copied from the donors: ``shared_layers``, or P1's low layers of
        ``arch`` (:func:`interprim.nn.low_layer_count`) when it is 0."""
        return self.shared_layers or low_layer_count(build_model(self.arch, dataset=self.dataset))

    def test_samples(self, limit: bool = True) -> list[int]:
        """The analysed test samples: the first ``samples`` that have ``n`` players (every image qualifies)."""
        usable = datasets.eligible(self.dataset, "test", self.n, self.data_path or None)
        return [int(i) for i in usable[: self.samples]] if limit else [int(i) for i in usable]

    def model_data(self) -> dict[str, Any]:
        """The training parameters every model of the experiment shares besides the data set's size."""
        return dict(lr=self.lr, batch_size=self.batch_size, adversarial=self.adversarial, dataset=self.dataset,
                    optimizer=self.optimizer)


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------


def donor(config: Config, seed: int, name: str) -> dict[str, Any]:
    """The training parameters of the donor ``name`` (``"donor-A"``, ``"donor-B"``) of ``seed``."""
    own = seed + DONOR_SEEDS[name]
    return dict(arch=config.arch, init_seed=own, data_seed=own, epochs=config.donor_epochs,
                subset=config.donor_subset, **config.model_data())


def trained_on_half(config: Config, arch: str, *, init_seed: int, data_seed: int, subset: str,
                    donor_name: str | None = None) -> dict[str, Any]:
    """A model trained on ``subset`` (half0/half1), with the first ``L`` layers of ``donor_name`` if given."""
    spec: dict[str, Any] = dict(arch=arch, init_seed=init_seed, data_seed=data_seed, epochs=config.subset_epochs,
                                subset=subset, subset_size=config.subset_size, **config.model_data())
    if donor_name is not None:
        spec.update(shared_layers=config.layers_shared(), freeze=config.freeze, donor_arch=config.arch,
                    donor=donor_name)
    return spec


def references(config: Config, seed: int) -> dict[str, dict[str, Any]]:
    """The models of the reference pairs (:data:`REFERENCE_PAIRS`) of ``seed``, all of ``arch``."""
    other = seed + OTHER_SEED
    return {
        "r-half0": trained_on_half(config, config.arch, init_seed=seed, data_seed=seed, subset="half0"),
        "r-half1": trained_on_half(config, config.arch, init_seed=other, data_seed=other, subset="half1"),
        "r-init": trained_on_half(config, config.arch, init_seed=other, data_seed=seed, subset="half0"),
    }


def _models(config: Config, seed: int) -> dict[str, dict[str, Any]]:
    """Every model of ``seed`` (module docstring), donors first."""
    half = dict(init_seed=seed, data_seed=seed)
    return {
        "donor-A": donor(config, seed, "donor-A"),
        "donor-B": donor(config, seed, "donor-B"),
        "dA-half0": trained_on_half(config, config.arch, subset="half0", donor_name="donor-A", **half),
        "dA-half1": trained_on_half(config, config.arch, subset="half1", donor_name="donor-A", **half),
        "dB-half0": trained_on_half(config, config.arch, subset="half0", donor_name="donor-B", **half),
        **references(config, seed),
    }


# ---------------------------------------------------------------------------------------------
# games, η and comparisons
# ---------------------------------------------------------------------------------------------


def compare(
    eta: Mapping[str, Sequence[float]],
    pairs: Mapping[str, tuple[str, str]],
    extra: Sequence[str],
    *,
    top: float,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """:func:`comparison.compare <interprim.experiments.comparison.compare>` with ``everything`` as the
    reference (``vs_reference``), plus ``vs[ref]``: the paired difference ``stat(pair) − stat(ref)``
    with its CI (the same bootstrap resamples) for every pair ``ref`` of ``extra`` other than itself."""
    out = comparison.compare(eta, pairs, EVERYTHING, top=top, n_boot=n_boot, seed=seed)
    for entry in out.values():
        entry["vs"] = {}
    for ref in extra:
        for pair, entry in comparison.compare(eta, pairs, ref, top=top, n_boot=n_boot, seed=seed).items():
            if "vs_reference" in entry:
                out[pair]["vs"][ref] = entry["vs_reference"]
    return out


def over_seeds(
    per_seed: Sequence[Mapping[str, Any]], players: Sequence[str], pairs: Sequence[str], extra: Sequence[str]
) -> dict[str, Any]:
    """:func:`comparison.over_seeds <interprim.experiments.comparison.over_seeds>` (``<stat>_minus_reference``:
    minus ``everything``) plus ``<stat>_minus_<ref>`` (mean ± sd over seeds) for every ``ref`` of ``extra``."""
    out = comparison.over_seeds(per_seed, players, pairs)
    for ref in extra:
        swapped = [
            {"comparisons": {
                where: {p: {"agreement": e["agreement"], "vs_reference": e["vs"][ref]}
                        for p, e in by_pair.items() if ref in e["vs"]}
                for where, by_pair in s["comparisons"].items()
            }}
            for s in per_seed
        ]
        for where, by_pair in comparison.over_seeds(swapped, players, pairs).items():
            for pair, entry in by_pair.items():
                for stat in stats.STATISTICS:
                    out[where][pair][f"{stat}_minus_{ref}"] = entry[f"{stat}_minus_reference"]
    return out


def run_pairs(
    config: Config,
    ctx: Any,
    models: Callable[[Config, int], dict[str, dict[str, Any]]],
    pairs: Mapping[str, tuple[str, str]],
    extra: Sequence[str],
) -> dict[str, Any]:
    """Per seed: train ``models(config, seed)`` (donors first), ``η`` of every compared model for each
    choice of players, :func:`compare` of ``pairs``; then :func:`over_seeds`."""
    samples = config.test_samples()
    shared = config.layers_shared()
    data_path = config.data_path or None
    arches = sorted({spec["arch"] for spec in models(config, config.seeds[0]).values()})
    per_seed: list[dict[str, Any]] = []
    trained_by_seed = ctx.each(lambda seed: comparison.train(ctx, models(config, seed), data_path), config.seeds)
    for seed, trained in zip(config.seeds, trained_by_seed):
        specs = models(config, seed)
        compared = {m: specs[m] for pair in pairs.values() for m in pair}
        etas, comparisons, games = {}, {}, {}
        for players in config.players:
            etas[players], _, games[players] = comparison.average_orders(
                ctx, compared, trained, players, shared_layers=shared, n=config.n, player_seed=config.player_seed,
                samples=samples, tol=config.tol, dataset=config.dataset, data_path=data_path)
            comparisons[players] = compare(etas[players], pairs, extra, top=config.top, n_boot=config.n_boot,
                                           seed=seed)
        if seed == config.seeds[0]:
            sections = browser.p1_sections(
                seed, games, {m: s["arch"] for m, s in compared.items()}, [("test", i) for i in samples],
                shared_layers=shared, n=config.n, player_seed=config.player_seed, dataset=config.dataset,
                data_path=data_path, extraction=browser.extraction_p1("admm", config.tol))
        per_seed.append(dict(seed=seed, accuracy={m: accuracy(d.value) for m, d in trained.items()},
                             eta=etas, comparisons=comparisons))
    return dict(
        config=asdict(config),
        shared_layers=shared,
        samples=samples,
        player_layer={a: pipeline.player_layer(a, shared, "layer", config.dataset)[0] for a in arches}
        if "layer" in config.players else {},
        pairs={pair: list(ab) for pair, ab in pairs.items()},
        references=[EVERYTHING, *extra],
        seeds=per_seed,
        over_seeds=over_seeds(per_seed, config.players, list(pairs), extra),
        browser=sections,
    )


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Train the donors and models, extract the interactions of every model on the same samples, compare ``η``."""
    return run_pairs(config, ctx, _models, PAIRS, EXTRA_REFERENCES)


# ---------------------------------------------------------------------------------------------
# figures and summary
# ---------------------------------------------------------------------------------------------


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Scatter plots of ``η`` per pair (first seed) carrying their statistics, as PNG and SVG."""
    return comparison.scatter_figures(results, out_dir, NAME)


def _num(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _with_ci(s: Mapping[str, Any] | None) -> str:
    if s is None:
        return "n/a"
    return f"{_num(s['value'])} [{_num(s['ci'][0])}, {_num(s['ci'][1])}]"


def _mean_sd(x: Mapping[str, Any] | None) -> str:
    if x is None:
        return "n/a"
    return f"{_num(x['mean'])} ± {_num(x['sd'])}" if x["n"] > 1 else _num(x["mean"])


def summary_text(results: Mapping[str, Any], reported: Sequence[str]) -> str:
    """The markdown summary of ``low-layer``, ``high-layer`` or ``architecture``.

    The tables of :func:`comparison.summary_tables <interprim.experiments.comparison.summary_tables>`,
    the differences of every pair to every reference (mean ± sd over seeds), the pairs ``reported``
    per seed with their bootstrap CIs, and the accuracies of the models.
    """
    config, refs = results["config"], results["references"]
    seeds = [s["seed"] for s in results["seeds"]]
    where = ", ".join(f"{a}: after `{m}`" for a, m in results["player_layer"].items()) or "none (input players only)"
    lines = [
        (f"{config['arch']} on {config['dataset']}, seeds {seeds}; {config['samples']} test samples, n = {config['n']} "
         f"players; the first "
         f"{results['shared_layers']} layer(s) copied from the donors (frozen: {config['freeze']}); layer players "
         f"{where}. Mean ± sd over seeds; 'minus reference' is the paired bootstrap difference to `everything`."),
        "", "Pairs: " + "; ".join(f"`{p}` = {a} vs {b}" for p, (a, b) in results["pairs"].items()) + ".",
    ]
    lines += comparison.summary_tables(results)
    for players, by_pair in results["over_seeds"].items():
        head = " | ".join(f"{stat} − {ref}" for ref in refs for stat in ("Spearman", "IoU"))
        lines += ["", f"## differences to the references, players at the {players}", "",
                  f"| pair | {head} |", "|---|" + "--:|" * (2 * len(refs))]
        for pair, entry in by_pair.items():
            cells = []
            for ref in refs:
                suffix = "reference" if ref == EVERYTHING else ref
                cells += [_mean_sd(entry.get(f"{stat}_minus_{suffix}")) if pair != ref else "–"
                          for stat in ("spearman", "iou")]
            lines.append(f"| {pair} | " + " | ".join(cells) + " |")
    lines += ["", "## per seed, with bootstrap 95 % CIs", "",
              "| players | seed | pair | Spearman | IoU | " + " | ".join(f"Spearman − {r}" for r in refs) + " |",
              "|---|--:|---|--:|--:|" + "--:|" * len(refs)]
    for s in results["seeds"]:
        for players, by_pair in s["comparisons"].items():
            for pair in reported:
                entry = by_pair.get(pair)
                if entry is None:
                    continue
                diffs = [_with_ci(entry["vs_reference"]["spearman"]) if ref == EVERYTHING
                         else _with_ci(entry["vs"].get(ref, {}).get("spearman")) for ref in refs]
                lines.append(f"| {players} | {s['seed']} | {pair} | {_with_ci(entry['agreement']['spearman'])} | "
                             f"{_with_ci(entry['agreement']['iou'])} | " + " | ".join(diffs) + " |")
    models = list(results["seeds"][0]["accuracy"])
    lines += ["", "## accuracy (clean, mean ± sd over seeds)", "", "| model | train | test |", "|---|--:|--:|"]
    for m in models:
        acc = {part: stats.over_seeds([s["accuracy"][m][part] for s in results["seeds"]]) for part in ("train", "test")}
        lines.append(f"| {m} | {_mean_sd(acc['train'])} | {_mean_sd(acc['test'])} |")
    return "\n".join(lines) + "\n"


def summary(results: dict[str, Any]) -> str:
    """The tables of the comparisons, the differences to the references, per-seed CIs and accuracies."""
    return summary_text(results, (SAME_LOW, DIFFERENT_LOW))
