"""CIFAR-10 from its standard **binary** files (``cifar-10-batches-bin``).

Each file holds records of 3 073 bytes: one label byte (0-9), then 3 072 pixel bytes — the
1 024 red, then green, then blue values of a 32×32 image, row by row. The training split is
``data_batch_1.bin`` … ``data_batch_5.bin``, the test split ``test_batch.bin``. The python
version of the data set (``cifar-10-batches-py``) is a set of pickles, which interprim never
loads.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .datasets import ImageData

#: Class names of CIFAR-10, indexed by label.
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

_RECORD = 1 + 3 * 32 * 32
_FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}
_BINARY_URL = "https://www.cs.toronto.edu/~kriz/cifar.html (cifar-10-binary.tar.gz)"


def _batches_directory(directory: Path) -> Path:
    """``directory`` itself or its ``cifar-10-batches-bin`` child; refuse the python (pickle) version."""
    for candidate in (directory / "cifar-10-batches-bin", directory):
        if (candidate / "test_batch.bin").is_file() or (candidate / "data_batch_1.bin").is_file():
            return candidate
    for candidate in (directory / "cifar-10-batches-py", directory):
        if (candidate / "data_batch_1").is_file() or (candidate / "test_batch").is_file():
            raise ValueError(
                f"{candidate} holds the python (pickle) version of CIFAR-10, which interprim does not load "
                f"(it never unpickles files); download the binary version from {_BINARY_URL} and pass its "
                f"cifar-10-batches-bin directory."
            )
    return directory


def load_cifar10(directory: str | os.PathLike, split: str = "train") -> ImageData:
    """Load CIFAR-10 ``split`` ("train": 5 batches, "test": 1) from the binary files in ``directory``.

    ``directory`` is the ``cifar-10-batches-bin`` folder or the folder that contains it. Returns
    :class:`ImageData` with images ``(N, 3, 32, 32)`` = pixel / 255 (RGB) and labels 0-9.
    """
    if split not in _FILES:
        raise ValueError(f"split must be one of {sorted(_FILES)}, got {split!r}.")
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"CIFAR-10 directory {directory} does not exist.")
    batches = _batches_directory(directory)
    missing = [name for name in _FILES[split] if not (batches / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 {split} split incomplete in {batches}: missing {', '.join(missing)} "
            f"(expected {', '.join(_FILES[split])}, the binary version from {_BINARY_URL})."
        )
    records = []
    for name in _FILES[split]:
        raw = np.fromfile(batches / name, dtype=np.uint8)
        if raw.size == 0 or raw.size % _RECORD:
            raise ValueError(
                f"{batches / name} has {raw.size} bytes, not a positive multiple of the {_RECORD}-byte "
                f"CIFAR-10 record (1 label byte + 3072 pixel bytes); the file is damaged or not CIFAR-10 binary."
            )
        records.append(raw.reshape(-1, _RECORD))
    data = np.concatenate(records)
    labels = data[:, 0]
    if labels.max() > 9:
        raise ValueError(f"CIFAR-10 {split} files hold the label {int(labels.max())}; CIFAR-10 labels are 0-9.")
    images = torch.from_numpy(np.ascontiguousarray(data[:, 1:])).reshape(-1, 3, 32, 32)
    return ImageData(images.to(torch.float32).div_(255.0), torch.from_numpy(labels.astype(np.int64)), CIFAR10_CLASSES)
