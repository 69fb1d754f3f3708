"""Task functions shared by P1's comparison experiments: value vectors, extraction, average orders.

Each is a pure function of JSON-able parameters and of earlier tasks' arrays (SPEC §5, §3.3, §4):

- :func:`model_values`: the games of a trained model on MNIST-10k test samples, with P1's players
  (``"layer"``: ``n`` cells of the central 5×5 grid of the feature map after the low layers) or the
  control of SPEC §7 (``"input"``: the same grid cells on the image); baseline 0; the log-odds of
  the true label;
- :func:`extract`: the sparse AND-OR interactions of those games (certified ADMM);
- :func:`average_orders`: ``η`` of every sample over its salient interactions, with the SPEC τ of
  that model over the analysed samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from .. import metrics
from ..data import load_mnist10k
from ..extract import sparse_and_or
from ..games import central_grid_players, image_values
from ..interactions import Interactions
from ..nn import low_layers_output
from .models import build_model, load_model

PLAYERS = ("layer", "input")
GRID = 5


def player_map(arch: str, players: str) -> tuple[str | None, tuple[int, ...]]:
    """The layer the players live on (``None``: the input) and the shape of the map there.

    Raises ``ValueError`` when ``players="layer"`` and the model has no spatial map after its low
    layers (e.g. an MLP): such a model can only be compared with players at the input.
    """
    if players not in PLAYERS:
        raise ValueError(f"players must be one of {PLAYERS}, got {players!r}.")
    model = build_model(arch)
    if players == "input":
        return None, (1, 28, 28)
    layer = low_layers_output(model)
    with torch.no_grad():
        cut = list(model._modules).index(layer) + 1
        shape = tuple(model[:cut](torch.zeros(1, 1, 28, 28)).shape[1:])
    if len(shape) != 3:
        raise ValueError(f"{arch} has no spatial feature map after its low layers ({layer!r} outputs {shape}).")
    return layer, shape


def model_values(
    *,
    arch: str,
    players: str,
    n: int,
    player_seed: int,
    samples: Sequence[int],
    model: Mapping[str, np.ndarray],
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """``{"values": (B, 2**n)}``: the games of the model on the test samples ``samples`` (module doc), on ``device``."""
    layer, shape = player_map(arch, players)
    grid_players = central_grid_players(shape[-2:], grid=GRID, n=n, seed=player_seed)
    test = load_mnist10k("test")
    index = list(samples)
    values = image_values(
        load_model(arch, model, device=device), test.images[index], grid_players, layer=layer, targets=test.labels[index]
    )
    return {"values": values.numpy()}


def extract(*, tol: float, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The sparse AND-OR interactions of :func:`model_values` (SPEC §3.3), and their certificate."""
    r = sparse_and_or(values["values"], tol=tol)
    return {
        "i_and": r.i_and,
        "i_or": r.i_or,
        "noise": r.noise,
        "gamma": r.gamma,
        "objective": np.asarray(r.objective),
        "gap": np.asarray(r.meta["gap"]),
    }


def interactions(record: Mapping[str, np.ndarray]) -> Interactions:
    """An :func:`extract` record as :class:`~interprim.Interactions`."""
    return Interactions(i_and=record["i_and"], i_or=record["i_or"], gamma=record["gamma"], noise=record["noise"])


def average_orders(record: Mapping[str, np.ndarray]) -> np.ndarray:
    """``η`` of each sample (P1 §3.1) over its salient interactions, τ = 0.02·E|v(N) − v(∅)| over all samples."""
    return np.asarray(metrics.average_order(interactions(record)), dtype=np.float64)
