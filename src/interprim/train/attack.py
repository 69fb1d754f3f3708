"""One-step ℓ∞ PGD, the attack of the adversarial training in P1 (App. F.1; SPEC §6)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._data import logits_of


def pgd_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, step: float) -> torch.Tensor:
    """One step of ℓ∞ projected gradient ascent on the cross-entropy, in pixel units.

    ``x_adv = clamp(clamp(x + step · sign(∇_x L(x, y)), x − ε, x + ε), 0, 1)`` with ``L`` the
    cross-entropy of the logits ``model(x)`` (summed over the batch, so each sample's step depends on
    its own gradient only when the model treats samples independently). ``x`` is a float tensor of
    images in ``[0, 1]`` (normalisation belongs inside the model), ``y`` its int64 labels.

    The gradient is taken with the model in **eval mode** (its mode is restored afterwards): dropout is
    off and batch-norm uses its running statistics, so the attack targets the network as it will be
    evaluated and does not update batch-norm statistics on the clean batch. Parameter gradients are
    not touched. Returns a detached tensor like ``x``.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(
            f"x must be a floating-point image tensor in [0, 1], got "
            f"{x.dtype if isinstance(x, torch.Tensor) else type(x).__name__}; "
            f"adversarial steps are not defined for integer inputs such as token ids."
        )
    if not isinstance(y, torch.Tensor) or y.ndim != 1 or len(y) != len(x) or y.is_floating_point():
        raise ValueError(f"y must be a 1-D integer tensor with one label per row of x ({len(x)}).")
    for name, value in (("epsilon", epsilon), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 <= value <= 1) or math.isnan(value):
            raise ValueError(f"{name} must be a number in [0, 1] (pixel units), got {value!r}.")
    if len(x) and (float(x.min()) < 0 or float(x.max()) > 1):
        raise ValueError(
            f"x must be in [0, 1] pixel units, got values in [{float(x.min()):.4g}, {float(x.max()):.4g}]; "
            f"put the normalisation inside the model."
        )
    return _pgd_step(model, x, y.long(), float(epsilon), float(step), int(y.max()) if len(y) else 0)


def _pgd_step(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, step: float, max_label: int
) -> torch.Tensor:
    """:func:`pgd_step` on checked inputs."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            x_req = x.detach().requires_grad_(True)
            loss = F.cross_entropy(logits_of(model, (x_req,), max_label).float(), y, reduction="sum")
            (grad,) = torch.autograd.grad(loss, x_req)
    finally:
        model.train(was_training)
    x = x.detach()
    x_adv = torch.clamp(x + step * grad.sign(), x - epsilon, x + epsilon)
    return x_adv.clamp(0.0, 1.0)
