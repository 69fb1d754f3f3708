"""How sparse and how faithful an explanation is (P2 Fig. 2, 6, 13): sparsity curve, matching error."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._array import check_same_shape
from ..transforms import reconstruct
from ._inputs import read, salient_values, selection, vectors


def sparsity_curve(i_and: Any, i_or: Any = None, *, merge_singletons: bool = True) -> np.ndarray:
    """Strengths of all interactions of a method, pooled over samples and sorted descending (P2 Fig. 2).

    The values ``|I_and(T)|`` and ``|I_or(T)|`` for every ``T ≠ ∅`` of every sample, in one array
    sorted from the strongest down; a sparse explanation drops off quickly. With
    ``merge_singletons`` (the default) each ``I_or({i})`` is added to ``I_and({i})`` first and the
    OR singletons, then no interactions of their own, are left out of the curve (SPEC §4).

    Args:
        i_and, i_or: arrays ``(..., 2**n)`` (every leading axis is pooled), an ``Interactions``, or a
            list of them (one curve per model).
    Returns:
        1-D array of length ``samples · (2·(2**n − 1) − n)`` (``− n`` only with merged singletons),
        or one such row per model, shape ``(m, length)``, for a list of ``Interactions``.
    """
    x = read(i_and, i_or, merge_singletons)
    keep_or = np.ones(2**x.n, dtype=bool)
    keep_or[0] = False
    if x.merged:
        keep_or[[1 << i for i in range(x.n)]] = False
    lead = x.a.shape[:1] if x.models else ()
    s = np.concatenate(
        (np.abs(x.a[..., 1:]).reshape(*lead, -1), np.abs(x.o[..., keep_or]).reshape(*lead, -1)), axis=-1
    )
    return -np.sort(-s, axis=-1, kind="stable")


def matching_error(
    i_and: Any,
    i_or: Any = None,
    *,
    v: Any,
    noise: Any = None,
    threshold: Any = None,
    top_k: int | None = None,
    merge_singletons: bool = True,
) -> Any:
    """How far the interactions are from explaining the output on every masked sample (SPEC §4, P2 Fig. 6, 13).

    Universal matching (SPEC §2) says the AND-OR interactions reproduce the output exactly; this
    measures how far from exact they are:

    ``err = max_S |h(x_S) − (v(x_S) + q_S)|`` with ``h = reconstruct(i_and, i_or)``
    (``h(S) = b + Σ_{∅≠T⊆S} I_and(T) + Σ_{T∩S≠∅} I_or(T)``). Without ``noise`` (``q = 0``) it is the
    error against the network output itself; with the learned noise ``q`` of an AND-OR extraction it
    is the error against the noisy output ``v + q`` the interactions were fitted to (P2). The noise
    is an explicit argument for every input form: pass ``noise=r.noise`` for an ``Interactions``.

    By default every interaction is used (P2 App. Fig. 13). With ``threshold`` (``"spec"``, a number,
    one per model) or ``top_k`` only the salient ones are kept (the bias ``I_and(∅)`` always is):
    the error of the sparse explanation (P2 Fig. 6). Merging the singletons does not change ``h``
    (``{i} ⊆ S`` exactly when ``{i} ∩ S ≠ ∅``); it makes the selection independent of the split.

    Args:
        i_and, i_or: arrays ``(..., 2**n)``, an ``Interactions``, or a list of them (one per model).
        v: the output on every masked sample, of the shape of the (stacked) interactions.
        noise: ``q`` of the same shape, or ``None``.
    Returns:
        shape ``(...)`` (a numpy float64 for a single sample).
    """
    x = read(i_and, i_or, merge_singletons)
    target, _ = vectors("v", v)
    check_same_shape("i_and", x.a, "v", target)
    if noise is not None:
        q, _ = vectors("noise", noise)
        check_same_shape("v", target, "noise", q)
        target = target + q
    sel = selection(threshold, top_k, n=x.n, merged=x.merged, change=x.change, per_model=x.models)
    a, o = salient_values(x, sel)
    a[..., 0] = x.a[..., 0]
    h = np.asarray(reconstruct(a, o), dtype=np.float64)
    return np.abs(h - target).max(-1)
