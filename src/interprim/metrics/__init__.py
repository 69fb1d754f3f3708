"""Metrics over AND-OR interactions (SPEC §4; P1 = the confusing-samples paper, P2 = the
generalizable-interaction-primitives paper).

Where each SPEC §4 metric lives:

- :mod:`.salience` — salient interactions: :func:`salient_threshold` (``τ``), :func:`salient_mask`;
- :mod:`.orders` — P1: :func:`order_strengths` (``J_pos``, ``J_neg``), :func:`average_order` (``η``),
  :func:`jaccard_by_order` (generalization power ``Sim^(k)``);
- :mod:`.sharing` — P2: :func:`transferability`, :func:`transferability_curve`,
  :func:`shared_ratio_by_order` (init diversity is :func:`transferability` of two extractions);
- :mod:`.faithfulness` — P2: :func:`sparsity_curve`, :func:`matching_error`;
- :mod:`.agreement` — our addition: :func:`confusing_agreement`.

Conventions shared by every metric:

- **Inputs.** ``metric(i_and, i_or=None, *, ...)``: either two arrays ``i_and``, ``i_or`` of shape
  ``(..., 2**n)`` in bitmask order (numpy or torch, any device, with or without autograd), or an
  :class:`~interprim.Interactions` as ``i_and``, or a list of them, one per model (as
  :func:`interprim.generalizable_and_or` returns), stacked into ``(m, ..., 2**n)``. ``i_and[..., 0]``
  is the bias and never an interaction. For the metrics over several models (:mod:`.sharing`) the
  first axis of arrays is the model. :func:`jaccard_by_order` ``(train, test, *, ...)`` takes two
  inputs of one model, each an ``Interactions`` or a pair ``(i_and, i_or)``. Everything is computed
  in numpy float64 and returned as numpy arrays or floats; a reduction over a single sample is a
  numpy float64 scalar.
- **Singletons first** (SPEC §2, §4). ``I_and({i})`` and ``I_or({i})`` trigger on the same subsets,
  and how a solver splits their sum is arbitrary. With ``merge_singletons=True`` (the default of
  every metric) ``I_or({i})`` is added to ``I_and({i})`` before anything is selected, thresholded
  or compared, so no result depends on that split; the caller's arrays are never modified.
  Merged OR singletons are ``0`` and never salient, and ``top_k`` ranges over the
  ``2·(2**n − 1) − n`` interactions left.
- **Salience** (P1 fn. 6, P2 §3.1). ``threshold``:

  - ``"spec"`` — the default of every metric that SPEC §4 defines on salient interactions (all but
    :func:`sparsity_curve`, which has no selection, and :func:`matching_error`, whose default is
    every interaction): ``τ = 0.02·E_x|v(x) − v(x_∅)|`` (:data:`SPEC_RATIO`) over the samples
    given, **one per model**: per entry of the first axis for the metrics over several models, per
    element of a list of ``Interactions``; arrays given to a metric of one model are one model (one
    τ over all their samples), and :func:`jaccard_by_order` takes one τ over its training and test
    samples together. It gives way to ``top_k`` when that is given. ``v(x) − v(x_∅)`` is exact for
    ``Interactions`` (it uses the stored noise); for bare arrays it is ``h(N) − h(∅)`` of the
    reconstruction (see :func:`salient_threshold`). τ comes from the samples passed: pass a whole
    batch (the common case), or, for one sample alone, ``threshold=salient_threshold(batch)``
    computed over every analysed sample;
  - a number ``>= 0``: ``|I(T)| > threshold``; ``0`` asks for all the interactions (an interaction
    that is exactly ``0`` is absent: it adds nothing to any strength and is shared by no model);
  - a sequence with one number per model (the first axis);
  - ``None``: no threshold, the same as ``0``; it is the default of :func:`matching_error`, and
    with ``top_k`` it selects by ``top_k`` alone.

  ``top_k``: the ``k`` strongest interactions of each sample (and model), AND and OR pooled (P2).
  A number (or sequence) and ``top_k`` together raise ``ValueError``. Non-salient interactions
  count as ``0`` in every metric; the empty set is never salient.
- Ratios whose denominator is ``0`` (``0/0``) are ``NaN``. Bad input raises ``ValueError`` naming
  the argument and the fix.
"""

from ._inputs import SPEC_RATIO
from .agreement import confusing_agreement
from .faithfulness import matching_error, sparsity_curve
from .orders import average_order, jaccard_by_order, order_strengths
from .salience import salient_mask, salient_threshold
from .sharing import shared_ratio_by_order, transferability, transferability_curve

__all__ = [
    "SPEC_RATIO",
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
