"""Building blocks of the model zoo: input normalisation and the CIFAR ResNet basic block."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class Normalize(nn.Module):
    """Per-channel standardisation ``(x - mean) / std`` of images ``(B, C, H, W)`` in [0, 1].

    Placed as the first child of a zoo model, so that the model itself takes pixel values and
    adversarial perturbations (PGD, SPEC §6) are measured in pixel units. ``mean`` and ``std`` are
    buffers: they travel with ``state_dict`` and ``.to(device)`` and are never trained.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        mean_t = torch.as_tensor([float(m) for m in mean], dtype=torch.float32)
        std_t = torch.as_tensor([float(s) for s in std], dtype=torch.float32)
        if mean_t.numel() == 0 or mean_t.shape != std_t.shape:
            raise ValueError(
                f"Normalize: mean and std need one value per channel and the same length, got "
                f"{len(mean_t)} means and {len(std_t)} standard deviations."
            )
        if not bool(torch.all(std_t > 0)):
            raise ValueError(f"Normalize: every std must be > 0, got {std_t.tolist()}.")
        self.register_buffer("mean", mean_t.view(1, -1, 1, 1))
        self.register_buffer("std", std_t.view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


class PadShortcut(nn.Module):
    """Parameter-free ResNet shortcut, option A of He et al. (2016), §4.2.

    Subsamples the spatial grid with ``stride`` (``x[..., ::stride, ::stride]``) and appends
    ``out_channels - in_channels`` zero channels, so that the shortcut adds no layer and no
    parameter: ResNet-56 keeps exactly 55 conv layers and one fc layer (P1 §3.2 counts 9 + 47).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        extra = self.out_channels - self.in_channels
        if extra > 0:
            x = F.pad(x, (0, 0, 0, 0, 0, extra))
        return x

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


class BasicBlock(nn.Module):
    """The two-convolution residual block of CIFAR ResNets (He et al. 2016, §4.2):

    ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``, 3×3 convolutions without bias, the
    first with ``stride``; the shortcut is the identity or :class:`PadShortcut` (option A).
    Submodules are registered in forward order (``conv1, bn1, conv2, bn2, shortcut``), which is
    the order in which :func:`interprim.nn.layers` lists its two layers.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride == 1 and in_channels == out_channels:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = PadShortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))
