"""Tensor data as the trainer takes it: checked once where it enters, then batched and fed to the model.

A data set is ``inputs`` — one tensor, or a tuple of tensors for models called with several arguments
(e.g. text ``(input_ids, attention_mask)``) — and ``labels``, an integer tensor; all share their first
dimension ``N``. The model maps a batch of inputs to logits ``(B, C)``, or to an object with ``.logits``
(Hugging Face models).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class TensorData:
    """Checked inputs and labels; ``single`` is True when the inputs were one tensor, not a tuple."""

    inputs: tuple[torch.Tensor, ...]
    labels: torch.Tensor
    single: bool
    max_label: int
    padded: bool = False  # right-padded text: inputs[1] is a 0/1 attention mask of inputs[0]'s shape

    @property
    def n(self) -> int:
        """Number of samples ``N``."""
        return len(self.labels)

    @property
    def is_float_image(self) -> bool:
        """True for a single floating-point input tensor (the case adversarial training supports)."""
        return self.single and self.inputs[0].is_floating_point()

    def take(self, index: torch.Tensor, device: torch.device) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """The samples at ``index`` (a 1-D long tensor), moved to ``device``.

        For right-padded text every input of shape ``(N, L)`` is cut to the longest sentence of the batch.
        """
        index = index.to(self.labels.device)
        inputs = tuple(t.index_select(0, index) for t in self.inputs)
        if self.padded:
            length = max(int(inputs[1].sum(dim=1).max()), 1)
            full = self.inputs[0].shape
            inputs = tuple(t[:, :length] if t.shape == (len(index), full[1]) else t for t in inputs)
        return tuple(t.to(device) for t in inputs), self.labels.index_select(0, index).to(device)

    def fingerprint(self) -> str:
        """SHA-256 over the shapes, dtypes and bytes of inputs and labels: identifies the data of a run."""
        h = hashlib.sha256()
        for t in (*self.inputs, self.labels):
            h.update(f"{tuple(t.shape)}|{t.dtype}|".encode())
            flat = t.detach().to("cpu").contiguous().reshape(-1)
            h.update(flat.view(torch.uint8).numpy().tobytes())
        return h.hexdigest()


def as_pair(name: str, data: Any) -> TensorData:
    """Check a data set given as the pair ``(inputs, labels)``; ``name`` is the argument's name."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(
            f"{name} must be a pair (inputs, labels) of tensors, got {type(data).__name__}"
            + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else "")
            + "."
        )
    return as_tensor_data(data[0], data[1], f"{name}[0] (inputs)", f"{name}[1] (labels)")


def as_tensor_data(inputs: Any, labels: Any, inputs_name: str = "inputs", labels_name: str = "labels") -> TensorData:
    """Check ``inputs`` and ``labels`` and bundle them; errors name the offending argument."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{labels_name} must be a torch tensor of class indices, got {type(labels).__name__}.")
    if labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"{labels_name} must hold integer class indices (int64), got dtype {labels.dtype}.")
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"{labels_name} must be a non-empty 1-D tensor, got shape {tuple(labels.shape)}.")
    labels = labels.long()
    low, high = int(labels.min()), int(labels.max())
    if low < 0:
        raise ValueError(f"{labels_name} must be class indices ≥ 0, found {low}.")
    single = isinstance(inputs, torch.Tensor)
    parts = (inputs,) if single else inputs
    if not isinstance(parts, (tuple, list)) or not parts or not all(isinstance(t, torch.Tensor) for t in parts):
        raise TypeError(
            f"{inputs_name} must be a tensor or a tuple of tensors (one per model argument), got {_describe(inputs)}."
        )
    for i, t in enumerate(parts):
        where = inputs_name if single else f"{inputs_name}[{i}]"
        if t.ndim == 0 or t.shape[0] != len(labels):
            raise ValueError(
                f"{where} has shape {tuple(t.shape)} but {labels_name} has {len(labels)} samples; "
                f"the first dimension must be the sample axis of length {len(labels)}."
            )
        if t.device != labels.device:
            raise ValueError(f"{where} is on {t.device} but {labels_name} on {labels.device}; put them on one device.")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ValueError(f"{where} holds NaN or infinite values.")
    return TensorData(inputs=tuple(parts), labels=labels, single=single, max_label=high, padded=_right_padded(parts))


def _right_padded(parts: Any) -> bool:
    """Whether ``parts`` is text with an attention mask: ``(ids, mask, ...)`` with integer ``(N, L)`` tensors
    of one shape and a 0/1 mask whose ones come first in every row (right padding)."""
    if len(parts) < 2:
        return False
    ids, mask = parts[0], parts[1]
    if ids.ndim != 2 or mask.shape != ids.shape or ids.is_floating_point() or mask.is_floating_point():
        return False
    if not bool(((mask == 0) | (mask == 1)).all()):
        return False
    return bool((mask[:, 1:] <= mask[:, :-1]).all())


def logits_of(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], max_label: int) -> torch.Tensor:
    """``model(*inputs)`` as a ``(B, C)`` logits tensor; accepts a tensor or an output with ``.logits``."""
    out = model(*inputs)
    logits = out if isinstance(out, torch.Tensor) else getattr(out, "logits", None)
    if not isinstance(logits, torch.Tensor):
        raise TypeError(
            f"the model must return a logits tensor or an object with a .logits tensor, got {type(out).__name__}."
        )
    batch = inputs[0].shape[0]
    if logits.ndim != 2 or logits.shape[0] != batch:
        raise ValueError(
            f"the model returned logits of shape {tuple(logits.shape)} for a batch of {batch}; "
            f"expected (batch, classes) = ({batch}, C)."
        )
    if logits.shape[1] <= max_label:
        raise ValueError(
            f"the model returns {logits.shape[1]} class logits but the labels go up to {max_label}; "
            f"the model needs at least {max_label + 1} outputs."
        )
    return logits


def _describe(x: Any) -> str:
    if isinstance(x, (tuple, list)):
        return f"{type(x).__name__} of ({', '.join(type(v).__name__ for v in x)})"
    return type(x).__name__
