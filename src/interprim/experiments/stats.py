"""Statistics that every comparison of two models reports (SPEC §4 last bullet, §7 controls).

P1 shows the agreement of confusing samples between two DNNs only as scatter plots. Here each
agreement comes with a percentile bootstrap confidence interval over the test samples, next to a
reference pair with the difference and its CI, and summarised over seeds:

- :func:`agreement_with_ci` — Pearson, Spearman and top-set IoU of the average orders ``η`` of two
  models (:func:`interprim.metrics.confusing_agreement`), each with a bootstrap CI;
- :func:`paired_difference` — a statistic of a pair of models minus the same statistic of a reference
  pair on the same samples, bootstrapped with the same resamples for both pairs;
- :func:`over_seeds` — mean and standard deviation of a statistic over seeds;
- :func:`bootstrap_ci` — the percentile bootstrap CI of any scalar statistic of paired samples (the
  slow, general building block; the functions above compute the same resamples vectorised);
- :func:`bootstrap_indices` — the resamples themselves, shared by all of the above.

**Resampling scheme.** For ``N`` samples, ``n_boot`` resamples and a seed, the resamples are the
rows of ``numpy.random.default_rng(seed).integers(0, N, size=(n_boot, N))``: each row draws ``N``
sample indices with replacement. A statistic of a resample is the statistic of the arrays indexed by
the row (a sample drawn twice counts twice; top-set ties go to the earlier position of the row, as in
:func:`~interprim.metrics.confusing_agreement`). Every function uses these rows, so for the same
``N`` and seed they see the same resamples. Resamples on which a statistic is undefined (``NaN``:
a correlation of a constant resample) are skipped and counted in ``n_undefined``.

**Percentile CI.** With ``θ*_1..θ*_B`` the defined bootstrap values and ``α = 1 − level``:
``[q(α/2), q(1 − α/2)]``, ``q`` the empirical quantile with linear interpolation
(``numpy.quantile``); ``[NaN, NaN]`` when no resample is defined.

**NaN η.** A sample without salient interactions has ``η = NaN``. By default (``drop_nan=False``) a
``NaN`` raises ``ValueError``, so nothing is dropped silently; with ``drop_nan=True`` every sample
that is ``NaN`` in any of the arrays is dropped from all of them before anything is computed, and
``n_dropped`` reports how many. Infinite values always raise. At least 3 samples must remain.

Every result is built from plain Python floats, ints and lists (JSON-ready).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._array import to_numpy
from ..metrics import confusing_agreement

STATISTICS = ("pearson", "spearman", "iou")
"""The statistics of :func:`agreement_with_ci` that carry a bootstrap CI."""

_CHUNK_ENTRIES = 1 << 21  # resampled entries processed at once (per array) in the vectorised path


# ---------------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------------


def _check_level(level: Any) -> float:
    msg = f"level: got {level!r}; pass the coverage of the interval, 0 < level < 1, such as 0.95."
    if isinstance(level, (bool, np.bool_)):
        raise ValueError(msg)
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise ValueError(msg) from None
    if not (0 < value < 1):
        raise ValueError(msg)
    return value


def _check_count(name: str, value: Any, minimum: int) -> int:
    msg = f"{name}: got {value!r}; pass an integer >= {minimum}."
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(msg)
    try:
        count = operator.index(value)
    except TypeError:
        raise ValueError(msg) from None
    if count < minimum:
        raise ValueError(msg)
    return count


def _check_etas(named: Sequence[tuple[str, Any]], drop_nan: bool) -> tuple[list[np.ndarray], int]:
    """Check arrays of average orders of the same samples; return them (NaN samples dropped) and the
    number of samples dropped."""
    arrays = []
    for name, x in named:
        try:
            e = np.asarray(to_numpy(x))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}: cannot be read as an array of numbers ({err}).") from None
        if e.dtype.kind not in "iuf":
            raise ValueError(
                f"{name}: dtype {e.dtype} is not supported; pass a 1-D array of average orders (floats)."
            )
        if e.ndim != 1:
            raise ValueError(
                f"{name}: got shape {e.shape}; pass a 1-D array with one average order η per test sample."
            )
        e = e.astype(np.float64)
        if np.isinf(e).any():
            raise ValueError(f"{name}: contains infinite values; an average order η is finite or NaN.")
        arrays.append(e)
    first_name, n = named[0][0], arrays[0].shape[0]
    for (name, _), e in zip(named[1:], arrays[1:]):
        if e.shape[0] != n:
            raise ValueError(
                f"{first_name} has {n} samples but {name} has {e.shape[0]}; pass the average orders of "
                f"the same test samples, in the same order, for every model."
            )
    nan = np.zeros(n, dtype=bool)
    for e in arrays:
        nan |= np.isnan(e)
    n_dropped = int(nan.sum())
    if n_dropped and not drop_nan:
        name = next(name for (name, _), e in zip(named, arrays) if np.isnan(e).any())
        raise ValueError(
            f"{name}: contains NaN (a sample without salient interactions has no average order); drop "
            f"those samples from every array first, or pass drop_nan=True to drop them here."
        )
    if n_dropped:
        arrays = [e[~nan] for e in arrays]
    if n - n_dropped < 3:
        dropped = f" after dropping {n_dropped} sample(s) with NaN" if n_dropped else ""
        raise ValueError(
            f"{first_name}: got {n - n_dropped} sample(s){dropped}; the bootstrap of a correlation needs "
            f"at least 3 samples."
        )
    return arrays, n_dropped


# ---------------------------------------------------------------------------------------------
# bootstrap building blocks
# ---------------------------------------------------------------------------------------------


def bootstrap_indices(n: int, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """The bootstrap resamples of ``n`` samples: an int array of shape ``(n_boot, n)``.

    Row ``r`` holds the indices of resample ``r``, ``n`` draws with replacement:
    ``numpy.random.default_rng(seed).integers(0, n, size=(n_boot, n))``. Deterministic for ``seed``.
    """
    n = _check_count("n", n, 1)
    n_boot = _check_count("n_boot", n_boot, 1)
    seed = _check_count("seed", seed, 0)
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _summary(value: float, boot: np.ndarray, level: float) -> dict[str, Any]:
    """``{"value", "ci", "n_undefined"}``: the percentile CI of the defined (non-NaN) ``boot`` values."""
    defined = boot[~np.isnan(boot)]
    if defined.size:
        alpha = 1.0 - level
        lo, hi = np.quantile(defined, [alpha / 2, 1 - alpha / 2])
        ci = [float(lo), float(hi)]
    else:
        ci = [math.nan, math.nan]
    return {"value": float(value), "ci": ci, "n_undefined": int(boot.size - defined.size)}


def bootstrap_ci(
    samples: Sequence[Any],
    statistic: Callable[..., float],
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Percentile bootstrap CI of a scalar statistic of paired samples.

    With ``idx_r`` the rows of :func:`bootstrap_indices` ``(N, n_boot, seed)``:
    ``θ = statistic(*samples)``, ``θ*_r = statistic(*(s[idx_r] for s in samples))``, and the CI is
    ``[q(α/2), q(1 − α/2)]`` of the ``θ*_r`` that are not ``NaN`` (``α = 1 − level``; ``NaN`` marks a
    resample on which the statistic is undefined; it is skipped and counted).

    Args:
        samples: one or more arrays (numpy or torch) whose first axes all have the same length
            ``N >= 1``: the samples are resampled together, row ``i`` of every array with row ``i``.
        statistic: called with one array per element of ``samples``; returns a real number.
        n_boot: the number of resamples, ``>= 1``.
        seed: a non-negative integer; the same seed gives the same resamples and the same result.
        level: the coverage of the interval, ``0 < level < 1``.
    Returns:
        ``{"value": θ, "ci": [lo, hi], "n_undefined": int, "n": N, "n_boot": n_boot, "level": level}``.
    """
    level = _check_level(level)
    if not isinstance(samples, Sequence) or not samples:
        raise ValueError("samples: pass a non-empty sequence of arrays, e.g. (eta_a, eta_b).")
    arrays = [np.asarray(to_numpy(s)) for s in samples]
    if any(a.ndim == 0 for a in arrays):
        raise ValueError("samples: every element must be an array with one row per sample, not a scalar.")
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        raise ValueError(
            f"samples: first-axis lengths {[a.shape[0] for a in arrays]} differ; every array must hold "
            f"one row per sample, the same samples in the same order."
        )
    idx = bootstrap_indices(n, n_boot, seed)

    def call(*args: np.ndarray) -> float:
        out = statistic(*args)
        try:
            return float(out)
        except (TypeError, ValueError):
            raise ValueError(f"statistic: returned {out!r}; it must return a real number.") from None

    boot = np.array([call(*(a[row] for a in arrays)) for row in idx], dtype=np.float64)
    return {**_summary(call(*arrays), boot, level), "n": int(n), "n_boot": int(idx.shape[0]), "level": level}


# ---------------------------------------------------------------------------------------------
# vectorised statistics of many resamples at once
# ---------------------------------------------------------------------------------------------


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson ``r`` of each row pair: ``Σ x̃ỹ / sqrt(Σ x̃² · Σ ỹ²)`` (``x̃ = x − mean``); ``NaN``
    where either row is constant."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    num = (xc * yc).sum(axis=1)
    den = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    ok = (np.ptp(x, axis=1) > 0) & (np.ptp(y, axis=1) > 0) & (den > 0)
    r = np.full(x.shape[0], np.nan)
    r[ok] = np.clip(num[ok] / den[ok], -1.0, 1.0)
    return r


def _rowwise_iou(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """``|A ∩ B| / |A ∪ B| = |A ∩ B| / (2k − |A ∩ B|)`` per row pair, ``A`` (``B``) the positions of the
    ``k`` largest entries of the row of ``x`` (``y``), ties to the earlier position."""

    def top_mask(z: np.ndarray) -> np.ndarray:
        mask = np.zeros(z.shape, dtype=bool)
        np.put_along_axis(mask, np.argsort(-z, axis=1, kind="stable")[:, :k], True, axis=1)
        return mask

    inter = (top_mask(x) & top_mask(y)).sum(axis=1)
    return inter / (2 * k - inter)


def _resampled(a: np.ndarray, b: np.ndarray, idx: np.ndarray, k: int, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The statistics ``names`` of ``(a[row], b[row])`` for every row of ``idx``, in chunks of rows."""
    from scipy.stats import rankdata

    n_boot, n = idx.shape
    out = {name: np.empty(n_boot) for name in names}
    rows = max(1, _CHUNK_ENTRIES // n)
    for start in range(0, n_boot, rows):
        chunk = idx[start : start + rows]
        x, y = a[chunk], b[chunk]
        part = slice(start, start + chunk.shape[0])
        if "pearson" in out:
            out["pearson"][part] = _rowwise_pearson(x, y)
        if "spearman" in out:  # Pearson of the average ranks
            out["spearman"][part] = _rowwise_pearson(rankdata(x, axis=1), rankdata(y, axis=1))
        if "iou" in out:
            out["iou"][part] = _rowwise_iou(x, y, k)
    return out


# ---------------------------------------------------------------------------------------------
# the statistics the experiments report
# ---------------------------------------------------------------------------------------------


def agreement_with_ci(
    eta_a: Any,
    eta_b: Any,
    top: float = 0.1,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    drop_nan: bool = False,
) -> dict[str, Any]:
    """Agreement of the confusing samples of two models, with percentile bootstrap CIs.

    The point values are :func:`~interprim.metrics.confusing_agreement` of ``eta_a`` and ``eta_b``
    (the average orders ``η`` of the same ``N`` test samples under models a and b):

    - ``pearson``, ``spearman``: correlation coefficients of ``η_a`` and ``η_b`` (Spearman = Pearson
      of the average ranks); undefined (``NaN``) when either input is constant;
    - ``iou``: ``|A ∩ B| / |A ∪ B|`` of the top sets, the ``k = ceil(top·N)`` samples of highest ``η``;
    - ``chance_iou``: ``(k²/N) / (2k − k²/N)``, the IoU of two independent random ``k``-subsets. It is
      fixed by ``N`` and ``top``, so it is a plain number without a CI.

    Each of the three statistics gets a percentile bootstrap CI over samples: the same resamples
    (:func:`bootstrap_indices` ``(N, n_boot, seed)``) for all three, each statistic recomputed on
    ``(η_a[idx_r], η_b[idx_r])``; resamples where it is undefined are skipped and counted.

    Args:
        eta_a, eta_b: 1-D arrays (numpy or torch) of the same length, the same samples in the same order.
        top: the fraction ``0 < top <= 1`` of samples in a top set.
        n_boot: the number of resamples, ``>= 1``.
        seed: a non-negative integer; the same seed gives the same result.
        level: the coverage of the intervals, ``0 < level < 1``.
        drop_nan: ``False`` (default): a ``NaN`` ``η`` raises ``ValueError``. ``True``: samples ``NaN``
            in either array are dropped from both first (counted in ``n_dropped``).
    Returns:
        ``{"pearson": S, "spearman": S, "iou": S, "chance_iou": float, "k": int, "top": float,
        "n": N, "n_dropped": int, "n_boot": int, "level": float, "seed": int}`` with each
        ``S = {"value": float, "ci": [lo, hi], "n_undefined": int}``; ``N`` counts the samples used
        (after dropping).
    Raises:
        ValueError: arrays not 1-D or of different lengths, ``NaN`` (unless ``drop_nan``) or infinite
            values, fewer than 3 samples, ``top``, ``n_boot``, ``seed`` or ``level`` out of range.
    """
    level = _check_level(level)
    (a, b), n_dropped = _check_etas([("eta_a", eta_a), ("eta_b", eta_b)], drop_nan)
    point = confusing_agreement(a, b, top=top)  # also checks top
    idx = bootstrap_indices(a.shape[0], n_boot, seed)
    boot = _resampled(a, b, idx, point["k"], STATISTICS)
    result: dict[str, Any] = {name: _summary(point[name], boot[name], level) for name in STATISTICS}
    result.update(
        chance_iou=float(point["chance_iou"]),
        k=int(point["k"]),
        top=float(top),
        n=int(a.shape[0]),
        n_dropped=n_dropped,
        n_boot=int(idx.shape[0]),
        level=level,
        seed=int(seed),
    )
    return result


def paired_difference(
    eta_a: Any,
    eta_b: Any,
    eta_c: Any,
    eta_d: Any,
    stat: str = "spearman",
    top: float = 0.1,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    drop_nan: bool = False,
) -> dict[str, Any]:
    """A statistic of the pair (a, b) minus the same statistic of the reference pair (c, d).

    All four arrays are average orders ``η`` of the same ``N`` test samples. With ``s`` the statistic
    ``stat`` of :func:`agreement_with_ci` (``"pearson"``, ``"spearman"`` or ``"iou"``):
    ``Δ = s(η_a, η_b) − s(η_c, η_d)``, and on resample ``r`` (the rows of :func:`bootstrap_indices`
    ``(N, n_boot, seed)``, the same rows for both pairs)
    ``Δ*_r = s(η_a[idx_r], η_b[idx_r]) − s(η_c[idx_r], η_d[idx_r])``. Using the same rows for both
    pairs keeps the pairing: sample-level variation that moves both statistics together cancels in
    ``Δ*_r``, so the CI of ``Δ`` is the CI of the difference on these samples, not of two
    independent estimates. A resample on which either statistic is undefined is skipped for ``Δ``.
    The pair and the reference are also reported with their own CIs (the same values as
    :func:`agreement_with_ci` with the same seed).

    Args:
        eta_a, eta_b: the pair of models compared.
        eta_c, eta_d: the reference pair (e.g. models that differ in everything, or only in their
            initialisation, SPEC §7).
        stat: ``"pearson"``, ``"spearman"`` or ``"iou"``.
        top, n_boot, seed, level: as in :func:`agreement_with_ci` (``top`` matters for ``"iou"`` only).
        drop_nan: ``False``: a ``NaN`` raises ``ValueError``; ``True``: samples ``NaN`` in any of the
            four arrays are dropped from all four.
    Returns:
        ``{"stat": str, "pair": S, "reference": S, "difference": S, "top": float, "k": int, "n": N,
        "n_dropped": int, "n_boot": int, "level": float, "seed": int}`` with each
        ``S = {"value": float, "ci": [lo, hi], "n_undefined": int}``.
    Raises:
        ValueError: as :func:`agreement_with_ci`, or an unknown ``stat``.
    """
    if stat not in STATISTICS:
        raise ValueError(f"stat: got {stat!r}; pass one of {', '.join(map(repr, STATISTICS))}.")
    level = _check_level(level)
    (a, b, c, d), n_dropped = _check_etas(
        [("eta_a", eta_a), ("eta_b", eta_b), ("eta_c", eta_c), ("eta_d", eta_d)], drop_nan
    )
    point_pair = confusing_agreement(a, b, top=top)
    point_ref = confusing_agreement(c, d, top=top)
    idx = bootstrap_indices(a.shape[0], n_boot, seed)
    k = point_pair["k"]
    boot_pair = _resampled(a, b, idx, k, [stat])[stat]
    boot_ref = _resampled(c, d, idx, k, [stat])[stat]
    return {
        "stat": stat,
        "pair": _summary(point_pair[stat], boot_pair, level),
        "reference": _summary(point_ref[stat], boot_ref, level),
        "difference": _summary(point_pair[stat] - point_ref[stat], boot_pair - boot_ref, level),
        "top": float(top),
        "k": int(k),
        "n": int(a.shape[0]),
        "n_dropped": n_dropped,
        "n_boot": int(idx.shape[0]),
        "level": level,
        "seed": int(seed),
    }


def over_seeds(values: Sequence[float]) -> dict[str, Any]:
    """Mean and sample standard deviation of one statistic over seeds (SPEC §7: ≥ 3 seeds).

    ``mean = Σ v_i / n``, ``sd = sqrt(Σ (v_i − mean)² / (n − 1))`` (``ddof = 1``); ``sd`` is ``NaN``
    for ``n = 1`` (one seed says nothing about the spread).

    Args:
        values: one finite number per seed (a 1-D sequence or array, at least one value). A seed whose
            statistic is undefined (``NaN``) must be dropped, and reported, by the caller.
    Returns:
        ``{"mean": float, "sd": float, "n": int, "values": [float, ...]}``.
    """
    try:
        v = np.asarray(to_numpy(values), dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"values: cannot be read as numbers ({err}); pass one number per seed.") from None
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values: got shape {v.shape}; pass a non-empty 1-D sequence with one number per seed.")
    if not np.isfinite(v).all():
        raise ValueError(
            "values: contains NaN or infinite values; drop the seeds whose statistic is undefined (and "
            "report how many) before summarising."
        )
    n = int(v.size)
    return {
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)) if n > 1 else math.nan,
        "n": n,
        "values": [float(x) for x in v],
    }
