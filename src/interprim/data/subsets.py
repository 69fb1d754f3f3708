"""Subsets of a data set and label changes used by the experiments (SPEC §6, P1 App. F.4, P2).

- :func:`disjoint_subsets`: disjoint random training subsets ("different data", SPEC §6);
- :func:`stratified_split`: a train/test split with the class proportions of the whole;
- :func:`corrupt_labels`: planted hard samples, relabelled to a wrong class (P1 fn. 9, F.4);
- :func:`binary_task`: one class against the rest (MNIST-3 in P2).

Randomness comes from ``numpy.random.default_rng(seed)``, so results are the same for a seed on
every platform. Functions taking labels accept numpy arrays or torch tensors and return the type
they were given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch


def _labels_numpy(labels: Any, name: str = "labels") -> np.ndarray:
    array = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one class per sample), got shape {array.shape}.")
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must be integers, got dtype {array.dtype}.")
    return array


def _like(array: np.ndarray, reference: Any) -> Any:
    if isinstance(reference, torch.Tensor):
        return torch.from_numpy(array).to(device=reference.device, dtype=reference.dtype)
    return array.astype(np.asarray(reference).dtype, copy=False)


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    return int(value)


def disjoint_subsets(n_items: int, size: int, count: int = 2, seed: int = 0) -> list[np.ndarray]:
    """``count`` pairwise disjoint random subsets of ``range(n_items)``, each of ``size`` indices.

    One random permutation (``default_rng(seed)``) is cut into consecutive blocks; each block is
    returned sorted, as an int64 array. Raises a ``ValueError`` when ``size * count > n_items``.
    """
    n_items = _check_int("n_items", n_items, 0)
    size = _check_int("size", size, 1)
    count = _check_int("count", count, 1)
    if size * count > n_items:
        raise ValueError(
            f"{count} disjoint subsets of size {size} need {size * count} items but there are only {n_items}; "
            f"lower size or count."
        )
    order = np.random.default_rng(seed).permutation(n_items)
    return [np.sort(order[i * size : (i + 1) * size]).astype(np.int64) for i in range(count)]


def stratified_split(labels: Any, test_size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split the samples into ``(train_indices, test_indices)`` with the class proportions kept.

    Class ``c`` with ``n_c`` of the ``N`` samples gets ``test_size · n_c / N`` test samples, rounded
    by the largest-remainder method so that the test part has exactly ``test_size`` samples (ties
    go to the smaller class label). Within each class the test samples are the first ones of a
    permutation drawn, class by class in increasing label order, from one ``default_rng(seed)``.
    Both index arrays are sorted int64.
    """
    array = _labels_numpy(labels)
    n = array.shape[0]
    test_size = _check_int("test_size", test_size, 0)
    if test_size > n:
        raise ValueError(f"test_size={test_size} is larger than the {n} samples.")
    classes, counts = np.unique(array, return_counts=True)
    quotas = test_size * counts / max(n, 1)
    shares = np.floor(quotas).astype(np.int64)
    remainder = quotas - shares
    extra = np.argsort(-remainder, kind="stable")[: test_size - int(shares.sum())]
    shares[extra] += 1
    rng = np.random.default_rng(seed)
    test = [rng.permutation(np.flatnonzero(array == c))[:k] for c, k in zip(classes, shares)]
    test_indices = np.sort(np.concatenate(test)) if test else np.zeros(0, np.int64)
    is_test = np.zeros(n, dtype=bool)
    is_test[test_indices] = True
    return np.flatnonzero(~is_test).astype(np.int64), test_indices.astype(np.int64)


def corrupt_labels(
    labels: Any,
    per_class: int = 3,
    classes: Iterable[int] = range(1, 10),
    target: int = 0,
    seed: int = 0,
) -> tuple[Any, np.ndarray]:
    """Plant hard samples: relabel ``per_class`` random samples of each class in ``classes`` to ``target``.

    SPEC §6 / P1 App. F.4: "relabel 3 samples of each class 1-9 to class 0". Returns
    ``(new_labels, indices)``: a copy of ``labels`` (same type, dtype and device) with the changed
    labels, and the sorted int64 positions of the relabelled samples. The samples of each class
    are drawn, in the order of ``classes``, from one ``default_rng(seed)``.
    """
    array = _labels_numpy(labels)
    per_class = _check_int("per_class", per_class, 1)
    classes = [_check_int("classes", c, 0) for c in classes]
    target = _check_int("target", target, 0)
    if not classes:
        raise ValueError("classes is empty; name at least one class whose samples get relabelled.")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes has repeated entries: {classes}.")
    if target in classes:
        raise ValueError(f"target={target} is one of classes={classes}; relabelled samples must change class.")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in classes:
        members = np.flatnonzero(array == c)
        if members.shape[0] < per_class:
            raise ValueError(
                f"class {c} has {members.shape[0]} samples, fewer than per_class={per_class}; lower per_class."
            )
        chosen.append(rng.choice(members, size=per_class, replace=False))
    indices = np.sort(np.concatenate(chosen)).astype(np.int64)
    new = array.copy()
    new[indices] = target
    return _like(new, labels), indices


def binary_task(labels: Any, positive: int = 3) -> Any:
    """Labels of the one-against-the-rest task: 1 where ``labels == positive``, else 0 (MNIST-3 of P2).

    Returns int64 labels of the same type (numpy or torch, same device) as ``labels``.
    """
    array = _labels_numpy(labels)
    positive = _check_int("positive", positive, 0)
    binary = (array == positive).astype(np.int64)
    if isinstance(labels, torch.Tensor):
        return torch.from_numpy(binary).to(labels.device)
    return binary
