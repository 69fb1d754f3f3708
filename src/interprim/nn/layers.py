"""The ordered parameterised layers of a model: what "the first L layers" counts (SPEC §6).

- Convolutional networks (the zoo, or any module built from conv/linear/BatchNorm layers): one
  :class:`Layer` per convolution or linear layer, in the order of ``model.named_modules()``
  (which is forward order for the zoo), each together with the BatchNorm that directly follows
  it. ResNet-56 has 55 conv layers and one fc layer; its first 9 are ``conv1`` and the two
  convolutions of ``stage1_block0`` … ``stage1_block3`` (P1 §3.2).
- BERT-family models (Hugging Face ``PreTrainedModel`` with embeddings and a list of transformer
  blocks): ``embeddings``, then each block (``encoder.layer.0``, ``encoder.layer.1``, ...), then
  the pooler if any, then the head (``classifier``), with the base-model prefix (``bert.``).

The low layers of P1 (:func:`low_layer_count`) are the first 9 layers of ResNet-56, the first
layer of other image models and, for BERT, the embeddings **and** the first transformer block
(``L = 2``): P1 calls "all layers after the first transformer block" the high layers, so the
embeddings below it belong to the low layers, and sharing a block on top of different
embeddings would not share its input representation.

The players of P1's games live on the representation after the low layers (P1 App. F.2, SPEC §5):
:func:`low_layers_output` names the module that outputs it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from torch import nn

from ._checks import check_module

_CONV_LINEAR = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
_BATCH_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@dataclass(frozen=True)
class Layer:
    """One parameterised layer: ``name`` is its main module (a conv/linear layer or a transformer
    part) and ``norm`` the BatchNorm that belongs to it, both as names in ``model.named_modules()``.
    """

    name: str
    norm: str | None = None

    @property
    def modules(self) -> tuple[str, ...]:
        """The module names whose parameters and buffers make up this layer."""
        return (self.name,) if self.norm is None else (self.name, self.norm)


def _is_transformers_model(model: nn.Module) -> bool:
    """True for a Hugging Face ``PreTrainedModel`` (only possible once ``transformers`` is imported)."""
    transformers = sys.modules.get("transformers")
    return transformers is not None and isinstance(model, transformers.PreTrainedModel)


def _conv_layers(model: nn.Module) -> list[Layer]:
    found: list[Layer] = []
    for name, module in model.named_modules():
        if isinstance(module, _CONV_LINEAR):
            found.append(Layer(name))
        elif isinstance(module, _BATCH_NORM):
            previous = found[-1] if found else None
            width = None if previous is None else _out_features(model.get_submodule(previous.name))
            if previous is None or previous.norm is not None or width != module.num_features:
                raise TypeError(
                    f"layers: BatchNorm {name!r} ({module.num_features} features) does not directly "
                    f"follow a conv/linear layer of that width; the layers of such a model are undefined."
                )
            found[-1] = Layer(previous.name, name)
        elif any(True for _ in module.parameters(recurse=False)):
            raise TypeError(
                f"layers: module {name!r} of type {type(module).__name__} has parameters but is neither "
                f"a conv, linear nor BatchNorm layer; layers() supports the zoo and BERT-family models."
            )
    return found


def _out_features(module: nn.Module) -> int:
    return module.out_features if isinstance(module, nn.Linear) else module.out_channels


def _transformer_blocks(model: nn.Module, where: str = "layers") -> tuple[nn.Module, str]:
    """``(base, name)``: the base model of a Hugging Face model and the name, in it, of its list of
    transformer blocks (the first non-empty ``nn.ModuleList``, ``encoder.layer`` for BERT)."""
    base = model.base_model
    blocks_name = next(
        (name for name, m in base.named_modules() if isinstance(m, nn.ModuleList) and len(m) > 0), None
    )
    if blocks_name is None:
        raise TypeError(f"{where}: {type(model).__name__} has no list of transformer blocks.")
    return base, blocks_name


def _transformer_layers(model: nn.Module) -> list[Layer]:
    base, blocks_name = _transformer_blocks(model)
    prefix = "" if base is model else f"{model.base_model_prefix}."
    found: list[Layer] = []
    for child_name, child in base.named_children():
        if blocks_name == child_name or blocks_name.startswith(child_name + "."):
            blocks = base.get_submodule(blocks_name)
            found += [Layer(f"{prefix}{blocks_name}.{i}") for i in range(len(blocks))]
        elif any(True for _ in child.parameters()):
            found.append(Layer(prefix + child_name))
    if base is not model:
        found += [
            Layer(name)
            for name, child in model.named_children()
            if child is not base and any(True for _ in child.parameters())
        ]
    return found


def layers(model: nn.Module) -> list[Layer]:
    """The ordered parameterised layers of ``model`` (see the module docstring for the rules).

    Every parameter of ``model`` belongs to exactly one returned layer; a model for which that
    cannot be established (e.g. a LayerNorm in a CNN) raises ``TypeError``. Parameter-free
    modules (normalisation of the input, ReLU, pooling, shortcuts) are not layers.
    """
    check_module("layers", "model", model)
    found = _transformer_layers(model) if _is_transformers_model(model) else _conv_layers(model)
    covered = {
        f"{module_name}.{param_name}" if module_name else param_name
        for layer in found
        for module_name in layer.modules
        for param_name, _ in model.get_submodule(module_name).named_parameters()
    }
    missing = [name for name, _ in model.named_parameters() if name not in covered]
    if missing:
        raise TypeError(
            f"layers: parameters {missing[:5]} of {type(model).__name__} belong to no layer; "
            f"layers() supports the zoo, conv/linear/BatchNorm networks and BERT-family models."
        )
    return found


def low_layer_count(model: nn.Module) -> int:
    """How many of :func:`layers` are the low layers of P1 (App. F.5, SPEC §6).

    9 for ResNet-56 (``model.arch == "resnet56"``), 2 for a BERT-family model (embeddings and the
    first transformer block) and 1 (the first layer) for every other model.
    """
    check_module("low_layer_count", "model", model)
    if _is_transformers_model(model):
        return 2
    if getattr(model, "arch", None) == "resnet56":
        return 9
    return 1


def low_layers_output(model: nn.Module) -> str:
    """The name of the module whose output is the representation after the low layers (SPEC §5-6).

    That representation is where P1 places its players (App. F.2: "the feature map after
    low-layer"); ``ImageGame(..., layer="low")`` and ``TextGame(..., layer="low")`` use it.

    - An ``nn.Sequential`` (every zoo model): the top-level child just before the child that
      holds layer ``L + 1`` of :func:`layers` (``L =`` :func:`low_layer_count`), i.e. the low
      layers together with the activation and pooling that follow them: ``pool1`` for LeNet,
      VGG-11 and AlexNet, ``relu1`` for VGG-13/16, ResNet-20/32 and the MLP, ``stage1_block3``
      for ResNet-56.
    - A BERT-family model: the last low transformer block, ``bert.encoder.layer.0`` for BERT-Tiny.

    Raises ``ValueError`` when every layer is low or the cut falls inside a top-level child, and
    ``TypeError`` for other models (pass the name of the module yourself).
    """
    check_module("low_layers_output", "model", model)
    found = layers(model)
    count = low_layer_count(model)
    if _is_transformers_model(model):
        return found[count - 1].name
    if not isinstance(model, nn.Sequential):
        raise TypeError(
            f"low_layers_output: {type(model).__name__} is neither an nn.Sequential nor a BERT-family model, "
            f"so the module after its low layers is not defined; pass the name of that module yourself."
        )
    if count >= len(found):
        raise ValueError(
            f"low_layers_output: all {len(found)} layers of the model are low layers; nothing runs after them."
        )
    last_low, first_high = found[count - 1].name.split(".")[0], found[count].name.split(".")[0]
    if last_low == first_high:
        raise ValueError(
            f"low_layers_output: the low layers end inside the top-level child {first_high!r} "
            f"({found[count - 1].name} is low, {found[count].name} is not); no module outputs exactly them."
        )
    children = list(model._modules)
    return children[children.index(first_high) - 1]
