"""What the experiments of P1 share: the players, the games of a model on samples, extraction, ``η``.

Each task function is a pure function of JSON-able parameters and of earlier tasks' arrays (SPEC §5,
§3.3, §4):

- :func:`player_layer`: where the players live, P1's choice (``"layer"``: after the low layers, or
  after the first ``L`` layers that two models share) or SPEC §7's control (``"input"``);
- :func:`games` / :func:`model_values`: the value vectors of a model on samples of a data set
  (:mod:`~interprim.experiments.datasets`): for images ``n`` cells of the central 5×5 grid of the
  feature map (or of the image), the same cells for every sample (``player_seed``), baseline 0;
  for sentences ``n`` words with meaning of each sentence (drawn with ``player_seed``), their
  hidden states after the shared layers (or their word embeddings) masked by the mean vector (P1
  App. F.2); ``v`` is the log-odds of the true label;
- :func:`extract`: the sparse AND-OR interactions of those games (certified ADMM, or the exact LP);
- :func:`average_orders`: ``η`` of every sample over its salient interactions, with the SPEC τ of
  that model over the analysed samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .. import metrics
from ..extract import sparse_and_or
from ..games import central_grid_players, image_values, text_values
from ..interactions import Interactions
from ..nn import layers, low_layer_count
from . import datasets
from .models import build_model, load_model

PLAYERS = ("layer", "input")
GRID = 5
SOLVERS = ("admm", "lp")


def player_layer(arch: str, shared: int, players: str, dataset: str = "mnist10k") -> tuple[str | None, Any]:
    """Where the players of ``arch`` live and the shape of the representation there.

    ``"input"``: ``(None, input shape)`` (for text: the word embeddings, ``(None, None)``).
    ``"layer"``: after the first ``shared`` layers of :func:`interprim.nn.layers` (``shared = 0``:
    P1's low layers, :func:`~interprim.nn.low_layer_count`). For images the top-level child just
    before the child that holds layer ``shared + 1``, i.e. the first ``shared`` layers with the
    activation and pooling that follow them (``pool1`` for a LeNet at ``shared = 1``, ``relu1`` for
    ResNet-20/32, ``stage1_block3`` for ResNet-32/56 at ``shared = 9``); for BERT the last shared
    module (``bert.encoder.layer.0`` at ``shared = 2``), whose output the text game masks.
    Raises ``ValueError`` when layers ``shared`` and ``shared + 1`` are inside one block, or the map
    there is not spatial (an MLP).
    """
    if players not in PLAYERS:
        raise ValueError(f"players must be one of {PLAYERS}, got {players!r}.")
    model = build_model(arch, dataset=dataset)
    found = layers(model)
    shared = shared or low_layer_count(model)
    if not 1 <= shared < len(found):
        raise ValueError(f"{arch} has {len(found)} layers; the shared low layers must be 1 .. {len(found) - 1}, "
                         f"got {shared}.")
    if datasets.is_text(dataset):
        return (None, None) if players == "input" else (found[shared - 1].name, None)
    side = datasets.IMAGES[dataset]
    if players == "input":
        return None, (side[0], side[1], side[1])
    last_low, first_high = found[shared - 1].name.split(".")[0], found[shared].name.split(".")[0]
    if last_low == first_high:
        raise ValueError(f"{arch}: layers {shared} and {shared + 1} are both inside {first_high!r}; no module "
                         f"outputs exactly the first {shared} layers, so the players cannot sit there.")
    children = list(model._modules)
    cut = children.index(first_high)
    with torch.no_grad():
        shape = tuple(model[:cut](torch.zeros(1, side[0], side[1], side[1])).shape[1:])
    if len(shape) != 3:
        raise ValueError(f"{arch} has no spatial feature map after its first {shared} layers "
                         f"({children[cut - 1]!r} outputs {shape}); use players = ['input'].")
    return children[cut - 1], shape


def games(
    model: torch.nn.Module,
    *,
    arch: str,
    players: str,
    n: int,
    player_seed: int,
    samples: Sequence[int],
    split: str = "test",
    shared_layers: int = 0,
    dataset: str = "mnist10k",
    targets: Any = None,
    device: str = "cpu",
    data_path: str | None = None,
) -> np.ndarray:
    """``(B, 2**n)`` games of ``model`` on the samples ``samples`` of ``split`` (module docstring).

    ``targets``: the class of every sample whose log-odds is ``v`` (default: the true labels).
    """
    data = datasets.load(dataset, split, data_path)
    index = [int(i) for i in samples]
    targets = data.labels[index] if targets is None else torch.as_tensor(targets)
    layer, shape = player_layer(arch, shared_layers, players, dataset)
    if datasets.is_text(dataset):
        blocks = None if layer is None else (shared_layers or low_layer_count(model)) - 1
        values, _ = text_values(model, datasets.tokenizer(data_path, arch), [data.sentences[i] for i in index], n,
                                seed=player_seed, targets=targets, layer=blocks, device=device)
    else:
        grid_players = central_grid_players(shape[-2:], grid=GRID, n=n, seed=player_seed)
        values = image_values(model, data.images[index], grid_players, layer=layer, targets=targets, device=device)
    return values.numpy()


def model_values(
    *,
    arch: str,
    players: str,
    n: int,
    player_seed: int,
    samples: Sequence[int],
    model: Mapping[str, np.ndarray],
    split: str = "test",
    shared_layers: int = 0,
    dataset: str = "mnist10k",
    device: str = "cpu",
    data_path: str | None = None,
) -> dict[str, np.ndarray]:
    """``{"values": (B, 2**n)}``: :func:`games` of a :func:`~interprim.experiments.models.train_model` record."""
    net = load_model(arch, model, device=device, dataset=dataset)
    return {"values": games(net, arch=arch, players=players, n=n, player_seed=player_seed, samples=samples,
                            split=split, shared_layers=shared_layers, dataset=dataset, device=device,
                            data_path=data_path)}


def extract(
    *, tol: float, values: Mapping[str, np.ndarray], solver: str = "admm", noise: float = 0.02
) -> dict[str, np.ndarray]:
    """The sparse AND-OR interactions of :func:`model_values` by ``solver`` (SPEC §3.3), and their certificate."""
    r = sparse_and_or(values["values"], solver=solver, tol=tol, noise=noise)
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
