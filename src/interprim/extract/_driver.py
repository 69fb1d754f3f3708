"""What the sparse and the generalizable methods share: argument checks, scaling, the solvers, the feasible point.

Both methods solve the problem of :mod:`interprim.extract.admm` for ``m`` models (``m = 1``: sparse).
:func:`run` takes value vectors ``(m, B, 2**n)`` in float64, centres every model's games at
``v(∅) = 0`` and scales every sample by the mean of ``|v_i(N) − v_i(∅)|`` over the models (a common
scale keeps the coupled problem equivalent), calls the chosen solver, and maps the solution back
to a point that satisfies the bounds exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._array import to_numpy
from . import admm, lp, sgd

SOLVERS = ("admm", "lp", "sgd")
#: the loosest tolerance at which the ADMM iterations run in float64 by default
FLOAT64_BELOW = 1e-3
#: learning rate of the published procedure on images (Li & Zhang's release; 1e-7 to 1e-6 for text)
SGD_LR = 1e-5


def check_options(solver: str, tol: float, max_iter: int, lr: float | None, dtype: Any = None) -> None:
    """Raise ``ValueError`` for a bad solver name, tolerance, iteration limit, learning rate or precision."""
    if dtype not in (None, torch.float32, torch.float64):
        raise ValueError(f"dtype must be None, torch.float32 or torch.float64, got {dtype!r}.")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}.")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise ValueError(f"tol must be a relative gap in (0, 1), got {tol!r}.")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}.")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (np.isfinite(lr) and lr > 0)):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}.")


def relative_bounds(name: str, fraction: float, v: np.ndarray) -> np.ndarray:
    """``fraction · |v(N) − v(∅)|`` per model and sample, for ``v`` of shape ``(m, ..., 2**n)``."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating, np.integer)) or not (
        np.isfinite(fraction) and fraction >= 0
    ):
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
    """A solution in the caller's units: per model ``u_and``, ``noise``, ``gamma`` ``(m, B, 2**n)``, shared ``g``."""

    u_and: torch.Tensor
    noise: torch.Tensor
    gamma: torch.Tensor
    gamma_shared: torch.Tensor
    lower_bound: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray


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
) -> Result:
    """Solve for ``v`` ``(m, B, 2**n)`` float64 with bounds ``zeta``, ``beta`` ``(m, B)`` (``beta=None``: no boxes)."""
    m, batch, _ = v.shape
    dev = v.device
    if dtype is None:  # float32 iterations are about twice as fast and reach gaps of 1e-3 as quickly
        dtype = torch.float32 if tol >= FLOAT64_BELOW else torch.float64
    unit, total = ("iteration", max_iter) if solver == "sgd" else ("sample", batch)
    bar = tqdm(total=total, desc=f"{desc} ({solver}, n={n})", unit=unit, disable=not progress)
    zeta_t = torch.as_tensor(zeta, dtype=torch.float64, device=dev)
    beta_t = None if beta is None else torch.as_tensor(beta, dtype=torch.float64, device=dev)
    base = v[..., :1]
    spread = (v[..., -1] - v[..., 0]).abs().mean(0)
    fallback = (v - base).abs().amax(-1).amax(0)
    scale = torch.where(spread > 0, spread, torch.where(fallback > 0, fallback, torch.ones_like(spread)))
    centred = (v - base) / scale[:, None]
    lower = np.full(batch, np.nan)
    iterations = np.zeros(batch)
    converged = np.zeros(batch, dtype=bool)
    g = None
    if solver == "admm":
        sol = admm.solve(
            centred,
            zeta_t / scale,
            n,
            beta=None if beta_t is None else beta_t / scale,
            alpha=alpha,
            tol=tol,
            max_iter=max_iter,
            progress=bar.update,
            dtype=dtype,
        )
        u_and, q, g = sol.u_and, sol.noise, sol.gamma_shared
        lower = to_numpy(sol.lower_bound * scale)
        iterations, converged = to_numpy(sol.iterations).astype(np.float64), to_numpy(sol.converged)
    elif solver == "lp":
        parts = []
        for b in range(batch):
            sol = lp.solve_lp(
                to_numpy(centred[:, b]),
                to_numpy(zeta_t[:, b] / scale[b]),
                n,
                beta=None if beta_t is None else to_numpy(beta_t[:, b] / scale[b]),
                alpha=alpha,
            )
            parts.append(sol)
            bar.update(1)
        u_and = torch.as_tensor(np.stack([p.u_and for p in parts], axis=1), device=dev)
        q = torch.as_tensor(np.stack([p.noise for p in parts], axis=1), device=dev)
        if parts[0].gamma_shared is not None:
            g = torch.as_tensor(np.stack([p.gamma_shared for p in parts]), device=dev)
        lower = np.array([p.objective for p in parts]) * to_numpy(scale)
        converged[:] = True
    if solver in ("admm", "lp"):  # back to the caller's units
        u_and = u_and * scale[:, None] + base / 2
        q = q * scale[:, None]
        g = None if g is None else g * scale[:, None]
    else:
        # the published procedure works on the values as they are, with its own learning rate
        rate = SGD_LR if lr is None else lr
        if m == 1:
            sol = sgd.solve_sparse_sgd(v[0], zeta_t[0], n, lr=rate, iterations=max_iter, progress=bar.update)
            u_and, q = sol.u_and[None], sol.noise[None]
        else:
            box = torch.full_like(zeta_t, float("inf")) if beta_t is None else beta_t
            sol = sgd.solve_generalizable_sgd(v, zeta_t, box, alpha, n, lr=rate, iterations=max_iter, progress=bar.update)
            u_and, q, g = sol.u_and, sol.noise, sol.gamma_shared
        iterations[:] = max_iter

    # a last projection makes every bound hold exactly in the caller's units
    q = torch.minimum(torch.maximum(q, -zeta_t[..., None]), zeta_t[..., None])
    if g is None:
        g = torch.zeros_like(v[0])
    u_and, g_new = admm.feasible(u_and, q, v, beta_t if m > 1 else None, g)
    if g_new is not None:
        g = g_new
    gamma = u_and - (v + q) / 2
    bar.close()
    return Result(u_and, q, gamma, g, lower, iterations, converged)
