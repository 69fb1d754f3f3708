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

**Sample browser** (``results["browser"]``, :mod:`.browser`): per choice of players, the first seed's first
test samples with their players drawn and every model's top salient interactions, η and loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import browser, comparison
from .checks import check_counts, check_data, check_players, check_seeds, check_test_samples
from .models import accuracy

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
    dataset: str = "mnist10k"
    data_path: str = ""

    def __post_init__(self) -> None:
        check_seeds(self.seeds)
        check_players(self.players)
        check_data(self, arches=("arch", "other_arch"))
        check_counts(self, ("epochs", "subset_size", "subset_epochs", "samples", "n", "n_boot"))
        check_test_samples(self)


def _models(config: Config, seed: int) -> dict[str, dict[str, Any]]:
    """The training parameters of every model of a seed (one seed per role)."""
    common = dict(lr=config.lr, adversarial=config.adversarial, dataset=config.dataset)
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


PAIR_MODELS = {"init": ("a", "a_init"), "architecture": ("a", "b"), "everything": ("half0", "half1")}


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Train the models, extract the interactions of every model on the same samples, compare ``η``."""
    samples = list(range(config.samples))
    per_seed: list[dict[str, Any]] = []
    trained_by_seed = ctx.each(lambda seed: comparison.train(ctx, _models(config, seed), config.data_path or None),
                               config.seeds)
    for seed, trained in zip(config.seeds, trained_by_seed):
        specs = _models(config, seed)
        etas, skipped, comparisons, games = {}, {}, {}, {}
        for players in config.players:
            etas[players], missing, games[players] = comparison.average_orders(
                ctx, specs, trained, players, n=config.n, player_seed=config.player_seed, samples=samples,
                tol=config.tol, dataset=config.dataset, data_path=config.data_path or None,
            )
            skipped.update(missing)
            comparisons[players] = comparison.compare(
                etas[players], PAIR_MODELS, REFERENCE, top=config.top, n_boot=config.n_boot, seed=seed
            )
        if seed == config.seeds[0]:
            sections = browser.p1_sections(
                seed, games, {m: s["arch"] for m, s in specs.items()}, [("test", i) for i in samples], shared_layers=0,
                n=config.n, player_seed=config.player_seed, dataset=config.dataset,
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
    return dict(config=asdict(config), seeds=per_seed, over_seeds=comparison.over_seeds(per_seed, config.players, PAIRS),
                browser=sections)


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Scatter plots of ``η`` per pair (first seed) carrying their statistics, as PNG and SVG."""
    return comparison.scatter_figures(results, out_dir, "confusing-randomness")


def summary(results: dict[str, Any]) -> str:
    """The headline numbers in words and a table per choice of players."""
    seeds = [s["seed"] for s in results["seeds"]]
    lines = [
        f"Seeds {seeds}; statistics over the same {results['config']['samples']} test samples; mean ± sd over "
        f"seeds; 'Spearman − reference' is the paired bootstrap difference to the pair that differs in everything.",
    ]
    return "\n".join(lines + comparison.summary_tables(results)) + "\n"
