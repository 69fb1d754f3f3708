"""Tabular games: players are groups of feature columns (SPEC §5).

``v(x_S)`` is the model's output on the feature vector whose columns in the groups outside ``S``
take their baseline values (the feature means by default); columns in no group stay unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ._model import ModelGame, as_float_tensor, eval_mode, model_device, model_dtype
from .base import DEFAULT_MEMORY_BUDGET, check_n_players


def _check_groups(groups: Any, width: int) -> list[tuple[int, ...]]:
    """``groups`` as disjoint, non-empty tuples of column indices in ``0..width-1`` (an int is a one-column group)."""
    if isinstance(groups, (str, bytes)) or not isinstance(groups, (Sequence, np.ndarray)):
        raise ValueError(f"groups must be a list of column-index lists, one per player, got {groups!r}.")
    check_n_players(len(groups), "the number of groups")
    out: list[tuple[int, ...]] = []
    owner: dict[int, int] = {}
    for i, group in enumerate(groups):
        columns = [group] if isinstance(group, (int, np.integer)) else group
        if isinstance(columns, (str, bytes)) or not isinstance(columns, (Sequence, np.ndarray)) or len(columns) == 0:
            raise ValueError(f"groups[{i}] must be a non-empty list of column indices, got {group!r}.")
        for c in columns:
            if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)) or not 0 <= c < width:
                raise ValueError(f"groups[{i}] has column {c!r}; columns are integers in 0..{width - 1}.")
            if int(c) in owner:
                raise ValueError(f"column {int(c)} is in groups {owner[int(c)]} and {i}; groups must be disjoint.")
            owner[int(c)] = i
        out.append(tuple(int(c) for c in columns))
    return out


class TabularGame(ModelGame):
    """The game of feature groups of one sample ``x`` for a model ``(B, d) -> (B, classes)``.

    Args:
        model: a classifier on feature vectors (a ``(B,)`` output is one logit).
        x: the sample, ``(d,)``.
        groups: one list of column indices per player (an int is a one-column group); disjoint.
        baseline: ``"mean"`` — the column means of ``data``; or a scalar or ``(d,)`` vector.
        data: ``(m, d)`` reference samples for the mean baseline.
        target, output, device, memory_budget, batch_size: as for :class:`~interprim.games.ImageGame`.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        x: Any,
        groups: Sequence[Sequence[int]],
        baseline: Any = "mean",
        data: Any = None,
        target: int | None = None,
        output: Any = "log_odds",
        device: Any = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        batch_size: int | None = None,
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        device = model_device(model, device)
        dtype = model_dtype(model)
        x = as_float_tensor(x, "x", dtype, device)
        if x.ndim != 1:
            raise ValueError(f"x must be one sample, a vector of features (d,), got shape {tuple(x.shape)}.")
        self.x = x
        self.groups = _check_groups(groups, x.shape[0])
        if isinstance(baseline, str):
            if baseline != "mean":
                raise ValueError(
                    f"baseline must be 'mean', a scalar or a vector of size {x.shape[0]}, got {baseline!r}."
                )
            if data is None:
                raise ValueError("baseline='mean' needs data, the (m, d) samples whose column means are the baseline.")
            data = as_float_tensor(data, "data", dtype, device)
            if data.ndim != 2 or data.shape[1] != x.shape[0] or data.shape[0] == 0:
                raise ValueError(
                    f"data must have shape (m, d) = (m, {x.shape[0]}) with m >= 1, got {tuple(data.shape)}."
                )
            baseline = data.mean(0)
        baseline = as_float_tensor(baseline, "baseline", dtype, device)
        if baseline.ndim > 1 or (baseline.ndim == 1 and baseline.shape[0] != x.shape[0]):
            raise ValueError(
                f"baseline must be a scalar or a vector of size {x.shape[0]}, got shape {tuple(baseline.shape)}."
            )
        self.baseline = baseline.expand(x.shape[0])
        with torch.no_grad(), eval_mode(model):
            raw = model(x[None])
        super().__init__(model, len(self.groups), output, device, memory_budget, batch_size)
        self._resolve_target(raw, target)
        membership = torch.zeros(self.n_players, x.shape[0], dtype=dtype)
        for i, columns in enumerate(self.groups):
            membership[i, list(columns)] = 1
        self._membership = membership.to(device)

    @property
    def bytes_per_sample(self) -> int:
        """Bytes of one masked feature vector."""
        return self.x.numel() * self.x.element_size()

    def masked(self, masks: Any) -> torch.Tensor:
        """The masked samples ``x_S`` for a ``(B, n)`` bool batch of masks, ``(B, d)``."""
        hidden = self._hidden(masks, self._membership)
        return torch.where(hidden, self.baseline, self.x)

    def _evaluate(self, masks: torch.Tensor) -> torch.Tensor:
        inputs = self.masked(masks)
        with eval_mode(self.model):
            raw = self.model(inputs)
        return self._scalars(raw)
