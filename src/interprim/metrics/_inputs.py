"""What every metric does first: read its input, merge the singletons, select the salient interactions.

The metrics of this package accept interactions in three forms (see the package docstring) and
turn them here into one :class:`Batch` of float64 numpy arrays; then :func:`selection` reads the
``threshold`` / ``top_k`` arguments and :func:`masks` marks the salient interactions (SPEC §4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._array import as_vectors, check_same_shape, to_numpy
from ..sets import orders

SPEC_RATIO = 0.02
"""``τ = SPEC_RATIO · E_x |v(x) − v(x_∅)|``: the threshold of salient interactions (P1 fn. 6, SPEC §4)."""

SPEC = "spec"
"""The default ``threshold`` of the salience metrics: the SPEC τ computed over the samples given."""


@dataclass(frozen=True)
class Batch:
    """Checked interactions of one metric call.

    ``a``, ``o``: float64 arrays of shape ``(..., 2**n)``, singletons merged when ``merged``, not to
    be written to (they may be the caller's arrays); ``change``: ``v(N) − v(∅)`` per sample, shape ``a.shape[:-1]``;
    ``models``: the first axis indexes models because a list of ``Interactions`` was given.
    """

    a: np.ndarray
    o: np.ndarray
    n: int
    change: np.ndarray
    models: bool
    merged: bool


@dataclass(frozen=True)
class Selection:
    """Which interactions are salient: ``|I| > tau`` (``tau`` of shape ``()`` or ``(m,)``), or the
    ``top_k`` strongest of a sample; exactly one of the two is not ``None``."""

    tau: np.ndarray | None
    top_k: int | None


def vectors(name: str, x: Any) -> tuple[np.ndarray, int]:
    """Checked ``(..., 2**n)`` input as a float64 numpy array (not to be written to) and its ``n``."""
    x, n = as_vectors(name, x, copies=3)
    return np.asarray(to_numpy(x), dtype=np.float64), n


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: got {value!r}; pass True or False.")
    return bool(value)


def _interactions() -> Any:
    """The module :mod:`interprim.interactions`, imported on first use since it imports this package."""
    from .. import interactions

    return interactions


def is_interactions(x: Any) -> bool:
    """Whether ``x`` is an :class:`~interprim.Interactions`."""
    return isinstance(x, _interactions().Interactions)


def is_interactions_list(x: Any) -> bool:
    """Whether ``x`` is a list (or tuple) holding ``Interactions``: one per model."""
    return isinstance(x, (list, tuple)) and any(is_interactions(e) for e in x)


def read(i_and: Any, i_or: Any, merge_singletons: Any, name: str = "i_and", name_or: str = "i_or") -> Batch:
    """Read ``(i_and, i_or)`` arrays, an ``Interactions``, or a list of ``Interactions`` (one per model).

    ``v(N) − v(∅)`` per sample is exact for an ``Interactions``: ``Σ_{T≠∅} (I_and(T) + I_or(T)) −
    (q(N) − q(∅))`` with its stored noise ``q`` (:meth:`Interactions.output_change`). Bare arrays
    carry no noise, so it is the change of the reconstructed output, ``h(N) − h(∅) = Σ_{T≠∅}
    (I_and(T) + I_or(T))``, which differs from ``v(N) − v(∅)`` by ``q(N) − q(∅)``.
    """
    merged = flag("merge_singletons", merge_singletons)
    models = is_interactions_list(i_and)
    if models or is_interactions(i_and):
        if i_or is not None:
            raise ValueError(
                f"{name_or}: got {type(i_or).__name__}, but {name} is an Interactions (or a list of them) "
                f"that holds its OR interactions itself; leave {name_or} out."
            )
        a, o, change = _stack(list(i_and) if models else [i_and], name)
        if not models:
            a, o, change = a[0], o[0], change[0]
    else:
        if i_or is None:
            raise ValueError(
                f"{name_or}: missing; pass the OR interactions, of the shape of {name}, or pass an "
                f"Interactions (or a list of them, one per model) as {name}."
            )
        a, _ = vectors(name, i_and)
        o, _ = vectors(name_or, i_or)
        check_same_shape(name, a, name_or, o)
        change = a[..., 1:].sum(-1) + o[..., 1:].sum(-1)
    if merged:
        a, o = _interactions().singletons_merged(a, o)
    return Batch(a=a, o=o, n=int(a.shape[-1]).bit_length() - 1, change=change, models=models, merged=merged)


def _stack(results: list, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i_and, i_or, v(N) − v(∅))`` of ``Interactions`` of the same shape, stacked on a new first axis."""
    for j, r in enumerate(results):
        if not is_interactions(r):
            raise ValueError(
                f"{name}[{j}]: got {type(r).__name__} in a list of Interactions; pass one Interactions per "
                f"model, or arrays."
            )
        if r.i_and.shape != results[0].i_and.shape:
            raise ValueError(
                f"{name}[{j}] has shape {tuple(r.i_and.shape)} but {name}[0] has {tuple(results[0].i_and.shape)}; "
                f"every model must explain the same samples with the same players."
            )
    a = np.stack([to_numpy(r.i_and).astype(np.float64) for r in results])
    o = np.stack([to_numpy(r.i_or).astype(np.float64) for r in results])
    change = np.stack([np.asarray(r.output_change()) for r in results])
    return a, o, change


def require_models(x: Batch, name: str = "i_and") -> int:
    """The first axis indexes models: require ``(m, ..., 2**n)`` with ``m >= 2``; return ``m``."""
    if x.a.ndim < 2 or x.a.shape[0] < 2:
        raise ValueError(
            f"{name}: got shape {x.a.shape}; the first axis must index m >= 2 models, i.e. shape "
            f"(m, ..., 2**n) (stack the interactions of the models, or pass a list of Interactions)."
        )
    return x.a.shape[0]


def spec_tau(change: np.ndarray, per_model: bool, ratio: float = SPEC_RATIO) -> np.ndarray:
    """``τ = ratio · mean |v(N) − v(∅)|`` over all samples (shape ``()``) or per model (first axis, ``(m,)``)."""
    strength = np.abs(change)
    if per_model:
        return ratio * strength.reshape(strength.shape[0], -1).mean(1)
    return np.asarray(ratio * strength.mean())


def pool_size(n: int, merged: bool) -> int:
    """How many interactions a sample has, AND and OR pooled, ``∅`` (and merged OR singletons) excluded."""
    return 2 * (2**n - 1) - (n if merged else 0)


def check_k(k: Any, n: int, merged: bool, name: str = "top_k") -> int:
    kmax = pool_size(n, merged)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{name}: got {k!r}; pass an integer number of interactions between 1 and {kmax}.")
    if not 1 <= int(k) <= kmax:
        what = f"2**n - 1 AND and 2**n - 1 OR, the empty set excluded{', n OR singletons merged' if merged else ''}"
        raise ValueError(
            f"{name}: got {int(k)}, out of range; with n={n} players a sample has {kmax} interactions "
            f"({what}), so pass 1 <= {name} <= {kmax}."
        )
    return int(k)


def _tau_values(threshold: Any) -> np.ndarray:
    """A number or a 1-D sequence of numbers, each finite and ``>= 0``."""
    hint = "pass 'spec' (the SPEC τ), a number >= 0 (0: all interactions), one number per model, or None"
    if isinstance(threshold, (bool, np.bool_, str)):
        raise ValueError(f"threshold: got {threshold!r}; {hint}.")
    try:
        tau = np.asarray(to_numpy(threshold), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"threshold: got {threshold!r}; {hint}.") from None
    if tau.ndim > 1 or (tau.ndim == 1 and tau.size == 0):
        raise ValueError(f"threshold: got shape {tau.shape}; {hint}.")
    if not np.all(np.isfinite(tau) & (tau >= 0)):
        raise ValueError(f"threshold: got {threshold!r}; every threshold must be a finite number >= 0.")
    return tau


def selection(
    threshold: Any,
    top_k: Any,
    *,
    n: int,
    merged: bool,
    change: np.ndarray,
    per_model: bool,
    sequence: bool = True,
) -> Selection:
    """Read ``threshold`` and ``top_k`` (see the package docstring) into a :class:`Selection`.

    ``change`` is ``v(N) − v(∅)`` of the samples given, for the SPEC τ; ``per_model``: its first
    axis indexes models, so the SPEC τ is one per model; ``sequence``: whether one threshold per
    model (the first axis of ``change``) may be given.
    """
    if isinstance(threshold, str) and threshold == SPEC:
        if top_k is not None:
            return Selection(None, check_k(top_k, n, merged))
        return Selection(spec_tau(change, per_model), None)
    if threshold is None:
        return Selection(np.asarray(0.0), None) if top_k is None else Selection(None, check_k(top_k, n, merged))
    tau = _tau_values(threshold)
    if top_k is not None:
        raise ValueError(
            "threshold and top_k were both given; pass only one of them to select salient interactions "
            "(top_k alone replaces the default threshold)."
        )
    if tau.ndim == 1:
        models = change.shape[0] if change.ndim else 0
        if not sequence or tau.size != models:
            where = f"the first axis has {models} entries" if sequence and change.ndim else "there is no model axis"
            raise ValueError(
                f"threshold: got {tau.size} thresholds but {where}; pass one number, or one per model "
                f"(the models on the first axis, or a list of Interactions)."
            )
    return Selection(tau, None)


def _ranks(a: np.ndarray, o: np.ndarray, merged: bool) -> np.ndarray:
    """Rank of every interaction of a sample by strength, AND and OR pooled, ``T ≠ ∅``.

    Ints of shape ``(..., 2 * (2**n - 1))``: entries ``[:2**n - 1]`` are the AND subsets ``1 … 2**n
    - 1``, the rest the OR subsets. Rank 0 is the strongest; ties go to the earlier entry (AND
    before OR, smaller bitmask first: a stable sort). Merged OR singletons rank last.
    """
    size = a.shape[-1] - 1
    s = np.concatenate((np.abs(a[..., 1:]), np.abs(o[..., 1:])), axis=-1)
    if merged:
        n = size.bit_length()
        s[..., [size + (1 << i) - 1 for i in range(n)]] = -1.0
    idx = np.argsort(-s, axis=-1, kind="stable")
    ranks = np.empty_like(idx)
    np.put_along_axis(ranks, idx, np.broadcast_to(np.arange(s.shape[-1]), s.shape), axis=-1)
    return ranks


def top_k_masks(a: np.ndarray, o: np.ndarray, ks: list[int], merged: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(mask_and, mask_or)`` of the ``k`` strongest interactions of every sample, for each ``k``."""
    ranks = _ranks(a, o, merged)
    empty = np.zeros(ranks.shape[:-1] + (1,), dtype=bool)
    half = ranks.shape[-1] // 2
    out = []
    for k in ks:
        pooled = ranks < k
        out.append(
            (np.concatenate((empty, pooled[..., :half]), axis=-1), np.concatenate((empty, pooled[..., half:]), axis=-1))
        )
    return out


def masks(x: Batch, sel: Selection) -> tuple[np.ndarray, np.ndarray]:
    """Salient masks of ``x.a`` and ``x.o``: ``∅`` and merged OR singletons are never salient."""
    if sel.top_k is not None:
        return top_k_masks(x.a, x.o, [sel.top_k], x.merged)[0]
    tau = sel.tau.reshape(sel.tau.shape + (1,) * (x.a.ndim - sel.tau.ndim))
    m_and, m_or = np.abs(x.a) > tau, np.abs(x.o) > tau
    m_and[..., 0] = False
    m_or[..., 0] = False
    if x.merged:
        m_or[..., [1 << i for i in range(x.n)]] = False
    return m_and, m_or


def salient_values(x: Batch, sel: Selection) -> tuple[np.ndarray, np.ndarray]:
    """``x.a`` and ``x.o`` with the non-salient interactions and the bias set to 0."""
    m_and, m_or = masks(x, sel)
    return np.where(m_and, x.a, 0.0), np.where(m_or, x.o, 0.0)


def by_order(x: np.ndarray, n: int) -> np.ndarray:
    """``out[..., k] = Σ_{|T|=k} x[..., T]``: sums over the subsets of each order, shape ``(..., n+1)``."""
    onehot = (orders(n)[:, None] == np.arange(n + 1)[None, :]).astype(np.float64)
    return x @ onehot


def signed_by_order(a: np.ndarray, o: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Σ_type Σ_{|T|=k} max(I_type(T), 0), Σ_type Σ_{|T|=k} |min(I_type(T), 0)|)`` (P1 Eq. 4)."""
    pos = by_order(np.maximum(a, 0.0) + np.maximum(o, 0.0), n)
    neg = by_order(np.maximum(-a, 0.0) + np.maximum(-o, 0.0), n)
    return pos, neg


def safe_ratio(num: Any, den: Any) -> Any:
    """``num / den`` with ``NaN`` where ``den == 0``; a numpy float64 scalar for 0-d results."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast_shapes(num.shape, den.shape), np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out[()] if out.ndim == 0 else out


def check_ratio(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"ratio: got {value!r}; pass a non-negative number such as {SPEC_RATIO}.")
    try:
        r = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"ratio: got {value!r}; pass a non-negative number such as {SPEC_RATIO}.") from None
    if not math.isfinite(r) or r < 0:
        raise ValueError(f"ratio: got {r}; it must be a finite number >= 0 ({SPEC_RATIO} in P1).")
    return r
