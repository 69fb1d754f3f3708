"""The sparse AND-OR decomposition with a learned noise term ("traditional", SPEC §3.3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._array import as_vectors, is_torch, same_kind, to_numpy
from ..interactions import Interactions
from ..transforms import split_interactions
from .admm import solve_sparse
from .lp import solve_sparse_lp

SOLVERS = ("admm", "lp")


def noise_bounds(v: Any, noise: float, noise_bound: Any, batch_shape: tuple[int, ...]) -> np.ndarray:
    """Per-sample noise bound ``ζ``: ``noise · |v(N) − v(∅)|`` unless ``noise_bound`` gives it absolutely."""
    if noise_bound is None:
        if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating, np.integer)) or not (
            np.isfinite(noise) and noise >= 0
        ):
            raise ValueError(f"noise must be a finite number ≥ 0 (a fraction of |v(N) − v(∅)|), got {noise!r}.")
        vn = to_numpy(v).astype(np.float64)
        return noise * np.abs(vn[..., -1] - vn[..., 0])
    zeta = np.asarray(to_numpy(noise_bound), dtype=np.float64)
    try:
        zeta = np.broadcast_to(zeta, batch_shape).copy()
    except ValueError:
        raise ValueError(
            f"noise_bound has shape {zeta.shape}, which does not broadcast to the batch shape {batch_shape}; "
            f"pass one absolute bound, or one per sample."
        ) from None
    if not np.all(np.isfinite(zeta)) or np.any(zeta < 0):
        raise ValueError(f"noise_bound must be finite and ≥ 0, got {noise_bound!r}.")
    return zeta


def sparse_and_or(
    v: Any,
    noise: float = 0.02,
    noise_bound: Any = None,
    solver: str = "admm",
    tol: float = 1e-3,
    max_iter: int = 20000,
    players: Sequence[str] | None = None,
    progress: bool = False,
) -> Interactions:
    """Sparse AND-OR interactions with a bounded noise term (SPEC §3.3; P2 Eq. 4; P1 App. D).

    Solves, for every sample of the batch, ``min_{γ,q} Σ_{T≠∅} |I_and(T)| + |I_or(T)|`` with
    ``u_and = ½(v + q) + γ``, ``u_or = ½(v + q) − γ`` and ``|q[S]| ≤ ζ``, where
    ``ζ = noise · |v(N) − v(∅)|`` or ``noise_bound``. ``noise=0`` is the variant without noise.

    Args:
        v: value vectors ``(..., 2**n)`` (numpy or torch); a batch is solved in one call.
        noise: relative noise bound (default 0.02, as in the papers).
        noise_bound: absolute bound ``ζ``, one for all or one per sample; overrides ``noise``.
        solver: ``"admm"`` — the batched first-order solver of :mod:`interprim.extract.admm`
            (CPU or GPU), stopped at a certified relative gap ``tol``; ``"lp"`` — the exact LP
            by HiGHS, for small ``n`` (it builds ``O(3**n)`` non-zeros).
        tol: relative duality gap at which a sample stops (``admm``).
        max_iter: iteration limit (``admm``); samples that reach it keep their certified gap,
            reported in ``meta["gap"]`` with ``meta["converged"] = False``.
        players: optional labels of the ``n`` players.
        progress: show a progress bar over samples.

    Returns:
        :class:`~interprim.Interactions` with the batch shape and array type of ``v``; universal
        matching holds against ``v + noise`` and ``|noise| ≤ ζ`` exactly. ``meta`` holds
        ``solver``, ``noise_bound``, ``lower_bound`` (certified), ``gap = objective − lower_bound``,
        ``iterations`` and ``converged``.
    """
    v, n = as_vectors("v", v, copies=16)
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}.")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise ValueError(f"tol must be a relative gap in (0, 1), got {tol!r}.")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}.")
    batch_shape = tuple(v.shape[:-1])
    zeta = noise_bounds(v, noise, noise_bound, batch_shape).reshape(-1)
    if is_torch(v):
        flat = v.detach().to(torch.float64).reshape(-1, 2**n)
    else:
        flat = torch.as_tensor(v, dtype=torch.float64).reshape(-1, 2**n)
    zeta_t = torch.as_tensor(zeta, dtype=torch.float64, device=flat.device)

    bar = tqdm(total=flat.shape[0], desc=f"sparse AND-OR ({solver}, n={n})", disable=not progress, unit="sample")
    with torch.no_grad():
        base = flat[:, :1]
        scale = (flat[:, -1] - flat[:, 0]).abs()
        spread = (flat - base).abs().amax(-1)
        scale = torch.where(scale > 0, scale, torch.where(spread > 0, spread, torch.ones_like(scale)))[:, None]
        centred = (flat - base) / scale
        if solver == "admm":
            sol = solve_sparse(centred, zeta_t / scale[:, 0], n, tol=tol, max_iter=max_iter, progress=bar.update)
            u_and, q = sol.u_and, sol.noise
            lower = sol.lower_bound * scale[:, 0]
            iterations, converged = sol.iterations, sol.converged
        else:
            results = []
            for b in range(flat.shape[0]):
                results.append(solve_sparse_lp(to_numpy(centred[b]), float(zeta_t[b] / scale[b, 0]), n))
                bar.update(1)
            u_and = torch.as_tensor(np.stack([r.u_and for r in results]), dtype=torch.float64, device=flat.device)
            q = torch.as_tensor(np.stack([r.noise for r in results]), dtype=torch.float64, device=flat.device)
            lower = torch.as_tensor([r.objective for r in results], dtype=torch.float64) * scale[:, 0].cpu()
            iterations = torch.zeros(flat.shape[0], dtype=torch.int64)
            converged = torch.ones(flat.shape[0], dtype=torch.bool)
        q = torch.clamp(q * scale, -zeta_t[:, None], zeta_t[:, None])
        u_and = u_and * scale + base
        u_or = flat + q - u_and
    bar.close()

    shape = (*batch_shape, 2**n)
    i_and, i_or = split_interactions(u_and.reshape(shape), u_or.reshape(shape))
    like = v
    result = Interactions(
        i_and=same_kind(i_and, like),
        i_or=same_kind(i_or, like),
        gamma=same_kind((u_and - (flat + q) / 2).reshape(shape), like),
        noise=same_kind(q.reshape(shape), like),
        players=players,
        meta={"method": "sparse_and_or", "solver": solver},
    )
    objective = to_numpy(result.objective).astype(np.float64)
    lower_np = np.minimum(to_numpy(lower).reshape(batch_shape), objective)
    result.meta.update(
        noise_bound=zeta.reshape(batch_shape),
        lower_bound=lower_np,
        gap=objective - lower_np,
        iterations=to_numpy(iterations).reshape(batch_shape).astype(np.float64),
        converged=bool(np.all(to_numpy(converged))),
        tol=tol,
    )
    return result
