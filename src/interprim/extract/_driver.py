"""What the sparse and the generalizable methods share: argument checks, scaling, the solvers, the feasible point.

Both methods solve the problem of :mod:`interprim.extract.admm` for ``m`` models (``m = 1``: sparse).
:func:`run` takes value vectors ``(m, B, 2**n)`` in float64, centres every model's games at
``v(∅) = 0`` and scales every sample by the mean of ``|v_i(N) − v_i(∅)|`` over the models (a common
scale keeps the coupled problem equivalent), calls the chosen solver, and maps the solution back
to a point that satisfies the bounds exactly.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._array import is_torch, positive_strides, same_kind, to_numpy
from ..interactions import Interactions
from ..transforms import split_interactions
from . import admm, ipm, ipm_pair, lp, sgd

SOLVERS = ("auto", "admm", "ipm", "lp", "sgd")
#: learning rate of the published procedure on images (Li & Zhang's release; 1e-7 to 1e-6 for text)
SGD_LR = 1e-5
#: the largest problem the exact LP takes: ``m·3**n`` (the non-zeros of its constraints) at most ``3**12``
LP_MAX_SIZE = 3**12
#: default absolute tolerance of the ADMM, as a fraction of each sample's scale (:data:`PEAK_OVER_SCALE`)
ATOL = 1e-9
#: a sample's scale is ``|v(N) − v(∅)|`` (the mean over the models), or ``max_S |v(S) − v(∅)|`` divided
#: by this when that is larger: the solvers see values of order one. The ADMM's penalty is tuned in
#: these units; real MNIST games at ``n = 10`` whose ``|v(N) − v(∅)|`` was 40-400 times below their
#: largest value did not converge when scaled by it (gaps of 17-65 % after 20 000 iterations at
#: ``tol = 1e-2``) and took 4 500-9 000 iterations when scaled by that value
PEAK_OVER_SCALE = 4.0
#: the largest ``n`` of the interior-point method (its normal matrix has ``4**n`` entries: 128 MiB at ``n = 12``)
IPM_MAX_N = 12
#: the largest ``n`` of the interior-point method for two models (``9·4**n`` entries: 288 MiB per pair at
#: ``n = 11``, and about 1.6 s per iteration there on one core)
IPM_PAIR_MAX_N = 11
#: the tightest ``tol`` for which ``solver="auto"`` runs the interior-point method (below, ``auto`` takes
#: the exact LP or the ADMM; stalled samples fall back to the LP). Since the free entries are kept out
#: of the factorisation, it certified 1e-7 on all of 32 real games at ``n = 10`` (1e-8 on 31), on 16
#: real pairs at ``n = 8`` (1e-8 as well) and on 4 at ``n = 10``; before, one model 1e-5 on 28 of the
#: 32 games and pairs at ``n = 10`` 4e-5 to 2e-4
IPM_MIN_TOL = 1e-7
#: ``solver="auto"`` reads the crossover tables below in their first column for ``tol ≥ LOOSE_TOL``,
#: in the second for tighter ``tol`` (where the ADMM needs many more iterations)
LOOSE_TOL = 1e-2
#: ``solver="auto"``, one model: per ``n``, the largest batch that the interior-point method solves
#: faster than the batched ADMM (CPU seconds on one core, real MNIST games, ``benchmarks/solvers.py
#: --sections crossover``; ``benchmarks/README.md``); smaller ``n`` take it at any batch. Measured with
#: the factorisation on MKL: at ``n = 9`` and ``10`` the interior-point method won at every batch up to
#: 512 and 256 games (``n = 9``, 512 games: 0.029 against 0.044 s per game at ``1e-2``; ``n = 10``, 64 /
#: 128 / 256 games at ``1e-2``: 0.139 / 0.139 / 0.129 s against 0.163 / 0.147 / 0.165 s; before MKL
#: the ADMM was 15-20 % faster there); at ``n = 11`` up to 16 games at ``1e-2`` (0.69 against 0.82 s
#: per game; the ADMM from 32) and at every batch up to 64 at ``1e-3`` (256 extrapolated); at
#: ``n = 12`` one game at ``1e-2`` (3.9 against 4.6 s) and up to 8 at ``1e-3`` (4.7 against 5.5 s)
IPM_MAX_BATCH = {11: (16, 256), 12: (1, 8)}
#: ``solver="auto"``, two models: per ``n``, the largest batch (per torch thread) that the interior-point
#: method solves faster than the batched ADMM (measured as above with ``--crossover-methods
#: generalizable``: at ``n = 8`` it won up to 8 pairs at ``1e-2`` (0.078 against 0.136 s per pair),
#: tied at 16 and lost at 64 (0.097 against 0.075 s), and won at every batch up to 64 at ``1e-3``
#: (0.113 against 0.249 s); at ``n = 10`` it lost at ``1e-2`` (one pair: 2.4 against 2.1 s; 16: 1.8
#: against 1.2 s) and won at ``1e-3`` up to 16 pairs (2.4 against 3.1 s; one pair 2.3 against 11 s); at
#: ``n = 6`` and 4 it won at every batch from 2 and 8 on, against the ADMM and the LP; at ``n = 9`` up to 4
#: pairs at ``1e-2`` (0.39 against 0.94 s; the ADMM from 16: 0.30 against 0.39 s) and up to 64 at
#: ``1e-3`` (0.48 against 0.68 s)). After the better start of issue 15's sixth
#: session (10-15 % fewer iterations for pairs), measured again side by side on one thread at ``1e-2``:
#: ``n = 8`` 16 pairs 0.081-0.087 against 0.090-0.115 s, 32 pairs 0.082-0.095 against 0.059-0.062 s;
#: ``n = 9`` 16 pairs 0.33-0.39 against 0.44-0.46 s, 32 pairs 0.35-0.36 against 0.26-0.27 s; ``n = 10``
#: one pair 1.6-1.7 against 2.0-2.7 s, two pairs 1.9-2.0 against 1.5 s; at ``1e-3`` ``n = 9``, 64 pairs
#: 0.40-0.47 against 0.65-0.79 s and ``n = 8``, 128 pairs 0.11-0.12 against 0.24-0.26 s. Smaller ``n``
#: take it at any batch; ``n`` above the table take the ADMM. One pair alone on two or more threads takes
#: it at every ``n`` of the table: its factorisations then run on all threads (at ``n = 10`` and ``1e-2``
#: on two threads: 1.3-1.4 s against 2.0-2.3 s for the ADMM, 4 pairs). ``n = 7`` (seventh session, one
#: thread, ``--n 7 --crossover-batches 16 64 256 1024``): at ``1e-2`` it won up to 256 pairs (64: 0.024
#: against 0.038 s; 256: 0.017 against 0.018 s) and lost at 1024 (0.019 against 0.016 s); at ``1e-3``
#: it won at every batch up to 1024 (0.023 against 0.070 s; larger batches not measured)
IPM_PAIR_MAX_BATCH = {7: (256, 1024), 8: (16, 128), 9: (16, 64), 10: (1, 16)}
#: ``solver="auto"``, two models: per ``n``, the largest batch that the exact LP solves faster than the
#: interior-point method (its fixed cost per call, about 0.1 s, dominates for a few small samples: at
#: ``n = 4`` one pair took 0.024 s with the LP and 0.116 s with the interior-point method); smaller ``n``
#: take the limit of the smallest listed
PAIR_LP_MAX_BATCH = {4: 4, 5: 2, 6: 1}
#: ``solver="auto"``, three or more models: per ``n``, the largest ``m·batch`` that the exact LP solves faster
#: than the batched ADMM (measured as above at ``m = 2`` up to 16 samples, before the interior-point
#: method of two models; ``n = 5, 7`` interpolated, the tight limits of ``n = 4, 6`` extrapolated);
#: smaller ``n`` take the limits of the smallest ``n`` listed, ``n`` not listed above it never take the LP
LP_MAX_BATCH = {4: (16, 64), 5: (16, 64), 6: (16, 64), 7: (8, 32), 8: (4, 32)}


class ConvergenceWarning(UserWarning):
    """Some samples reached ``max_iter`` before their certified gap reached ``tol``."""


def is_number(x: Any) -> bool:
    """True for a real number: a Python or numpy int or float, not a bool."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def check_options(solver: str, tol: float, max_iter: int, lr: float | None, dtype: Any = None) -> None:
    """Raise ``ValueError`` for a bad solver name, tolerance, iteration limit, learning rate or precision."""
    if dtype not in (None, torch.float32, torch.float64):
        raise ValueError(f"dtype must be None, torch.float32 or torch.float64, got {dtype!r}.")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}.")
    if not is_number(tol) or not 0 < tol < 1:
        raise ValueError(f"tol must be a relative gap in (0, 1), got {tol!r}.")
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}.")
    if lr is not None and (not is_number(lr) or not (np.isfinite(lr) and lr > 0)):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}.")


def check_lp_size(solver: str, n: int, m: int) -> None:
    """Refuse LPs that HiGHS cannot solve in reasonable time and memory (``m·3**n > LP_MAX_SIZE``), and
    problems beyond the interior-point method (several models, ``n > IPM_MAX_N``)."""
    if solver == "ipm" and (m > 2 or n > (IPM_MAX_N if m == 1 else IPM_PAIR_MAX_N)):
        raise ValueError(
            f"solver='ipm' solves the sparse problem of one model with n ≤ {IPM_MAX_N} players and the generalizable "
            f"problem of two models with n ≤ {IPM_PAIR_MAX_N} (its normal matrix has 4**n and 9·4**n entries), got "
            f"{m} model(s) and n={n}; use solver='auto', 'admm' or 'lp'."
        )
    if solver != "lp" or m * 3**n <= LP_MAX_SIZE:
        return
    largest = max(k for k in range(1, 13) if m * 3**k <= LP_MAX_SIZE)
    raise ValueError(
        f"solver='lp' with n={n} players and {m} model(s) builds a constraint matrix with about "
        f"{4 * m * 3**n:,} non-zeros, beyond what HiGHS solves in minutes (it takes n ≤ {largest} here); use "
        f"solver='admm', which certifies its gap to the optimum at any n."
    )


def choose(solver: str, n: int, m: int, batch: int, tol: float, device: torch.device) -> str:
    """The solver that runs: ``solver`` itself, or for ``"auto"`` the fastest certified route (measured on
    one CPU core, ``benchmarks/README.md``):

    - values on a GPU: the batched ADMM;
    - one model, ``n ≤ 10`` (any batch), or ``11 ≤ n ≤ IPM_MAX_N`` and a batch of at most
      ``IPM_MAX_BATCH[n]`` games per torch thread: the interior-point method (``"ipm"``) for
      ``tol ≥ IPM_MIN_TOL``, the exact LP (``"lp"``) for tighter ``tol``. The limits were measured on one
      thread; the interior-point method solves a batch on all of torch's threads side by side (twice
      as fast on two), the ADMM gains less from them (about 1.3×: 128 games at ``n = 10``,
      ``tol = 1e-2``, 0.125 → 0.075 s per game, where the interior-point method went 0.148 → 0.064),
      so each thread adds its limit;
    - two models: the exact LP for at most ``PAIR_LP_MAX_BATCH[n]`` samples (``n ≤ 6``), else the
      interior-point method for ``n < 7`` (any batch) or a batch of at most ``IPM_PAIR_MAX_BATCH[n]``
      samples per torch thread up to ``n = 10``, or one sample on several threads (``tol ≥ IPM_MIN_TOL``;
      the LP for tighter ``tol`` within ``m·3**n ≤ LP_MAX_SIZE``);
    - three or more models, ``n ≤ 8`` and ``m·batch ≤ LP_MAX_BATCH[n]`` (the exact LP costs the same per
      sample at any batch size, the ADMM less and less), within ``m·3**n ≤ LP_MAX_SIZE``: the exact LP;
    - everything else: the batched ADMM (``"admm"``).

    The tables hold two batch limits per ``n``: for ``tol ≥ LOOSE_TOL`` and for tighter ``tol``.
    """
    if solver != "auto":
        return solver
    if device.type != "cpu":
        return "admm"
    column = 0 if tol >= LOOSE_TOL else 1
    threads = torch.get_num_threads()
    if m == 1 and n <= IPM_MAX_N and (n < min(IPM_MAX_BATCH) or batch <= threads * IPM_MAX_BATCH[n][column]):
        return "ipm" if tol >= IPM_MIN_TOL else "lp"
    fits = m * 3**n <= LP_MAX_SIZE
    if m == 2:
        if batch <= PAIR_LP_MAX_BATCH.get(max(n, min(PAIR_LP_MAX_BATCH)), 0):
            return "lp"
        pair_limit = IPM_PAIR_MAX_BATCH.get(n, (0, 0))[column]
        alone = batch == 1 and threads > 1 and n in IPM_PAIR_MAX_BATCH  # one pair factorises on every thread
        if n < min(IPM_PAIR_MAX_BATCH) or batch <= threads * pair_limit or alone:
            return "ipm" if tol >= IPM_MIN_TOL else "lp" if fits else "admm"
        return "admm"
    small = m * batch <= LP_MAX_BATCH.get(max(n, min(LP_MAX_BATCH)), (0, 0))[column]
    if m > 2 and fits and small:
        return "lp"
    return "admm"


def check_atol(atol: Any) -> None:
    """Raise ``ValueError`` unless ``atol`` is ``None`` or a finite number ``≥ 0``."""
    if atol is None:
        return
    if not is_number(atol) or not (np.isfinite(atol) and atol >= 0):
        raise ValueError(f"atol must be None or a finite absolute gap ≥ 0 (in the units of the values), got {atol!r}.")


def relative_bounds(name: str, fraction: float, v: np.ndarray) -> np.ndarray:
    """``fraction · |v(N) − v(∅)|`` per model and sample, for ``v`` of shape ``(m, ..., 2**n)``."""
    if not is_number(fraction) or not (np.isfinite(fraction) and fraction >= 0):
        raise ValueError(f"{name} must be a finite number ≥ 0 (a fraction of |v(N) − v(∅)|), got {fraction!r}.")
    return fraction * np.abs(v[..., -1] - v[..., 0])


def absolute_bounds(name: str, value: Any, shape: tuple[int, ...], per_model: bool) -> np.ndarray:
    """Broadcast absolute bounds to ``shape = (m, *batch)``.

    A scalar applies everywhere; with ``per_model`` (the generalizable method) the first axis has one
    entry per model, each a scalar or an array of the batch shape; otherwise (one model) the value
    is a scalar or an array of the batch shape.
    """
    try:
        if per_model and isinstance(value, (list, tuple)):
            if len(value) != shape[0]:
                raise ValueError
            b = np.stack([np.broadcast_to(np.asarray(to_numpy(e), dtype=np.float64), shape[1:]) for e in value])
        else:
            b = np.asarray(to_numpy(value), dtype=np.float64)
            if per_model and b.ndim >= 1:
                b = b.reshape(b.shape[0], *([1] * (len(shape) - b.ndim)), *b.shape[1:])
            b = np.broadcast_to(b, shape if per_model or b.ndim == 0 else shape[1:]).reshape(shape).copy()
    except ValueError:
        what = "one per model, each a scalar or of the batch shape" if per_model else "one per sample"
        raise ValueError(
            f"{name}={value!r} does not fit the {shape[0]} model(s) and the batch shape {shape[1:]}; pass one "
            f"absolute bound, or {what}."
        ) from None
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        raise ValueError(f"{name} must be finite and ≥ 0, got {value!r}.")
    return b


@dataclass
class Result:
    """A solution in the caller's units, per model ``(m, B, 2**n)``: the interactions, the noise and
    the split ``γ``; the shared split ``(B, 2**n)``; per sample the certified ``lower_bound``,
    ``iterations`` and ``converged``; the name of the ``solver`` that ran (:func:`run`)."""

    i_and: torch.Tensor
    i_or: torch.Tensor
    noise: torch.Tensor
    gamma: torch.Tensor
    gamma_shared: torch.Tensor
    lower_bound: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    solver: str = ""


@dataclass
class Init:
    """An initial point in the caller's units: the split ``γ`` and noise ``q`` per model ``(m, B, 2**n)``
    (``None``: zero) and the shared split ``(B, 2**n)`` (``None``: the mean of the ``γ_i``)."""

    gamma: torch.Tensor
    noise: torch.Tensor | None = None
    gamma_shared: torch.Tensor | None = None


def run(
    v: torch.Tensor,
    zeta: np.ndarray,
    beta: np.ndarray | None,
    n: int,
    alpha: float,
    solver: str,
    tol: float,
    max_iter: int,
    lr: float | None,
    progress: bool,
    desc: str,
    dtype: torch.dtype | None = None,
    atol: float | None = None,
    init: Init | None = None,
) -> Result:
    """Solve for ``v`` ``(m, B, 2**n)`` float64 with bounds ``zeta``, ``beta`` ``(m, B)`` (``beta=None``: no boxes).

    Every solver works on the values relative to ``v(∅)``: the offset ``v(∅)`` enters only the
    bias ``I_and(∅)``, so universal matching holds to the precision of the values whatever their
    offset. ``atol`` (values' units; default :data:`ATOL` times the sample's scale,
    :data:`PEAK_OVER_SCALE`) and ``init`` are described in :func:`interprim.sparse_and_or`. Samples of the ADMM or the interior-point
    method that stop unconverged raise a :class:`ConvergenceWarning`. ``solver="auto"`` runs the
    solver of :func:`choose`; there the games that the interior-point method leaves unconverged (its
    iterates stalled, which is rare) are solved again by the exact LP. ``Result.solver`` names what
    ran (``"ipm+lp"`` after such a fallback).
    """
    m, batch, _ = v.shape
    dev = v.device
    auto = solver == "auto"
    solver = choose(solver, n, m, batch, tol, dev)
    if dtype is None:  # float32 iterations are about twice as fast; the ADMM moves to float64 when they stall
        dtype = torch.float32
    unit, total = ("iteration", max_iter) if solver == "sgd" else ("sample", batch)
    bar = tqdm(total=total, desc=f"{desc} ({solver}, n={n})", unit=unit, disable=not progress)
    zeta_t = torch.as_tensor(zeta, dtype=torch.float64, device=dev)
    beta_t = None if beta is None else torch.as_tensor(beta, dtype=torch.float64, device=dev)
    base = v[..., :1]
    spread = (v[..., -1] - v[..., 0]).abs().mean(0)
    peak = (v - base).abs().amax(-1).amax(0)
    scale = torch.maximum(spread, peak / PEAK_OVER_SCALE)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    centred = v - base  # exact: the subtraction of nearby floats loses nothing
    start = _centred_start(init, centred, beta_t, m)
    lower = np.full(batch, np.nan)
    iterations = np.zeros(batch)
    converged = np.zeros(batch, dtype=bool)
    g = None
    if solver == "admm":
        tolerance = ATOL * scale if atol is None else torch.full_like(scale, float(atol))
        sol = admm.solve(
            centred / scale[:, None],
            zeta_t / scale,
            n,
            beta=None if beta_t is None else beta_t / scale,
            alpha=alpha,
            tol=tol,
            max_iter=max_iter,
            progress=bar.update,
            dtype=dtype,
            atol=tolerance / scale,
            start=None if start is None else _scaled(start, scale),
        )
        u_and, q = sol.u_and * scale[:, None], sol.noise * scale[:, None]
        g = None if sol.gamma_shared is None else sol.gamma_shared * scale[:, None]
        lower = to_numpy(sol.lower_bound * scale)
        iterations, converged = to_numpy(sol.iterations).astype(np.float64), to_numpy(sol.converged)
        _warn_unconverged(converged, to_numpy(sol.objective), to_numpy(sol.lower_bound), tol, max_iter)
    elif solver == "ipm":
        tolerance = ATOL * scale if atol is None else torch.full_like(scale, float(atol))
        limit = min(max_iter, ipm.MAX_ITER)
        scaled = dict(tol=tol, max_iter=limit, atol=tolerance / scale, progress=bar.update)
        if m == 1:
            sol = ipm.solve(centred / scale[:, None], zeta_t / scale, n, **scaled)
        else:
            sol = ipm_pair.solve(centred / scale[:, None], zeta_t / scale, beta_t / scale, n, alpha, **scaled)
            g = sol.gamma_shared * scale[:, None]
        u_and, q = sol.u_and * scale[:, None], sol.noise * scale[:, None]
        lower = to_numpy(sol.lower_bound * scale)
        iterations, converged = to_numpy(sol.iterations).astype(np.float64), to_numpy(sol.converged)
        stuck = np.nonzero(~converged)[0]
        if auto and stuck.size and m * 3**n <= LP_MAX_SIZE:  # the exact LP takes over
            index = torch.as_tensor(stuck, device=dev)
            box = None if beta_t is None else beta_t[:, index]
            u_lp, q_lp, g_lp, lower_lp = _solve_lp(centred[:, index], zeta_t[:, index], box, scale[index], n, alpha, None)
            u_and[:, index], q[:, index], lower[stuck], converged[stuck] = u_lp, q_lp, lower_lp, True
            if g_lp is not None:
                g[index] = g_lp
            solver = "ipm+lp"
        else:
            _warn_unconverged(converged, to_numpy(sol.objective), to_numpy(sol.lower_bound), tol, limit)
    elif solver == "lp":
        u_and, q, g, lower = _solve_lp(centred, zeta_t, beta_t, scale, n, alpha, bar)
        converged[:] = True
    else:
        # the published procedure works on the values as they are (relative to v(∅)), with its own learning rate
        rate = SGD_LR if lr is None else lr
        gamma0 = None if start is None else start["gamma"]
        noise0 = None if start is None else start["noise"]
        if m == 1:
            sol = sgd.solve_sparse_sgd(
                centred[0], zeta_t[0], n, lr=rate, iterations=max_iter, progress=bar.update,
                gamma=None if gamma0 is None else gamma0[0], noise=None if noise0 is None else noise0[0],
            )
            u_and, q = sol.u_and[None], sol.noise[None]
        else:
            box = torch.full_like(zeta_t, float("inf")) if beta_t is None else beta_t
            shared0 = None if start is None else start["gamma_shared"]
            sol = sgd.solve_generalizable_sgd(
                centred, zeta_t, box, alpha, n, lr=rate, iterations=max_iter, progress=bar.update,
                gamma_shared=shared0, gamma_specific=None if gamma0 is None else gamma0 - shared0, noise=noise0,
            )
            u_and, q, g = sol.u_and, sol.noise, sol.gamma_shared
        iterations[:] = max_iter

    # a last projection makes every bound hold exactly in the caller's units
    q = torch.minimum(torch.maximum(q, -zeta_t[..., None]), zeta_t[..., None])
    if g is None:
        g = torch.zeros_like(v[0])
    u_and, g_new = admm.feasible(u_and, q, centred, beta_t if m > 1 else None, g)
    if g_new is not None:
        g = g_new
    bar.close()
    i_and, i_or = split_interactions(u_and, centred + q - u_and)
    i_and[..., :1] += base  # the offset v(∅) is the bias only
    gamma = u_and - (centred + q) / 2
    return Result(i_and, i_or, q, gamma, g, lower, iterations, converged, solver)


def _solve_lp(
    centred: torch.Tensor,
    zeta: torch.Tensor,
    beta: torch.Tensor | None,
    scale: torch.Tensor,
    n: int,
    alpha: float,
    bar: Any,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, np.ndarray]:
    """The exact LP (HiGHS) one sample at a time: ``u_and``, ``q``, ``γ_shared`` (or ``None``) and the optimum, in the caller's units."""
    parts = []
    for b in range(centred.shape[1]):
        sol = lp.solve_lp(
            to_numpy(centred[:, b] / scale[b]),
            to_numpy(zeta[:, b] / scale[b]),
            n,
            beta=None if beta is None else to_numpy(beta[:, b] / scale[b]),
            alpha=alpha,
        )
        parts.append(sol)
        if bar is not None:
            bar.update(1)
    dev = centred.device
    u_and = torch.as_tensor(np.stack([p.u_and for p in parts], axis=1), device=dev) * scale[:, None]
    q = torch.as_tensor(np.stack([p.noise for p in parts], axis=1), device=dev) * scale[:, None]
    g = None
    if parts[0].gamma_shared is not None:
        g = torch.as_tensor(np.stack([p.gamma_shared for p in parts]), device=dev) * scale[:, None]
    return u_and, q, g, np.array([p.objective for p in parts]) * to_numpy(scale)


def initial_point(init: Any, v: torch.Tensor, batch_shape: tuple[int, ...], m: int) -> Init:
    """Read ``init`` (see :func:`interprim.sparse_and_or`) as an :class:`Init` for values ``v`` ``(m, B, 2**n)``.

    Accepted: one :class:`~interprim.Interactions` (``m = 1``) or a list of them, one per model (their
    ``gamma`` and ``noise``, and the ``gamma_shared`` of a generalizable result); or the initial ``γ``
    as an array of the values' shape (``m = 1``), a list of ``m`` such arrays, or one array with the
    models on the first axis.
    """
    shape = (*batch_shape, v.shape[-1])
    items = list(init) if isinstance(init, (list, tuple)) else [init] if m == 1 else None
    if items is None and (is_torch(init) or isinstance(init, np.ndarray)) and tuple(init.shape) == (m, *shape):
        items = list(init)
    if items is None or len(items) != m:
        raise ValueError(
            f"init must be {'an Interactions or an array of γ' if m == 1 else f'{m} Interactions or {m} arrays of γ'}"
            f" of the values' batch shape {batch_shape} with 2**n = {shape[-1]} entries, got {type(init).__name__}."
        )
    gammas, noises, shared = [], [], None
    for i, item in enumerate(items):
        if isinstance(item, Interactions):
            gamma, noise = item.gamma, item.noise
            if shared is None and isinstance(item.meta.get("gamma_shared"), (np.ndarray, torch.Tensor)):
                shared = item.meta["gamma_shared"]
        else:
            gamma, noise = item, None
        gammas.append(_initial_array(f"init[{i}] γ" if m > 1 else "init γ", gamma, shape, v))
        noises.append(None if noise is None else _initial_array(f"init[{i}] noise", noise, shape, v))
    noise = None if any(q is None for q in noises) else torch.stack(noises)
    if shared is not None:
        shared = _initial_array("init gamma_shared", shared, shape, v)
    return Init(torch.stack(gammas), noise, shared)


def _initial_array(name: str, x: Any, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """``x`` as a finite float64 tensor ``(B, 2**n)`` on the device of ``like``, else ``ValueError``."""
    if x is None:
        raise ValueError(f"{name}: the initial point has no {name.split()[-1]} (a Harsanyi result has no split).")
    try:
        x = x if is_torch(x) else positive_strides(to_numpy(x))
        t = torch.as_tensor(x, dtype=torch.float64, device=like.device)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"{name}: cannot be read as an array of numbers ({e}).") from None
    if tuple(t.shape) != shape:
        raise ValueError(f"{name}: has shape {tuple(t.shape)}, but the values have shape {shape}; pass a start of the same batch.")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: contains NaN or infinite values.")
    return t.reshape(-1, shape[-1])


def bounded(q: torch.Tensor, bound: np.ndarray, like: Any) -> Any:
    """The noise ``q`` ``(..., 2**n)`` in the array type of ``like``, with ``|q| ≤ bound`` exactly in its dtype.

    Rounding a float64 noise at its bound to float32 can step past the (float64) bound by half a
    unit in the last place; the bound is rounded toward zero in the output dtype and ``q`` clipped to it.
    """
    out = same_kind(q, like)
    dtype = to_numpy(out).dtype
    if dtype == np.float64:
        return out
    b = np.asarray(bound, dtype=np.float64)
    low = b.astype(dtype)
    low = np.where(low.astype(np.float64) > b, np.nextafter(low, dtype.type(0)), low)[..., None]
    if is_torch(out):
        t = torch.as_tensor(low, device=out.device)
        return torch.minimum(torch.maximum(out, -t), t)
    return np.minimum(np.maximum(out, -low), low)


def _centred_start(init: Init | None, centred: torch.Tensor, beta: torch.Tensor | None, m: int) -> dict | None:
    """``init`` as ``u_and``, ``u_or``, ``noise``, ``gamma``, ``gamma_shared`` relative to ``v(∅)`` (caller's units)."""
    if init is None:
        return None
    gamma = init.gamma.to(centred)
    noise = torch.zeros_like(centred) if init.noise is None else init.noise.to(centred)
    shared = gamma.mean(0) if init.gamma_shared is None else init.gamma_shared.to(centred)
    if m > 1 and beta is not None:  # the specific parts start inside their boxes
        box = beta[..., None]
        gamma = shared + torch.minimum(torch.maximum(gamma - shared, -box), box)
    half = (centred + noise) / 2
    return dict(u_and=half + gamma, u_or=half - gamma, noise=noise, gamma=gamma, gamma_shared=shared)


def _scaled(start: dict, scale: torch.Tensor) -> admm.Start:
    """A centred start in the ADMM's units (divided by each sample's scale)."""
    s = scale[:, None]
    return admm.Start(start["u_and"] / s, start["u_or"] / s, start["noise"] / s, start["gamma_shared"] / s)


def _warn_unconverged(converged: np.ndarray, p: np.ndarray, d: np.ndarray, tol: float, max_iter: int) -> None:
    """Warn with the count and the certified relative gaps of the samples that stopped unconverged."""
    stuck = ~converged
    if not stuck.any():
        return
    gaps = (p[stuck] - d[stuck]) / np.where(p[stuck] > 0, p[stuck], 1.0)
    shown = ", ".join(f"{100 * x:.3g} %" for x in np.sort(gaps)[::-1][:5])
    warnings.warn(
        f"{int(stuck.sum())} of {converged.size} samples stopped at max_iter={max_iter} before their certified "
        f"relative gap reached tol={tol:g}: their gaps are {shown}{', …' if stuck.sum() > 5 else ''}. The "
        f"interactions are valid (bounds and universal matching hold) but up to that far from the optimum; "
        f"raise max_iter or tol, or use solver='lp' for small n.",
        ConvergenceWarning,
        stacklevel=4,
    )
