"""The image model zoo of SPEC §6: VGG-11/13/16, ResNet-20/32/56, AlexNet, LeNet and an MLP.

Every model is a :class:`ZooModel`, a ``torch.nn.Sequential`` whose top-level children are named
blocks in forward order (``normalize`` if any, ``conv1``, ``bn1``, ``relu1``, ``pool1``, ...,
``flatten``, ``fc…``), so ``model[:k]`` and ``model[k:]`` split it exactly:
``model[k:](model[:k](x)) == model(x)``. A ResNet residual block is one child (``stage1_block0``).
Models take images ``(B, C, H, W)`` with pixel values in [0, 1] and return logits
``(B, num_classes)``; optional per-channel normalisation is the first child.

Naming: in the plain networks (VGG, AlexNet, LeNet, MLP) ``conv{k}``/``fc{k}`` is the k-th
parameterised layer (1-based, the position in :func:`interprim.nn.layers`), ``bn{k}``/``relu{k}``
follow it and ``pool{j}`` counts the pooling layers. All pools are 2×2 max pools with
``ceil_mode=True``, so the same networks accept 28×28 and 32×32 inputs.

Every builder takes keyword arguments ``in_channels``, ``input_size`` (required: no dataset is
assumed), ``num_classes=10``, ``seed=0``, ``device="cpu"`` and ``normalize=None`` (or
``(mean, std)``). Weights are initialised by :func:`interprim.nn.reinit_layers` with ``seed``, so
a build is reproducible and layer ``k`` gets the same initial values in every architecture where
it has the same shape.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ._checks import check_int
from .blocks import BasicBlock, Normalize
from .layers import low_layers_output
from .surgery import reinit_layers

_Blocks = OrderedDict[str, nn.Module]  # a model's named top-level children, in forward order


class ZooModel(nn.Sequential):
    """A zoo network: an ``nn.Sequential`` of named blocks plus what rebuilds it.

    Attributes: ``arch`` (the registry name, e.g. ``"resnet56"``), ``arch_kwargs`` (the
    JSON-serialisable builder arguments other than ``seed``/``device``, so that
    ``build(m.arch, **m.arch_kwargs)`` rebuilds the architecture, e.g. to load a checkpoint) and
    ``input_shape`` ``(C, H, W)``. ``forward`` checks the input shape (:meth:`check_input`);
    slicing (``model[a:b]``) returns a plain ``nn.Sequential`` sharing the same modules.
    ``low_layers_output`` names the child whose output follows the low layers (P1's player layer).
    """

    def __init__(
        self,
        blocks: _Blocks,
        *,
        arch: str,
        arch_kwargs: dict[str, Any],
        input_shape: tuple[int, int, int],
    ) -> None:
        super().__init__(blocks)
        self.arch = arch
        self.arch_kwargs = arch_kwargs
        self.input_shape = input_shape

    def __getitem__(self, idx: int | slice) -> nn.Module:
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)

    @property
    def low_layers_output(self) -> str:
        """The top-level child whose output is the map after the low layers (:func:`interprim.nn.low_layers_output`)."""
        return low_layers_output(self)

    def check_input(self, x: Any) -> None:
        """Raise ``ValueError`` unless ``x`` is a batch of images ``(B, *input_shape)``."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != self.input_shape:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"{self.arch}: expected images of shape (B, {', '.join(map(str, self.input_shape))}), "
                f"got {got}; build the model with the in_channels and input_size of your data."
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return super().forward(x)


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(2, 2, ceil_mode=True)


def _pooled(arch: str, size: int, input_size: int) -> int:
    """Spatial size after a 2×2 ceil-mode max pool, or a ``ValueError`` when the map is too small."""
    if size < 2:
        raise ValueError(
            f"{arch}: input_size={input_size} is too small: the feature map is {size}×{size} before "
            f"a 2×2 pooling layer; use a larger input_size (28 or 32)."
        )
    return -(-size // 2)


def _conv_size(arch: str, size: int, kernel: int, padding: int, input_size: int) -> int:
    """Spatial size after a stride-1 convolution, or a ``ValueError`` when nothing is left."""
    out = size + 2 * padding - kernel + 1
    if out < 1:
        raise ValueError(
            f"{arch}: input_size={input_size} is too small: a {kernel}×{kernel} convolution gets a "
            f"{size}×{size} feature map; use a larger input_size (28 or 32)."
        )
    return out


def check_device(where: str, device: Any) -> torch.device:
    """``device`` as a ``torch.device``; ``ValueError`` (prefixed by ``where``) for a name torch does not
    know, or for CUDA where it is not available."""
    prefix = f"{where}: " if where else ""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{prefix}device={device!r} is not a torch device ({err}).") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{prefix}device={str(device)!r} but CUDA is not available here; use device='cpu'.")
    return dev


def _common(
    arch: str,
    in_channels: int,
    input_size: int,
    num_classes: int,
    seed: int,
    device: str | torch.device,
    normalize: Any,
) -> tuple[_Blocks, dict[str, Any], torch.device]:
    """Check the shared builder arguments; return the blocks so far (``normalize``), kwargs, device."""
    check_int(arch, "in_channels", in_channels, 1)
    check_int(arch, "input_size", input_size, 1)
    check_int(arch, "num_classes", num_classes, 1)
    check_int(arch, "seed", seed, 0)
    dev = check_device(arch, device)
    blocks: _Blocks = OrderedDict()
    kwargs: dict[str, Any] = {"in_channels": in_channels, "input_size": input_size, "num_classes": num_classes}
    if normalize is not None:
        if not isinstance(normalize, (tuple, list)) or len(normalize) != 2:
            raise ValueError(f"{arch}: normalize must be None or a pair (mean, std), got {normalize!r}.")
        try:
            mean, std = ([float(v) for v in part] for part in normalize)
        except (TypeError, ValueError):
            raise ValueError(
                f"{arch}: normalize must be a pair (mean, std) of sequences of numbers, got {normalize!r}."
            ) from None
        if len(mean) != in_channels or len(std) != in_channels:
            raise ValueError(
                f"{arch}: normalize needs {in_channels} means and {in_channels} standard deviations "
                f"(one per input channel), got {len(mean)} and {len(std)}."
            )
        blocks["normalize"] = Normalize(mean, std)
        kwargs["normalize"] = [mean, std]
    return blocks, kwargs, dev


def _finish(
    arch: str,
    blocks: _Blocks,
    kwargs: dict[str, Any],
    seed: int,
    device: torch.device,
) -> ZooModel:
    size = kwargs["input_size"]
    model = ZooModel(blocks, arch=arch, arch_kwargs=kwargs, input_shape=(kwargs["in_channels"], size, size))
    reinit_layers(model, 0, seed=seed)
    return model.to(device)


_VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg13": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
}


def _vgg(arch: str, blocks: _Blocks, in_channels: int, input_size: int, num_classes: int) -> None:
    """CIFAR-style VGG (Simonyan & Zisserman 2014) with BatchNorm after every 3×3 convolution.

    Convolutions (``conv{k}``, no bias, ``bn{k}``, ``relu{k}``) follow the VGG configurations
    A/B/D; five 2×2 max pools bring 28×28 and 32×32 inputs to 1×1×512. The classifier keeps the
    three fully connected layers of VGG, narrowed to 512-512-``num_classes`` (no dropout), so that
    VGG-11/13/16 have 11/13/16 parameterised layers.
    """
    channels, size, k, pools = in_channels, input_size, 0, 0
    for item in _VGG_CONFIGS[arch]:
        if item == "M":
            pools += 1
            size = _pooled(arch, size, input_size)
            blocks[f"pool{pools}"] = _pool()
            continue
        k += 1
        blocks[f"conv{k}"] = nn.Conv2d(channels, int(item), 3, padding=1, bias=False)
        blocks[f"bn{k}"] = nn.BatchNorm2d(int(item))
        blocks[f"relu{k}"] = nn.ReLU()
        channels = int(item)
    blocks["flatten"] = nn.Flatten()
    blocks[f"fc{k + 1}"] = nn.Linear(channels * size * size, 512)
    blocks[f"relu{k + 1}"] = nn.ReLU()
    blocks[f"fc{k + 2}"] = nn.Linear(512, 512)
    blocks[f"relu{k + 2}"] = nn.ReLU()
    blocks[f"fc{k + 3}"] = nn.Linear(512, num_classes)


_RESNET_DEPTHS = {"resnet20": 20, "resnet32": 32, "resnet56": 56}


def _resnet(arch: str, blocks: _Blocks, in_channels: int, input_size: int, num_classes: int) -> None:
    """CIFAR ResNet of He et al. (2016), §4.2: ``depth = 6n + 2`` layers.

    Children: ``conv1`` (3×3, 16 channels, no bias), ``bn1``, ``relu1``, then three stages of
    ``n`` :class:`~interprim.nn.blocks.BasicBlock` children ``stage{s}_block{b}`` with 16/32/64
    channels (the first block of stages 2 and 3 halves the grid), ``pool`` (global average),
    ``flatten``, ``fc``. Shortcuts use option A (stride-2 subsampling and zero channels, no
    parameters), so the network has exactly ``6n + 1`` conv layers and one fc layer.
    """
    n = (_RESNET_DEPTHS[arch] - 2) // 6
    blocks["conv1"] = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
    blocks["bn1"] = nn.BatchNorm2d(16)
    blocks["relu1"] = nn.ReLU()
    channels = 16
    for stage, width in enumerate((16, 32, 64), start=1):
        for b in range(n):
            stride = 2 if stage > 1 and b == 0 else 1
            blocks[f"stage{stage}_block{b}"] = BasicBlock(channels, width, stride)
            channels = width
    blocks["pool"] = nn.AdaptiveAvgPool2d(1)
    blocks["flatten"] = nn.Flatten()
    blocks["fc"] = nn.Linear(channels, num_classes)


def _alexnet(arch: str, blocks: _Blocks, in_channels: int, input_size: int, num_classes: int) -> None:
    """A small AlexNet (Krizhevsky et al. 2012) for 28×28/32×32 inputs: 5 conv + 3 fc layers.

    ``conv1`` 5×5/64, pool, ``conv2`` 5×5/192, pool, ``conv3`` 3×3/384, ``conv4`` 3×3/256,
    ``conv5`` 3×3/256, pool (all stride 1, "same" padding, ReLU after each), then ``fc6`` 512,
    ``fc7`` 512, ``fc8`` ``num_classes``. No BatchNorm, local response norm or dropout;
    about 4.8 M parameters for 28×28 and 32×32 inputs.
    """
    size, channels, pools = input_size, in_channels, 0
    for k, (width, kernel, pool_after) in enumerate(
        ((64, 5, True), (192, 5, True), (384, 3, False), (256, 3, False), (256, 3, True)), start=1
    ):
        blocks[f"conv{k}"] = nn.Conv2d(channels, width, kernel, padding=kernel // 2)
        blocks[f"relu{k}"] = nn.ReLU()
        channels = width
        if pool_after:
            pools += 1
            size = _pooled(arch, size, input_size)
            blocks[f"pool{pools}"] = _pool()
    blocks["flatten"] = nn.Flatten()
    blocks["fc6"] = nn.Linear(channels * size * size, 512)
    blocks["relu6"] = nn.ReLU()
    blocks["fc7"] = nn.Linear(512, 512)
    blocks["relu7"] = nn.ReLU()
    blocks["fc8"] = nn.Linear(512, num_classes)


def _lenet(arch: str, blocks: _Blocks, in_channels: int, input_size: int, num_classes: int) -> None:
    """A LeNet-5-sized CNN (LeCun et al. 1998) with ReLU and max pooling: 2 conv + 3 fc layers.

    ``conv1`` 5×5/6 (padding 2), pool, ``conv2`` 5×5/16, pool, ``fc3`` 120, ``fc4`` 84,
    ``fc5`` ``num_classes``. 61.7 k parameters for 28×28×1 (83 k for 32×32×3): the CPU workhorse.
    """
    size = input_size
    blocks["conv1"] = nn.Conv2d(in_channels, 6, 5, padding=2)
    blocks["relu1"] = nn.ReLU()
    size = _pooled(arch, _conv_size(arch, size, 5, 2, input_size), input_size)
    blocks["pool1"] = _pool()
    blocks["conv2"] = nn.Conv2d(6, 16, 5)
    blocks["relu2"] = nn.ReLU()
    size = _pooled(arch, _conv_size(arch, size, 5, 0, input_size), input_size)
    blocks["pool2"] = _pool()
    blocks["flatten"] = nn.Flatten()
    blocks["fc3"] = nn.Linear(16 * size * size, 120)
    blocks["relu3"] = nn.ReLU()
    blocks["fc4"] = nn.Linear(120, 84)
    blocks["relu4"] = nn.ReLU()
    blocks["fc5"] = nn.Linear(84, num_classes)


def _constructor(arch: str, builder: Callable[..., None], summary: str) -> Callable[..., ZooModel]:
    """The public builder of ``arch`` with the zoo's keyword arguments (module docstring).

    It checks the arguments (:func:`_common`), lets ``builder(arch, blocks, in_channels,
    input_size, num_classes)`` append the architecture's blocks and initialises the model
    (:func:`_finish`). Its docstring is ``summary`` followed by the docstring of ``builder``.
    """

    def constructor(
        *,
        in_channels: int,
        input_size: int,
        num_classes: int = 10,
        seed: int = 0,
        device: str | torch.device = "cpu",
        normalize: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> ZooModel:
        blocks, kwargs, dev = _common(arch, in_channels, input_size, num_classes, seed, device, normalize)
        builder(arch, blocks, in_channels, input_size, num_classes)
        return _finish(arch, blocks, kwargs, seed, dev)

    constructor.__name__ = constructor.__qualname__ = arch
    constructor.__doc__ = f"{summary}\n\n{inspect.cleandoc(builder.__doc__ or '')}"
    return constructor


vgg11 = _constructor("vgg11", _vgg, "VGG-11 with BatchNorm: 8 conv + 3 fc layers (see the module docstring for the arguments).")
vgg13 = _constructor("vgg13", _vgg, "VGG-13 with BatchNorm: 10 conv + 3 fc layers (see the module docstring for the arguments).")
vgg16 = _constructor("vgg16", _vgg, "VGG-16 with BatchNorm: 13 conv + 3 fc layers (see the module docstring for the arguments).")
resnet20 = _constructor("resnet20", _resnet, "ResNet-20 (n = 3 blocks per stage): 19 conv + 1 fc layers (option A shortcuts).")
resnet32 = _constructor("resnet32", _resnet, "ResNet-32 (n = 5 blocks per stage): 31 conv + 1 fc layers (option A shortcuts).")
resnet56 = _constructor(
    "resnet56",
    _resnet,
    "ResNet-56 (n = 9 blocks per stage): 55 conv + 1 fc layers (option A shortcuts).\n\n"
    "Its low layers (P1 §3.2) are the first 9: ``conv1`` and the two convs of ``stage1_block0`` … "
    "``stage1_block3``.",
)
alexnet = _constructor("alexnet", _alexnet, "AlexNet-style CNN: 5 conv + 3 fc layers (see the module docstring for the arguments).")
lenet = _constructor("lenet", _lenet, "LeNet-size CNN: 2 conv + 3 fc layers (see the module docstring for the arguments).")


def mlp(
    *,
    in_channels: int,
    input_size: int,
    num_classes: int = 10,
    hidden: Sequence[int] = (128, 64),
    seed: int = 0,
    device: str | torch.device = "cpu",
    normalize: tuple[Sequence[float], Sequence[float]] | None = None,
) -> ZooModel:
    """A multi-layer perceptron on the flattened image: ``flatten``, then ``fc{k}``/``relu{k}``
    for each width in ``hidden`` and a last ``fc{len(hidden)+1}`` to ``num_classes``.

    ``hidden=(128, 64)`` gives 109 k parameters for 28×28×1; ``hidden=()`` is a linear model.
    """
    arch = "mlp"
    blocks, kwargs, dev = _common(arch, in_channels, input_size, num_classes, seed, device, normalize)
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"mlp: hidden must be a sequence of layer widths, got {hidden!r}.")
    widths = [check_int(arch, f"hidden[{i}]", h, 1) for i, h in enumerate(hidden)]
    kwargs["hidden"] = widths
    blocks["flatten"] = nn.Flatten()
    features = in_channels * input_size * input_size
    for k, width in enumerate(widths, start=1):
        blocks[f"fc{k}"] = nn.Linear(features, width)
        blocks[f"relu{k}"] = nn.ReLU()
        features = width
    blocks[f"fc{len(widths) + 1}"] = nn.Linear(features, num_classes)
    return _finish(arch, blocks, kwargs, seed, dev)


_REGISTRY: dict[str, Callable[..., ZooModel]] = {
    "vgg11": vgg11,
    "vgg13": vgg13,
    "vgg16": vgg16,
    "resnet20": resnet20,
    "resnet32": resnet32,
    "resnet56": resnet56,
    "alexnet": alexnet,
    "lenet": lenet,
    "mlp": mlp,
}


def names() -> tuple[str, ...]:
    """Names of the zoo architectures accepted by :func:`build`, in a fixed order."""
    return tuple(_REGISTRY)


def build(name: str, **kwargs: Any) -> ZooModel:
    """Build the zoo model ``name`` (one of :func:`names`) with the builder's keyword arguments.

    Example: ``build("lenet", in_channels=1, input_size=28, seed=3)``.
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"build: unknown model name {name!r}; choose one of {', '.join(_REGISTRY)}.")
    return _REGISTRY[name](**kwargs)
