"""The game protocol: subsets of ``n`` players in, scalars out (SPEC §1).

A game ``v`` maps every subset ``S ⊆ N = {0, …, n-1}`` to the scalar ``v(x_S)``, the output on
the sample whose players outside ``S`` take their baseline values. A batch of subsets is a
``(B, n)`` bool matrix whose row ``b`` marks the players present (``masks[b, i]`` is bit ``i`` of
``S``); :meth:`BaseGame.values` evaluates all ``2**n`` subsets in bitmask order, the order of
:func:`interprim.sets.subset_masks`, so that ``values()[S] == v(x_S)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from tqdm.auto import tqdm

from .._array import as_tensor, positive_strides

MAX_PLAYERS = 24
"""The largest number of players a game accepts: ``2**24`` subsets is already 16.8 million evaluations."""

DEFAULT_MEMORY_BUDGET = 256 * 2**20
"""Default bytes of masked inputs per batch (256 MiB)."""

CPU_BATCH_BYTES = 4 * 2**20
"""Bytes of masked inputs per forward pass of a model game on a CPU (4 MiB), whatever the budget.

Larger batches leave the CPU caches and run slower: ResNet-20 on 64 KiB feature maps did about
1000 evaluations per second in batches of 16-64 maps and 420 in batches of 1024; LeNet, VGG-11,
AlexNet and BERT-Tiny were as fast or faster at 4 MiB than at 64 MiB (``benchmarks/games.py``)."""


@runtime_checkable
class Game(Protocol):
    """What every game offers: its number of players, batched evaluation and all values.

    ``game(masks)`` takes a ``(B, n)`` bool array or tensor and returns a float64 CPU tensor of
    shape ``(B,)`` with ``v(x_S)`` for the subset ``S`` of each row; ``game.values()`` returns the
    ``2**n`` values in bitmask order.
    """

    n_players: int

    def __call__(self, masks: Any) -> torch.Tensor: ...

    def values(self, batch_size: int | None = None, progress: bool = False) -> torch.Tensor: ...


def check_n_players(n: Any, name: str = "n_players") -> int:
    """Return ``n`` as an ``int`` when it is a number of players in ``1..MAX_PLAYERS``; ``ValueError`` otherwise."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"{name} must be an integer number of players, got {n!r}.")
    if not 1 <= n <= MAX_PLAYERS:
        raise ValueError(
            f"{name}={int(n)} is out of range: a game has 1 to {MAX_PLAYERS} players (it is evaluated on "
            f"all 2**n subsets); choose fewer players."
        )
    return int(n)


def check_batch_size(batch_size: Any, name: str = "batch_size") -> int | None:
    """Return ``batch_size`` as a positive ``int`` (or ``None``); ``ValueError`` otherwise."""
    if batch_size is None:
        return None
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {batch_size!r}.")
    return int(batch_size)


def check_values(out: Any, count: int, source: str) -> torch.Tensor:
    """The values a game computed for ``count`` masked inputs as a float64 CPU tensor ``(count,)``, else ``ValueError``.

    ``out`` is a tensor, numpy array or list of real numbers; the masked entries of a numpy masked
    array count as NaN. Complex values, a wrong shape and NaN or ±inf raise, with ``source`` (what
    gave the values, e.g. "the model's output") and how many of the inputs are affected: every
    game's evaluation passes through here, so no NaN reaches a value vector.
    """
    if isinstance(out, np.ma.MaskedArray):  # masked entries are missing values
        out = np.ma.filled(out.astype(np.result_type(out.dtype, np.float64)), np.nan)
    if not isinstance(out, torch.Tensor):
        try:
            out = torch.as_tensor(positive_strides(np.asarray(out)))
        except (TypeError, ValueError, RuntimeError) as e:
            raise ValueError(f"{source} is {type(out).__name__}, not an array of numbers ({e}).") from None
    if out.dtype.is_complex:
        raise ValueError(
            f"{source} is complex ({out.dtype}); a game's values must be real numbers: return e.g. the real part "
            f"or the absolute value."
        )
    out = out.detach().to(device="cpu", dtype=torch.float64)
    if tuple(out.shape) != (count,):
        raise ValueError(
            f"{source} has shape {tuple(out.shape)} for {count} masked inputs; it must give one scalar per masked "
            f"input, shape ({count},)."
        )
    nan, inf = int(torch.isnan(out).sum()), int(torch.isinf(out).sum())
    if nan or inf:
        found = " and ".join(f"{name} for {k}" for name, k in (("NaN", nan), ("±inf", inf)) if k)
        raise ValueError(
            f"{source} contains {found} of {count} masked inputs; a game's values must be finite numbers: check "
            f"the model on masked inputs (e.g. with the baseline in place)."
        )
    return out


def masks_of_range(start: int, stop: int, n: int) -> torch.Tensor:
    """Rows ``start..stop-1`` of :func:`interprim.sets.subset_masks`: ``masks[k, i] = bit i of (start + k)``."""
    subsets = torch.arange(start, stop, dtype=torch.int64)
    masks = torch.empty(stop - start, n, dtype=torch.bool)
    for i in range(n):  # column by column: no (B, n) integer temporary
        masks[:, i] = (subsets >> i) & 1 == 1
    return masks


class BaseGame:
    """A game evaluated in memory-bounded batches; subclasses implement :meth:`_evaluate`.

    The batch size of :meth:`values` is ``batch_size`` when given, else the number of masked
    inputs that fit in ``memory_budget`` bytes (``memory_budget // bytes_per_sample``, at least 1;
    games on a model running on a CPU also keep to :data:`CPU_BATCH_BYTES`). The budget counts the
    masked inputs only; the activations a model computes on them scale with the batch too, so
    lower the budget for models with large activations.
    """

    source = "the game's output"
    """What gives the values, for error messages."""

    def __init__(
        self, n_players: int, memory_budget: int = DEFAULT_MEMORY_BUDGET, batch_size: int | None = None
    ) -> None:
        self.n_players = check_n_players(n_players)
        if (
            isinstance(memory_budget, (bool, np.bool_))
            or not isinstance(memory_budget, (int, np.integer))
            or memory_budget < 1
        ):
            raise ValueError(f"memory_budget must be a positive number of bytes, got {memory_budget!r}.")
        self.memory_budget = int(memory_budget)
        self.batch_size = check_batch_size(batch_size)

    @property
    def bytes_per_sample(self) -> int:
        """Bytes of one masked input (what :meth:`values` multiplies by the batch size): a mask row and its value."""
        return self.n_players + 8

    def _evaluate(self, masks: torch.Tensor) -> Any:
        """Values of a checked ``(B, n)`` bool CPU tensor of masks, shape ``(B,)``: a tensor of any real dtype and
        device, or what :func:`check_values` takes."""
        raise NotImplementedError

    def __call__(self, masks: Any) -> torch.Tensor:
        """``v(x_S)`` for each row of a ``(B, n)`` bool matrix of masks, as a float64 CPU tensor ``(B,)``.

        Raises ``ValueError`` when the values are not finite real numbers (:func:`check_values`).
        """
        masks = self._check_masks(masks)
        if masks.shape[0] == 0:
            return torch.zeros(0, dtype=torch.float64)
        with torch.no_grad():
            out = self._evaluate(masks)
        return check_values(out, masks.shape[0], f"{type(self).__name__}: {self.source}")

    def default_batch_size(self) -> int:
        """The batch size :meth:`values` uses when none is given: explicit, else from the memory budget."""
        if self.batch_size is not None:
            return self.batch_size
        return max(1, self.memory_budget // max(1, self.bytes_per_sample))

    def values(self, batch_size: int | None = None, progress: bool = False) -> torch.Tensor:
        """All ``2**n`` values ``v[S] = v(x_S)`` in bitmask order, a float64 CPU tensor.

        Evaluated under ``torch.no_grad()`` in batches of ``batch_size`` subsets (default:
        :meth:`default_batch_size`); ``progress`` shows a bar over the batches.
        """
        batch_size = check_batch_size(batch_size) or self.default_batch_size()
        total = 2**self.n_players
        batch_size = min(batch_size, total)
        out = torch.empty(total, dtype=torch.float64)
        starts = range(0, total, batch_size)
        bar = tqdm(starts, desc=f"{type(self).__name__} (n={self.n_players})", unit="batch", disable=not progress)
        for start in bar:
            stop = min(start + batch_size, total)
            out[start:stop] = self(masks_of_range(start, stop, self.n_players))
        return out

    def _check_masks(self, masks: Any) -> torch.Tensor:
        """``masks`` as a ``(B, n)`` bool CPU tensor; bool or 0/1 integer arrays and tensors are accepted."""
        masks = as_tensor(masks, "masks", "a (B, n) bool array or tensor")
        if masks.ndim != 2 or masks.shape[1] != self.n_players:
            raise ValueError(
                f"masks must have shape (B, n_players) = (B, {self.n_players}), got {tuple(masks.shape)}; "
                f"row b marks the players present in the b-th subset."
            )
        if masks.dtype != torch.bool:
            if masks.dtype.is_floating_point or masks.dtype.is_complex or not bool(((masks == 0) | (masks == 1)).all()):
                raise ValueError(
                    f"masks must be bool (or integers 0/1), got dtype {masks.dtype}; convert with masks.astype(bool)."
                )
            masks = masks == 1
        return masks.cpu()


class FunctionGame(BaseGame):
    """A game from any callable ``fn(masks) -> values``: ``masks`` a ``(B, n)`` bool CPU tensor, values ``(B,)``.

    ``fn`` may return a numpy array, a list or a tensor on any device; values are converted to
    float64 on the CPU. NaN, ±inf, masked entries of a masked array and complex values raise ``ValueError``.
    """

    source = "the output of fn"

    def __init__(
        self,
        fn: Callable[[torch.Tensor], Any],
        n: int,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        batch_size: int | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be a callable taking a (B, n) bool tensor of masks, got {type(fn).__name__}.")
        super().__init__(check_n_players(n, "n"), memory_budget, batch_size)
        self.fn = fn

    def _evaluate(self, masks: torch.Tensor) -> Any:
        return self.fn(masks)
