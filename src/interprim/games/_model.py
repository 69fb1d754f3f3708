"""Plumbing shared by the games on a torch model: device, dtype, eval mode, logits, target and output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from .._array import as_tensor, unmasked
from .base import CPU_BATCH_BYTES, DEFAULT_MEMORY_BUDGET, BaseGame
from .outputs import check_target, predicted_class, resolve_output


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Run the block with every module of ``model`` in eval mode, then restore each module's own mode."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def model_device(model: torch.nn.Module, device: Any) -> torch.device:
    """The device to run on: ``device`` when given (it must hold the model's parameters), else the model's."""
    tensors = [*model.parameters(), *model.buffers()]
    own = tensors[0].device if tensors else None
    if device is None:
        return own if own is not None else torch.device("cpu")
    try:
        device = torch.empty(0, device=device).device  # normalises "cuda" to "cuda:0" and checks it exists
    except (RuntimeError, TypeError, AssertionError) as e:
        unavailable = str(device).startswith("cuda") and not torch.cuda.is_available()
        reason = "CUDA is not available here; use device='cpu'" if unavailable else e
        raise ValueError(f"device={device!r} is not a usable torch device ({reason}).") from None
    if own is not None and own != device:
        raise ValueError(
            f"the model's parameters are on {own} but device={str(device)!r}; move the model first with "
            f"model.to({str(device)!r}) or leave device=None to run on the model's device."
        )
    return device


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    """The floating dtype of the model's first floating parameter (the default dtype when it has none)."""
    for p in model.parameters():
        if p.dtype.is_floating_point:
            return p.dtype
    return torch.get_default_dtype()


def batch_rows(memory_budget: int, row_bytes: int, device: torch.device) -> int:
    """Masked inputs per forward pass: as many as fit in ``memory_budget`` bytes and, on a CPU, in
    :data:`~interprim.games.base.CPU_BATCH_BYTES` (at least 1)."""
    budget = min(memory_budget, CPU_BATCH_BYTES) if device.type == "cpu" else memory_budget
    return max(1, budget // max(1, row_bytes))


def as_float_tensor(x: Any, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``x`` (array or tensor of real numbers) as a finite tensor of ``dtype`` on ``device``, else ``ValueError``."""
    if isinstance(x, str):
        raise TypeError(f"{name} must be a number or a tensor/array of numbers, got the string {x!r}.")
    x = as_tensor(unmasked(name, x), name, "a tensor or array of numbers")
    if x.dtype == torch.bool or x.dtype.is_complex:
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}.")
    x = x.detach().to(device=device, dtype=dtype)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values; every entry must be a finite number.")
    return x


def as_logits(raw: Any) -> torch.Tensor:
    """The ``(B, C)`` logits in a model's output: a tensor (``(B,)`` becomes ``(B, 1)``), a tuple, or ``.logits``."""
    if hasattr(raw, "logits"):
        raw = raw.logits
    elif isinstance(raw, (tuple, list)) and raw:
        raw = raw[0]
    if not isinstance(raw, torch.Tensor):
        raise ValueError(f"the model returned {type(raw).__name__}; a game needs a (B, C) tensor of logits.")
    if raw.dtype.is_complex:
        raise ValueError(f"the model's output is complex ({raw.dtype}); a game needs real logits.")
    if raw.ndim == 1:
        raw = raw[:, None]
    if raw.ndim != 2:
        raise ValueError(
            f"the model returned shape {tuple(raw.shape)}; a game needs (B, C) logits (or (B,) scalars) per batch."
        )
    return raw


class ModelGame(BaseGame):
    """A game whose values are a scalar ``output(logits, target)`` of a torch model on masked inputs.

    Subclasses build the masked inputs and call :meth:`_resolve_target` once on the model's output
    for the unmasked sample, then :meth:`_scalars` on each batch's output, inside :func:`eval_mode`.
    """

    source = "the model's output"

    def __init__(
        self,
        model: torch.nn.Module,
        n_players: int,
        output: Any,
        device: Any,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        batch_size: int | None = None,
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        super().__init__(n_players, memory_budget, batch_size)
        self.model = model
        self.device = model_device(model, device)
        self.dtype = model_dtype(model)
        self.output = resolve_output(output)
        self.target: int = 0
        self.logits: torch.Tensor = torch.zeros(0, dtype=torch.float64)

    def default_batch_size(self) -> int:
        """``batch_size`` when given, else :func:`batch_rows` of the budget (at most 4 MiB per pass on a CPU)."""
        if self.batch_size is not None:
            return self.batch_size
        return batch_rows(self.memory_budget, self.bytes_per_sample, self.device)

    def _resolve_target(self, raw: Any, target: Any) -> None:
        """Store the unmasked sample's logits and the target: ``target``, or the predicted class when ``None``."""
        logits = as_logits(raw)
        if logits.shape[0] != 1:
            raise ValueError(f"the model returned {logits.shape[0]} rows for one sample; expected 1.")
        self.logits = logits[0].detach().to("cpu", torch.float64)
        self.target = predicted_class(logits) if target is None else check_target(target, logits.shape[1])

    def _hidden(self, masks: Any, membership: torch.Tensor) -> torch.Tensor:
        """Which positions take the baseline for a ``(B, n)`` bool batch of masks: bool ``(B, m)``.

        ``membership`` is the ``(n, m)`` 0/1 matrix of the positions each player covers; a position
        is hidden when a player covering it is absent from ``S``.
        """
        masks = self._check_masks(masks).to(self.device)
        return ((~masks).to(membership.dtype) @ membership) > 0

    def _scalars(self, raw: Any) -> torch.Tensor:
        """``output(logits, target)`` for a batch of model outputs, computed in float64."""
        return self.output(as_logits(raw).to(torch.float64), self.target)
