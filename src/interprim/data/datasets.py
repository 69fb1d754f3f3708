"""Small in-memory data set containers: :class:`ImageData` and :class:`TextData`.

Both hold a whole data set as tensors (a few thousand samples for the experiments of SPEC §6-§7)
and support :meth:`subset` to pick samples by index, e.g. the disjoint training subsets of
:func:`interprim.data.disjoint_subsets`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


def _as_index(indices: Any, n_items: int, name: str = "indices") -> torch.Tensor:
    """Check ``indices`` (ints as a sequence, numpy array or torch tensor) against ``n_items``.

    Returns a 1-D int64 tensor; non-integer, non-1-D, negative or out-of-range indices raise.
    """
    if isinstance(indices, torch.Tensor):
        index = indices.detach().cpu()
    else:
        array = np.asarray(indices)
        if array.size == 0:
            array = array.astype(np.int64)
        if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"{name} must be integers, got dtype {array.dtype}; pass sample positions, not a mask.")
        index = torch.from_numpy(array.astype(np.int64))
    if index.dtype == torch.bool or index.dtype.is_floating_point or index.dtype.is_complex:
        raise TypeError(f"{name} must be integers, got dtype {index.dtype}; pass sample positions, not a mask.")
    if index.dim() != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(index.shape)}.")
    index = index.to(torch.int64)
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= n_items):
        bad = int(index.min()) if int(index.min()) < 0 else int(index.max())
        raise ValueError(f"{name} holds {bad}, outside the data set of {n_items} samples (valid: 0..{n_items - 1}).")
    return index


def _as_labels(labels: Any, classes: tuple[str, ...]) -> torch.Tensor:
    labels = torch.as_tensor(labels)
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D (one class per sample), got shape {tuple(labels.shape)}.")
    if labels.dtype == torch.bool or labels.dtype.is_floating_point or labels.dtype.is_complex:
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}.")
    labels = labels.to(torch.int64)
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(classes)):
        raise ValueError(
            f"labels range over {int(labels.min())}..{int(labels.max())} but there are {len(classes)} classes "
            f"{classes}; pass classes naming every label."
        )
    return labels


@dataclass(eq=False)
class ImageData:
    """Images and their labels.

    - ``images``: float32 tensor ``(N, C, H, W)`` with values in ``[0, 1]``;
    - ``labels``: int64 tensor ``(N,)`` with values in ``0 .. len(classes) - 1``;
    - ``classes``: the name of each class, ``classes[label]``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        self.classes = tuple(str(c) for c in self.classes)
        images = torch.as_tensor(self.images)
        if images.dim() != 4:
            raise ValueError(f"images must have shape (N, C, H, W), got shape {tuple(images.shape)}.")
        if not images.dtype.is_floating_point:
            raise TypeError(
                f"images must be floating point in [0, 1], got dtype {images.dtype}; divide 8-bit pixels by 255."
            )
        images = images.to(torch.float32)
        if not bool(torch.isfinite(images).all()):
            bad = int((~torch.isfinite(images)).flatten(1).any(1).sum())
            raise ValueError(
                f"images holds NaN or infinite values in {bad} of {images.shape[0]} images; every pixel must be a "
                f"number in [0, 1]."
            )
        if images.numel() and (float(images.min()) < 0.0 or float(images.max()) > 1.0):
            raise ValueError(
                f"images must lie in [0, 1], got values in [{float(images.min())}, {float(images.max())}]; "
                f"normalise inside the model, not in the data."
            )
        labels = _as_labels(self.labels, self.classes)
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels; pass one label per image.")
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> ImageData:
        """The samples at ``indices`` (in that order), as a new :class:`ImageData`."""
        index = _as_index(indices, len(self))
        return ImageData(self.images[index], self.labels[index], self.classes)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, labels)``."""
        return self.images, self.labels


@dataclass(eq=False)
class TextData:
    """Sentences and their labels.

    - ``sentences``: one string per sample;
    - ``labels``: int64 tensor ``(N,)`` with values in ``0 .. len(classes) - 1``;
    - ``classes``: the name of each class, ``classes[label]``.
    """

    sentences: list[str]
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        self.classes = tuple(str(c) for c in self.classes)
        if isinstance(self.sentences, str) or not all(isinstance(s, str) for s in self.sentences):
            raise TypeError("sentences must be a list of strings, one per sample.")
        self.sentences = list(self.sentences)
        labels = _as_labels(self.labels, self.classes)
        if labels.shape[0] != len(self.sentences):
            raise ValueError(
                f"{len(self.sentences)} sentences but {labels.shape[0]} labels; pass one label per sentence."
            )
        self.labels = labels

    def __len__(self) -> int:
        return len(self.sentences)

    def subset(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> TextData:
        """The samples at ``indices`` (in that order), as a new :class:`TextData`."""
        index = _as_index(indices, len(self))
        return TextData([self.sentences[i] for i in index.tolist()], self.labels[index], self.classes)
