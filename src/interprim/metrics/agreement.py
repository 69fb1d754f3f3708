"""Agreement of the confusing samples of two DNNs (our addition to P1 §3.1, SPEC §4)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._array import to_numpy


def _eta(name: str, x: Any) -> np.ndarray:
    try:
        e = np.asarray(to_numpy(x))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: cannot be read as an array of numbers ({err}).") from None
    if e.dtype.kind not in "iuf":
        raise ValueError(f"{name}: dtype {e.dtype} is not supported; pass a 1-D array of average orders (floats).")
    e = e.astype(np.float64)
    if e.ndim != 1:
        raise ValueError(f"{name}: got shape {e.shape}; pass a 1-D array with one average order η per test sample.")
    if not np.isfinite(e).all():
        raise ValueError(
            f"{name}: contains NaN or infinite values; drop the samples whose η is NaN (no salient "
            f"interaction) from both arrays before comparing."
        )
    return e


def _corr(fn: Any, x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(fn(x, y)[0])


def confusing_agreement(eta_a: Any, eta_b: Any, top: float = 0.1) -> dict[str, float]:
    """Do two DNNs find the same samples confusing? (our addition to P1 §3.1.)

    Compares the average orders ``η`` (:func:`average_order`) that two models give the same test
    samples:

    - ``pearson``, ``spearman``: correlation coefficients of ``eta_a`` and ``eta_b``
      (``scipy.stats``); ``NaN`` when either input is constant (the coefficient is undefined).
    - ``iou``: ``|A ∩ B| / |A ∪ B|`` of the two top sets, ``A`` (``B``) the ``k = ceil(top·N)``
      samples with the highest ``η`` under model a (b); ties go to the earlier sample.
    - ``chance_iou``: the chance level for two independent uniformly random ``k``-subsets of the
      ``N`` samples, ``(k²/N) / (2k − k²/N)``: expected intersection ``k²/N`` over expected union
      (about ``0.053`` for ``top = 0.1``).

    Args:
        eta_a, eta_b: 1-D arrays of the same length ``N >= 2``, finite (drop ``NaN`` samples first).
        top: the fraction ``0 < top <= 1`` of samples in a top set.
    Returns:
        ``dict(pearson=, spearman=, iou=, chance_iou=, k=)`` of floats (``k`` an int).
    """
    from scipy import stats

    a, b = _eta("eta_a", eta_a), _eta("eta_b", eta_b)
    if a.shape != b.shape:
        raise ValueError(
            f"eta_a has {a.shape[0]} samples but eta_b has {b.shape[0]}; pass the average orders of "
            f"the same test samples, in the same order, for both models."
        )
    n = a.shape[0]
    if n < 2:
        raise ValueError(f"eta_a: got {n} sample(s); correlations need at least 2 samples.")
    if isinstance(top, (bool, np.bool_)):
        raise ValueError(f"top: got {top!r}; pass a fraction 0 < top <= 1 such as 0.1.")
    try:
        top_f = float(top)
    except (TypeError, ValueError):
        raise ValueError(f"top: got {top!r}; pass a fraction 0 < top <= 1 such as 0.1.") from None
    if not (0 < top_f <= 1):
        raise ValueError(f"top: got {top_f}; pass a fraction 0 < top <= 1 such as 0.1.")
    # round first so that e.g. 0.1 * 30 = 3.0000000000000004 gives k = 3, not 4
    k = max(1, math.ceil(round(top_f * n, 9)))
    set_a = set(np.argsort(-a, kind="stable")[:k].tolist())
    set_b = set(np.argsort(-b, kind="stable")[:k].tolist())
    iou = len(set_a & set_b) / len(set_a | set_b)
    overlap = k * k / n
    return {
        "pearson": _corr(stats.pearsonr, a, b),
        "spearman": _corr(stats.spearmanr, a, b),
        "iou": float(iou),
        "chance_iou": float(overlap / (2 * k - overlap)),
        "k": int(k),
    }
