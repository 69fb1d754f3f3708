"""Interactions shared by several models (P2): transferability, its top-k curve, shared ratio by order.

Every function here takes the interactions of ``m >= 2`` models on the same samples with the same
players: arrays of shape ``(m, ..., 2**n)`` (the first axis is the model) or a list of ``m``
``Interactions``. Salience is decided per model: by default ``τ_i = 0.02·E_x|v_i(x) − v_i(x_∅)|``
over model ``i``'s samples, since models have different output scales (P2 §4, SPEC §4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._inputs import (
    SPEC,
    check_k,
    flag,
    masks,
    read,
    require_models,
    safe_ratio,
    selection,
    signed_by_order,
    top_k_masks,
)


def _shared(m_and: np.ndarray, m_or: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Ω^shared = ∩_i Ω^(i)`` per type, broadcast back over the model axis."""
    return (
        np.broadcast_to(m_and.all(0, keepdims=True), m_and.shape),
        np.broadcast_to(m_or.all(0, keepdims=True), m_or.shape),
    )


def _transfer(a: np.ndarray, o: np.ndarray, m_and: np.ndarray, m_or: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s_and, s_or = _shared(m_and, m_or)
    abs_a, abs_o = np.abs(a), np.abs(o)
    t_and = safe_ratio(np.where(s_and, abs_a, 0.0).sum(-1), np.where(m_and, abs_a, 0.0).sum(-1))
    t_or = safe_ratio(np.where(s_or, abs_o, 0.0).sum(-1), np.where(m_or, abs_o, 0.0).sum(-1))
    return t_and, t_or


def transferability(
    i_and: Any, i_or: Any = None, *, threshold: Any = SPEC, top_k: int | None = None, merge_singletons: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Transferability of the salient interactions of each of ``m`` models (P2 Def. 1).

    After merging each OR singleton into the AND singleton (SPEC §4), with ``Ω_type^(i)`` the
    salient interactions of model ``i`` on a sample and ``Ω_type^shared = ∩_i Ω_type^(i)`` (salient
    in every model, same type, any sign):

    ``s_type^(i) = Σ_{T∈Ω_type^shared} |I_type^(i)(T)| / Σ_{T∈Ω_type^(i)} |I_type^(i)(T)|``.

    Args:
        i_and, i_or: arrays ``(m, ..., 2**n)``, ``m >= 2``, or a list of ``m`` ``Interactions``.
        threshold: ``"spec"`` (default): one ``τ_i`` per model over its samples
            (:func:`salient_threshold` with ``per_model=True``); a number for every model; one number
            per model; ``0`` (or ``None``): every non-zero interaction.
        top_k: the ``k`` strongest per model and sample instead, AND and OR pooled, so ``Ω_and`` and
            ``Ω_or`` are the AND and OR parts of one top-``k`` set (P2 App.).
        merge_singletons: see :func:`salient_mask`.
    Returns:
        ``(s_and, s_or)`` of shape ``(m, ...)``; ``NaN`` where model ``i`` has no salient
        interaction of that type on the sample (``0/0``).
    """
    x = read(i_and, i_or, merge_singletons)
    require_models(x)
    sel = selection(threshold, top_k, n=x.n, merged=x.merged, change=x.change, per_model=True)
    return _transfer(x.a, x.o, *masks(x, sel))


def transferability_curve(
    i_and: Any, i_or: Any = None, *, ks: Sequence[int], merge_singletons: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`transferability` with ``Ω^(i)`` the top-``k`` interactions, for every ``k`` in ``ks`` (P2 Fig. 3).

    Each model's interactions are ranked once (AND and OR pooled, as in :func:`salient_mask`), so
    ``transferability_curve(x, ks=ks)[t][j] == transferability(x, top_k=ks[j])[t]``.

    Args:
        i_and, i_or: arrays ``(m, ..., 2**n)``, ``m >= 2``, or a list of ``m`` ``Interactions``.
        ks: a non-empty sequence of integers ``1 <= k <= 2·(2**n − 1)`` (``− n`` with merged singletons).
    Returns:
        ``(s_and, s_or)`` of shape ``(len(ks), m, ...)``.
    """
    x = read(i_and, i_or, merge_singletons)
    require_models(x)
    if isinstance(ks, (int, np.integer)) or np.ndim(ks) != 1 or len(ks) == 0:
        raise ValueError(f"ks: got {ks!r}; pass a non-empty 1-D sequence of integers, e.g. range(1, 101).")
    ks = [check_k(k, x.n, x.merged, "ks") for k in ks]
    curves = [_transfer(x.a, x.o, m_and, m_or) for m_and, m_or in top_k_masks(x.a, x.o, ks, x.merged)]
    return np.stack([c[0] for c in curves]), np.stack([c[1] for c in curves])


def shared_ratio_by_order(
    i_and: Any,
    i_or: Any = None,
    *,
    threshold: Any = SPEC,
    top_k: int | None = None,
    pool: bool = True,
    merge_singletons: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Share of the positive and negative salient interactions of each order that all models share (P2 Fig. 4).

    For model ``i`` and order ``k``, with ``Ω^(i)`` its salient interactions and ``Ω^shared`` those
    salient in every model (same type; see :func:`transferability`, whose ``threshold``, ``top_k``
    and ``merge_singletons`` this takes):

    ``r_pos^(i)(k) = Σ_type Σ_{T∈Ω_type^shared, |T|=k} max(I_type^(i)(T), 0)
    / Σ_type Σ_{T∈Ω_type^(i), |T|=k} max(I_type^(i)(T), 0)``

    and ``r_neg`` the same with ``|min(I_type^(i)(T), 0)|``. The sign is that of model ``i``'s own
    value.

    With ``pool=True`` (the default) the strengths in the numerator and the denominator are each
    summed over all samples before the ratio is taken, since per-sample ratios of the few salient
    interactions of one order are noisy; ``pool=False`` gives the per-sample ratios.

    Returns:
        ``(r_pos, r_neg)`` of shape ``(m, n+1)`` (``pool=True``) or ``(m, ..., n+1)``, indexed by
        the order; ``NaN`` where model ``i`` has no salient strength of that sign and order
        (always at order 0).
    """
    x = read(i_and, i_or, merge_singletons)
    m = require_models(x)
    pool = flag("pool", pool)
    m_and, m_or = masks(x, selection(threshold, top_k, n=x.n, merged=x.merged, change=x.change, per_model=True))

    def strengths(ma: np.ndarray, mo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos, neg = signed_by_order(np.where(ma, x.a, 0.0), np.where(mo, x.o, 0.0), x.n)
        if pool:
            return pos.reshape(m, -1, x.n + 1).sum(1), neg.reshape(m, -1, x.n + 1).sum(1)
        return pos, neg

    shared_pos, shared_neg = strengths(*_shared(m_and, m_or))
    all_pos, all_neg = strengths(m_and, m_or)
    return safe_ratio(shared_pos, all_pos), safe_ratio(shared_neg, all_neg)
