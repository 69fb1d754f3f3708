"""Fuzz test of the public entry points: bad input ends in a clear error from the library, fast.

Every case feeds one bad argument (a wrong type, NaN, ±inf, a negative, zero or huge number, a
wrong shape, a string, ``None``, an empty array, a bool where an int belongs, a damaged file) to
one entry point — ``interprim.__all__``, the public games, ``Interactions.load`` / ``from_dict``,
the metrics, the data readers, the model zoo, the trainer and the command line — and asserts that

- the call raises ``ValueError`` or ``TypeError`` (``FileNotFoundError`` for a missing path), from
  a line of ``interprim`` itself, not from numpy, torch or Python deep inside;
- the message names the offending argument (or shows its value, for files and words);
- the call returns within :data:`LIMIT` seconds (``signal.alarm`` stops a hang).

For the command line, ``main(argv)`` must exit non-zero with one ``error:`` line naming the flag
and no traceback.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import pickle
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import interprim as ip
from interprim import Interactions, games, metrics
from interprim.cli import main
from interprim.data import ImageData, load_mnist, load_mnist10k, load_sst2, read_idx
from interprim.nn import bert_tiny, build
from interprim.store import Store
from interprim.train import TrainConfig, train

LIMIT = 10
"""Seconds a single bad call may take before it counts as a hang."""

SOURCE = Path(ip.__file__).resolve().parent
NAN, INF = math.nan, math.inf
CUDA = torch.cuda.is_available()


class Hang(Exception):
    """A call ran past :data:`LIMIT`."""


@contextlib.contextmanager
def time_limit(seconds: int = LIMIT) -> Iterator[None]:
    def stop(signum: int, frame: Any) -> None:
        raise Hang(f"the call ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def names_argument(message: str, name: str) -> bool:
    """Whether ``message`` mentions ``name`` as a word (``v`` in ``"v: ..."`` but not in ``"values"``)."""
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", message) is not None


def assert_clean_error(call: Callable[[], Any], name: str, kinds: tuple[type, ...] = (ValueError, TypeError)) -> None:
    start = time.perf_counter()
    with time_limit(), pytest.raises(kinds) as info:
        call()
    elapsed = time.perf_counter() - start
    assert elapsed < LIMIT
    where = Path(info.traceback[-1].path).resolve()
    assert SOURCE in where.parents, f"{type(info.value).__name__} raised in {where}, not by interprim: {info.value}"
    message = str(info.value)
    assert names_argument(message, name), f"the message does not name {name!r}: {message}"


# ---------------------------------------------------------------------------------------------
# Small valid inputs the cases spoil one argument of
# ---------------------------------------------------------------------------------------------

V = np.array([0.5, 0.0, -1.0, 1.5, 2.0, 1.0, 3.0, 7.5])  # n = 3
V_BATCH = np.stack([V, 2 * V])


@functools.cache
def result() -> Interactions:
    return ip.and_or(V_BATCH)


@functools.cache
def single() -> Interactions:
    return ip.and_or(V)


@functools.cache
def pair() -> list[Interactions]:
    return [ip.and_or(V_BATCH), ip.and_or(3 * V_BATCH)]


def mlp() -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).double()


def cnn() -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 4, 3)
        ).double()


class Broken(torch.nn.Module):
    """A classifier whose logits are NaN (or ``value``) on every input where feature 0 is masked to 0."""

    def __init__(self, value: float = NAN, complex_out: bool = False) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2).double()
        self.value, self.complex_out = value, complex_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x.reshape(x.shape[0], -1)[:, :3])
        if self.complex_out:
            return out.to(torch.complex128)
        return torch.where((x.reshape(x.shape[0], -1)[:, :1] == 0), torch.full_like(out, self.value), out)


X = np.array([1.0, 2.0, 3.0])
CONFIG = TrainConfig(epochs=1, lr=0.1, batch_size=2)
GROUPS = [[0], [1], [2]]
IMAGE = np.linspace(0, 1, 16).reshape(1, 4, 4)
PLAYERS = games.patch_grid(4, 4, 2)


def tabular(**kwargs: Any) -> games.TabularGame:
    options = {"model": mlp(), "x": X, "groups": GROUPS, "baseline": 0.0}
    options.update(kwargs)
    return games.TabularGame(**options)


def image_game(**kwargs: Any) -> games.ImageGame:
    options = {"model": cnn(), "image": IMAGE, "players": PLAYERS}
    options.update(kwargs)
    return games.ImageGame(**options)


def function_game(out: Any, n: int = 2) -> games.FunctionGame:
    return games.FunctionGame(lambda masks: out, n)


# ---------------------------------------------------------------------------------------------
# Bad arrays of value / interaction vectors
# ---------------------------------------------------------------------------------------------

BAD_VECTORS = {
    "none": None,
    "string": "abc",
    "dict": {"v": 1.0},
    "bool-scalar": True,
    "scalar": 5.0,
    "empty": np.array([]),
    "length-1": np.zeros(1),
    "length-3": np.zeros(3),
    "length-6-batch": np.zeros((2, 6)),
    "ragged": [[1.0, 2.0], [1.0, 2.0, 3.0, 4.0]],
    "nan": np.array([0.0, NAN, 1.0, 2.0]),
    "inf": np.array([0.0, 1.0, -INF, 2.0]),
    "complex": np.zeros(4, dtype=complex),
    "bool": np.zeros(4, dtype=bool),
    "float16": np.zeros(4, dtype=np.float16),
    "object": np.array([{}, {}, {}, {}], dtype=object),
    "strings": np.array(["a", "b", "c", "d"]),
    "masked-nan": np.ma.masked_invalid([0.0, NAN, 1.0, 2.0]),
    "masked-entry": np.ma.masked_array([0.0, 1.0, 2.0, 3.0], mask=[False, True, False, False]),
    "torch-nan": torch.tensor([0.0, NAN, 1.0, 2.0]),
    "torch-complex": torch.zeros(4, dtype=torch.complex64),
    "torch-bool": torch.zeros(4, dtype=torch.bool),
}

VECTOR_ENTRIES = {
    "harsanyi": (lambda x: ip.harsanyi(x), "v"),
    "and_or": (lambda x: ip.and_or(x), "v"),
    "sparse_and_or": (lambda x: ip.sparse_and_or(x), "v"),
    "generalizable_and_or-first": (lambda x: ip.generalizable_and_or([x, V]), "values[0]"),
    "generalizable_and_or-second": (lambda x: ip.generalizable_and_or([V, x]), "values[1]"),
    "and_interactions": (lambda x: ip.and_interactions(x), "u_and"),
    "or_interactions": (lambda x: ip.or_interactions(x), "u_or"),
    "inverse_and": (lambda x: ip.inverse_and(x), "i_and"),
    "inverse_or": (lambda x: ip.inverse_or(x), "i_or"),
    "reconstruct-and": (lambda x: ip.reconstruct(x, V), "i_and"),
    "reconstruct-or": (lambda x: ip.reconstruct(V, x), "i_or"),
    "split_interactions-and": (lambda x: ip.split_interactions(x, V), "u_and"),
    "split_interactions-or": (lambda x: ip.split_interactions(V, x), "u_or"),
    "Interactions-i_and": (lambda x: Interactions(x, V), "i_and"),
    "Interactions-i_or": (lambda x: Interactions(V, x), "i_or"),
    "Interactions-gamma": (lambda x: Interactions(V, V, gamma=x), "gamma"),
    "Interactions-noise": (lambda x: Interactions(V, V, noise=x), "noise"),
    "Interactions.matching_error": (lambda x: single().matching_error(x), "v"),
    "salient_threshold": (lambda x: metrics.salient_threshold(x), "v"),
    "salient_mask": (lambda x: metrics.salient_mask(x, V), "i_and"),
    "order_strengths": (lambda x: metrics.order_strengths(V, x), "i_or"),
    "average_order": (lambda x: metrics.average_order(x, V), "i_and"),
    "sparsity_curve": (lambda x: metrics.sparsity_curve(x, V), "i_and"),
    "matching_error-v": (lambda x: metrics.matching_error(V, V, v=x), "v"),
    "transferability": (lambda x: metrics.transferability(x, V_BATCH), "i_and"),
    "transferability_curve": (lambda x: metrics.transferability_curve(V_BATCH, x, ks=[1]), "i_or"),
    "shared_ratio_by_order": (lambda x: metrics.shared_ratio_by_order(x, V_BATCH), "i_and"),
    "jaccard_by_order": (lambda x: metrics.jaccard_by_order((x, V), (V, V)), "train_and"),
}

VECTOR_CASES = [
    pytest.param(entry, bad, id=f"{entry}-{bad}")
    for entry in VECTOR_ENTRIES
    for bad in BAD_VECTORS
    if not (bad == "none" and entry in ("Interactions-gamma", "Interactions-noise"))  # None: the default
]


@pytest.mark.parametrize("entry, bad", VECTOR_CASES)
def test_bad_vectors(entry: str, bad: str) -> None:
    call, name = VECTOR_ENTRIES[entry]
    assert_clean_error(lambda: call(BAD_VECTORS[bad]), name)


# ---------------------------------------------------------------------------------------------
# Bad options: wrong types, NaN, ±inf, out of range, bool for int
# ---------------------------------------------------------------------------------------------

BAD_OPTIONS: list[tuple[str, Callable[[], Any], str]] = []


def short(value: Any) -> str:
    """A test id for ``value``: arrays and tensors by kind, shape and dtype (and NaN), the rest by repr."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        kind = "tensor" if isinstance(value, torch.Tensor) else "masked" if np.ma.isMaskedArray(value) else "array"
        floats = value.dtype.is_floating_point if isinstance(value, torch.Tensor) else value.dtype.kind == "f"
        nan = "-nan" if floats and bool(np.isnan(np.asarray(value)).any()) else ""
        return f"{kind}{list(value.shape)}-{str(value.dtype).replace('torch.', '')}{nan}"
    if isinstance(value, (tuple, list)) and any(isinstance(e, (np.ndarray, torch.Tensor)) for e in value):
        return f"{type(value).__name__}({','.join(short(e) for e in value)})"
    return repr(value)[:40]


def bad(id_: str, name: str, *values: Any) -> Callable[[Callable[[Any], Any]], None]:
    """Register one case per value: ``call(value)`` must fail naming ``name``."""

    def register(call: Callable[[Any], Any]) -> None:
        for value in values:
            BAD_OPTIONS.append((f"{id_}={short(value)}", functools.partial(call, value), name))

    return register


TOLS = (0, 1, -0.1, 1.5, NAN, INF, "0.01", None, True, [0.01], np.float64(NAN))
ITERS = (0, -5, 2.5, "10", None, True, np.bool_(True), NAN)
FRACTIONS = (-0.1, NAN, INF, "x", None, True, [0.1, 0.2])

bad("sparse_and_or.tol", "tol", *TOLS)(lambda x: ip.sparse_and_or(V, tol=x))
bad("sparse_and_or.max_iter", "max_iter", *ITERS)(lambda x: ip.sparse_and_or(V, max_iter=x))
bad("sparse_and_or.noise", "noise", *FRACTIONS)(lambda x: ip.sparse_and_or(V, noise=x))
bad("sparse_and_or.noise_bound", "noise_bound", -1.0, NAN, INF, "x", [1.0, 2.0, 3.0])(
    lambda x: ip.sparse_and_or(V_BATCH, noise_bound=x)
)
bad("sparse_and_or.solver", "solver", "bogus", None, 3, "ADMM")(lambda x: ip.sparse_and_or(V, solver=x))
bad("sparse_and_or.lr", "lr", 0, -1e-3, NAN, INF, "x", True)(lambda x: ip.sparse_and_or(V, solver="sgd", lr=x))
bad("sparse_and_or.atol", "atol", -1.0, NAN, INF, "x", True)(lambda x: ip.sparse_and_or(V, atol=x))
bad("sparse_and_or.dtype", "dtype", "float32", torch.int64, np.float32)(lambda x: ip.sparse_and_or(V, dtype=x))
bad("sparse_and_or.players", "players", ["a"], ["a", "b", "c", "d"], [])(lambda x: ip.sparse_and_or(V, players=x))
bad("sparse_and_or.init", "init", np.zeros(3), "x", [np.zeros(8), np.zeros(8)], np.full(8, NAN))(
    lambda x: ip.sparse_and_or(V, init=x)
)
bad("generalizable_and_or.alpha", "alpha", -0.1, 1.5, NAN, INF, "0.1", None, True)(
    lambda x: ip.generalizable_and_or([V, V], alpha=x)
)
bad("generalizable_and_or.tol", "tol", *TOLS)(lambda x: ip.generalizable_and_or([V, V], tol=x))
bad("generalizable_and_or.max_iter", "max_iter", *ITERS)(lambda x: ip.generalizable_and_or([V, V], max_iter=x))
bad("generalizable_and_or.noise", "noise", *FRACTIONS)(lambda x: ip.generalizable_and_or([V, V], noise=x))
bad("generalizable_and_or.specific", "specific", *FRACTIONS)(lambda x: ip.generalizable_and_or([V, V], specific=x))
bad("generalizable_and_or.specific_bounds", "specific_bounds", -1.0, NAN, "x", [1.0, 2.0, 3.0])(
    lambda x: ip.generalizable_and_or([V, V], specific_bounds=x)
)
bad("generalizable_and_or.values", "values", None, "ab", [V], [], 3.0, [V, np.zeros(16)], [V, torch.tensor(V)])(
    lambda x: ip.generalizable_and_or(x)
)
bad("Interactions.players", "players", ["a"], ["a", "b", "c", "d"], [])(lambda x: Interactions(V, V, players=x))
bad("Interactions.meta", "meta", [], "x", 3)(lambda x: Interactions(V, V, meta=x))
bad("Interactions.objective", "objective", np.zeros(2), np.zeros((2, 2)))(lambda x: Interactions(V, V, objective=x))
bad("Interactions.top", "k", 0, -1, "3", True, 2.5, None)(lambda x: single().top(x))
bad("Interactions.top-batch", "top", 3)(lambda x: result().top(x))
bad("Interactions.salient.threshold", "threshold", -1.0, NAN, INF, "bogus", [1.0, 2.0, 3.0])(
    lambda x: result().salient(threshold=x)
)
bad("Interactions.salient.top_k", "top_k", 0, -1, 10**9, 2.5, True, "3")(lambda x: result().salient(top_k=x))
bad("Interactions.save.meta", "meta", object(), {1, 2}, np.float32(1.0), b"x")(
    lambda x: Interactions(V, V, meta={"bad": x}).save("/nonexistent-never-written/r.npz")
)
bad("Interactions.from_dict", "d", None, [1, 2], "x", 3.0, {})(lambda x: Interactions.from_dict(x))

for missing in ("i_and", "i_or", "gamma", "noise", "objective", "players"):
    bad(f"Interactions.from_dict-without-{missing}", missing, missing)(
        lambda key: Interactions.from_dict({k: v for k, v in single().to_dict().items() if k != key})
    )
for key, value in (("i_and", "abc"), ("meta", [1]), ("players", "ab"), ("meta_arrays", 3), ("i_or", [[1, 2], [3]])):
    bad(f"Interactions.from_dict-{key}", key, value)(
        lambda x, key=key: Interactions.from_dict({**single().to_dict(), key: x})
    )

# metrics
bad("salient_threshold.ratio", "ratio", -0.1, NAN, INF, "x", True, None)(
    lambda x: metrics.salient_threshold(V, ratio=x)
)
bad("salient_threshold.per_model", "per_model", "yes", 1, np.zeros(2))(
    lambda x: metrics.salient_threshold(V, per_model=x)
)
bad("salient_mask.threshold", "threshold", -1.0, NAN, INF, "bogus", [1.0, 2.0, 3.0], True)(
    lambda x: metrics.salient_mask(V, V, threshold=x)
)
bad("salient_mask.top_k", "top_k", 0, -1, 10**9, 2.5, True, "3")(lambda x: metrics.salient_mask(V, V, top_k=x))
bad("salient_mask.merge_singletons", "merge_singletons", "yes", 1, None)(
    lambda x: metrics.salient_mask(V, V, merge_singletons=x)
)
bad("salient_mask.i_or", "i_or", None)(lambda x: metrics.salient_mask(V, x))
bad("salient_mask.i_or-with-Interactions", "i_or", V)(lambda x: metrics.salient_mask(single(), x))
bad("order_strengths.threshold", "threshold", -1.0, NAN, "x")(lambda x: metrics.order_strengths(V, V, threshold=x))
bad("average_order.top_k", "top_k", 0, 10**9, True)(lambda x: metrics.average_order(V, V, top_k=x))
bad("jaccard_by_order.train", "train", None, "x", V, [V], [single(), single()])(
    lambda x: metrics.jaccard_by_order(x, single())
)
bad("jaccard_by_order.test", "test", ip.and_or(np.zeros(16)))(lambda x: metrics.jaccard_by_order(single(), x))
bad("transferability.one-model", "i_and", V, single())(
    lambda x: metrics.transferability(x, None if x is single() else V)
)
bad("transferability.threshold", "threshold", -1.0, NAN, [1.0, 2.0, 3.0])(
    lambda x: metrics.transferability(pair(), threshold=x)
)
bad("transferability_curve.ks", "ks", [0], [-1], "x", [10**9], [2.5], None)(
    lambda x: metrics.transferability_curve(pair(), ks=x)
)
bad("shared_ratio_by_order.top_k", "top_k", 0, True)(lambda x: metrics.shared_ratio_by_order(pair(), top_k=x))
bad("matching_error.noise", "noise", np.zeros(4), np.full(8, NAN), "x")(
    lambda x: metrics.matching_error(V, V, v=V, noise=x)
)
bad("confusing_agreement.eta_a", "eta_a", None, "x", np.array([1.0, NAN, 2.0]), np.zeros((2, 2)), [1 + 2j, 3j, 1j])(
    lambda x: metrics.confusing_agreement(x, [1.0, 2.0, 3.0])
)
bad("confusing_agreement.eta_b", "eta_b", [1.0, INF, 2.0], [1.0, 2.0])(
    lambda x: metrics.confusing_agreement([1.0, 2.0, 3.0], x)
)
bad("confusing_agreement.top", "top", 0, -0.1, 1.5, NAN, "x", None)(
    lambda x: metrics.confusing_agreement([1.0, 2.0, 3.0], [3.0, 1.0, 2.0], top=x)
)

# games: constructors and calls
bad("FunctionGame.fn", "fn", None, 3, "f")(lambda x: games.FunctionGame(x, 2))
bad("FunctionGame.n", "n", 0, -1, 25, 2.5, "3", None, True, 10**9)(lambda x: games.FunctionGame(lambda m: m.sum(1), x))
bad("FunctionGame.memory_budget", "memory_budget", 0, -1, 1.5, "x", True)(
    lambda x: games.FunctionGame(lambda m: m.sum(1), 2, memory_budget=x)
)
bad("FunctionGame.batch_size", "batch_size", 0, -1, 1.5, "x", True)(
    lambda x: games.FunctionGame(lambda m: m.sum(1), 2, batch_size=x)
)
bad("FunctionGame.values.batch_size", "batch_size", 0, -3, 2.5, True)(
    lambda x: games.FunctionGame(lambda m: m.sum(1), 2).values(batch_size=x)
)
bad(
    "FunctionGame.call.masks",
    "masks",
    None,
    "x",
    np.zeros((4, 3), bool),
    np.zeros(4),
    np.full((2, 2), 0.5),
    np.full((2, 2), 2),
)(lambda x: games.FunctionGame(lambda m: m.sum(1), 2)(x))
bad(
    "FunctionGame.output",
    "fn",
    [NAN] * 4,
    [0.0, INF, 1.0, 2.0],
    np.ones(4, complex),
    np.ma.masked_invalid([0.0, NAN, 1.0, 2.0]),
    np.zeros(3),
    ["a", "b", "c", "d"],
    None,
    torch.full((4,), NAN),
)(lambda x: function_game(x).values())
bad("TabularGame.model", "model", None, "m", lambda x: x)(lambda x: tabular(model=x))
bad(
    "TabularGame.x",
    "x",
    None,
    "abc",
    [1.0, NAN, 3.0],
    [1.0, INF, 3.0],
    np.zeros((1, 3)),
    np.ones(3, complex),
    [True, False, True],
)(lambda x: tabular(x=x))
bad("TabularGame.groups", "groups", None, "01", [[0], [0]], [[0], []], [[5]], [[True]], [], [[0]] * 30)(
    lambda x: tabular(groups=x)
)
bad("TabularGame.baseline", "baseline", "median", NAN, np.zeros(5), "mean")(lambda x: tabular(baseline=x))
bad("TabularGame.data", "data", np.full((2, 3), NAN), np.zeros((2, 4)), np.zeros((0, 3)))(
    lambda x: tabular(baseline="mean", data=x)
)
bad("TabularGame.target", "target", 2, -1, 1.5, "0", True)(lambda x: tabular(target=x))
bad("TabularGame.output", "output", "bogus", None, 3)(lambda x: tabular(output=x))
bad("TabularGame.device", "device", "nonsense", 3.5, *(() if CUDA else ("cuda", "cuda:0")))(lambda x: tabular(device=x))
bad("TabularGame.model-output-nan", "model", NAN, INF)(lambda x: tabular(model=Broken(x)).values())
bad("TabularGame.model-output-complex", "complex", True)(lambda x: tabular(model=Broken(complex_out=x)))
bad(
    "ImageGame.image",
    "image",
    None,
    "img",
    np.full((1, 4, 4), NAN),
    np.zeros((4, 4)),
    np.zeros((1, 1, 4, 4)),
    np.ones((1, 4, 4), complex),
)(lambda x: image_game(image=x))
bad(
    "ImageGame.players",
    "players",
    None,
    "p",
    np.zeros((2, 4, 4), bool),
    np.ones((2, 4, 4), bool),
    np.zeros((4, 4)),
    PLAYERS[:, :2],
)(lambda x: image_game(players=x))
bad("ImageGame.layer", "layer", "nope", 3, "")(lambda x: image_game(layer=x))
bad("ImageGame.baseline", "baseline", "mean", NAN, np.zeros(3))(lambda x: image_game(baseline=x))
bad("ImageGame.target", "target", 3, -1, True)(lambda x: image_game(target=x))
bad(
    "image_values.images", "images", None, np.full((2, 1, 4, 4), NAN), np.zeros((1, 4, 4)), np.zeros((0, 1, 4, 4)), "x"
)(lambda x: games.image_values(cnn(), x, PLAYERS))
bad("image_values.players", "players", np.zeros((3, 4, 2, 2), bool), "p", None)(
    lambda x: games.image_values(cnn(), np.stack([IMAGE, IMAGE]), x)
)
bad("image_values.targets", "targets", [0], [0, 5], [0.5, 1], "ab")(
    lambda x: games.image_values(cnn(), np.stack([IMAGE, IMAGE]), PLAYERS, targets=x)
)
bad("image_values.memory_budget", "memory_budget", 0, -1, True)(
    lambda x: games.image_values(cnn(), np.stack([IMAGE, IMAGE]), PLAYERS, memory_budget=x)
)
bad("central_grid_players.n", "n", 26, 0, -1, 2.5, True, None, 10**9)(
    lambda x: games.central_grid_players((14, 14), n=x)
)
bad("central_grid_players.grid", "grid", 0, -1, True, 100)(lambda x: games.central_grid_players((14, 14), grid=x, n=1))
bad("central_grid_players.margin", "margin", -1, 1.5, True)(lambda x: games.central_grid_players((14, 14), margin=x))
bad("central_grid_players.feature_shape", "feature_shape", (14,), (0, 14), (14, -1))(
    lambda x: games.central_grid_players(x)
)
bad("patch_grid.height", "height", 0, -1, 2.5, True)(lambda x: games.patch_grid(x, 4, 2))
bad("patch_grid.patch", "patch", 0, 3, (2, 2, 2), "2")(lambda x: games.patch_grid(4, 4, x))
bad("patch_grid.region", "region", (0, 0, 5, 4), (2, 0, 1, 4))(lambda x: games.patch_grid(4, 4, 2, region=x))
bad("foreground_patches.image", "image", np.zeros((1, 2, 2, 2)), np.ones((4, 4), complex), np.zeros((4, 4), bool))(
    lambda x: games.foreground_patches(x, patch=2, n=1)
)
bad("foreground_patches.threshold", "threshold", 1.5, -0.1, NAN)(
    lambda x: games.foreground_patches(IMAGE, patch=2, n=1, threshold=x)
)
bad("foreground_patches.n", "n", 0, 25, True)(lambda x: games.foreground_patches(IMAGE, patch=2, n=x))
bad("foreground_patches.blank", "threshold", np.zeros((1, 4, 4)))(lambda x: games.foreground_patches(x, patch=2, n=1))
bad("foreground_values.count", "count", 5, 0, -1, True, 1.5)(
    lambda x: games.foreground_values([cnn()], np.stack([IMAGE]), [0], n=1, count=x, patch=2)
)
bad("foreground_values.models", "models", None, [], [None])(
    lambda x: games.foreground_values(x, np.stack([IMAGE]), [0], n=1, count=1, patch=2)
)
bad("select.index", "index", "a", 1.5, True, None)(lambda x: games.select(x))
bad("log_odds.logits", "logits", torch.zeros(3), torch.zeros(1, 2, 3), "x")(lambda x: games.log_odds(x, 0))
bad("log_odds.target", "target", 5, -1, True, 0.5)(lambda x: games.log_odds(torch.zeros(2, 3), x))
bad("target_logit.target", "target", 5, True)(lambda x: games.target_logit(torch.zeros(2, 3), x))
bad("content_words.sentence", "sentence", None, 3, b"bytes")(lambda x: games.content_words(x))
bad("content_words.stop_words", "stop_words", 3, [1, 2], "the")(lambda x: games.content_words("a b", stop_words=x))

# nn, data, trainer, store
bad("build.name", "nope", "nope")(lambda x: build(x, in_channels=1, input_size=28))
bad("build.in_channels", "in_channels", 0, -1, True, "1", 1.5)(lambda x: build("lenet", in_channels=x, input_size=28))
bad("build.input_size", "input_size", 0, True, None)(lambda x: build("lenet", in_channels=1, input_size=x))
bad("build.seed", "seed", -1, 1.5, True)(lambda x: build("lenet", in_channels=1, input_size=28, seed=x))
bad("build.device", "device", "gpu", 3.5, *(() if CUDA else ("cuda", "cuda:1")))(
    lambda x: build("lenet", in_channels=1, input_size=28, device=x)
)
bad(
    "ImageData.images",
    "images",
    torch.full((2, 1, 2, 2), NAN),
    torch.full((2, 1, 2, 2), INF),
    torch.zeros(2, 2, 2),
    torch.zeros(2, 1, 2, 2, dtype=torch.uint8),
    torch.full((2, 1, 2, 2), 2.0),
)(lambda x: ImageData(x, torch.zeros(2, dtype=torch.long), ("a",)))
bad("ImageData.labels", "labels", torch.zeros(2), torch.tensor([0, 5]), torch.zeros(2, 2, dtype=torch.long))(
    lambda x: ImageData(torch.zeros(2, 1, 2, 2), x, ("a", "b"))
)
bad("load_mnist10k.split", "split", "bogus", None, 3)(lambda x: load_mnist10k(x))
bad("TrainConfig.lr", "lr", 0, -1.0, NAN, INF, "x", True)(lambda x: TrainConfig(epochs=1, lr=x, batch_size=2))
bad("TrainConfig.epochs", "epochs", 0, -1, 1.5, True, "2")(lambda x: TrainConfig(epochs=x, lr=0.1, batch_size=2))
bad("TrainConfig.seed", "seed", -1, 1.5, True)(lambda x: TrainConfig(epochs=1, lr=0.1, batch_size=2, seed=x))
bad(
    "train.train_data",
    "train_data",
    None,
    torch.zeros(2),
    (torch.full((2, 3), NAN), torch.zeros(2, dtype=torch.long)),
    (torch.zeros(2, 3), torch.zeros(2)),
    (torch.zeros(3, 3), torch.zeros(2, dtype=torch.long)),
)(lambda x: train(mlp().float(), x, None, CONFIG, progress=False))
bad("train.config", "config", None, {"epochs": 1})(
    lambda x: train(mlp().float(), (torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)), None, x, progress=False)
)
if hasattr(ip, "explain"):
    bad("explain.model", "model", None, "m", 3)(lambda x: ip.explain(x, X))
    bad("explain.x", "x", np.array([1.0, NAN, 3.0]), np.array([1.0, INF, 3.0]))(lambda x: ip.explain(mlp(), x))
    bad("explain.method", "method", "bogus", 3)(lambda x: ip.explain(mlp(), X, method=x))
    bad("explain.target", "target", 5, -1, True)(lambda x: ip.explain(mlp(), X, target=x))
    bad("explain.tol", "tol", 0, 5, NAN, "x")(lambda x: ip.explain(mlp(), X, tol=x))
    bad("explain.tokenizer", "tokenizer", None)(lambda x: ip.explain(mlp(), "a sentence", tokenizer=x))
    bad("explain.option", "bogus", 1)(lambda x: ip.explain(mlp(), X, bogus=x))
if not CUDA:
    bad("bert_tiny.device", "device", "cuda")(lambda x: bert_tiny(device=x))
    bad("TrainConfig.device", "device", "cuda")(
        lambda x: train(
            mlp().float(),
            (torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)),
            None,
            TrainConfig(epochs=1, lr=0.1, batch_size=2, device=x),
            progress=False,
        )
    )


@pytest.mark.parametrize("name, call", [pytest.param(name, call, id=id_) for id_, call, name in BAD_OPTIONS])
def test_bad_options(name: str, call: Callable[[], Any]) -> None:
    assert_clean_error(call, name)


# ---------------------------------------------------------------------------------------------
# Files: Interactions.load, Store.get, the data readers
# ---------------------------------------------------------------------------------------------


def saved_bytes(folder: Path) -> bytes:
    return ip.sparse_and_or(V_BATCH, tol=1e-2).save(folder / "good.npz").read_bytes()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def ours(**header: Any) -> np.ndarray:
    """A header entry of the Interactions format with ``header`` replacing some fields."""
    fields = {"format": "interprim.Interactions/1", "players": ["0", "1", "2"], "meta": {}, "meta_arrays": []}
    return np.array(json.dumps({**fields, **header}))


ARRAYS = {"i_and": V, "i_or": V, "gamma": V, "noise": V, "objective": np.array(0.0)}

BAD_FILES: dict[str, Callable[[Path], Any]] = {  # each writes a file that is not an Interactions record
    "empty": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(saved_bytes(p.parent)[:700]),
    "truncated-end": lambda p: p.write_bytes(saved_bytes(p.parent)[:-30]),
    "corrupt-bytes": lambda p: p.write_bytes(
        bytes(b ^ 0xFF if 300 <= i < 340 else b for i, b in enumerate(saved_bytes(p.parent)))
    ),
    "random-bytes": lambda p: p.write_bytes(np.random.default_rng(0).bytes(500)),
    "zip-signature-only": lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"),
    "text": lambda p: p.write_text("i_and,i_or\n1,2\n"),
    "npy": lambda p: p.write_bytes(npy_bytes(V)),
    "npy-object": lambda p: p.write_bytes(npy_bytes(np.array([{}], dtype=object))),
    "pickle": lambda p: p.write_bytes(pickle.dumps({"i_and": V})),
    "npz-without-header": lambda p: np.savez(p, i_and=V, i_or=V),
    "header-not-json": lambda p: np.savez(p, header=np.array("{not json"), i_and=V),
    "header-json-list": lambda p: np.savez(p, header=np.array("[1, 2]"), i_and=V),
    "header-number-array": lambda p: np.savez(p, header=np.arange(3)),
    "foreign-json": lambda p: np.savez(p, header=ours(format="other/1"), **ARRAYS),
    "our-header-no-arrays": lambda p: np.savez(p, header=ours()),
    "our-header-bad-meta": lambda p: np.savez(p, header=ours(meta=3), **ARRAYS),
    "our-header-bad-players": lambda p: np.savez(p, header=ours(players=["0"]), **ARRAYS),
    "our-header-object-array": lambda p: np.savez(p, header=ours(), **{**ARRAYS, "i_or": np.array([{}] * 8)}),
    "store-record": lambda p: Store(p.parent / "store").put("r", {"x": V}).replace(p),
}


def bad_file(folder: Path, kind: str) -> Path:
    path = folder / f"{kind}.npz"
    BAD_FILES[kind](path)
    return path


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_interactions_load_bad_file(tmp_path: Path, kind: str) -> None:
    path = bad_file(tmp_path, kind)
    assert_clean_error(lambda: Interactions.load(path), str(path), (ValueError,))


@pytest.mark.parametrize("kind", sorted(set(BAD_FILES) - {"store-record"}))
def test_store_get_bad_file(tmp_path: Path, kind: str) -> None:
    store = Store(tmp_path / "records")
    path = bad_file(tmp_path, kind)
    target = store.root / "r.npz"
    target.parent.mkdir(parents=True)
    path.replace(target)
    assert_clean_error(lambda: store.get("r"), str(target), (ValueError,))


@pytest.mark.parametrize("path", ["missing.npz", "missing/deeper.npz"])
def test_interactions_load_missing_file(tmp_path: Path, path: str) -> None:
    assert_clean_error(lambda: Interactions.load(tmp_path / path), str(tmp_path / path), (FileNotFoundError,))


@pytest.mark.parametrize("path", [None, 3, ["a.npz"], b"a.npz"])
def test_interactions_load_wrong_type(path: Any) -> None:
    assert_clean_error(lambda: Interactions.load(path), "path", (TypeError,))


def test_interactions_load_directory(tmp_path: Path) -> None:
    assert_clean_error(lambda: Interactions.load(tmp_path), str(tmp_path), (ValueError,))


@pytest.mark.parametrize(
    "content",
    [b"sentence\tlabel\ncaf\xe9\t1\n", b"\xff\xfe s\x00e\x00", b"label\tsentence\n1\tgood\n0\t\x81bad\n"],
    ids=["latin1", "utf16-bom", "late-bad-byte"],
)
def test_load_sst2_not_utf8(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "train.tsv").write_bytes(content)
    assert_clean_error(lambda: load_sst2(tmp_path), str(tmp_path / "train.tsv"), (ValueError,))


@pytest.mark.parametrize("reader", [lambda p: load_sst2(p), lambda p: load_mnist(p)], ids=["sst2", "mnist"])
def test_readers_missing_folder(tmp_path: Path, reader: Callable[[Path], Any]) -> None:
    assert_clean_error(lambda: reader(tmp_path / "nowhere"), "nowhere", (FileNotFoundError,))


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x00", np.random.default_rng(1).bytes(64), b"\x00\x00\x08\x01\x00\x00\x00\x09abc"],
    ids=["empty", "short", "random", "truncated"],
)
def test_read_idx_bad_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(content)
    assert_clean_error(lambda: read_idx(path), str(path), (ValueError,))


# ---------------------------------------------------------------------------------------------
# Text games (a tiny BERT and a word-level tokenizer)
# ---------------------------------------------------------------------------------------------

SENTENCE = "the movie was not good but the plot was funny"


@functools.cache
def text_model() -> tuple[Any, Any]:
    pytest.importorskip("transformers")
    from interprim.nn import word_tokenizer

    tokenizer = word_tokenizer([SENTENCE, "bad acting"])
    model = bert_tiny(vocab_size=len(tokenizer), max_position_embeddings=16).double().eval()
    return model, tokenizer


TEXT_CASES = {
    "model": (lambda m, t: games.TextGame(torch.nn.Linear(2, 2), t, SENTENCE), "model"),
    "tokenizer": (lambda m, t: games.TextGame(m, str.split, SENTENCE), "tokenizer"),
    "sentence-none": (lambda m, t: games.TextGame(m, t, None), "sentence"),
    "sentence-empty": (lambda m, t: games.TextGame(m, t, "   "), "sentence"),
    "sentence-too-long": (lambda m, t: games.TextGame(m, t, " ".join([SENTENCE] * 3)), "sentence"),
    "sentence-stop-words-only": (lambda m, t: games.TextGame(m, t, "the was but"), "stop_words"),
    "n-zero": (lambda m, t: games.TextGame(m, t, SENTENCE, n=0), "n"),
    "n-bool": (lambda m, t: games.TextGame(m, t, SENTENCE, n=True), "n"),
    "n-huge": (lambda m, t: games.TextGame(m, t, SENTENCE, n=10**6), "n"),
    "layer": (lambda m, t: games.TextGame(m, t, SENTENCE, layer=99), "layer"),
    "baseline": (lambda m, t: games.TextGame(m, t, SENTENCE, baseline="bogus"), "baseline"),
    "baseline-nan": (lambda m, t: games.TextGame(m, t, SENTENCE, baseline=np.full(128, NAN)), "baseline"),
    "players-absent-word": (lambda m, t: games.TextGame(m, t, SENTENCE, players=["nope"]), "nope"),
    "players-index": (lambda m, t: games.TextGame(m, t, SENTENCE, players=[99]), "99"),
    "players-with-n": (lambda m, t: games.TextGame(m, t, SENTENCE, players=["movie"], n=3), "n"),
    "target": (lambda m, t: games.TextGame(m, t, SENTENCE, target=7), "target"),
    "device": (lambda m, t: games.TextGame(m, t, SENTENCE, device="nonsense"), "device"),
    "text_values-sentences-str": (lambda m, t: games.text_values(m, t, SENTENCE), "sentences"),
    "text_values-sentences-empty": (lambda m, t: games.text_values(m, t, []), "sentences"),
    "text_values-too-long": (
        lambda m, t: games.text_values(m, t, [SENTENCE, " ".join([SENTENCE] * 3)], n=3),
        "sentences[1]",
    ),
    "text_values-targets": (lambda m, t: games.text_values(m, t, [SENTENCE], n=3, targets=[0, 1]), "targets"),
}
TEXT_CASES = {case if case.startswith("text_values") else f"TextGame.{case}": v for case, v in TEXT_CASES.items()}


@pytest.mark.parametrize("case", sorted(TEXT_CASES))
def test_text_games(case: str) -> None:
    model, tokenizer = text_model()
    call, name = TEXT_CASES[case]
    assert_clean_error(lambda: call(model, tokenizer), name)


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

CLI_CASES = {
    "demo-players-20": (["demo", "--players", "20"], "--players"),
    "demo-players-26": (["demo", "--players", "26"], "--players"),
    "demo-players-0": (["demo", "--players", "0"], "--players"),
    "demo-players-text": (["demo", "--players", "ten"], "--players"),
    "demo-tol-0": (["demo", "--tol", "0"], "--tol"),
    "demo-tol-5": (["demo", "--tol", "5"], "--tol"),
    "demo-tol-nan": (["demo", "--tol", "nan"], "--tol"),
    "demo-tol-inf": (["demo", "--tol", "inf"], "--tol"),
    "demo-tol-negative": (["demo", "--tol", "-0.01"], "--tol"),
    "demo-seed--1": (["demo", "--seed", "-1"], "--seed"),
    "demo-seed-float": (["demo", "--seed", "1.5"], "--seed"),
    "demo-seed-huge": (["demo", "--seed", str(2**64)], "--seed"),
    "demo-epochs-0": (["demo", "--epochs", "0"], "--epochs"),
    "demo-images-0": (["demo", "--images", "0"], "--images"),
    "demo-images-huge": (["demo", "--images", "100000", "--out-dir", "{tmp}/out"], "--images"),
    "demo-max-iter-0": (["demo", "--max-iter", "0"], "--max-iter"),
    "demo-train-size-0": (["demo", "--train-size", "0"], "--train-size"),
    "demo-top-0": (["demo", "--top", "0"], "--top"),
    "demo-out-dir-is-a-file": (["demo", "--out-dir", "{tmp}/v.npy"], "--out-dir"),
    "demo-out-dir-unwritable": (["demo", "--out-dir", "/proc/interprim-demo"], "--out-dir"),
    "extract-npz": (["extract", "{tmp}/x.npz"], "x.npz"),
    "extract-saved-interactions": (["extract", "{tmp}/r.npz"], "r.npz"),
    "extract-random-bytes": (["extract", "{tmp}/junk.bin"], "junk.bin"),
    "extract-words": (["extract", "{tmp}/words.txt"], "words.txt"),
    "extract-nan": (["extract", "{tmp}/nan.npy"], "NaN"),
    "extract-length-6": (["extract", "{tmp}/six.npy"], "6"),
    "extract-missing": (["extract", "{tmp}/missing.npy"], "missing.npy"),
    "extract-directory": (["extract", "{tmp}"], "is not a file"),
    "extract-out-dot": (["extract", "{tmp}/v.npy", "--out", "."], "--out"),
    "extract-out-directory": (["extract", "{tmp}/v.npy", "--out", "{tmp}"], "--out"),
    "extract-out-missing-folder": (["extract", "{tmp}/v.npy", "--out", "{tmp}/no/r.npz"], "--out"),
    "extract-method": (["extract", "{tmp}/v.npy", "--method", "bogus"], "--method"),
    "extract-top": (["extract", "{tmp}/v.npy", "--top", "-3"], "--top"),
    "experiment-unknown": (["experiment", "run", "nope", "--out", "{tmp}/run"], "nope"),
    "experiment-threads": (["experiment", "run", "selftest", "--threads", "0"], "--threads"),
    "experiment-report-missing": (["experiment", "report", "{tmp}/nowhere"], "nowhere"),
    "unknown-command": (["nope"], "nope"),
}


@pytest.fixture
def cli_files(tmp_path: Path) -> Path:
    np.save(tmp_path / "v.npy", V)
    np.save(tmp_path / "nan.npy", np.array([0.0, NAN, 1.0, 2.0]))
    np.save(tmp_path / "six.npy", np.zeros(6))
    np.savez(tmp_path / "x.npz", v=V)
    ip.harsanyi(V).save(tmp_path / "r.npz")
    (tmp_path / "junk.bin").write_bytes(bytes(range(256)))
    (tmp_path / "words.txt").write_text("one two three four\n")
    return tmp_path


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli(case: str, cli_files: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    argv, name = CLI_CASES[case]
    argv = [a.replace("{tmp}", str(cli_files)) for a in argv]
    monkeypatch.chdir(cli_files)
    import interprim.train

    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the demo started training before it checked its flags")

    monkeypatch.setattr(interprim.train, "train", no_training)
    start = time.perf_counter()
    with time_limit():
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
    assert time.perf_counter() - start < LIMIT
    err = capsys.readouterr().err
    assert code not in (0, None)
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:") or ": error:" in line]
    assert len(errors) == 1, err
    assert name in errors[0], errors[0]


def test_fuzz_covers_the_public_api() -> None:
    """Every public callable of interprim, interprim.games and interprim.metrics has a case above."""
    covered = " ".join(
        [*VECTOR_ENTRIES, *(id_ for id_, _, _ in BAD_OPTIONS), *TEXT_CASES, "Interactions.load", "ConvergenceWarning"]
    )
    public = {
        *(n for n in ip.__all__ if callable(getattr(ip, n)) and n != "ConvergenceWarning"),
        *(n for n in games.__all__ if callable(getattr(games, n)) and n not in ("Game", "BaseGame")),
        *(n for n in metrics.__all__ if callable(getattr(metrics, n))),
    }
    missing = sorted(n for n in public if not re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", covered))
    assert missing == [], missing
