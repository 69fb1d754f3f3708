"""MNIST: a reader of the standard IDX files and the embedded MNIST-10k data set.

**MNIST-10k** is the official MNIST test split (10 000 digits, 28×28, labels 0-9), shipped inside
the package as ``mnist10k.npz`` (written by ``scripts/make_mnist10k.py``) so that every
experiment runs without a download. The package splits it into its own parts: 8 000 ``train`` and
2 000 ``test`` samples, stratified by class (:func:`interprim.data.stratified_split` with
``test_size=2000, seed=0``). The split indices are stored in the file (``train_indices``,
``test_indices``, positions in the original order), so they never depend on a random generator
at load time.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .datasets import ImageData
from .idx import read_idx

#: Class names of MNIST: the digits.
MNIST_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))

_PREFIXES = {"train": "train", "test": "t10k"}
_MNIST10K_SPLITS = ("train", "test", "all")
_MNIST10K_FILE = "mnist10k.npz"


def mnist_files(directory: str | os.PathLike, split: str = "test") -> tuple[Path, Path]:
    """Paths of the images and labels files of ``split`` in ``directory``.

    The standard names are ``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte`` for
    ``split="test"`` and ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` for
    ``split="train"``, each plain or with ``.gz`` (the plain file is used when both exist).
    Raises ``FileNotFoundError`` listing the expected names when one is missing.
    """
    if split not in _PREFIXES:
        raise ValueError(f"split must be one of {sorted(_PREFIXES)}, got {split!r}.")
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"MNIST directory {directory} does not exist.")
    paths = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        name = f"{_PREFIXES[split]}-{kind}"
        found = [directory / n for n in (name, name + ".gz") if (directory / n).is_file()]
        if not found:
            raise FileNotFoundError(
                f"MNIST {split} split not found in {directory}: expected {name} or {name}.gz "
                f"(the standard file names, images and labels)."
            )
        paths.append(found[0])
    return paths[0], paths[1]


def _image_data(images: np.ndarray, labels: np.ndarray) -> ImageData:
    """uint8 ``(N, 28, 28)`` images and labels → :class:`ImageData` with pixels divided by 255."""
    pixels = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(255.0).unsqueeze(1)
    return ImageData(pixels, torch.from_numpy(labels.astype(np.int64)), MNIST_CLASSES)


def load_mnist(directory: str | os.PathLike, split: str = "test") -> ImageData:
    """Load the MNIST ``split`` ("train" or "test") from its standard IDX files in ``directory``.

    Returns :class:`ImageData` with images ``(N, 1, 28, 28)`` = pixel / 255 and labels 0-9.
    """
    images_path, labels_path = mnist_files(directory, split)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path} holds {images.dtype} data of shape {images.shape}; MNIST images are uint8 (N, 28, 28)."
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(
            f"{labels_path} holds {labels.dtype} data of shape {labels.shape}; MNIST labels are uint8 (N,)."
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels.")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path} holds the label {int(labels.max())}; MNIST labels are 0-9.")
    return _image_data(images, labels)


def mnist10k_info() -> dict:
    """The provenance record stored in the embedded ``mnist10k.npz`` (source files, their SHA-256, split rule)."""
    with resources.files(__package__).joinpath(_MNIST10K_FILE).open("rb") as f, np.load(f, allow_pickle=False) as npz:
        return json.loads(str(npz["info"]))


def load_mnist10k(split: str = "train") -> ImageData:
    """The embedded MNIST-10k: ``"train"`` (8 000), ``"test"`` (2 000) or ``"all"`` (10 000 samples).

    ``"all"`` is the official MNIST test split in its original order; ``"train"`` and ``"test"``
    are this package's stratified split of it, each in increasing original position (see the
    module docstring). Images ``(N, 1, 28, 28)`` = pixel / 255, labels 0-9.
    """
    if split not in _MNIST10K_SPLITS:
        raise ValueError(f"split must be one of {list(_MNIST10K_SPLITS)}, got {split!r}.")
    with resources.files(__package__).joinpath(_MNIST10K_FILE).open("rb") as f, np.load(f, allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"]
        if split != "all":
            index = npz[f"{split}_indices"]
            images, labels = images[index], labels[index]
    return _image_data(images, labels)
