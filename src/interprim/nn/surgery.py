"""Layer operations of SPEC §6 on the layers of :func:`interprim.nn.layers`.

- :func:`copy_layers` — "same low-layer parameters": copy the first ``L`` layers from a donor.
- :func:`freeze_layers` — train only the upper layers ("we trained the upper layers", P1 §3.2).
- :func:`reinit_layers` — seeded, reproducible re-initialisation of layers ``start, start+1, ...``.
- :func:`split_at` — cut a ``Sequential`` model into low layers (head) and high layers (tail).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from ._checks import check_int, check_module
from .layers import _is_transformers_model, layers

_BATCH_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _check_count(where: str, name: str, value: object, available: int, what: str) -> int:
    check_int(where, name, value, 0)
    if value > available:  # type: ignore[operator]
        raise ValueError(f"{where}: {name}={value} but {what} has only {available} layers.")
    return value  # type: ignore[return-value]


def _tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers of ``module`` (recursively), by name."""
    return {**dict(module.named_parameters()), **dict(module.named_buffers())}


def copy_layers(model: nn.Module, donor: nn.Module, L: int) -> None:
    """Copy the parameters **and** buffers (BatchNorm running statistics) of the first ``L``
    layers of ``donor`` into ``model``, in place (P1 App. F.5: "same low-layer parameters").

    The two models need not have the same architecture above layer ``L`` (P1 §3.2 shares the first
    9 layers of ResNet-56 and ResNet-32), but each of the first ``L`` layers must have the same
    name, module types and tensor shapes in both; otherwise a ``ValueError`` names the first
    mismatch and nothing is copied. Values are copied, so the models share no storage afterwards;
    ``model`` keeps its own device and dtype.
    """
    check_module("copy_layers", "model", model)
    check_module("copy_layers", "donor", donor)
    own, theirs = layers(model), layers(donor)
    _check_count("copy_layers", "L", L, min(len(own), len(theirs)), "model or donor")
    for index in range(L):
        if own[index] != theirs[index]:
            raise ValueError(
                f"copy_layers: layer {index} is {own[index]} in model but {theirs[index]} in donor; "
                f"the first L={L} layers must match (use a smaller L or a donor of the same architecture)."
            )
        for module_name in own[index].modules:
            mine, other = model.get_submodule(module_name), donor.get_submodule(module_name)
            if type(mine) is not type(other):
                raise ValueError(
                    f"copy_layers: module {module_name!r} is a {type(mine).__name__} in model but a "
                    f"{type(other).__name__} in donor."
                )
            a, b = _tensors(mine), _tensors(other)
            for tensor_name in [*a, *(key for key in b if key not in a)]:
                shape_a = tuple(a[tensor_name].shape) if tensor_name in a else None
                shape_b = tuple(b[tensor_name].shape) if tensor_name in b else None
                if shape_a != shape_b:
                    raise ValueError(
                        f"copy_layers: {module_name}.{tensor_name} has shape {shape_a} in model but "
                        f"{shape_b} in donor (None: missing); layer {index} differs."
                    )
    with torch.no_grad():
        for layer in own[:L]:
            for module_name in layer.modules:
                theirs_t = _tensors(donor.get_submodule(module_name))
                for tensor_name, tensor in _tensors(model.get_submodule(module_name)).items():
                    tensor.copy_(theirs_t[tensor_name])


def _keep_in_eval_mode(module: nn.Module, args: tuple[object, ...]) -> None:
    """Forward pre-hook of frozen BatchNorm layers: run with the stored running statistics."""
    module.training = False


def freeze_layers(model: nn.Module, L: int, *, freeze_norm_stats: bool = True) -> None:
    """Stop training the first ``L`` layers of ``model``: ``requires_grad = False`` on their
    parameters, in place (P1 §3.2: copied low layers stay fixed while the upper layers train).

    BatchNorm running statistics are buffers, not parameters, so ``requires_grad`` alone would
    not fix them: in training mode a BatchNorm layer normalises with batch statistics and updates
    its running mean and variance. With ``freeze_norm_stats=True`` (default) every BatchNorm of
    the frozen layers is put in evaluation mode and kept there by a forward pre-hook, even after
    ``model.train()``: the frozen layers then compute exactly the function they had (e.g. the
    donor's, after :func:`copy_layers`) and their running statistics never change. With
    ``False`` they keep the usual training-mode behaviour (only the affine parameters are fixed).
    Dropout inside frozen transformer blocks stays active in training mode. Calling it again is
    harmless; to unfreeze, build a fresh model and copy the layers into it.
    """
    check_module("freeze_layers", "model", model)
    found = layers(model)
    _check_count("freeze_layers", "L", L, len(found), "model")
    if not isinstance(freeze_norm_stats, bool):
        raise TypeError(f"freeze_layers: freeze_norm_stats must be a bool, got {freeze_norm_stats!r}.")
    for layer in found[:L]:
        for module_name in layer.modules:
            submodule = model.get_submodule(module_name)
            for parameter in submodule.parameters():
                parameter.requires_grad_(False)
            if not freeze_norm_stats:
                continue
            for norm in submodule.modules():
                if isinstance(norm, _BATCH_NORM):
                    norm.eval()
                    if _keep_in_eval_mode not in norm._forward_pre_hooks.values():
                        norm.register_forward_pre_hook(_keep_in_eval_mode)


def _layer_seed(seed: int, index: int) -> int:
    """A 64-bit seed for layer ``index`` drawn from ``SeedSequence([seed, index])``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0])


def _normal_(tensor: torch.Tensor, std: float, generator: torch.Generator) -> None:
    """Fill ``tensor`` with N(0, std²) drawn on the CPU in float32: the same values on every device."""
    tensor.copy_(torch.empty(tensor.shape, dtype=torch.float32).normal_(0.0, std, generator=generator))


def _init_module(module: nn.Module, generator: torch.Generator, bert_std: float | None) -> None:
    """Initialise the parameters and statistics held directly by ``module`` (see reinit_layers)."""
    if isinstance(module, _BATCH_NORM):
        module.reset_parameters()  # weight 1, bias 0, running mean 0, running var 1, count 0
    elif isinstance(module, nn.LayerNorm):
        module.reset_parameters()
    elif isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
        fan_in = module.weight[0].numel()
        _normal_(module.weight, (2.0 / fan_in) ** 0.5 if bert_std is None else bert_std, generator)
        if module.bias is not None:
            module.bias.zero_()
    elif isinstance(module, nn.Embedding):
        _normal_(module.weight, 0.02 if bert_std is None else bert_std, generator)
        if module.padding_idx is not None:
            module.weight[module.padding_idx].zero_()
    elif any(True for _ in module.parameters(recurse=False)):
        raise TypeError(f"reinit_layers: cannot initialise a {type(module).__name__}; no rule for it.")


def reinit_layers(model: nn.Module, start: int, *, seed: int) -> None:
    """Re-initialise layers ``start, start+1, ...`` of :func:`layers` in place, reproducibly.

    Layer ``k`` draws from its own generator seeded with ``SeedSequence([seed, k])``, so its
    values depend only on ``seed``, ``k`` and its shapes (not on ``start`` nor on other layers),
    and never touch the global random state. Rules:

    - image models: conv and linear weights ``N(0, 2 / fan_in)`` (He et al. 2015), biases 0;
      BatchNorm weight 1, bias 0, running mean 0, running variance 1;
    - BERT-family models: linear and embedding weights ``N(0, initializer_range²)``, biases and
      the padding embedding 0, LayerNorm weight 1 and bias 0 (the BERT initialisation).

    ``start=0`` re-initialises the whole model; ``start=len(layers(model))`` does nothing.
    """
    check_module("reinit_layers", "model", model)
    found = layers(model)
    _check_count("reinit_layers", "start", start, len(found), "model")
    check_int("reinit_layers", "seed", seed, 0)
    bert_std = float(model.config.initializer_range) if _is_transformers_model(model) else None
    with torch.no_grad():
        for index in range(start, len(found)):
            generator = torch.Generator().manual_seed(_layer_seed(seed, index))
            for module_name in found[index].modules:
                for module in model.get_submodule(module_name).modules():
                    _init_module(module, generator, bert_std)


def split_at(model: nn.Module, name: str) -> tuple[nn.Sequential, nn.Sequential]:
    """Split a ``Sequential`` model after its top-level child ``name``: ``(head, tail)`` with
    ``tail(head(x)) == model(x)``; ``head`` ends with ``name``, ``tail`` holds the rest (empty,
    i.e. the identity, when ``name`` is the last child). Both share the model's modules (no copy).
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"split_at: model must be a torch.nn.Sequential, got {type(model).__name__}.")
    children = list(model._modules.items())
    child_names = [child_name for child_name, _ in children]
    if name not in child_names:
        raise ValueError(
            f"split_at: {name!r} is not a top-level child of the model; choose one of "
            f"{', '.join(child_names)}."
        )
    cut = child_names.index(name) + 1
    return nn.Sequential(OrderedDict(children[:cut])), nn.Sequential(OrderedDict(children[cut:]))

