"""The certified interior-point method for the generalizable problem of two models (SPEC §3.4; P2 Eq. 6).

**The LP.** For two models the specific parts can be eliminated: boxes ``|γ_i − γ_shared| ≤ β_i``
around a common ``γ_shared`` exist if and only if ``|γ₁ − γ₂| ≤ β₁ + β₂`` (two intervals meet
if and only if their centres are no farther apart than the sum of their radii). With the
interactions ``a_i = M u_and_i`` and ``b_i = M F u_or_i`` (so ``u_and_i = Z a_i``, ``u_or_i = F Z b_i``;
``Z = M⁻¹``, as in :mod:`interprim.extract.lp`) and ``γ_i = u_and_i − ½(v_i + q_i)`` the problem reads::

    minimise   Σ_{T≠∅} f(a₁[T], a₂[T]) + f(b₁[T], b₂[T]),   f(x, y) = (1 − α)·max(|x|, |y|) + α·(|x| + |y|)
    such that  Z a_i + F Z b_i − q_i = v_i                     (i = 1, 2: universal matching)
               Z(a₁ − a₂) − ½(q₁ − q₂) − r = ½(v₁ − v₂)        (γ₁ − γ₂ = r)
               |q_i| ≤ ζ_i,   |r| ≤ β₁ + β₂

Some optimum has ``|γ₁ − γ₂| < 2P₀ + max|v| + max ζ + 1``: the optimal ``γ₂`` can be shifted by a constant
(``a₂[∅] += c``, ``b₂[∅] −= c``) to centre the range of ``γ₁ − γ₂``, whose entries differ from
``a₁[∅] − a₂[∅]`` by at most ``2P + max|v| + max ζ`` (``P ≤ P₀`` the optimum, ``P₀`` that of the fixed
split). The box of ``r`` is therefore ``min(β₁ + β₂, 2P₀ + max|v| + max ζ + 1)``: the same optimum,
and a reachable box when the specific parts are free (``β = 10⁶`` left the certified gaps at 4-6 %
after 100 iterations); as no optimum needs its bound, the multipliers of the ``γ`` rows still
certify against the true ``β``.

``f`` is a norm on ``ℝ²``; its unit ball is the octagon with the vertices ``(±1, 0)``, ``(0, ±1)``
and ``±(1, ±1)/(1 + α)``, so ``f(x, y)`` is the least ``Σ_k c_k λ_k`` over ``λ ≥ 0`` with
``Σ_k λ_k e_k = (x, y)``, where :data:`ATOMS` ``e_k`` are ``(±1, 0)``, ``(0, ±1)`` at cost ``c_k = 1`` and
``±(1, ±1)`` at cost ``1 + α``. The interactions of both models at ``T`` are therefore eight
non-negative variables per type (no epigraph rows, which would couple the models through
constraints), and the LP has ``3·2**n`` rows. The entries ``∅`` carry no cost; one free direction
(``a_i[∅] += c``, ``b_i[∅] −= c`` for both models, which moves ``γ_shared`` by ``c``) is removed by
fixing ``b₁[∅] = 0``, and ``a₁[∅]``, ``a₂[∅]``, ``b₂[∅]`` are boxed by ``±R``, a bound that no
optimum reaches (rows ``S = ∅`` and ``S = N`` bound them by ``|v|``, ``ζ``, ``β`` and the objective
``P₀`` of the fixed split; :class:`_Pair`).

**Normal matrix.** With ``W[T] = Σ_k θ_k[T] e_k e_kᵀ`` the 2 × 2 scaling of the atoms at ``T`` (``W^a`` for
AND, ``W^b`` for OR) and ``D_q``, ``D_r`` that of ``q``, ``r``, the blocks of ``K = A Θ Aᵀ`` (rows: matching
1, matching 2, ``γ``) are sums of ``Z D Zᵀ`` and ``F Z D Zᵀ F`` with diagonal ``D``, built by
:func:`interprim.extract.ipm._gram` like the sparse problem's::

    K₁₁ = Z W^a₁₁ Zᵀ + F Z W^b₁₁ Zᵀ F + D_q₁          K₂₁ = Z W^a₁₂ Zᵀ + F Z W^b₁₂ Zᵀ F
    K₂₂ = Z W^a₂₂ Zᵀ + F Z W^b₂₂ Zᵀ F + D_q₂          K_γ₁ = Z (W^a₁₁ − W^a₁₂) Zᵀ + ½ D_q₁
    K_γγ = Z (W^a₁₁ − 2 W^a₁₂ + W^a₂₂) Zᵀ + ¼ (D_q₁ + D_q₂) + D_r      K_γ₂ = Z (W^a₁₂ − W^a₂₂) Zᵀ − ½ D_q₂

``K`` has ``9·4**n`` entries (72 MiB at ``n = 10``) and its factorisation costs 27 times the sparse
problem's (about 0.2 s per iteration at ``n = 10`` on one core). The blocks of the ``γ`` rows weigh each
atom by its own coefficient (``e₁(e₁ − e₂)``, ``e₂(e₁ − e₂)``, ``(e₁ − e₂)²``), not as differences of the
other blocks: a diagonal atom's scaling, which grows without bound, is not in them at all. The free
entries ``∅`` are kept out of the factor as in the sparse problem (:attr:`interprim.extract.ipm._Problem.free`);
before that their scaling (1e5 times any other's) broke the factorisation of real pairs at ``n = 10``
near ``tol = 1e-4``, and the primal residual, which grew over the iterations, needed every direction
refined.

**Certificate.** As for the other solvers: every iterate gives a feasible point (``u_and_i = Z a_i``,
``q_i`` clipped to its box, the ``γ_i`` moved into common boxes by
:func:`interprim.extract.admm.feasible`, ``u_or_i = v_i + q_i − u_and_i``), and the multipliers
``(y₁, y₂, y_γ)`` of the rows give those of :func:`interprim.extract.admm.dual_bound`:
``λ₁ = y₁ + ½ y_γ``, ``λ₂ = y₂ − ½ y_γ``, ``μ₁ = −μ₂ = y_γ`` (the coefficients of ``u_and_i``, ``u_or_i`` and
``q_i`` in both Lagrangians agree). As the box of ``r`` may be smaller than ``β₁ + β₂`` (above), the
multipliers ``y_γ`` of the ``γ`` rows tend to zero where it is, but each entry still costs ``β`` in the
bound; the bound is therefore also taken with ``μ = 0``, and the larger one is kept.
"""

from __future__ import annotations

from typing import Any

import torch

from .admm import Solution, dual_bound, feasible, mobius, objective, zeta, zeta_t
from .ipm import PUSH, _gram, _mehrotra, _Problem, _solve_samples

#: the atoms ``e_k`` of the norm ``f`` (columns: their entries for model 1 and model 2); the first four
#: cost 1, the last four ``1 + α``
ATOMS = ((1, -1, 0, 0, 1, -1, 1, -1), (0, 0, 1, -1, 1, -1, -1, 1))
#: the variable blocks: eight atoms of AND, eight of OR, then ``q₁``, ``q₂``, ``r``
_A, _B, _Q1, _Q2, _R = slice(0, 8), slice(8, 16), 16, 17, 18
#: the free entries ``∅`` (atoms ``(1, 0)`` and ``(0, 1)``): ``a₁[∅]``, ``a₂[∅]``, ``b₂[∅]`` (``b₁[∅] = 0``)
_FREE = (0, 2, 10)


def solve(
    v: torch.Tensor,
    zeta_bound: torch.Tensor,
    beta: torch.Tensor,
    n: int,
    alpha: float,
    tol: float = 1e-3,
    max_iter: int = 100,
    atol: torch.Tensor | float = 0.0,
    progress: Any = None,
) -> Solution:
    """Solve the generalizable problem of two models for ``v`` ``(2, B, 2**n)`` float64 (centred and scaled
    as for :func:`interprim.extract.ipm.solve`) with bounds ``zeta_bound`` and ``beta`` ``(2, B)``.

    A sample stops when its certified gap is at most ``tol·P`` or ``atol``, at once when its optimum
    is zero, or unconverged after ``max_iter`` iterations or when its iterates stall. Returns
    :class:`~interprim.extract.admm.Solution` with the shared part; ``progress``, if given, is called
    with the number of samples that finished.
    """
    m, _, size = v.shape
    if m != 2:
        raise ValueError(f"the interior-point method of the generalizable problem takes two models, got {m}.")

    def chunk(idx: torch.Tensor, atol: torch.Tensor, threads: int) -> tuple[torch.Tensor, ...]:
        problem = _Pair(v[:, idx], zeta_bound[:, idx], beta[:, idx], n, alpha)
        iterations, done = _mehrotra(problem, tol, max_iter, atol, progress, threads)
        return problem.best_u, problem.best_q, problem.best_g, problem.best_p, problem.best_d, iterations, done

    return _solve_samples(v, zeta_bound, n, alpha, atol, progress, 8 * (3 * size) ** 2, chunk)


class _Pair(_Problem):
    """The LP of the module doc for a chunk of samples: ``x`` ``(B, 19, N)`` (:data:`_A`, :data:`_B`,
    :data:`_Q1`, :data:`_Q2`, :data:`_R`), ``y`` ``(B, 3N)``."""

    free = tuple((k, 0) for k in _FREE)

    def __init__(self, v: torch.Tensor, zeta_bound: torch.Tensor, beta: torch.Tensor, n: int, alpha: float):
        _, batch, size = v.shape
        dev, dt = v.device, v.dtype
        self.v, self.zeta_bound, self.beta, self.n, self.alpha, self.size = v, zeta_bound, beta, n, alpha, size
        self.atoms = torch.tensor(ATOMS, dtype=dt, device=dev)
        self.half = v / 2
        p0 = objective(self.half, self.half, n, alpha)
        peak = v.abs().amax(-1).amax(0) + zeta_bound.amax(0)
        box = torch.minimum(beta.sum(0), 2 * p0 + peak + 1.0)
        radius = 3 * (peak + p0) + box + 1.0
        self.lower = torch.zeros(batch, 19, size, dtype=dt, device=dev)
        self.upper = torch.full_like(self.lower, float("inf"))
        self.moves = torch.ones_like(self.lower, dtype=torch.bool)
        self.moves[:, :16, 0] = False
        for k in _FREE:
            self.moves[:, k, 0] = True
            self.lower[:, k, 0], self.upper[:, k, 0] = -radius, radius
        for k, bound in ((_Q1, zeta_bound[0]), (_Q2, zeta_bound[1]), (_R, box)):
            self.lower[:, k], self.upper[:, k] = -bound[:, None], bound[:, None]
            self.moves[:, k] &= (bound > 0)[:, None]
        self.bounded = self.moves & torch.isfinite(self.upper)
        self.cost = torch.zeros(19, size, dtype=dt, device=dev)
        self.cost[:16] = torch.tensor([1.0] * 4 + [1.0 + alpha] * 4, dtype=dt, device=dev).repeat(2)[:, None]
        self.cost[:16, 0] = 0.0
        self.count = (self.moves.sum((1, 2)) + self.bounded.sum((1, 2))).to(dt)
        self.rhs = torch.cat((v[0], v[1], (v[0] - v[1]) / 2), -1)
        self.best_u, self.best_q = self.half.clone(), torch.zeros_like(v)
        self.best_g = torch.zeros_like(v[0])
        self.best_p = p0.clone()
        self.best_d = torch.zeros_like(p0)

    def _models(self, atoms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``Σ_k λ_k e_k``: the entries of both models from the atoms ``(B, 8, N)``."""
        e = self.atoms[..., None]
        return (atoms * e[0]).sum(1), (atoms * e[1]).sum(1)

    def _atoms(self, c1: torch.Tensor, c2: torch.Tensor) -> torch.Tensor:
        """The adjoint of :meth:`_models`: ``⟨e_k, (c₁, c₂)⟩`` per atom ``(B, 8, N)``."""
        e = self.atoms[..., None]
        return e[0] * c1[:, None] + e[1] * c2[:, None]

    def apply_a(self, x: torch.Tensor) -> torch.Tensor:
        """``A x`` ``(B, 19, N)`` → ``(B, 3N)``: the matching rows of both models, then the ``γ`` rows."""
        n = self.n
        a1, a2 = self._models(x[:, _A])
        b1, b2 = self._models(x[:, _B])
        za1, za2, q1, q2 = zeta(a1, n), zeta(a2, n), x[:, _Q1], x[:, _Q2]
        return torch.cat(
            (za1 + zeta(b1, n).flip(-1) - q1, za2 + zeta(b2, n).flip(-1) - q2, za1 - za2 - (q1 - q2) / 2 - x[:, _R]), -1
        )

    def apply_at(self, y: torch.Tensor) -> torch.Tensor:
        """``Aᵀ y`` ``(B, 3N)`` → ``(B, 19, N)``."""
        n, size = self.n, self.size
        y1, y2, yg = y[:, :size], y[:, size : 2 * size], y[:, 2 * size :]
        at_a = self._atoms(zeta_t(y1 + yg, n), zeta_t(y2 - yg, n))
        at_b = self._atoms(zeta_t(y1.flip(-1), n), zeta_t(y2.flip(-1), n))
        rest = torch.stack((-y1 - yg / 2, -y2 + yg / 2, -yg), 1)
        return torch.cat((at_a, at_b, rest), 1)

    def normal(self, theta: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The lower triangle of ``K`` (module doc) in ``out`` ``(B, 3N, 3N)``."""
        n, size = self.n, self.size
        e1, e2 = self.atoms
        d = e1 - e2
        # the γ blocks weigh each atom by its own integer coefficient (e₁(e₁ − e₂), e₂(e₁ − e₂), (e₁ − e₂)²),
        # not as differences of the matching blocks' sums: late in the method a diagonal atom's θ reaches
        # 1e15, and a11 − 2·a12 + a22 lost it to rounding (a negative diagonal of K, a failed factorisation)
        weights = torch.stack((e1 * e1, e1 * e2, e2 * e2, e1 * d, e2 * d, d * d))
        a11, a12, a22, g1, g2, gg = torch.einsum("wk,bkn->wbn", weights, theta[:, _A])
        b11, b12, b22 = torch.einsum("wk,bkn->wbn", weights[:3], theta[:, _B])
        dq1, dq2 = theta[:, _Q1], theta[:, _Q2]

        def block(i: int, j: int) -> torch.Tensor:
            return out[:, i * size : (i + 1) * size, j * size : (j + 1) * size]

        for (i, j), d_a, d_b, diagonal in (
            ((0, 0), a11, b11, dq1),
            ((1, 0), a12, b12, None),
            ((1, 1), a22, b22, dq2),
            ((2, 0), g1, None, dq1 / 2),
            ((2, 1), g2, None, -dq2 / 2),
            ((2, 2), gg, None, (dq1 + dq2) / 4 + theta[:, _R]),
        ):
            _gram(zeta(d_a, n), None if d_b is None else zeta(d_b, n), block(i, j), lower=i == j)
            if diagonal is not None:
                block(i, j).diagonal(dim1=-2, dim2=-1).add_(diagonal)
        return out

    def start(self) -> torch.Tensor:
        """The fixed split ``u_and_i = u_or_i = v_i/2`` (``γ_i = 0``: feasible) in its cheapest atoms
        (:func:`_cheapest`), pushed into the interior."""
        n = self.n
        a, b = mobius(self.half, n), mobius(self.half.flip(-1), n)
        # move b₁[∅] into a_i[∅] and out of b₂[∅] (the free direction of the module doc: no row changes)
        shift = b[0, :, 0].clone()
        a[:, :, 0] += shift
        b[:, :, 0] -= shift
        x = torch.zeros_like(self.lower)
        x[:, _A], x[:, _B] = _cheapest(a[0], a[1]), _cheapest(b[0], b[1])
        x[:, :16] += PUSH
        x = torch.where(self.moves, x, torch.zeros_like(x))
        x[:, 0, 0], x[:, 2, 0], x[:, 10, 0] = a[0, :, 0], a[1, :, 0], b[1, :, 0]
        return x

    def offer(self, x: torch.Tensor, y: torch.Tensor, active: torch.Tensor) -> None:
        """Certify the iterate (module doc). Like the sparse problem's, a second point takes the noise from
        the matching residual (``q_i = clip(Z a_i + F Z b_i − v_i)``) and the better of the two is kept."""
        n, size = self.n, self.size
        vv, zz, bb = self.v[:, active], self.zeta_bound[:, active], self.beta[:, active]
        box = zz[..., None]
        a1, a2 = self._models(x[:, _A])
        b1, b2 = self._models(x[:, _B])
        u = torch.stack((zeta(a1, n), zeta(a2, n)))
        or_part = torch.stack((zeta(b1, n), zeta(b2, n))).flip(-1)
        points = []
        for noise in (torch.stack((x[:, _Q1], x[:, _Q2])), u + or_part - vv):
            qq = torch.minimum(torch.maximum(noise, -box), box)
            uu, g = feasible(u, qq, vv, bb, (u - (vv + qq) / 2).mean(0))
            points.append((uu, qq, g, objective(uu, vv + qq - uu, n, self.alpha)))
        (u1, q1, g1, p1), (u2, q2, g2, p2) = points
        second = p2 < p1
        uu, qq = torch.where(second[None, :, None], u2, u1), torch.where(second[None, :, None], q2, q1)
        g, p = torch.where(second[:, None], g2, g1), torch.minimum(p1, p2)
        y1, y2, yg = y[:, :size], y[:, size : 2 * size], y[:, 2 * size :]
        lam = torch.stack((y1 + yg / 2, y2 - yg / 2))
        mu = torch.stack((yg, -yg))
        # and without the multipliers of the γ rows, whose ‖μ‖₁ costs β each (all of the bound when β is huge)
        d = torch.maximum(*(dual_bound(lam, part, vv, zz, bb, n, self.alpha) for part in (mu, torch.zeros_like(mu))))
        better = p < self.best_p[active]
        keep = active[better]
        self.best_u[:, keep], self.best_q[:, keep], self.best_g[keep] = uu[:, better], qq[:, better], g[better]
        self.best_p[active] = torch.minimum(self.best_p[active], p)
        self.best_d[active] = torch.maximum(self.best_d[active], d)


def _cheapest(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The atoms ``(B, 8, N)`` of least cost that make the entries ``(first, second)`` ``(B, N)`` of both models:
    ``min(|x|, |y|)`` on the diagonal atom of their signs, the rest on an axis, so their cost is ``f(x, y)``.
    (Starting from it rather than from the axes alone took 8.1 instead of 8.4 iterations to 0.1 % on
    pairs at ``n = 8``, 9.25 instead of 9.6 at ``n = 10``.)"""
    common = torch.minimum(first.abs(), second.abs())
    same = first * second > 0
    up = first > 0
    first, second = first - first.sign() * common, second - second.sign() * common
    diagonal = [same & up, same & ~up, ~same & up, ~same & ~up]  # (1, 1), (−1, −1), (1, −1), (−1, 1)
    return torch.stack(
        (first.clamp(min=0), (-first).clamp(min=0), second.clamp(min=0), (-second).clamp(min=0),
         *(torch.where(d, common, 0.0) for d in diagonal)), 1
    )
