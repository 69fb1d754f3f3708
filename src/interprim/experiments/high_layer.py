"""``high-layer`` (P1 Fig. 8b, SPEC §6-7): do the high layers' initial weights change the confusing samples?

P1 §3.2 gives two ResNet-56s the same low layers (copied from one well-trained donor, P1 App. F.5)
and different initial weights in the high layers, trains them on the same data and reads the
scatter plot of the average order ``η`` by eye: the two still find similar samples confusing. This
experiment gives the numbers (Pearson, Spearman, top-10 % IoU with bootstrap CIs, mean ± sd over
seeds) and sets them next to the references of SPEC §7.

Models, for every seed ``s`` (the donor, the references and every setting as in
:mod:`.low_layer`, whose :class:`~.low_layer.Config` this experiment uses unchanged):

- ``donor-A``: ``arch`` trained on ``donor_subset`` with ``init_seed = data_seed = s + 2000``;
- ``dA-half0``: the first ``L`` layers of donor A (frozen by default), the upper layers initialised
  with ``init_seed = s``, trained on half0 with ``data_seed = s``;
- ``dA-init``: as ``dA-half0`` with ``init_seed = s + 1000``: only the high layers' initial weights
  differ;
- ``r-half0``, ``r-half1``, ``r-init``: the references without shared layers.

Pairs: ``same-low-different-high-init`` (Fig. 8b): ``dA-half0`` vs ``dA-init``; ``everything``
(reference): ``r-half0`` vs ``r-half1``; ``init-only`` (reference): ``r-half0`` vs ``r-init``.
``same-low-different-high-init`` and ``init-only`` differ exactly in whether the low layers are
shared, so its difference to ``init-only`` is P1's claim (the high layers matter little once the low
layers are fixed) in numbers. Players: ``"layer"`` (after the first ``L`` layers) and/or ``"input"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import comparison
from . import low_layer as common

NAME = "high-layer"
DESCRIPTION = (
    "P1 Fig. 8b: η agreement of two models with the same low layers and differently initialised high "
    "layers, trained on the same data"
)
SAME_LOW = "same-low-different-high-init"
PAIRS = {SAME_LOW: ("dA-half0", "dA-init"), **common.REFERENCE_PAIRS}
EXTRA_REFERENCES = (common.INIT_ONLY,)


@dataclass
class Config(common.Config):
    """Settings of ``high-layer``: those of :class:`interprim.experiments.low_layer.Config` (``donor_epochs``
    and ``donor_subset`` apply to the one donor)."""


def _models(config: common.Config, seed: int) -> dict[str, dict[str, Any]]:
    """Every model of ``seed`` (module docstring), the donor first."""
    return {
        "donor-A": common.donor(config, seed, "donor-A"),
        "dA-half0": common.trained_on_half(config, config.arch, init_seed=seed, data_seed=seed, subset="half0",
                                           donor_name="donor-A"),
        "dA-init": common.trained_on_half(config, config.arch, init_seed=seed + common.OTHER_SEED, data_seed=seed,
                                          subset="half0", donor_name="donor-A"),
        **common.references(config, seed),
    }


def run(config: Config, ctx: Any) -> dict[str, Any]:
    """Train the donor and models, extract the interactions of every model on the same samples, compare ``η``."""
    return common.run_pairs(config, ctx, _models, PAIRS, EXTRA_REFERENCES)


def figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Scatter plots of ``η`` per pair (first seed) carrying their statistics, as PNG and SVG."""
    return comparison.scatter_figures(results, out_dir, NAME)


def summary(results: dict[str, Any]) -> str:
    """The tables of the comparisons, the differences to the references, per-seed CIs and accuracies."""
    return common.summary_text(results, (SAME_LOW,))
