"""The generalizable AND-OR decomposition shared by several models (SPEC §3.4; P2 Eq. 5-6)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .._array import as_vectors, is_torch, same_kind, to_numpy
from ..interactions import Interactions
from . import _driver
from .sparse import _as_float64


def joint_objective(i_and: np.ndarray, i_or: np.ndarray, alpha: float) -> np.ndarray:
    """``Σ_type Σ_{T≠∅} (1−α)·max_i |I_type^(i)(T)| + α·Σ_i |I_type^(i)(T)|`` for ``(m, ..., 2**n)`` arrays."""
    total = 0.0
    for x in (i_and, i_or):
        a = np.abs(x[..., 1:])
        total = total + ((1 - alpha) * a.max(0) + alpha * a.sum(0)).sum(-1)
    return total


def generalizable_and_or(
    values: Sequence[Any],
    alpha: float = 0.1,
    noise: float = 0.02,
    specific_bounds: Any = None,
    noise_bound: Any = None,
    specific: float = 0.5,
    solver: str = "auto",
    tol: float = 1e-3,
    max_iter: int = 20000,
    lr: float | None = None,
    dtype: torch.dtype | None = None,
    players: Sequence[str] | None = None,
    progress: bool = False,
    atol: float | None = None,
    init: Any = None,
) -> list[Interactions]:
    """AND-OR interactions shared by ``m ≥ 2`` models on the same samples and players (SPEC §3.4).

    Per model ``i``: ``u_and_i = ½(v_i + q_i) + γ_i``, ``u_or_i = ½(v_i + q_i) − γ_i`` with
    ``γ_i = γ_shared + γ̃_i``, ``|γ̃_i| ≤ β_i`` and ``|q_i| ≤ ζ_i``; with ``X_type[i, T] = |I_type^(i)(T)|``
    it minimises (P2 Eq. 6; ``alpha = 0`` is Eq. 5)::

        Σ_{type ∈ {and, or}} Σ_{T≠∅} (1 − α)·max_i X_type[i, T] + α·Σ_i X_type[i, T]

    Args:
        values: one value-vector array ``(..., 2**n)`` per model, all of one shape and kind (numpy
            or torch), or one array with the models on the first axis.
        alpha: weight of the non-maximal models, in ``[0, 1]`` (P2 uses 0.1).
        noise: relative noise bound: ``ζ_i = noise · |v_i(N) − v_i(∅)|``.
        specific_bounds: absolute ``β_i``: a scalar, or one entry per model (a scalar or an array of
            the batch shape). Default ``β_i = specific · |v_i(N) − v_i(∅)|`` per sample; P2's
            alternative is ``0.5 × the mean over the analysed samples``, e.g.
            ``[0.5 * np.abs(v[..., -1] - v[..., 0]).mean() for v in values]``.
        noise_bound: absolute ``ζ_i``, in the same forms as ``specific_bounds``; overrides ``noise``.
        specific: the relative default of ``β_i`` (0.5).
        solver, tol, max_iter, lr, dtype, players, progress, atol: as in :func:`interprim.sparse_and_or`
            (``sgd`` keeps a constant learning rate here, as published; ``lp`` takes ``m·3**n ≤ 3**12``;
            ``ipm``, the interior-point method of :mod:`interprim.extract.ipm_pair`, takes two models
            with ``n ≤ 11``: one pair at ``n = 10`` certified within 0.1 % in about 2 s on one core,
            where the ADMM takes about 10 s). ``"auto"`` (default) runs, for two models on the CPU,
            the exact ``lp`` for one to four small samples (``n ≤ 6``), ``ipm`` for more and up to
            ``n = 10`` while the batch is small enough (at ``n = 8``: 16 pairs per torch thread at
            ``tol ≥ 1e-2``, 128 at tighter ``tol``; at ``n = 10`` one / 16 pairs per thread, and one pair
            alone on two or more threads; ``tol ≥ 1e-7``), and the batched ``admm`` otherwise (the ``lp``
            below ``1e-7`` where it fits); for three or more models the exact ``lp`` for
            a small batch of small games (``m × batch`` at most 16 / 64 at ``n ≤ 6``, 8 / 32 at 7,
            4 / 32 at 8) and the ``admm`` otherwise; GPU tensors take the ``admm``. Each choice was
            the fastest on one CPU core (:func:`interprim.extract._driver.choose`);
            ``meta["solver"]`` records what ran.
        init: an initial point: the list of results of an earlier call (their ``gamma``, ``noise``
            and ``gamma_shared``), or the initial ``γ_i`` as a list of ``m`` arrays (or one array with
            the models first); ``γ_shared`` then starts at their mean and ``γ̃_i = γ_i − γ_shared``,
            clipped to ``±β_i``. The start of ``sgd`` (zero by default), a warm start for ``admm``,
            ignored by ``lp`` and ``ipm`` (see :func:`interprim.sparse_and_or`).

    Returns:
        One :class:`~interprim.Interactions` per model, each with the batch shape and array type of
        the input; ``gamma = γ_shared + γ̃_i``; universal matching holds against ``v_i + noise_i``, and
        ``|noise_i| ≤ ζ_i``, ``|γ̃_i| ≤ β_i`` exactly. Every ``meta`` holds ``gamma_shared`` and its
        model's ``gamma_specific``, ``noise_bound``, ``specific_bound``, and the joint problem's
        ``joint_objective``, certified ``lower_bound``, ``gap``, ``alpha``, ``iterations``, ``converged``.
    """
    arrays = _models(values)
    checked = []
    for i, a in enumerate(arrays):
        a, n = as_vectors(f"values[{i}]", a, copies=16 * len(arrays))
        checked.append((a, n))
    first, n = checked[0]
    for i, (a, n_i) in enumerate(checked[1:], start=1):
        if is_torch(a) != is_torch(first):
            raise ValueError("values mixes numpy arrays and torch tensors; pass all models as one kind.")
        if tuple(a.shape) != tuple(first.shape):
            raise ValueError(
                f"values[{i}] has shape {tuple(a.shape)} but values[0] has shape {tuple(first.shape)}; every model "
                f"must explain the same samples with the same players."
            )
    m = len(checked)
    if not _driver.is_number(alpha) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}.")
    _driver.check_options(solver, tol, max_iter, lr, dtype)
    _driver.check_lp_size(solver, n, m)
    _driver.check_atol(atol)
    batch_shape = tuple(first.shape[:-1])
    flat = torch.stack([_as_float64(a) for a, _ in checked]).reshape(m, -1, 2**n)
    stacked = to_numpy(flat).reshape(m, *batch_shape, 2**n)
    shape_mb = (m, *batch_shape)
    if noise_bound is None:
        zeta = _driver.relative_bounds("noise", noise, stacked)
    else:
        zeta = _driver.absolute_bounds("noise_bound", noise_bound, shape_mb, per_model=True)
    if specific_bounds is None:
        beta = _driver.relative_bounds("specific", specific, stacked)
    else:
        beta = _driver.absolute_bounds("specific_bounds", specific_bounds, shape_mb, per_model=True)

    start = None if init is None else _driver.initial_point(init, flat, batch_shape, m)
    with torch.no_grad():
        res = _driver.run(
            flat, zeta.reshape(m, -1), beta.reshape(m, -1), n, float(alpha), solver, tol, max_iter, lr, progress,
            f"generalizable AND-OR of {m} models",
            dtype,
            atol,
            start,
        )

    shape = (m, *batch_shape, 2**n)
    i_and, i_or, q = res.i_and.reshape(shape), res.i_or.reshape(shape), res.noise.reshape(shape)
    i_and_np, i_or_np = to_numpy(i_and), to_numpy(i_or)
    joint = joint_objective(i_and_np, i_or_np, float(alpha))
    lower = np.minimum(res.lower_bound.reshape(batch_shape), joint)
    g = res.gamma_shared.reshape(shape[1:])
    specific_part = torch.minimum(torch.maximum(res.gamma.reshape(shape) - g, -_t(beta, g)), _t(beta, g))
    shared_meta = dict(
        method="generalizable_and_or",
        solver=res.solver,
        alpha=float(alpha),
        n_models=m,
        gamma_shared=to_numpy(g),
        joint_objective=joint,
        lower_bound=lower,
        gap=joint - lower,
        iterations=res.iterations.reshape(batch_shape),
        converged=bool(np.all(res.converged)),
        tol=float(tol),
    )
    out = []
    for i, (a, _) in enumerate(checked):
        meta = dict(shared_meta)
        meta.update(
            model=i,
            gamma_specific=to_numpy(specific_part[i]),
            noise_bound=zeta[i],
            specific_bound=beta[i],
        )
        out.append(
            Interactions(
                i_and=same_kind(i_and[i], a),
                i_or=same_kind(i_or[i], a),
                gamma=same_kind(res.gamma.reshape(shape)[i], a),
                noise=_driver.bounded(q[i], zeta[i], a),
                players=players,
                meta=meta,
            )
        )
    return out


def _t(bounds: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """Per-model, per-sample bounds ``(m, ...)`` as a tensor broadcastable against ``(m, ..., 2**n)``."""
    return torch.as_tensor(bounds, dtype=like.dtype, device=like.device)[..., None]


def _models(values: Any) -> list[Any]:
    """The per-model arrays of ``values``: a list/tuple, or an array with the models on axis 0."""
    if isinstance(values, (list, tuple)):
        arrays = list(values)
    elif is_torch(values) or isinstance(values, np.ndarray):
        arrays = list(values)
    else:
        raise ValueError(
            f"values must be a list of value-vector arrays, one per model, got {type(values).__name__}."
        )
    if len(arrays) < 2:
        raise ValueError(
            f"values has {len(arrays)} model(s); the generalizable method needs at least 2 "
            f"(use sparse_and_or for one model)."
        )
    return arrays
