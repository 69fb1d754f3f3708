"""Metrics over AND-OR interactions (SPEC §4; P1 = the order / generalization-power paper,
P2 = the generalizable-interaction-primitives paper).

Interaction vectors ``i_and``, ``i_or`` have shape ``(..., 2**n)`` in bitmask order (see
:mod:`interprim.sets`); ``i_and[..., 0]`` is the bias ``b`` and is never an interaction, and
``i_or[..., 0]`` is ``0``. The order of a subset ``T`` is ``|T|`` (:func:`interprim.sets.orders`).

Conventions shared by every function here:

- Inputs may be numpy arrays or torch tensors (any device, with or without autograd); everything
  is computed in numpy float64 and returned as numpy arrays or floats. A reduction over a single
  sample returns a numpy float64 scalar rather than a 0-d array.
- *Salient* interactions (P1 fn. 6, P2): either ``|I(T)| > threshold`` (typically
  ``threshold = salient_threshold(v)``, i.e. ``τ = 0.02·E_x|v(x) − v(x_∅)|``), or the ``top_k``
  strongest interactions of a sample, ranked over AND and OR pooled together (P2 App.). The empty
  set is never salient. Non-salient interactions count as ``0`` in every metric.
- Where a metric takes ``threshold=None, top_k=None`` and both are left out, all interactions
  (``T ≠ ∅``) are used, unless the function says it needs a selection.
- Ratios whose denominator is ``0`` (``0/0``) are ``NaN``.
- Bad input raises ``ValueError`` naming the argument and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._array import as_vectors, check_same_shape, to_numpy
from .sets import orders
from .transforms import reconstruct

__all__ = [
    "salient_threshold",
    "salient_mask",
    "order_strengths",
    "average_order",
    "jaccard_by_order",
    "transferability",
    "transferability_curve",
    "shared_ratio_by_order",
    "sparsity_curve",
    "matching_error",
    "confusing_agreement",
]


# ---------------------------------------------------------------------------------------------
# Input plumbing
# ---------------------------------------------------------------------------------------------


def _vectors(name: str, x: Any) -> tuple[np.ndarray, int]:
    """Checked ``(..., 2**n)`` input as a float64 numpy array (never written to) and its ``n``."""
    x, n = as_vectors(name, x, copies=3)
    return np.asarray(to_numpy(x), dtype=np.float64), n


def _pair(i_and: Any, i_or: Any, name_and: str = "i_and", name_or: str = "i_or") -> tuple[np.ndarray, np.ndarray, int]:
    a, n = _vectors(name_and, i_and)
    o, _ = _vectors(name_or, i_or)
    check_same_shape(name_and, a, name_or, o)
    return a, o, n


def _models(a: np.ndarray, name: str) -> None:
    """The first axis indexes models: require ``(m, ..., 2**n)`` with ``m >= 2``."""
    if a.ndim < 2 or a.shape[0] < 2:
        raise ValueError(
            f"{name}: got shape {a.shape}; the first axis must index m >= 2 models, i.e. shape "
            f"(m, ..., 2**n) (stack the interactions of the models with np.stack / torch.stack)."
        )


def _n_pooled(n: int) -> int:
    """How many interactions a sample has, AND and OR pooled, empty set excluded."""
    return 2 * (2**n - 1)


def _check_threshold(threshold: Any) -> float:
    if isinstance(threshold, (bool, np.bool_)):
        raise ValueError(f"threshold: got {threshold!r}; pass a non-negative number such as salient_threshold(v).")
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(
            f"threshold: got {threshold!r}; pass a single non-negative number such as salient_threshold(v)."
        ) from None
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"threshold: got {t}; it must be a finite number >= 0 (e.g. salient_threshold(v)).")
    return t


def _check_k(k: Any, n: int, name: str = "top_k") -> int:
    kmax = _n_pooled(n)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{name}: got {k!r}; pass an integer number of interactions between 1 and {kmax}.")
    if not 1 <= int(k) <= kmax:
        raise ValueError(
            f"{name}: got {int(k)}, out of range; with n={n} players a sample has {kmax} interactions "
            f"(2**n - 1 AND and 2**n - 1 OR, the empty set excluded), so pass 1 <= {name} <= {kmax}."
        )
    return int(k)


def _check_selection(threshold: Any, top_k: Any, n: int, required: bool) -> tuple[float | None, int | None]:
    if threshold is not None and top_k is not None:
        raise ValueError("threshold and top_k were both given; pass only one of them to select salient interactions.")
    if threshold is None and top_k is None:
        if required:
            raise ValueError(
                "neither threshold nor top_k was given; pass exactly one of them to select salient "
                "interactions (e.g. threshold=salient_threshold(v) or top_k=100)."
            )
        return None, None
    if threshold is not None:
        return _check_threshold(threshold), None
    return None, _check_k(top_k, n)


def _ranks(a: np.ndarray, o: np.ndarray) -> np.ndarray:
    """Rank of every interaction of a sample by strength, AND and OR pooled, ``T ≠ ∅``.

    Returns ints of shape ``(..., 2 * (2**n - 1))``: entries ``[:2**n - 1]`` are the AND subsets
    ``1 … 2**n - 1``, the rest the OR subsets. Rank 0 is the strongest. Ties go to the earlier
    entry (AND before OR, smaller bitmask first): a stable sort, so the ranking is deterministic.
    """
    s = np.concatenate((np.abs(a[..., 1:]), np.abs(o[..., 1:])), axis=-1)
    idx = np.argsort(-s, axis=-1, kind="stable")
    ranks = np.empty_like(idx)
    np.put_along_axis(ranks, idx, np.broadcast_to(np.arange(s.shape[-1]), s.shape), axis=-1)
    return ranks


def _split_pooled(pooled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pooled ``(..., 2*(2**n-1))`` bool mask → ``(mask_and, mask_or)`` over ``2**n`` subsets, ``∅`` False."""
    half = pooled.shape[-1] // 2
    empty = np.zeros(pooled.shape[:-1] + (1,), dtype=bool)
    return (
        np.concatenate((empty, pooled[..., :half]), axis=-1),
        np.concatenate((empty, pooled[..., half:]), axis=-1),
    )


def _mask(a: np.ndarray, o: np.ndarray, threshold: float | None, top_k: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Salient masks of checked arrays; all ``T ≠ ∅`` when neither selection is given."""
    if top_k is not None:
        return _split_pooled(_ranks(a, o) < top_k)
    if threshold is not None:
        m_and, m_or = np.abs(a) > threshold, np.abs(o) > threshold
    else:
        m_and, m_or = np.ones(a.shape, dtype=bool), np.ones(o.shape, dtype=bool)
    m_and[..., 0] = False
    m_or[..., 0] = False
    return m_and, m_or


def _salient(a: np.ndarray, o: np.ndarray, threshold: float | None, top_k: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Copies of ``a`` and ``o`` with the non-salient interactions and the bias set to 0."""
    m_and, m_or = _mask(a, o, threshold, top_k)
    return np.where(m_and, a, 0.0), np.where(m_or, o, 0.0)


def _by_order(x: np.ndarray, n: int) -> np.ndarray:
    """``out[..., k] = Σ_{|T|=k} x[..., T]``: sums over the subsets of each order, shape ``(..., n+1)``."""
    onehot = (orders(n)[:, None] == np.arange(n + 1)[None, :]).astype(np.float64)
    return x @ onehot


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with ``NaN`` where ``den == 0``."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast_shapes(num.shape, den.shape), np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out[()] if out.ndim == 0 else out


# ---------------------------------------------------------------------------------------------
# Salient interactions
# ---------------------------------------------------------------------------------------------


def salient_threshold(v: Any, ratio: float = 0.02) -> float:
    """Threshold for salient interactions: ``τ = ratio · E_x |v(x) − v(x_∅)|`` (P1 fn. 6, SPEC §4).

    Args:
        v: value vectors of shape ``(..., 2**n)`` over all analysed samples (leading axes are the
            samples); ``v[..., -1]`` is ``v(x)`` (all players present) and ``v[..., 0]`` is
            ``v(x_∅)``.
        ratio: the fraction of the average output change, ``0.02`` in P1.
    Returns:
        ``τ`` as a float: the mean over all samples of ``|v(x) − v(x_∅)|``, times ``ratio``.
    """
    x, _ = _vectors("v", v)
    if isinstance(ratio, (bool, np.bool_)):
        raise ValueError(f"ratio: got {ratio!r}; pass a non-negative number such as 0.02.")
    try:
        r = float(ratio)
    except (TypeError, ValueError):
        raise ValueError(f"ratio: got {ratio!r}; pass a non-negative number such as 0.02.") from None
    if not math.isfinite(r) or r < 0:
        raise ValueError(f"ratio: got {r}; it must be a finite number >= 0 (0.02 in P1).")
    return r * float(np.mean(np.abs(x[..., -1] - x[..., 0])))


def salient_mask(
    i_and: Any, i_or: Any, threshold: float | None = None, top_k: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Which interactions are salient: ``|I(T)| > threshold``, or the ``top_k`` strongest (P1 fn. 6, P2).

    Exactly one of ``threshold`` and ``top_k`` must be given. The empty set is never selected
    (``I_and(∅)`` is the bias). With ``top_k``, the ``k`` interactions with the largest ``|I(T)|``
    are taken per sample from the ``2·(2**n − 1)`` AND and OR interactions pooled together (P2 App.),
    so ``mask_and.sum(-1) + mask_or.sum(-1) == top_k``; ties are broken deterministically in favour
    of AND over OR and then the smaller bitmask.

    Args:
        i_and, i_or: interactions of shape ``(..., 2**n)``, numpy or torch.
        threshold: a number ``>= 0`` (strict inequality ``|I| > threshold``).
        top_k: an integer ``1 <= top_k <= 2·(2**n − 1)``.
    Returns:
        ``(mask_and, mask_or)``, bool numpy arrays of the input shape.
    """
    a, o, n = _pair(i_and, i_or)
    threshold, top_k = _check_selection(threshold, top_k, n, required=True)
    return _mask(a, o, threshold, top_k)


# ---------------------------------------------------------------------------------------------
# Orders (P1)
# ---------------------------------------------------------------------------------------------


def order_strengths(
    i_and: Any, i_or: Any, threshold: float | None = None, top_k: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Strength of the positive and negative salient interactions of each order (P1 Eq. 4).

    ``J_pos^(k) = Σ_{type∈{and,or}} Σ_{|S|=k} max(I_type(S), 0)`` and
    ``J_neg^(k) = Σ_{type} Σ_{|S|=k} |min(I_type(S), 0)|``, over the salient interactions
    (all of them when neither ``threshold`` nor ``top_k`` is given).

    Args:
        i_and, i_or: interactions of shape ``(..., 2**n)``.
        threshold, top_k: at most one, see :func:`salient_mask`.
    Returns:
        ``(j_pos, j_neg)``, each of shape ``(..., n+1)`` indexed by the order ``k``; the order-0
        entries are ``0`` (the bias is not an interaction).
    """
    a, o, n = _pair(i_and, i_or)
    a, o = _salient(a, o, *_check_selection(threshold, top_k, n, required=False))
    j_pos = _by_order(np.maximum(a, 0.0) + np.maximum(o, 0.0), n)
    j_neg = _by_order(np.maximum(-a, 0.0) + np.maximum(-o, 0.0), n)
    return j_pos, j_neg


def average_order(i_and: Any, i_or: Any, threshold: float | None = None, top_k: int | None = None) -> Any:
    """Average order of the salient interactions of a sample (P1 §3.1).

    ``η = Σ_k k·(J_pos^(k) + J_neg^(k)) / Σ_k (J_pos^(k) + J_neg^(k))`` with ``J`` from
    :func:`order_strengths`, i.e. the strength-weighted mean of ``|S|`` over the salient
    interactions. Samples with a high ``η`` are the *confusing* samples.

    Returns:
        ``η`` of shape ``(...)`` (the batch shape; a numpy float64 for a single sample). It is
        ``NaN`` for a sample whose salient interactions are all zero (no salient interaction).
    """
    j_pos, j_neg = order_strengths(i_and, i_or, threshold=threshold, top_k=top_k)
    total = j_pos + j_neg
    k = np.arange(total.shape[-1], dtype=np.float64)
    return _ratio(total @ k, total.sum(-1))


# ---------------------------------------------------------------------------------------------
# Generalization power (P1 Def. 2.2)
# ---------------------------------------------------------------------------------------------


def jaccard_by_order(
    train_and: Any,
    train_or: Any,
    test_and: Any,
    test_or: Any,
    threshold: float | None = None,
    top_k: int | None = None,
) -> np.ndarray:
    """Generalization power of the interactions of each order: Jaccard similarity of train and test (P1 Def. 2.2).

    The players are the same positions in every sample. Per sample, non-salient interactions are
    set to 0 (``threshold`` or ``top_k``, at most one; all interactions when neither is given);
    then the interactions are averaged over all the training samples (``Ī_train``) and over all
    the test samples (``Ī_test``). With ``d = [max(Ī_and, 0); max(Ī_or, 0); max(−Ī_and, 0);
    max(−Ī_or, 0)]`` restricted to the subsets of order ``k``:

    ``Sim^(k) = ‖min(d_train, d_test)‖₁ / ‖max(d_train, d_test)‖₁``.

    Args:
        train_and, train_or: training-set interactions, shape ``(..., 2**n)`` (every leading axis
            is a sample axis and is averaged).
        test_and, test_or: test-set interactions, shape ``(..., 2**n)`` with the same ``n``; the
            number of samples may differ from the training set.
    Returns:
        ``(n+1,)`` array indexed by the order; entry 0 is ``NaN`` (no interaction has order 0),
        and ``NaN`` wherever both averaged vectors are zero on that order (``0/0``).
    """
    ta, to, n = _pair(train_and, train_or, "train_and", "train_or")
    ea, eo, n_test = _pair(test_and, test_or, "test_and", "test_or")
    if n_test != n:
        raise ValueError(
            f"train_and has n={n} players (last axis {2**n}) but test_and has n={n_test} (last axis "
            f"{2**n_test}); the training and test interactions must be over the same players."
        )
    sel = _check_selection(threshold, top_k, n, required=False)

    def mean_d(a: np.ndarray, o: np.ndarray) -> np.ndarray:
        a, o = _salient(a, o, *sel)
        a = a.reshape(-1, 2**n).mean(0)
        o = o.reshape(-1, 2**n).mean(0)
        return np.stack((np.maximum(a, 0), np.maximum(o, 0), np.maximum(-a, 0), np.maximum(-o, 0)))

    d_train, d_test = mean_d(ta, to), mean_d(ea, eo)
    num = _by_order(np.minimum(d_train, d_test), n).sum(0)
    den = _by_order(np.maximum(d_train, d_test), n).sum(0)
    sim = _ratio(num, den)
    sim[0] = np.nan
    return sim


# ---------------------------------------------------------------------------------------------
# Interactions shared by several models (P2)
# ---------------------------------------------------------------------------------------------


def _shared(m_and: np.ndarray, m_or: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Ω^shared = ∩_i Ω^(i)`` per type, broadcast back over the model axis."""
    return (
        np.broadcast_to(m_and.all(0, keepdims=True), m_and.shape),
        np.broadcast_to(m_or.all(0, keepdims=True), m_or.shape),
    )


def _transfer(a: np.ndarray, o: np.ndarray, m_and: np.ndarray, m_or: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s_and, s_or = _shared(m_and, m_or)
    abs_a, abs_o = np.abs(a), np.abs(o)
    t_and = _ratio(np.where(s_and, abs_a, 0.0).sum(-1), np.where(m_and, abs_a, 0.0).sum(-1))
    t_or = _ratio(np.where(s_or, abs_o, 0.0).sum(-1), np.where(m_or, abs_o, 0.0).sum(-1))
    return t_and, t_or


def transferability(
    i_and: Any, i_or: Any, threshold: float | None = None, top_k: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Transferability of the salient interactions of each of ``m`` models (P2 Def. 1).

    With ``Ω_type^(i)`` the salient interactions of model ``i`` on a sample and
    ``Ω_type^shared = ∩_i Ω_type^(i)`` (salient in every model, same type, any sign):

    ``s_type^(i) = Σ_{T∈Ω_type^shared} |I_type^(i)(T)| / Σ_{T∈Ω_type^(i)} |I_type^(i)(T)|``.

    Exactly one of ``threshold`` and ``top_k`` must be given (with every interaction salient, all
    would be shared). With ``top_k`` the selection is pooled over AND and OR per model and sample,
    so ``Ω_and`` and ``Ω_or`` are the AND and OR parts of one top-``k`` set (P2 App.).

    Args:
        i_and, i_or: shape ``(m, ..., 2**n)``, ``m >= 2``: the first axis is the model, the others
            are samples (the same samples, with the same players, for every model).
    Returns:
        ``(s_and, s_or)`` of shape ``(m, ...)``; ``NaN`` where model ``i`` has no salient
        interaction of that type on the sample (``0/0``).
    """
    a, o, n = _pair(i_and, i_or)
    _models(a, "i_and")
    sel = _check_selection(threshold, top_k, n, required=True)
    return _transfer(a, o, *_mask(a, o, *sel))


def transferability_curve(i_and: Any, i_or: Any, ks: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`transferability` with ``Ω^(i)`` the top-``k`` interactions, for every ``k`` in ``ks`` (P2 Def. 1).

    Each model's interactions are ranked once (AND and OR pooled, as in :func:`salient_mask`),
    so ``transferability_curve(a, o, ks)[t][j] == transferability(a, o, top_k=ks[j])[t]``.

    Args:
        i_and, i_or: shape ``(m, ..., 2**n)``, ``m >= 2`` models on the first axis.
        ks: a non-empty sequence of integers ``1 <= k <= 2·(2**n − 1)``.
    Returns:
        ``(s_and, s_or)`` of shape ``(len(ks), m, ...)``.
    """
    a, o, n = _pair(i_and, i_or)
    _models(a, "i_and")
    if isinstance(ks, (int, np.integer)) or np.ndim(ks) != 1 or len(ks) == 0:
        raise ValueError(f"ks: got {ks!r}; pass a non-empty 1-D sequence of integers, e.g. range(1, 101).")
    ks = [_check_k(k, n, "ks") for k in ks]
    ranks = _ranks(a, o)
    out_and, out_or = [], []
    for k in ks:
        s_and, s_or = _transfer(a, o, *_split_pooled(ranks < k))
        out_and.append(s_and)
        out_or.append(s_or)
    return np.stack(out_and), np.stack(out_or)


def shared_ratio_by_order(
    i_and: Any,
    i_or: Any,
    threshold: float | None = None,
    top_k: int | None = None,
    pool: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Share of the positive and negative salient interactions of each order that all models share (P2 Fig. 4).

    For model ``i`` and order ``k``, with ``Ω^(i)`` its salient interactions and ``Ω^shared`` those
    salient in every model (same type; see :func:`transferability`):

    ``r_pos^(i)(k) = Σ_type Σ_{T∈Ω_type^shared, |T|=k} max(I_type^(i)(T), 0)
    / Σ_type Σ_{T∈Ω_type^(i), |T|=k} max(I_type^(i)(T), 0)``

    and ``r_neg`` the same with ``|min(I_type^(i)(T), 0)|``. The sign is that of model ``i``'s own
    value. Exactly one of ``threshold`` and ``top_k`` must be given.

    With ``pool=True`` (the default) the strengths in the numerator and the denominator are each
    summed over all samples before the ratio is taken, since per-sample ratios of the few salient
    interactions of one order are noisy; ``pool=False`` gives the per-sample ratios.

    Args:
        i_and, i_or: shape ``(m, ..., 2**n)``, ``m >= 2`` models on the first axis.
    Returns:
        ``(r_pos, r_neg)`` of shape ``(m, n+1)`` (``pool=True``) or ``(m, ..., n+1)``, indexed by
        the order; ``NaN`` where model ``i`` has no salient strength of that sign and order
        (always at order 0).
    """
    a, o, n = _pair(i_and, i_or)
    _models(a, "i_and")
    sel = _check_selection(threshold, top_k, n, required=True)
    if not isinstance(pool, (bool, np.bool_)):
        raise ValueError(f"pool: got {pool!r}; pass True (sum over samples, then divide) or False (per sample).")
    m_and, m_or = _mask(a, o, *sel)
    s_and, s_or = _shared(m_and, m_or)

    def strengths(ma: np.ndarray, mo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xa, xo = np.where(ma, a, 0.0), np.where(mo, o, 0.0)
        pos = _by_order(np.maximum(xa, 0.0) + np.maximum(xo, 0.0), n)
        neg = _by_order(np.maximum(-xa, 0.0) + np.maximum(-xo, 0.0), n)
        if pool:
            pos = pos.reshape(a.shape[0], -1, n + 1).sum(1)
            neg = neg.reshape(a.shape[0], -1, n + 1).sum(1)
        return pos, neg

    shared_pos, shared_neg = strengths(s_and, s_or)
    all_pos, all_neg = strengths(m_and, m_or)
    return _ratio(shared_pos, all_pos), _ratio(shared_neg, all_neg)


# ---------------------------------------------------------------------------------------------
# Sparsity and faithfulness (P2)
# ---------------------------------------------------------------------------------------------


def sparsity_curve(i_and: Any, i_or: Any) -> np.ndarray:
    """Strengths of all interactions of a method, pooled over samples and sorted descending (P2 Fig. 2).

    The values ``|I_and(T)|`` and ``|I_or(T)|`` for every ``T ≠ ∅`` of every sample in the batch,
    in one 1-D array sorted from the strongest down; a sparse explanation drops off quickly.

    Args:
        i_and, i_or: shape ``(..., 2**n)``.
    Returns:
        1-D array of length ``batch · 2·(2**n − 1)``.
    """
    a, o, _ = _pair(i_and, i_or)
    s = np.concatenate((np.abs(a[..., 1:]).ravel(), np.abs(o[..., 1:]).ravel()))
    return -np.sort(-s, kind="stable")


def matching_error(
    i_and: Any,
    i_or: Any,
    v: Any,
    noise: Any = None,
    threshold: float | None = None,
    top_k: int | None = None,
) -> Any:
    """How far the interactions are from explaining the output on every masked sample (SPEC §4).

    Universal matching (SPEC §2, P2) says the AND-OR interactions reproduce the output exactly;
    this measures how far from exact they are:

    ``err = max_S |h(x_S) − (v(x_S) + q_S)|`` with ``h = reconstruct(i_and, i_or)``
    (``h(S) = b + Σ_{∅≠T⊆S} I_and(T) + Σ_{T∩S≠∅} I_or(T)``). Without ``noise`` (``q = 0``) it is the
    error against the network output itself; with the learned noise ``q`` of an AND-OR extraction it
    is the error against the noisy output ``v + q`` the interactions were fitted to (P2).

    By default all interactions are used. With ``threshold`` or ``top_k`` (at most one) only the
    salient ones are kept (the bias ``I_and(∅)`` always is): the error of the sparse explanation.

    Args:
        i_and, i_or: interactions, shape ``(..., 2**n)``.
        v: the output on every masked sample, same shape.
        noise: ``q`` of the same shape, or ``None``.
    Returns:
        shape ``(...)`` (a numpy float64 for a single sample).
    """
    a, o, n = _pair(i_and, i_or)
    x, _ = _vectors("v", v)
    check_same_shape("i_and", a, "v", x)
    target = x
    if noise is not None:
        q, _ = _vectors("noise", noise)
        check_same_shape("v", x, "noise", q)
        target = x + q
    sel = _check_selection(threshold, top_k, n, required=False)
    if sel != (None, None):
        bias = a[..., :1]
        a, o = _salient(a, o, *sel)
        a[..., :1] = bias
    h = np.asarray(reconstruct(a, o), dtype=np.float64)
    return np.abs(h - target).max(-1)


# ---------------------------------------------------------------------------------------------
# Confusing samples (our addition)
# ---------------------------------------------------------------------------------------------


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
