"""A batched first-order solver for the sparse AND-OR problem with a certified duality gap.

The problem (SPEC §3.3, P2 Eq. 4), for value vectors ``v`` and a noise bound ``ζ`` per sample::

    minimise  ‖P M u_and‖₁ + ‖P M F u_or‖₁   over u_and, u_or, q
    such that u_and + u_or − q = v,  |q[S]| ≤ ζ

where ``M`` is the Möbius transform, ``F`` reverses the bitmask order (``S ↦ N \\ S``) and ``P``
drops the empty set, so that ``P M u_and`` are the AND interactions and ``−P M F u_or`` the OR
interactions. (With ``u_and = ½(v+q) + γ`` this is exactly the objective over ``γ, q``.)

**Algorithm.** ADMM on the splitting ``α = M u_and``, ``β = M F u_or``, ``q' = q``:

- the non-smooth block ``(α, β, q')`` is separable: soft-thresholding (the empty-set entries are
  free) and clipping to the box;
- the smooth block ``(u_and, u_or, q)`` is a least-squares problem whose per-variable normal
  matrices ``I + MᵀM`` and ``I + F MᵀM F`` are Kronecker products of 2×2 blocks, so each is inverted
  exactly in ``O(n·2**n)`` in the eigenbasis of ``MᵀM = ⊗[[2,−1],[−1,1]]``. The three variables are
  updated by one symmetric Gauss-Seidel sweep (``q, u_or, u_and, u_or, q``), which makes the block
  update an exact proximal step and keeps ADMM convergent (sGS-ADMM, Li, Sun & Toh 2016);
- over-relaxation ``1.6``; every sample of the batch is scaled to ``|v(N) − v(∅)| = 1`` first.

Every step is a fast transform or an element-wise operation on the whole batch: no dense
``2**n × 2**n`` matrix, and the same code runs on numpy-free torch tensors on CPU or GPU.

**Certificate.** Every ``check`` iterations the current ``u_and`` and clipped noise give a feasible
point whose objective ``P`` is an upper bound. The multiplier ``λ`` of ``u_and + u_or − q = v``,
shifted to ``Σλ = 0`` and scaled so that ``‖P Zᵀλ‖∞ ≤ 1`` and ``‖P Zᵀ F λ‖∞ ≤ 1`` (``Z = M⁻¹``),
is dual feasible, and ``D = ⟨λ, v⟩ − ζ‖λ‖₁ ≤ optimum`` (LP duality). A sample stops when
``(P − D) ≤ tol · P``; its best feasible point and best bound are kept, so the reported gap is
certified whatever happens afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..sets import orders
from ..transforms import kron_apply, mobius, mobius_t, zeta_t

_G = np.array([[2.0, -1.0], [-1.0, 1.0]])  # one factor of MᵀM
_G_EIG, _G_VEC = np.linalg.eigh(_G)


@dataclass
class SparseSolution:
    """What :func:`solve_sparse` returns, per sample: the split, the noise and the certificate."""

    u_and: torch.Tensor
    noise: torch.Tensor
    objective: torch.Tensor
    lower_bound: torch.Tensor
    iterations: torch.Tensor
    converged: torch.Tensor


def _flip(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-1)


def _soft(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Soft-thresholding, except the empty-set entry (the bias), which is not penalised."""
    out = torch.sign(x) * torch.clamp(x.abs() - t, min=0)
    out[..., 0] = x[..., 0]
    return out


class _NormalInverse:
    """``(I + MᵀM)⁻¹`` applied in the eigenbasis of ``MᵀM = ⊗G``: two Kronecker passes and a division."""

    def __init__(self, n: int, like: torch.Tensor):
        o = torch.as_tensor(orders(n), device=like.device, dtype=like.dtype)
        self.n = n
        self.denominator = 1.0 + float(_G_EIG[0]) ** (n - o) * float(_G_EIG[1]) ** o

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = kron_apply(x, self.n, _G_VEC.T) / self.denominator
        return kron_apply(y, self.n, _G_VEC)


def _sq(x: torch.Tensor) -> torch.Tensor:
    return (x * x).sum(-1)


def objective(u_and: torch.Tensor, u_or: torch.Tensor, n: int) -> torch.Tensor:
    """``Σ_{T≠∅} |I_and(T)| + |I_or(T)|`` of the split ``(u_and, u_or)``."""
    return mobius(u_and, n)[..., 1:].abs().sum(-1) + mobius(_flip(u_or), n)[..., 1:].abs().sum(-1)


def dual_bound(lam: torch.Tensor, v: torch.Tensor, zeta: torch.Tensor, n: int) -> torch.Tensor:
    """A certified lower bound on the optimum from any multiplier guess ``λ`` (see the module doc).

    ``λ`` is made feasible by ``λ ← (λ − mean λ) / max(1, ‖P Zᵀλ‖∞, ‖P Zᵀ F λ‖∞)``; the bound is
    ``max(0, ⟨λ, v⟩ − ζ‖λ‖₁)`` (0 is always a bound: the objective is a norm).
    """
    lam = lam - lam.mean(-1, keepdim=True)
    # Zᵀ (the superset sum, zeta_t) maps λ to the AND duals, Zᵀ F to the OR duals
    rho = torch.maximum(zeta_t(lam, n)[..., 1:].abs().amax(-1), zeta_t(_flip(lam), n)[..., 1:].abs().amax(-1))
    value = (lam * v).sum(-1) - zeta * lam.abs().sum(-1)
    return torch.clamp(value / torch.clamp(rho, min=1.0), min=0.0)


def solve_sparse(
    v: torch.Tensor,
    zeta: torch.Tensor,
    n: int,
    tol: float = 1e-3,
    max_iter: int = 20000,
    rho: float = 2.0,
    relax: float = 1.6,
    check: int = 25,
    progress: Any = None,
) -> SparseSolution:
    """Solve the sparse AND-OR problem for a batch ``v`` of shape ``(B, 2**n)`` with bounds ``zeta`` ``(B,)``.

    ``v`` must already be centred and scaled (``v[:, 0] == 0`` and ``|v[:, -1]|`` of order 1): the
    caller (:func:`interprim.sparse_and_or`) does that. Returns the best certified point per sample.
    ``progress``, if given, is called with the number of samples that converged at each check.
    """
    batch = v.shape[0]
    inverse = _NormalInverse(n, v)
    best_u = v / 2
    best_q = torch.zeros_like(v)
    best_p = objective(best_u, v - best_u, n)
    best_d = torch.zeros(batch, dtype=v.dtype, device=v.device)
    iterations = torch.zeros(batch, dtype=torch.int64, device=v.device)
    done = best_p <= 0  # a game with no interaction at all is solved by the fixed split

    active = torch.nonzero(~done).flatten()
    vv, zz = v[active], zeta[active, None]
    x1, x2, x3 = vv / 2, vv / 2, torch.zeros_like(vv)
    z1, z2, z3 = mobius(x1, n), mobius(_flip(x2), n), torch.zeros_like(vv)
    w0, w1, w2, w3 = (torch.zeros_like(vv) for _ in range(4))
    rho_b = torch.full((active.numel(), 1), float(rho), dtype=v.dtype, device=v.device)
    it = 0
    while active.numel() and it < max_iter:
        it += 1
        r1 = mobius_t(z1 - w1, n) + (vv - w0)
        r2 = _flip(mobius_t(z2 - w2, n)) + (vv - w0)
        r3 = (w0 - vv) + (z3 - w3)
        x3 = (r3 + x1 + x2) / 2
        x2 = _flip(inverse(_flip(r2 - x1 + x3)))
        x1 = inverse(r1 - x2 + x3)
        x2 = _flip(inverse(_flip(r2 - x1 + x3)))
        x3 = (r3 + x1 + x2) / 2
        h1 = relax * mobius(x1, n) + (1 - relax) * z1
        h2 = relax * mobius(_flip(x2), n) + (1 - relax) * z2
        h3 = relax * x3 + (1 - relax) * z3
        last = it % check == 0 or it == max_iter
        if last:
            z_old = (z1, z2, z3)
        z1, z2 = _soft(h1 + w1, 1.0 / rho_b), _soft(h2 + w2, 1.0 / rho_b)
        z3 = torch.maximum(torch.minimum(h3 + w3, zz), -zz)
        w0 = w0 + relax * (x1 + x2 - x3 - vv)
        w1, w2, w3 = w1 + h1 - z1, w2 + h2 - z2, w3 + h3 - z3
        if not last:
            continue
        p = objective(x1, vv + z3 - x1, n)
        lam = rho_b * w0
        d = torch.maximum(dual_bound(lam, vv, zz[:, 0], n), dual_bound(-lam, vv, zz[:, 0], n))
        better = p < best_p[active]
        best_u[active[better]] = x1[better]
        best_q[active[better]] = z3[better]
        best_p[active] = torch.minimum(best_p[active], p)
        best_d[active] = torch.maximum(best_d[active], d)
        iterations[active] = it
        finished = best_p[active] - best_d[active] <= tol * best_p[active]
        if finished.any():
            done[active[finished]] = True
            keep = ~finished
            active = active[keep]
            vv, zz = vv[keep], zz[keep]
            x1, x2, x3, z1, z2, z3 = (t[keep] for t in (x1, x2, x3, z1, z2, z3))
            w0, w1, w2, w3, rho_b = (t[keep] for t in (w0, w1, w2, w3, rho_b))
            z_old = tuple(t[keep] for t in z_old)
            if progress is not None:
                progress(int(finished.sum()))
        # residual balancing: keep the primal and dual residuals within a factor 10 of each other
        primal_res = torch.sqrt(
            _sq(x1 + x2 - x3 - vv) + _sq(mobius(x1, n) - z1) + _sq(mobius(_flip(x2), n) - z2) + _sq(x3 - z3)
        )
        dual_res = rho_b[:, 0] * torch.sqrt(
            _sq(mobius_t(z1 - z_old[0], n)) + _sq(mobius_t(z2 - z_old[1], n)) + _sq(z3 - z_old[2])
        )
        factor = torch.where(primal_res > 10 * dual_res, 2.0, torch.where(dual_res > 10 * primal_res, 0.5, 1.0))
        factor = factor[:, None].to(v.dtype)
        rho_b = rho_b * factor
        w0, w1, w2, w3 = (t / factor for t in (w0, w1, w2, w3))
    return SparseSolution(best_u, best_q, best_p, torch.minimum(best_d, best_p), iterations, done)
