"""The sparse AND-OR decomposition with a learned noise term ("traditional", SPEC §3.3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .._array import as_vectors, is_torch, same_kind, to_numpy
from ..interactions import Interactions
from . import _driver


def sparse_and_or(
    v: Any,
    noise: float = 0.02,
    noise_bound: Any = None,
    solver: str = "auto",
    tol: float = 1e-3,
    max_iter: int = 20000,
    lr: float | None = None,
    dtype: torch.dtype | None = None,
    players: Sequence[str] | None = None,
    progress: bool = False,
    atol: float | None = None,
    init: Any = None,
) -> Interactions:
    """Sparse AND-OR interactions with a bounded noise term (SPEC §3.3; P2 Eq. 4; P1 App. D).

    Solves, for every sample of the batch, ``min_{γ,q} Σ_{T≠∅} |I_and(T)| + |I_or(T)|`` with
    ``u_and = ½(v + q) + γ``, ``u_or = ½(v + q) − γ`` and ``|q[S]| ≤ ζ``, where
    ``ζ = noise · |v(N) − v(∅)|`` or ``noise_bound``. ``noise=0`` is the variant without noise.

    Args:
        v: value vectors ``(..., 2**n)`` (numpy or torch); a batch is solved in one call.
        noise: relative noise bound (default 0.02, as in the papers).
        noise_bound: absolute bound ``ζ``, one for all or one per sample; overrides ``noise``.
        solver: ``"auto"`` (default) — the fastest certified route for the batch at hand, as
            measured on one CPU core (``benchmarks/README.md``): ``"ipm"`` for games on the CPU
            with ``n ≤ 12`` in a batch of at most (for ``tol ≥ 1e-2`` / tighter) any number of
            games at ``n ≤ 10``, 16 / 256 per CPU thread at ``n = 11``, 1 / 8 at 12;
            ``"admm"`` for larger batches, larger ``n`` and GPU tensors; ``"lp"`` in place of
            ``"ipm"`` when ``tol < 1e-7`` (the rule: :func:`interprim.extract._driver.choose`).
            Games where the interior-point method stalls (rare) are solved again by ``"lp"``.
            ``"ipm"`` — a primal-dual interior-point method on the structure of the transforms
            (:mod:`interprim.extract.ipm`; one game at ``n = 10`` certified within 1 % in about
            0.15 s on two CPU cores), for ``n ≤ 12``, stopped at a certified relative gap ``tol``
            (down to about 1e-7); ``"admm"`` — the batched first-order solver of
            :mod:`interprim.extract.admm` (CPU or GPU), stopped at a certified relative gap
            ``tol``, the fastest per game for large batches; ``"lp"`` — the exact LP by HiGHS
            (:mod:`interprim.extract.lp`), for ``n ≤ 12`` (larger ``n`` is refused); ``"sgd"`` —
            the published procedure (:mod:`interprim.extract.sgd`), a baseline that stops above
            the optimum. ``meta["solver"]`` records what ran.
        tol: relative duality gap at which a sample stops (``admm``, ``ipm``).
        max_iter: iteration limit (``admm``; ``ipm`` takes at most 100; samples that reach it keep
            their certified gap, with ``meta["converged"] = False`` and a
            :class:`~interprim.extract.ConvergenceWarning`), or the number of SGD steps (``sgd``,
            20 000 published).
        lr: learning rate of ``sgd`` on the values as given (decayed log-uniformly to ``lr/10``;
            default 1e-5, the published value for images; the text papers use 1e-7 to 1e-6).
        dtype: precision in which the ``admm`` iterations start (default float32, about twice as
            fast as float64 on a CPU). Iterations in float32 continue in float64 once the gaps of
            half of the remaining samples stall (below 20 % progress in 1000 iterations), so tight
            tolerances are reached either way. Feasible points, objectives and bounds are computed
            in float64 throughout, so the certificate does not depend on it. ``ipm`` always iterates
            in float64.
        players: optional labels of the ``n`` players.
        progress: show a progress bar.
        atol: absolute gap (in the units of ``v``) at which a sample stops whatever its objective
            (``admm``); default ``1e-9 · max(|v(N) − v(∅)|, max_S |v(S) − v(∅)| / 4)``. A game
            whose optimum is zero (the noise bound absorbs all of it) is recognised and solved at
            once.
        init: an initial point: an earlier result (:class:`~interprim.Interactions` of the same
            batch shape, e.g. the same sample at the previous training epoch: its ``gamma`` and
            ``noise``), or an array of initial ``γ`` of the shape of ``v`` (noise zero). For
            ``sgd`` it is the start of the published procedure (zero by default; P2 Table 2 starts
            two runs from two different ``γ``); for ``admm`` a warm start (it pays when the
            optimum is nearly the same; see ``benchmarks/README.md``); ``ipm`` and the exact ``lp``
            ignore it.

    Returns:
        :class:`~interprim.Interactions` with the batch shape and array type of ``v``; universal
        matching holds against ``v + noise`` (to the precision of the values, whatever their
        offset) and ``|noise| ≤ ζ`` exactly. ``meta`` holds ``solver`` (the one that ran:
        ``"ipm"``, ``"admm"``, ``"lp"``, ``"sgd"``, or ``"ipm+lp"`` after a fallback), ``noise_bound``,
        ``lower_bound`` (certified; the optimum for ``lp``; NaN for ``sgd``), ``gap = objective −
        lower_bound``, ``iterations`` (0 for ``lp``) and ``converged``.
    """
    v, n = as_vectors("v", v, copies=16)
    _driver.check_options(solver, tol, max_iter, lr, dtype)
    _driver.check_lp_size(solver, n, 1)
    _driver.check_atol(atol)
    batch_shape = tuple(v.shape[:-1])
    flat = _as_float64(v).reshape(1, -1, 2**n)
    values = to_numpy(flat)
    if noise_bound is None:
        zeta = _driver.relative_bounds("noise", noise, values)
    else:
        zeta = _driver.absolute_bounds("noise_bound", noise_bound, (1, *batch_shape), per_model=False)
    start = None if init is None else _driver.initial_point(init, flat, batch_shape, 1)
    with torch.no_grad():
        res = _driver.run(
            flat, zeta.reshape(1, -1), None, n, 1.0, solver, tol, max_iter, lr, progress, "sparse AND-OR", dtype,
            atol, start,
        )

    shape = (*batch_shape, 2**n)
    result = Interactions(
        i_and=same_kind(res.i_and[0].reshape(shape), v),
        i_or=same_kind(res.i_or[0].reshape(shape), v),
        gamma=same_kind(res.gamma[0].reshape(shape), v),
        noise=_driver.bounded(res.noise[0].reshape(shape), zeta.reshape(batch_shape), v),
        players=players,
        meta={"method": "sparse_and_or", "solver": res.solver},
    )
    objective = to_numpy(result.objective).astype(np.float64)
    lower = np.minimum(res.lower_bound.reshape(batch_shape), objective)
    result.meta.update(
        noise_bound=zeta.reshape(batch_shape),
        lower_bound=lower,
        gap=objective - lower,
        iterations=res.iterations.reshape(batch_shape),
        converged=bool(np.all(res.converged)),
        tol=float(tol),
    )
    return result


def _as_float64(v: Any) -> torch.Tensor:
    """The checked values as a float64 tensor on their device (numpy arrays go to the CPU)."""
    if is_torch(v):
        return v.detach().to(torch.float64)
    return torch.as_tensor(v, dtype=torch.float64)
