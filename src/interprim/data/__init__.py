"""Data sets: the embedded MNIST-10k, readers of MNIST / CIFAR-10 / SST-2 standard files, subsets.

Images come as :class:`ImageData` (float32 ``(N, C, H, W)`` in ``[0, 1]``, int64 labels),
sentences as :class:`TextData`. Nothing here downloads: the readers take a directory that holds
the standard files.
"""

from .cifar import CIFAR10_CLASSES, load_cifar10
from .datasets import ImageData, TextData
from .idx import read_idx
from .mnist import MNIST_CLASSES, load_mnist, load_mnist10k, mnist10k_info, mnist_files
from .sst2 import SST2_CLASSES, load_sst2
from .subsets import binary_task, corrupt_labels, disjoint_subsets, stratified_split

__all__ = [
    "CIFAR10_CLASSES",
    "ImageData",
    "MNIST_CLASSES",
    "SST2_CLASSES",
    "TextData",
    "binary_task",
    "corrupt_labels",
    "disjoint_subsets",
    "load_cifar10",
    "load_mnist",
    "load_mnist10k",
    "load_sst2",
    "mnist10k_info",
    "mnist_files",
    "read_idx",
    "stratified_split",
]
