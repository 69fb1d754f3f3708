"""Loss and accuracy of a classifier on a data set, with the cross-entropy of every sample."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ._data import TensorData, as_tensor_data, logits_of


class Evaluation(NamedTuple):
    """``(loss, acc, per_sample_loss)``: mean cross-entropy, accuracy, and the ``(N,)`` float64 losses."""

    loss: float
    acc: float
    per_sample_loss: np.ndarray


def evaluate(
    model: torch.nn.Module,
    inputs: Any,
    labels: torch.Tensor,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> Evaluation:
    """Evaluate ``model`` in eval mode, without gradients, in batches of ``batch_size``.

    For logits ``z`` of sample ``i`` with label ``y_i``: ``per_sample_loss[i] = logsumexp(z) − z_{y_i}``
    (cross-entropy), ``loss`` its mean and ``acc`` the fraction with ``argmax z = y_i``.
    ``inputs`` is a tensor or a tuple of tensors passed as the model's positional arguments; the model
    may return logits or an object with ``.logits``. ``device`` defaults to the device of the model's
    parameters; otherwise the model is moved there (in place, like ``Module.to``). The model's
    train/eval mode is restored afterwards.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    data = as_tensor_data(inputs, labels)
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    else:
        device = torch.device(device)
        model.to(device)
    return evaluate_data(model, data, batch_size, device, progress)


def evaluate_data(
    model: torch.nn.Module, data: TensorData, batch_size: int, device: torch.device, progress: bool = False
) -> Evaluation:
    """:func:`evaluate` on checked data, with the model already on ``device``."""
    was_training = model.training
    model.eval()
    losses, correct = [], torch.zeros((), dtype=torch.long, device=device)
    try:
        with torch.no_grad():
            for index in tqdm(
                torch.arange(data.n).split(batch_size), desc="evaluate", disable=not progress, leave=False
            ):
                x, y = data.take(index, device)
                logits = logits_of(model, x, data.max_label).float()
                losses.append(F.cross_entropy(logits, y, reduction="none"))
                correct += (logits.argmax(dim=1) == y).sum()
    finally:
        model.train(was_training)
    per_sample = torch.cat(losses).double().cpu().numpy()
    return Evaluation(float(per_sample.mean()), int(correct) / data.n, per_sample)
