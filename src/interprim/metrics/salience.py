"""Salient interactions: the threshold ``τ`` and the masks (P1 fn. 6, P2 §3.1, SPEC §4)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._inputs import (
    SPEC,
    SPEC_RATIO,
    check_ratio,
    flag,
    is_interactions,
    is_interactions_list,
    masks,
    read,
    selection,
    spec_tau,
    vectors,
)


def salient_threshold(x: Any, i_or: Any = None, *, ratio: float = SPEC_RATIO, per_model: bool | None = None) -> Any:
    """Threshold of salient interactions: ``τ = ratio · E_x |v(x) − v(x_∅)|`` (P1 fn. 6, SPEC §4).

    The mean runs over the samples given, so pass all the analysed samples of a model at once.
    ``v(x) − v(x_∅)`` is read from:

    - value vectors ``x = v`` of shape ``(..., 2**n)`` (``i_or`` left out): ``v[..., -1] − v[..., 0]``;
    - an ``Interactions``: its exact :meth:`~interprim.Interactions.output_change`, ``Σ_{T≠∅}
      (I_and(T) + I_or(T)) − (q(N) − q(∅))`` with the stored noise ``q``;
    - a list of ``Interactions``, one per model: the same, one ``τ_i`` per model (P2);
    - interaction arrays ``x = i_and`` with ``i_or``: they carry no noise, so the change of the
      reconstructed output ``h(N) − h(∅) = Σ_{T≠∅} (I_and(T) + I_or(T))`` is used (it differs from
      ``v(N) − v(∅)`` by ``q(N) − q(∅)``, at most ``2ζ`` for a noise bounded by ``ζ``).

    Args:
        ratio: the fraction of the average output change, ``0.02`` in P1 (:data:`SPEC_RATIO`).
        per_model: ``True``: the first axis indexes models, one ``τ`` each; ``False``: one ``τ`` over
            every sample; ``None`` (default): per model for a list of ``Interactions``, else one.
    Returns:
        ``τ`` as a float, or a float64 array of shape ``(m,)`` with one ``τ_i`` per model.
    """
    r = check_ratio(ratio)
    if i_or is None and not (is_interactions(x) or is_interactions_list(x)):
        v, _ = vectors("v", x)
        change, models = v[..., -1] - v[..., 0], False
    else:
        batch = read(x, i_or, merge_singletons=False, name="x")
        change, models = batch.change, batch.models
    per = models if per_model is None else flag("per_model", per_model)
    if per and change.ndim == 0:
        raise ValueError(
            "per_model: the input is a single vector with no model axis; pass per_model=False, or the "
            "models stacked on the first axis (or a list of Interactions)."
        )
    tau = spec_tau(change, per, r)
    return tau if per else float(tau)


def salient_mask(
    i_and: Any, i_or: Any = None, *, threshold: Any = SPEC, top_k: int | None = None, merge_singletons: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Which interactions are salient: ``|I(T)| > τ``, or the ``top_k`` strongest (P1 fn. 6, P2).

    With ``merge_singletons`` (the default) each ``I_or({i})`` is first added to ``I_and({i})``
    (SPEC §2), so the masks refer to the merged vectors, whose OR singletons are ``0`` and never
    salient. The empty set is never salient (``I_and(∅)`` is the bias). With ``top_k`` the ``k``
    largest ``|I(T)|`` of each sample are taken from the AND and OR interactions pooled together
    (P2 App.), so ``mask_and.sum(-1) + mask_or.sum(-1) == top_k``; ties go to AND before OR, then
    to the smaller bitmask.

    Args:
        i_and, i_or: arrays of shape ``(..., 2**n)``, numpy or torch; or an ``Interactions`` /
            a list of them as ``i_and`` (one per model, stacked on a new first axis).
        threshold: ``"spec"`` (default): ``τ`` of :func:`salient_threshold` over the samples given,
            one per model for a list of ``Interactions``; a number ``>= 0`` (strict ``|I| > τ``);
            one number per entry of the first axis; ``None``: the same as ``0`` (or ``top_k`` alone).
        top_k: an integer ``1 <= top_k <= 2·(2**n − 1)`` (``− n`` with merged singletons).
    Returns:
        ``(mask_and, mask_or)``, bool numpy arrays of the input shape.
    """
    x = read(i_and, i_or, merge_singletons)
    sel = selection(threshold, top_k, n=x.n, merged=x.merged, change=x.change, per_model=x.models)
    return masks(x, sel)
