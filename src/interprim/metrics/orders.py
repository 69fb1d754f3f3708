"""Interactions by order (P1): order strengths, average order, generalization power by order."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._inputs import (
    SPEC,
    by_order,
    is_interactions,
    is_interactions_list,
    read,
    safe_ratio,
    salient_values,
    selection,
    signed_by_order,
)


def order_strengths(
    i_and: Any, i_or: Any = None, *, threshold: Any = SPEC, top_k: int | None = None, merge_singletons: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Strength of the positive and negative salient interactions of each order (P1 Eq. 4).

    ``J_pos^(k) = Σ_{type∈{and,or}} Σ_{|S|=k} max(I_type(S), 0)`` and
    ``J_neg^(k) = Σ_{type} Σ_{|S|=k} |min(I_type(S), 0)|``, over the salient interactions, after
    merging each OR singleton into the AND singleton (SPEC §4).

    Args:
        i_and, i_or: arrays ``(..., 2**n)``, an ``Interactions``, or a list of them (one per model).
        threshold, top_k, merge_singletons: see :func:`salient_mask`; by default the SPEC ``τ``
            over the samples given; ``threshold=0`` uses every interaction.
    Returns:
        ``(j_pos, j_neg)``, each of shape ``(..., n+1)`` indexed by the order ``k`` (with a leading
        model axis for a list); the order-0 entries are ``0`` (the bias is not an interaction).
    """
    x = read(i_and, i_or, merge_singletons)
    sel = selection(threshold, top_k, n=x.n, merged=x.merged, change=x.change, per_model=x.models)
    return signed_by_order(*salient_values(x, sel), x.n)


def average_order(
    i_and: Any, i_or: Any = None, *, threshold: Any = SPEC, top_k: int | None = None, merge_singletons: bool = True
) -> Any:
    """Average order of the salient interactions of a sample (P1 §3.1).

    ``η = Σ_k k·(J_pos^(k) + J_neg^(k)) / Σ_k (J_pos^(k) + J_neg^(k))`` with ``J`` from
    :func:`order_strengths` (same arguments), i.e. the strength-weighted mean of ``|S|`` over the
    salient interactions. Samples with a high ``η`` are the *confusing* samples.

    Returns:
        ``η`` of shape ``(...)`` (the batch shape; a numpy float64 for a single sample); ``NaN``
        for a sample without a salient interaction.
    """
    j_pos, j_neg = order_strengths(i_and, i_or, threshold=threshold, top_k=top_k, merge_singletons=merge_singletons)
    total = j_pos + j_neg
    k = np.arange(total.shape[-1], dtype=np.float64)
    return safe_ratio(total @ k, total.sum(-1))


def jaccard_by_order(
    train: Any, test: Any, *, threshold: Any = SPEC, top_k: int | None = None, merge_singletons: bool = True
) -> np.ndarray:
    """Generalization power of the interactions of each order: Jaccard similarity of train and test (P1 Def. 2.2).

    The players are the same positions in every sample. Per sample, the OR singletons are merged
    into the AND ones and non-salient interactions set to 0; then the interactions are averaged
    over the training samples (``Ī_train``) and over the test samples (``Ī_test``). With
    ``d = [max(Ī_and, 0); max(Ī_or, 0); max(−Ī_and, 0); max(−Ī_or, 0)]`` restricted to order ``k``:

    ``Sim^(k) = ‖min(d_train, d_test)‖₁ / ‖max(d_train, d_test)‖₁``.

    Args:
        train, test: the interactions of one model on the training and on the test samples, each an
            ``Interactions`` or a pair ``(i_and, i_or)`` of arrays ``(..., 2**n)`` with the same
            ``n`` (every leading axis is a sample axis; the sample counts may differ).
        threshold: ``"spec"`` (default): one ``τ = 0.02·E_x|v(x) − v(x_∅)|`` over the training and
            test samples together (one model, P1 fn. 6); a number ``>= 0`` (``0``: every
            interaction); ``None``: the same as ``0``, or ``top_k`` alone.
        top_k, merge_singletons: see :func:`salient_mask`.
    Returns:
        ``(n+1,)`` array indexed by the order; entry 0 is ``NaN`` (no interaction has order 0),
        and ``NaN`` wherever both averaged vectors are zero on that order (``0/0``).
    """
    tr = read(*_pair("train", train), merge_singletons, "train_and", "train_or")
    te = read(*_pair("test", test), merge_singletons, "test_and", "test_or")
    if te.n != tr.n:
        raise ValueError(
            f"train has n={tr.n} players (last axis {2**tr.n}) but test has n={te.n} (last axis "
            f"{2**te.n}); the training and test interactions must be over the same players."
        )
    change = np.concatenate((tr.change.ravel(), te.change.ravel()))
    sel = selection(threshold, top_k, n=tr.n, merged=tr.merged, change=change, per_model=False, sequence=False)

    def mean_d(x: Any) -> np.ndarray:
        a, o = salient_values(x, sel)
        a = a.reshape(-1, 2**x.n).mean(0)
        o = o.reshape(-1, 2**x.n).mean(0)
        return np.stack((np.maximum(a, 0), np.maximum(o, 0), np.maximum(-a, 0), np.maximum(-o, 0)))

    d_train, d_test = mean_d(tr), mean_d(te)
    num = by_order(np.minimum(d_train, d_test), tr.n).sum(0)
    den = by_order(np.maximum(d_train, d_test), tr.n).sum(0)
    sim = safe_ratio(num, den)
    sim[0] = np.nan
    return sim


def _pair(name: str, x: Any) -> tuple[Any, Any]:
    """``(i_and, None)`` for an ``Interactions``, ``(i_and, i_or)`` for a pair of arrays."""
    if is_interactions(x):
        return x, None
    if isinstance(x, (tuple, list)) and len(x) == 2 and not is_interactions_list(x):
        return x[0], x[1]
    raise ValueError(
        f"{name}: got {type(x).__name__}; pass the interactions of one model on the {name} samples, as "
        f"an Interactions or a pair (i_and, i_or) of arrays."
    )
