"""``architecture`` (P1 Fig. 8c, SPEC §6-7): does the architecture above the low layers change the confusing samples?

P1 §3.2 gives a ResNet-56 and a ResNet-32 the same first 9 layers (copied from one well-trained
donor, P1 App. F.5), trains the rest on the same data and reads the scatter plot of the average
order ``η`` by eye: the two architectures find similar samples confusing. This experiment gives the
numbers (Pearson, Spearman, top-10 % IoU with bootstrap CIs, mean ± sd over seeds) and sets them
next to the references of SPEC §7.

Models, for every seed ``s`` (the donor, the references and the settings as in :mod:`.low_layer`):

- ``donor-A``: ``arch`` trained on ``donor_subset`` with ``init_seed = data_seed = s + 2000``;
- ``dA-<arch>`` and ``dA-<other_arch>``: the first ``L`` layers of donor A (frozen by default),
  the layers above them of each architecture initialised with ``init_seed = s`` and trained on half0
  with ``data_seed = s``;
- ``r-half0``, ``r-half1``, ``r-init``: the references without shared layers, of ``arch``.

Pairs: ``same-low-different-architecture`` (Fig. 8c): ``dA-<arch>`` vs ``dA-<other_arch>``;
``everything`` (reference): ``r-half0`` vs ``r-half1``; ``init-only`` (reference): ``r-half0`` vs
``r-init`` (different low layers, the same architecture). The first ``L`` layers must be the same
layers in both architectures (:func:`interprim.nn.copy_layers`): ResNet-20/32/56 share ``conv1`` +
``bn1`` (``L = 1``) and, ResNet-32/56, the first 9 layers; VGG-11/13/16 share ``conv1`` + ``bn1``.
With ``"layer"`` players both architectures must have the same map after the first ``L`` layers
(:func:`~interprim.experiments.pipeline.player_layer`): ``relu1`` for ResNet-20/32 at ``L = 1``,
``stage1_block3`` for ResNet-32/56 at ``L = 9``; not so for VGG-11 (``pool1``) and VGG-13
(``relu1``), which can be compared with ``"input"`` players only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..nn import copy_layers, layers
from . import comparison, pipeline
from . import low_layer as common
from .checks import check_data
from .models import build_model

NAME = "architecture"
DESCRIPTION = (
    "P1 Fig. 8c: η agreement of two architectures with the same low layers, trained on the same data"
)
SAME_LOW = "same-low-different-architecture"
EXTRA_REFERENCES = (common.INIT_ONLY,)


@dataclass
class Config(common.Config):
    """Settings of ``architecture``: those of :class:`interprim.experiments.low_layer.Config` plus
    ``other_arch``, the second architecture above the shared layers (``arch`` is the donor's and the
    references' architecture; ``shared_layers = 0`` means P1's low layers of ``arch``)."""

    TEXT: ClassVar[bool] = False

    arch: str = "resnet20"
    other_arch: str = "resnet32"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_data(self, arches=("arch", "other_arch"))
        if self.other_arch == self.arch:
            raise ValueError(f"other_arch must be an architecture other than arch={self.arch!r}.")
        shared = self.layers_shared()
        other = build_model(self.other_arch, dataset=self.dataset)
        if shared >= len(layers(other)):
            raise ValueError(f"{self.other_arch} has only {len(layers(other))} layers; it "
                             f"cannot share {shared} and train layers above them.")
        try:
            copy_layers(other, build_model(self.arch, dataset=self.dataset), shared)
        except ValueError as err:
            raise ValueError(f"{self.arch} and {self.other_arch} do not share their first {shared} layer(s): {err}") \
                from None
        if "layer" in self.players:
            here = pipeline.player_layer(self.arch, shared, "layer", self.dataset)
            there = pipeline.player_layer(self.other_arch, shared, "layer", self.dataset)
            if here != there:
                raise ValueError(
                    f"after the first {shared} layer(s) the players would sit on {here[0]!r} {here[1]} in "
                    f"{self.arch} but on {there[0]!r} {there[1]} in {self.other_arch}: not the same map; use "
                    f"players = ['input'] or another pair of architectures.")


def pairs(config: Config) -> dict[str, tuple[str, str]]:
    """The compared pairs of ``config`` (module docstring): the models are named after their architectures."""
    return {SAME_LOW: (f"dA-{config.arch}", f"dA-{config.other_arch}"), **common.REFERENCE_PAIRS}


def _models(config: Config, seed: int) -> dict[str, dict[str, Any]]:
    """Every model of ``seed`` (module docstring), the donor first."""
    half = dict(init_seed=seed, data_seed=seed, subset="half0", donor_name="donor-A")
    return {
        "donor-A": common.donor(config, seed, "donor-A"),
        f"dA-{config.arch}": common.trained_on_half(config, config.arch, **half),
        f"dA-{config.other_arch}": common.trained_on_half(config, config.other_arch, **half),
        **common.references(config, seed),
    }


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Train the donor and models, extract the interactions of every model on the same samples, compare ``η``."""
    return common.run_pairs(config, ctx, _models, pairs(config), EXTRA_REFERENCES)


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Scatter plots of ``η`` per pair (first seed) carrying their statistics, as PNG and SVG."""
    return comparison.scatter_figures(results, out_dir, NAME)


def summary(results: dict[str, Any]) -> str:
    """The tables of the comparisons, the differences to the references, per-seed CIs and accuracies."""
    return common.summary_text(results, (SAME_LOW,))
