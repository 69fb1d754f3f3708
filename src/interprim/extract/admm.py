"""A batched first-order solver for the sparse and the generalizable AND-OR problems, with a certified gap.

**The problem.** ``m`` models explain the same sample (``m = 1`` is the sparse method of SPEC §3.3,
``m ≥ 2`` the generalizable method of SPEC §3.4, P2 Eq. 5-6). Per model ``i``, with value vector
``v_i``, noise bound ``ζ_i`` and specific bound ``β_i``::

    minimise   Σ_{T≠∅} f(M u_and[:, T]) + f(M F u_or[:, T])
    over       u_and_i, u_or_i, q_i, γ_shared
    such that  u_and_i + u_or_i − q_i = v_i,   |q_i| ≤ ζ_i,   |½(u_and_i − u_or_i) − γ_shared| ≤ β_i

where ``M`` is the Möbius transform, ``F`` reverses the bitmask order (``S ↦ N \\ S``), so ``M u_and``
are the AND interactions and ``−M F u_or`` the OR interactions, ``½(u_and − u_or) = γ_i`` is the split
of SPEC §3.3, and ``f(x) = (1 − α)·max_i |x_i| + α·Σ_i |x_i|`` couples the models (``f = |·|`` for
``m = 1``, where the ``γ`` constraint is void and dropped).

**Algorithm.** ADMM on the splitting ``z1 = M u_and``, ``z2 = M F u_or``, ``z3 = q``,
``z4 = ½(u_and − u_or) − γ_shared``:

- the non-smooth block is separable over subsets: the proximal map of ``f`` (soft-thresholding by
  ``α/ρ`` followed by the prox of ``(1 − α)/ρ·‖·‖∞``, which is exact because the ℓ∞ prox keeps signs
  and zeros; the empty set is free), and clipping of ``z3``, ``z4`` to their boxes;
- the smooth block ``(u_and, u_or, q, γ_shared)`` is a least-squares problem. ``u_and`` and
  ``u_or`` have normal matrices ``cI + MᵀDM`` and ``cI + F MᵀDM F`` (``c = 1`` or ``5/4``, ``D``
  below), Kronecker products of 2×2 blocks, inverted exactly in ``O(n·2**n)`` in the eigenbasis of
  ``MᵀDM``; ``q`` and ``γ_shared`` are averages. The blocks are updated by one
  symmetric Gauss-Seidel sweep (``γ, q, u_or`` backwards, then ``u_and, u_or, q, γ``), which makes
  the block update an exact proximal step and keeps ADMM convergent (sGS-ADMM, Li, Sun & Toh 2016);
- one model: relaxation ``2`` (the Peaceman-Rachford form of the step) inside Halpern's anchored
  iteration (below, "Acceleration"), with a penalty per sample (``ρ = 8·2**((10 − n)/2)`` at first);
  several models: over-relaxation ``1.9`` and a penalty per sample (from :data:`RHO_MODELS`) balanced
  between the primal and dual residuals. The caller scales every sample to values of order one
  (``interprim.extract._driver.PEAK_OVER_SCALE``);
- the splittings ``z1``, ``z2`` are penalised in the metric ``D = diag(d**|T|)`` (a diagonal
  preconditioner that keeps ``MᵀDM = ⊗[[1+d, −d], [−d, d]]`` a Kronecker product, and turns the
  prox into a thresholding by ``1/(ρ·d**|T|)``). ``d = 1`` suits games with noise. When a model's
  noise bound is nearly zero (``ζ_i < 10⁻³·max_S |v_i(S) − v_i(∅)|``, e.g. ``noise=0``) the optimum
  is dense and with ``d = 1`` the feasible point stalls (measured on real MNIST games at
  ``n = 10``: 8-20 % above the optimum after 4000-8000 iterations); ``d = ½`` weights each order
  by ``2**−|T|``, the inverse number of entries in a row of ``M``, and reaches a 1 % gap in about
  3000-4000 iterations, but is 2-4× slower than ``d = 1`` on games with noise. The rule is
  empirical: a game whose values dwarf its scale (``|v(N) − v(∅)|`` tiny, ``max_S |v(S)|`` over
  30 times the scale) converged with ``d = 1`` and not with ``d = ½``, so ``d = ½`` is used only
  for values of the sample's scale. Samples of both kinds share a batch.

**Acceleration.** One ADMM step is a map ``T`` of the state (the smooth block, the splittings and
the multipliers). Halpern's iteration ``s_{k+1} = s₀/(k + 2) + (k + 1)/(k + 2)·T(s_k)`` pulls every
step back towards an anchor ``s₀``, and restarting it (a new anchor where the fixed-point residual
``‖T(s) − s‖`` has fallen enough) makes it converge linearly on LPs (the Halpern-Peaceman-Rachford
method of HPR-LP: Chen, Sun, Yuan, Zhang & Zhao 2024, arXiv:2408.12179); see :class:`_Halpern`. Measured on 32 real MNIST games at ``n = 10``, one
thread, float64: 3 934 iterations on average to a certified 1e-3 (at most 7 650) against 8 998 (one
game unconverged at 20 000) for the over-relaxed ADMM with residual balancing. For several models
the same scheme was slower (pairs at ``n = 8``, ``tol = 1e-2``, batch 20: 0.21 s per pair against
0.12 s) and at ``n = 10`` left 5 of 20 pairs uncertified at 20 000 iterations (gaps up to 23 %), so
the generalizable problem keeps the over-relaxed ADMM with residual balancing.

**Precision.** The iterations may run in float32 (``dtype``): about twice as fast on a CPU, and as
fast per iteration until the gaps reach about 3e-3, where float32 rounding stalls them. When half of
the remaining samples have stalled (:class:`_Stall`) the state moves to the precision of ``v``; in
that precision a stalled sample continues with a larger ``ρ`` (:meth:`_Halpern.boost`).

Every step is a fast transform or an element-wise operation on the whole batch — never a dense
``2**n × 2**n`` matrix — and the same code runs on CPU or GPU tensors.

**Certificate.** Every ``check`` iterations the current point is made feasible (``q`` clipped, the
``γ_i`` clipped into a common box around a centre) and its objective ``P`` is an upper bound. The
multipliers ``λ_i`` of ``u_and_i + u_or_i − q_i = v_i`` and ``μ_i`` of the ``γ`` boxes give, by LP
duality, the lower bound ``D = Σ_i ⟨λ_i, v_i⟩ − ζ_i‖λ_i‖₁ − β_i‖μ_i‖₁`` once they are made dual
feasible: ``Σ_i μ_i = 0``, ``Σ_S λ_i = Σ_S μ_i = 0`` and ``f°(Zᵀ(λ + μ/2)[T]) ≤ 1``,
``f°(Zᵀ F(λ − μ/2)[T]) ≤ 1`` for every ``T ≠ ∅`` (``Z = M⁻¹``, ``f°`` the dual norm of ``f``) — by
centring and scaling (:func:`dual_bound`). With ``d < 1`` the multipliers ``y1 = ρD w1``,
``y2 = ρD w2`` of the splittings give better guesses: they lie in ``∂f`` by construction of the
prox, and stationarity in ``u_and``, ``u_or`` reads ``λ + μ/2 = ±Mᵀy1``, ``λ − μ/2 = ±F Mᵀy2``.
A sample stops when ``P − D ≤ tol · P``; its best feasible
point and best bound are kept, so the reported gap is certified whatever happens afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..sets import orders
from .. import transforms
from ..transforms import kron_apply

#: metric ``d`` of the interaction splittings for (nearly) noise-free samples (module doc)
NOISE_FREE_METRIC = 0.5
#: a model is nearly noise-free on a sample when ``ζ_i / max_S |v_i(S) − v_i(∅)|`` is below this …
NOISE_FREE_BELOW = 1e-3
#: … and its values are of the sample's scale: ``max_S |v_i(S) − v_i(∅)| ≤ NOISE_FREE_PEAK`` (scaled units)
NOISE_FREE_PEAK = 30.0
#: a sample restarts at the latest after this fraction of all iterations so far
RESTART_LONG = 0.2
#: the first penalty of one model at ``n = 10``; it scales as ``2**(−n/2)``: measured on real games, the
#: best fixed ``ρ`` was about 16 at ``n = 8``, 8 at 10, 4 at 12, 2 at 14 and at most 2 at 16 (at
#: ``n = 14`` a game certified 1 % within 8 000 iterations at ``ρ = 2`` and stood at 34 % after
#: 20 000 at ``ρ = 8``)
RHO_ONE_MODEL = 8.0
#: the first penalty of several models (then balanced between the residuals): measured on 20 real pairs
#: at ``n = 10``, 32 took 1 794 / 7 841 iterations on average to 1 % / 0.1 % (at most 3 125 / 12 225)
#: where 16 took 1 879 / 8 358 (at most 4 725 / 14 675); at ``n = 8`` the two were alike
RHO_MODELS = 32.0
#: a sample whose gap stalls (:class:`_Stall`) in the final precision continues with ``ρ`` this many times larger …
RHO_BOOST = 4.0
#: … at most this many times
RHO_BOOSTS = 3
#: a sample has stalled when its relative gap fell by less than this fraction …
STALL_PROGRESS = 0.2
#: … over this many iterations
STALL_WINDOW = 1000
#: Halpern restarts (:class:`_Halpern`): when the residual fell below this fraction of its value at the last restart …
RESTART_SUFFICIENT = 0.5
#: … or below this fraction while growing again
RESTART_NECESSARY = 0.8


#: up to this ``n`` the solver's transforms are two matrix products (:func:`~interprim.transforms.kron_apply`),
#: 1.6-3.5× faster than the butterflies on batches of games at ``n = 10`` (float64 / float32, one core)
KRON_MAX_N = 14


def mobius(x: torch.Tensor, n: int) -> torch.Tensor:
    """``M x``, the Möbius transform (:func:`interprim.transforms.mobius`), by Kronecker products up to :data:`KRON_MAX_N`."""
    return kron_apply(x, n, ((1.0, 0.0), (-1.0, 1.0))) if n <= KRON_MAX_N else transforms.mobius(x, n)


def mobius_t(x: torch.Tensor, n: int) -> torch.Tensor:
    """``Mᵀ y`` (:func:`interprim.transforms.mobius_t`), by Kronecker products up to :data:`KRON_MAX_N`."""
    return kron_apply(x, n, ((1.0, -1.0), (0.0, 1.0))) if n <= KRON_MAX_N else transforms.mobius_t(x, n)


def zeta(x: torch.Tensor, n: int) -> torch.Tensor:
    """``Z x``, the zeta transform (:func:`interprim.transforms.zeta`), by Kronecker products up to :data:`KRON_MAX_N`."""
    return kron_apply(x, n, ((1.0, 0.0), (1.0, 1.0))) if n <= KRON_MAX_N else transforms.zeta(x, n)


def zeta_t(x: torch.Tensor, n: int) -> torch.Tensor:
    """``Zᵀ y`` (:func:`interprim.transforms.zeta_t`), by Kronecker products up to :data:`KRON_MAX_N`."""
    return kron_apply(x, n, ((1.0, 1.0), (0.0, 1.0))) if n <= KRON_MAX_N else transforms.zeta_t(x, n)


@dataclass
class Solution:
    """What :func:`solve` returns: per model ``(m, B, 2**n)`` arrays and per sample ``(B,)`` certificates."""

    u_and: torch.Tensor
    noise: torch.Tensor
    gamma_shared: torch.Tensor | None
    objective: torch.Tensor
    lower_bound: torch.Tensor
    iterations: torch.Tensor
    converged: torch.Tensor


class _NormalInverse:
    """``(cI + MᵀDM)⁻¹`` per sample, ``D = diag(d**|T|)``, in the eigenbasis of ``MᵀDM = ⊗[[1+d, −d], [−d, d]]``.

    Samples with the same metric ``d`` form a group that two Kronecker passes and a division solve
    together; :meth:`keep` follows the batch as samples finish.
    """

    def __init__(self, n: int, c: float, metric: torch.Tensor, like: torch.Tensor):
        o = torch.as_tensor(orders(n), device=like.device, dtype=like.dtype)
        self.n = n
        values, self.group = torch.unique(metric, return_inverse=True)
        self.parts = []
        for d in values.tolist():
            eig, vec = np.linalg.eigh(np.array([[1.0 + d, -d], [-d, d]]))
            self.parts.append((vec, c + float(eig[0]) ** (n - o) * float(eig[1]) ** o))
        self._index()

    def _index(self) -> None:
        self.index = [torch.nonzero(self.group == k).flatten() for k in range(len(self.parts))]
        used = [k for k, idx in enumerate(self.index) if idx.numel()]
        self.only = used[0] if len(used) == 1 else None

    def keep(self, mask: torch.Tensor) -> None:
        """Drop the samples where ``mask`` is false."""
        self.group = self.group[mask]
        self._index()

    def _apply(self, k: int, x: torch.Tensor) -> torch.Tensor:
        vec, denominator = self.parts[k]
        return kron_apply(kron_apply(x, self.n, vec.T) / denominator, self.n, vec)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.only is not None:
            return self._apply(self.only, x)
        out = torch.empty_like(x)
        for k, idx in enumerate(self.index):
            if idx.numel():
                out[:, idx] = self._apply(k, x[:, idx])
        return out


def _flip(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-1)


def _flush_tiny(*tensors: torch.Tensor) -> None:
    """Set entries below ``√tiny`` in magnitude to zero, in place (subnormal numbers are very slow on CPUs)."""
    for t in tensors:
        t.masked_fill_(t.abs() < torch.finfo(t.dtype).tiny ** 0.5, 0.0)


def _weigh(dw: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    """``D x`` with the weights ``dw = d**|T|`` of the metric; ``None`` stands for ``d = 1`` everywhere."""
    return x if dw is None else dw * x


def _sq(x: torch.Tensor) -> torch.Tensor:
    """Squared norm per sample of an ``(m, B, N)`` array → ``(B,)``."""
    return (x * x).sum((0, -1))


def _descending(a: torch.Tensor) -> torch.Tensor:
    """``a`` sorted in descending order over the model axis 0 (two models: a maximum and a minimum, faster than a sort)."""
    if a.shape[0] == 2:
        return torch.stack((torch.maximum(a[0], a[1]), torch.minimum(a[0], a[1])))
    return a.sort(dim=0, descending=True).values


def prox_coupled(y: torch.Tensor, rho: torch.Tensor, alpha: float) -> torch.Tensor:
    """Proximal map of ``f/ρ`` over the model axis 0, ``f(x) = (1−α)‖x‖∞ + α‖x‖₁``; entry ``∅`` is free.

    ``prox_{f/ρ} = prox_{(1−α)/ρ‖·‖∞} ∘ soft(·, α/ρ)``; the ℓ∞ prox is ``sign(x)·min(|x|, θ)`` with
    ``θ`` the threshold of the Euclidean projection of ``|x|`` onto the ℓ₁ ball of radius ``(1−α)/ρ``
    (``θ = 0`` inside the ball). For one model this is soft-thresholding by ``1/ρ``.
    """
    a = y.abs()
    if y.shape[0] == 1:
        out = torch.sign(y) * torch.clamp(a - 1.0 / rho, min=0)
    else:
        a = torch.clamp(a - alpha / rho, min=0)
        radius = (1.0 - alpha) / rho
        s = _descending(a)
        k = torch.arange(1, y.shape[0] + 1, dtype=y.dtype, device=y.device).reshape(-1, *([1] * (y.dim() - 1)))
        theta_k = (s.cumsum(0) - radius) / k
        count = (s > theta_k).sum(0, keepdim=True).clamp(min=1)
        theta = torch.clamp(theta_k.gather(0, count - 1), min=0)
        out = torch.sign(y) * torch.minimum(a, theta)
    out[..., 0] = y[..., 0]
    return out


def dual_norm(c: torch.Tensor, alpha: float) -> torch.Tensor:
    """``f°(c) = max_k S_k / (1 − α + kα)`` over the model axis 0, ``S_k`` the sum of the ``k`` largest ``|c_i|``."""
    if c.shape[0] == 1:
        return c[0].abs()
    s = _descending(c.abs()).cumsum(0)
    k = torch.arange(1, c.shape[0] + 1, dtype=c.dtype, device=c.device).reshape(-1, *([1] * (c.dim() - 1)))
    return (s / (1.0 - alpha + alpha * k)).amax(0)


def objective(u_and: torch.Tensor, u_or: torch.Tensor, n: int, alpha: float) -> torch.Tensor:
    """``Σ_{T≠∅} f(I_and[:, T]) + f(I_or[:, T])`` of the splits ``(u_and, u_or)`` of shape ``(m, B, 2**n)`` → ``(B,)``."""
    total = 0
    for x in (mobius(u_and, n), mobius(_flip(u_or), n)):
        a = x[..., 1:].abs()
        total = total + ((1.0 - alpha) * a.amax(0) + alpha * a.sum(0)).sum(-1)
    return total


def dual_bound(
    lam: torch.Tensor,
    mu: torch.Tensor | None,
    v: torch.Tensor,
    zeta: torch.Tensor,
    beta: torch.Tensor | None,
    n: int,
    alpha: float,
) -> torch.Tensor:
    """A certified lower bound on the optimum from any multiplier guesses ``λ``, ``μ`` (module doc).

    ``μ`` is centred over the models and then over subsets, ``λ`` over subsets; both are divided by
    ``max(1, f°)`` over every ``T ≠ ∅`` of both types. The bound is ``max(0, D)`` (``0`` is always a
    bound: the objective is a sum of norms). Shapes ``(m, B, 2**n)``; ``zeta``, ``beta`` ``(m, B)``.
    """
    lam = lam - lam.mean(-1, keepdim=True)
    if mu is None:
        p_and = p_or = lam
    else:
        mu = mu - mu.mean(0, keepdim=True)
        mu = mu - mu.mean(-1, keepdim=True)
        p_and, p_or = lam + mu / 2, lam - mu / 2
    scale = torch.maximum(
        dual_norm(zeta_t(p_and, n)[..., 1:], alpha).amax(-1),
        dual_norm(zeta_t(_flip(p_or), n)[..., 1:], alpha).amax(-1),
    )
    value = ((lam * v).sum(-1) - zeta * lam.abs().sum(-1)).sum(0)
    if mu is not None:
        value = value - (beta * mu.abs().sum(-1)).sum(0)
    return torch.clamp(value / torch.clamp(scale, min=1.0), min=0.0)


def _best_bound(
    lam: torch.Tensor,
    mu: torch.Tensor | None,
    v: torch.Tensor,
    zeta: torch.Tensor,
    beta: torch.Tensor | None,
    n: int,
    alpha: float,
) -> torch.Tensor:
    """:func:`dual_bound` of ``(λ, μ)`` and of ``(−λ, −μ)``, whichever is larger (the signs depend on the splitting)."""
    return torch.maximum(
        *(dual_bound(s * lam, None if mu is None else s * mu, v, zeta, beta, n, alpha) for s in (1, -1))
    )


def feasible(
    u_and: torch.Tensor, q: torch.Tensor, v: torch.Tensor, beta: torch.Tensor | None, centre: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Move the splits ``γ_i = u_and_i − ½(v_i + q_i)`` into boxes ``|γ_i − γ_shared| ≤ β_i``.

    ``γ_shared`` is ``centre`` clipped to the interval ``[max_i(γ_i − β_i), min_i(γ_i + β_i)]`` where it
    is non-empty, its midpoint otherwise; each ``γ_i`` is then clipped to ``γ_shared ± β_i``. Points
    that are feasible stay unchanged. Returns the new ``u_and`` and ``γ_shared`` (``None`` without boxes).
    """
    if beta is None:
        return u_and, None
    half = (v + q) / 2
    gamma = u_and - half
    b = beta[..., None]
    lo, hi = (gamma - b).amax(0), (gamma + b).amin(0)
    g = torch.where(lo <= hi, torch.minimum(torch.maximum(centre, lo), hi), (lo + hi) / 2)
    gamma = torch.minimum(torch.maximum(gamma, g - b), g + b)
    return half + gamma, g


@dataclass
class Start:
    """An initial point in the solver's units (centred and scaled values): per model ``u_and``, ``u_or``
    and ``noise`` ``(m, B, 2**n)``, and ``gamma_shared`` ``(B, 2**n)`` (``None``: zero).

    Only the primal point is warm-started; the multipliers start at zero. (Resuming the final
    multipliers of an earlier run as well was measured and rejected: on games changed by 3-8 %
    it took 20-30 % more iterations than a cold start.)
    """

    u_and: torch.Tensor
    u_or: torch.Tensor
    noise: torch.Tensor
    gamma_shared: torch.Tensor | None = None


class _Iterates:
    """The ADMM state of the samples still iterating (module doc, "Algorithm").

    The smooth block ``x1 = u_and``, ``x2 = u_or``, ``x3 = q``, ``g = γ_shared``; the splittings
    ``z1 = M x1``, ``z2 = M F x2``, ``z3 = q`` (in the box ``ζ``), ``z4 = ½(x1 − x2) − g`` (in the
    box ``β``); the scaled multipliers ``w0`` (of ``x1 + x2 − x3 = v``), ``w1 … w4`` (of the
    splittings); the penalty ``rho`` ``(B, 1)``. Arrays are ``(m, B, 2**n)``; ``g`` is ``(B, 2**n)``.
    """

    NAMES = ("x1", "x2", "x3", "z1", "z2", "z3", "w0", "w1", "w2", "w3")
    BOXED = ("z4", "w4")

    def __init__(self, boxed: bool, **arrays: torch.Tensor):
        self.boxed = boxed
        for name, value in arrays.items():
            setattr(self, name, value)

    def names(self) -> tuple[str, ...]:
        return self.NAMES + (self.BOXED if self.boxed else ())

    def keep(self, mask: torch.Tensor) -> None:
        """Drop the samples where ``mask`` is false."""
        for name in self.names():
            setattr(self, name, getattr(self, name)[:, mask])
        self.rho = self.rho[mask]
        if self.boxed:
            self.g = self.g[mask]

    def flush(self) -> None:
        _flush_tiny(*(getattr(self, name) for name in self.names()), *((self.g,) if self.boxed else ()))

    def to(self, dtype: torch.dtype) -> None:
        """Continue in ``dtype``."""
        for name in self.names() + (("g", "rho") if self.boxed else ("rho",)):
            setattr(self, name, getattr(self, name).to(dtype))


def _start(v: torch.Tensor, beta: torch.Tensor | None, rho: float, n: int, start: Start | None) -> _Iterates:
    """The first iterate: the fixed split ``u_and = u_or = v/2``, or ``start``; zero multipliers.

    A warm start sets the smooth block to the given point and each splitting to its value there.
    """
    boxed = beta is not None
    batch = v.shape[1]
    if start is None:
        x1, x2, x3 = v / 2, v / 2, torch.zeros_like(v)
        g = torch.zeros_like(v[0]) if boxed else None
    else:
        x1, x2, x3 = (t.to(v.dtype) for t in (start.u_and, start.u_or, start.noise))
        g = None
        if boxed:
            g = torch.zeros_like(v[0]) if start.gamma_shared is None else start.gamma_shared.to(v.dtype)
    rho_b = torch.full((batch, 1), float(rho), dtype=v.dtype, device=v.device)
    s = _Iterates(
        boxed,
        x1=x1,
        x2=x2,
        x3=x3,
        z1=mobius(x1, n),
        z2=mobius(_flip(x2), n),
        z3=x3.clone(),
        rho=rho_b,
    )
    zero = torch.zeros_like(v)
    s.w0, s.w1, s.w2, s.w3 = zero, zero.clone(), zero.clone(), zero.clone()
    if boxed:
        s.g, s.z4, s.w4 = g, (x1 - x2) / 2 - g, zero.clone()
    return s


def _smooth_step(s: _Iterates, v: torch.Tensor, inverse: _NormalInverse, dw: torch.Tensor | None, n: int) -> None:
    """Minimise the augmented Lagrangian over ``(x1, x2, x3, g)`` by one symmetric Gauss-Seidel sweep.

    With ``r1 = MᵀD(z1 − w1) + v − w0`` and ``r2 = F MᵀD(z2 − w2) + v − w0`` the stationarity
    conditions read (module doc, "Algorithm")::

        (cI + MᵀDM) x1 = r1 − (1 − ¼[boxed]) x2 + x3 + ½ e·[boxed]
        F(cI + MᵀDM)F x2 = r2 − (1 − ¼[boxed]) x1 + x3 − ½ e·[boxed]
        2 x3 = (w0 − v) + (z3 − w3) + x1 + x2
        g = mean_i(½(x1 − x2) − z4 + w4)

    with ``e = g + z4 − w4``: the box splitting ``z4 = ½(x1 − x2) − g`` adds ``¼ x1`` to the
    ``x1`` equation (so ``c = 1 + ¼``) and ``−¼ x2`` to the coupling (hence ``1 − ¼ = 0.75``).
    The sweep goes ``g, x3, x2`` backwards, then ``x1, x2, x3, g`` forwards.
    """
    r1 = mobius_t(_weigh(dw, s.z1 - s.w1), n) + (v - s.w0)
    r2 = _flip(mobius_t(_weigh(dw, s.z2 - s.w2), n)) + (v - s.w0)
    r3 = (s.w0 - v) + (s.z3 - s.w3)
    if s.boxed:
        s.g = ((s.x1 - s.x2) / 2 - s.z4 + s.w4).mean(0)
        e = s.g + s.z4 - s.w4
        s.x3 = (r3 + s.x1 + s.x2) / 2
        s.x2 = _flip(inverse(_flip(r2 - 0.75 * s.x1 + s.x3 - e / 2)))
        s.x1 = inverse(r1 - 0.75 * s.x2 + s.x3 + e / 2)
        s.x2 = _flip(inverse(_flip(r2 - 0.75 * s.x1 + s.x3 - e / 2)))
        s.x3 = (r3 + s.x1 + s.x2) / 2
        s.g = ((s.x1 - s.x2) / 2 - s.z4 + s.w4).mean(0)
    else:
        s.x3 = (r3 + s.x1 + s.x2) / 2
        s.x2 = _flip(inverse(_flip(r2 - s.x1 + s.x3)))
        s.x1 = inverse(r1 - s.x2 + s.x3)
        s.x2 = _flip(inverse(_flip(r2 - s.x1 + s.x3)))
        s.x3 = (r3 + s.x1 + s.x2) / 2


def _splitting_step(
    s: _Iterates,
    v: torch.Tensor,
    zeta: torch.Tensor,
    beta: torch.Tensor | None,
    penalty: torch.Tensor,
    alpha: float,
    relax: float,
    n: int,
) -> None:
    """Over-relax the smooth block's images, take the proximal maps of the splittings and update the multipliers."""
    h1 = relax * mobius(s.x1, n) + (1 - relax) * s.z1
    h2 = relax * mobius(_flip(s.x2), n) + (1 - relax) * s.z2
    h3 = relax * s.x3 + (1 - relax) * s.z3
    s.z1, s.z2 = prox_coupled(h1 + s.w1, penalty, alpha), prox_coupled(h2 + s.w2, penalty, alpha)
    s.z3 = torch.maximum(torch.minimum(h3 + s.w3, zeta), -zeta)
    s.w0 = s.w0 + relax * (s.x1 + s.x2 - s.x3 - v)
    s.w1, s.w2, s.w3 = s.w1 + h1 - s.z1, s.w2 + h2 - s.z2, s.w3 + h3 - s.z3
    if s.boxed:
        h4 = relax * ((s.x1 - s.x2) / 2 - s.g) + (1 - relax) * s.z4
        s.z4 = torch.maximum(torch.minimum(h4 + s.w4, beta), -beta)
        s.w4 = s.w4 + h4 - s.z4


class _Halpern:
    """Halpern's anchored iteration with restarts around the ADMM step (module doc, "Acceleration").

    After every step the state ``s ← s + (s₀ − s)/(k + 2)`` moves back towards the anchor ``s₀``
    (the state at the sample's last restart, ``k`` the steps since). At every check the fixed-point
    residual ``r = ‖T(s) − s‖`` of the splittings and multipliers decides a restart per sample: when
    ``r`` fell below :data:`RESTART_SUFFICIENT` of its value at the last restart, or below
    :data:`RESTART_NECESSARY` of it while growing again since the previous check, and at the latest
    after :data:`RESTART_LONG` of all iterations so far. ``ρ`` is fixed, except that a sample whose
    gap stalls gets a :data:`RHO_BOOST` times larger one (:meth:`boost`): measured on real games, a
    penalty that follows the residuals (balancing, or the ratio of the dual and primal movements)
    drifts away from the ``ρ`` that suits most of them (8 at ``n = 10``) and doubles the iterations,
    while a few games (their multipliers drifting at a constant rate) need a larger one.
    """

    #: the arrays whose change measures the fixed-point residual
    RESIDUAL = ("z1", "z2", "z3", "w0", "w1", "w2", "w3", "z4", "w4")
    #: the scaled multipliers, divided by the factor of ``ρ`` so that ``ρ·w`` is unchanged
    MULTIPLIERS = ("w0", "w1", "w2", "w3", "w4")

    def __init__(self, s: _Iterates):
        self.names = s.names() + (("g",) if s.boxed else ())
        self.anchor = {name: getattr(s, name).clone() for name in self.names}
        batch, device = s.rho.shape[0], s.rho.device
        self.k = torch.zeros(batch, dtype=s.rho.dtype, device=device)
        self.r0 = torch.full_like(self.k, float("inf"))
        self.previous = self.r0.clone()
        self.total = 0
        self.rho_max = (float(s.rho.flatten()[0]) if batch else 1.0) * RHO_BOOST**RHO_BOOSTS

    def average(self, s: _Iterates) -> None:
        """One anchored step: every state array moves ``1/(k + 2)`` of the way back to its anchor."""
        self.total += 1
        weight = 1.0 / (self.k + 2.0)
        for name in self.names:
            getattr(s, name).lerp_(self.anchor[name], weight[:, None] if name == "g" else weight[None, :, None])
        self.k += 1

    def snapshot(self, s: _Iterates) -> dict[str, torch.Tensor]:
        """Copies of the arrays of the residual, before a step."""
        return {name: getattr(s, name).clone() for name in self.RESIDUAL if name in self.names}

    def restart(self, s: _Iterates, before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> None:
        """Restart where due after the step ``before → after``."""
        r = torch.sqrt(sum(_sq(after[name] - before[name]) for name in before))
        first = torch.isinf(self.r0)
        self.r0 = torch.where(first, r, self.r0)
        due = (r <= RESTART_SUFFICIENT * self.r0) | ((r <= RESTART_NECESSARY * self.r0) & (r > self.previous))
        due |= self.k >= RESTART_LONG * self.total
        due &= ~first
        self.previous = r
        self._anchor(s, due, r)

    def boost(self, s: _Iterates, which: torch.Tensor) -> None:
        """Multiply ``ρ`` by :data:`RHO_BOOST` for the samples ``which`` (their gaps stalled) and restart them there."""
        factor = torch.where(which & (s.rho[:, 0] * RHO_BOOST <= self.rho_max), RHO_BOOST, 1.0).to(s.rho.dtype)
        s.rho = s.rho * factor[:, None]
        for name in self.MULTIPLIERS:
            if name in self.names:
                setattr(s, name, getattr(s, name) / factor[None, :, None])
        self._anchor(s, factor > 1, torch.full_like(self.r0, float("inf")))

    def _anchor(self, s: _Iterates, due: torch.Tensor, r: torch.Tensor) -> None:
        """Make the current state the anchor of the samples ``due``, with ``r`` their new reference residual."""
        if not bool(due.any()):
            return
        for name in self.names:
            anchor, now = self.anchor[name], getattr(s, name)
            if name == "g":
                anchor[due] = now[due]
            else:
                anchor[:, due] = now[:, due]
        self.k[due], self.r0[due], self.previous[due] = 0.0, r[due], float("inf")

    def keep(self, mask: torch.Tensor) -> None:
        """Drop the samples where ``mask`` is false."""
        self.anchor = {name: a[mask] if name == "g" else a[:, mask] for name, a in self.anchor.items()}
        self.k, self.r0, self.previous = self.k[mask], self.r0[mask], self.previous[mask]

    def to(self, dtype: torch.dtype) -> None:
        """Continue in ``dtype``."""
        self.anchor = {name: a.to(dtype) for name, a in self.anchor.items()}
        self.k, self.r0, self.previous = self.k.to(dtype), self.r0.to(dtype), self.previous.to(dtype)


def _rebalance(
    s: _Iterates, v: torch.Tensor, z_old: tuple[torch.Tensor | None, ...], dw: torch.Tensor | None, n: int
) -> None:
    """Residual balancing (several models): double ``ρ`` where the primal residual exceeds 10× the dual one,
    halve it in the opposite case (rescaling the multipliers ``w`` so that ``ρ·w`` is unchanged)."""
    root = None if dw is None else dw.sqrt()
    primal_sq = _sq(s.x1 + s.x2 - s.x3 - v) + _sq(_weigh(root, mobius(s.x1, n) - s.z1))
    primal_sq = primal_sq + _sq(_weigh(root, mobius(_flip(s.x2), n) - s.z2)) + _sq(s.x3 - s.z3)
    dual_sq = _sq(mobius_t(_weigh(dw, s.z1 - z_old[0]), n)) + _sq(mobius_t(_weigh(dw, s.z2 - z_old[1]), n))
    dual_sq = dual_sq + _sq(s.z3 - z_old[2])
    if s.boxed:
        primal_sq = primal_sq + _sq((s.x1 - s.x2) / 2 - s.g - s.z4)
        dual_sq = dual_sq + _sq(s.z4 - z_old[3])
    primal_res, dual_res = torch.sqrt(primal_sq), s.rho[:, 0] * torch.sqrt(dual_sq)
    factor = torch.where(primal_res > 10 * dual_res, 2.0, torch.where(dual_res > 10 * primal_res, 0.5, 1.0))
    factor = factor[:, None].to(s.rho.dtype)
    s.rho = s.rho * factor
    for name in ("w0", "w1", "w2", "w3") + (("w4",) if s.boxed else ()):
        setattr(s, name, getattr(s, name) / factor)


def _certify(
    s: _Iterates,
    v: torch.Tensor,
    zeta: torch.Tensor,
    beta: torch.Tensor | None,
    penalty: torch.Tensor,
    alpha: float,
    n: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """A feasible point, its objective and a dual bound, in the precision of ``v`` (module doc, "Certificate").

    ``v`` ``(m, B, 2**n)``, ``zeta`` and ``beta`` ``(m, B)``. Returns ``(u_and, q, γ_shared, P, D)``.
    """
    dtype = v.dtype
    q = torch.minimum(torch.maximum(s.z3.to(dtype), -zeta[..., None]), zeta[..., None])
    u_and, g = feasible(s.x1.to(dtype), q, v, beta, s.g.to(dtype) if s.boxed else None)
    p = objective(u_and, v + q - u_and, n, alpha)
    lam = (s.rho * s.w0).to(dtype)
    mu = (s.rho * s.w4).to(dtype) if s.boxed else None
    bound = _best_bound(lam, mu, v, zeta, beta, n, alpha)
    # the multipliers of the interaction splittings give other guesses (often better ones, always with d < 1)
    y1 = mobius_t(penalty * s.w1, n).to(dtype)
    y2 = _flip(mobius_t(penalty * s.w2, n)).to(dtype)
    guesses = [((y1 + y2) / 2, y1 - y2)] if s.boxed else [(y1, None), (y2, None), ((y1 + y2) / 2, None)]
    for lam_s, mu_s in guesses:
        bound = torch.maximum(bound, _best_bound(lam_s, mu_s, v, zeta, beta, n, alpha))
    return u_and, q, g, p, bound


def _flat_games(v: torch.Tensor, zeta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples whose optimum is zero, and the constant ``c`` that solves them (``(m, B)``).

    When every model's values lie within ``±ζ_i`` of a constant ``c_i`` (``max − min ≤ 2ζ_i``), the
    noise ``q_i = c_i − v_i`` flattens the game and the split ``u_and = u_or = c/2`` has no
    interaction at all: objective 0, the optimum.
    """
    top, low = v.amax(-1), v.amin(-1)
    return ((top - low) / 2 <= zeta).all(0), (top + low) / 2


class _Data:
    """The samples still iterating, in the precision of the iterations: values ``v``, boxes ``zeta`` and
    ``beta`` (with a trailing axis), the metric ``d``, its weights ``dw`` and the normal inverse.
    ``exact`` keeps ``(v, ζ, β)`` in the caller's precision for the certificate."""

    def __init__(self, exact: tuple, metric: torch.Tensor, n: int, c: float, dtype: torch.dtype):
        self.exact, self.metric, self.n, self.c = exact, metric, n, c
        self.to(dtype)

    def to(self, dtype: torch.dtype) -> None:
        """Make the arrays of the iterations in ``dtype``."""
        v, zeta, beta = self.exact
        self.v, self.zeta = v.to(dtype), zeta.to(dtype)[..., None]
        self.beta = None if beta is None else beta.to(dtype)[..., None]
        self.d = self.metric.to(dtype)
        self.inverse = _NormalInverse(self.n, self.c, self.d, self.v)
        o = torch.as_tensor(orders(self.n), dtype=dtype, device=v.device)
        self.dw = None if bool((self.d == 1).all()) else self.d[:, None] ** o

    def keep(self, mask: torch.Tensor) -> None:
        """Drop the samples where ``mask`` is false."""
        self.exact = tuple(None if t is None else t[:, mask] for t in self.exact)
        self.metric, self.d = self.metric[mask], self.d[mask]
        self.v, self.zeta = self.v[:, mask], self.zeta[:, mask]
        self.beta = None if self.beta is None else self.beta[:, mask]
        self.dw = None if self.dw is None or bool((self.d == 1).all()) else self.dw[mask]
        self.inverse.keep(mask)

    def penalty(self, rho: torch.Tensor) -> torch.Tensor:
        """``ρ·d**|T|``: the thresholds of the prox are its inverse."""
        return _weigh(self.dw, rho)


class _Stall:
    """Which samples have stalled: their relative gap fell by less than :data:`STALL_PROGRESS` over the
    last :data:`STALL_WINDOW` iterations."""

    def __init__(self, batch: int, device: torch.device):
        self.mark = torch.full((batch,), float("inf"), dtype=torch.float64, device=device)
        self.since = 0

    def keep(self, mask: torch.Tensor) -> None:
        self.mark = self.mark[mask]

    def reset(self, it: int) -> None:
        """Start a new window at iteration ``it``, with no marks."""
        self.mark, self.since = torch.full_like(self.mark, float("inf")), it

    def update(self, it: int, gap: torch.Tensor) -> torch.Tensor | None:
        """Record the relative gaps at iteration ``it``; the stalled samples once a window is over, else ``None``."""
        if it - self.since < STALL_WINDOW:
            return None
        stalled = gap > (1.0 - STALL_PROGRESS) * self.mark
        self.mark, self.since = gap.clone(), it
        return stalled


def solve(
    v: torch.Tensor,
    zeta: torch.Tensor,
    n: int,
    beta: torch.Tensor | None = None,
    alpha: float = 1.0,
    tol: float = 1e-3,
    max_iter: int = 20000,
    rho: float | None = None,
    relax: float | None = None,
    check: int = 25,
    progress: Any = None,
    dtype: torch.dtype | None = None,
    metric: float | None = None,
    atol: torch.Tensor | float = 0.0,
    start: Start | None = None,
) -> Solution:
    """Solve the problem of the module doc for ``v`` ``(m, B, 2**n)``, ``zeta`` and ``beta`` ``(m, B)``.

    ``v`` must already be centred and scaled (``v[..., 0] == 0``, values of order 1): the
    callers (:func:`interprim.sparse_and_or`, :func:`interprim.generalizable_and_or`) do that.
    ``beta=None`` drops the ``γ`` boxes (the sparse method, or unbounded specific parts). A sample
    stops when its certified gap ``P − D`` is at most ``tol·P`` or ``atol`` (a number or one per
    sample), or at once when its optimum is zero (:func:`_flat_games`). Returns the best certified
    point per sample; ``progress``, if given, is called with the number of samples that finished at
    each check. ``dtype`` (default: that of ``v``) is the precision in which the iterations start,
    e.g. ``torch.float32``; they move to the precision of ``v`` when they stall (module doc,
    "Precision"). Feasible points, objectives and bounds are always computed in the precision of
    ``v``, so the certificate does not depend on it. ``metric`` fixes ``d`` for every sample
    (default: ``1``, or :data:`NOISE_FREE_METRIC` for nearly noise-free samples). ``start`` is a
    warm start (:class:`Start`). ``rho`` (the first penalty) and ``relax`` default to
    :data:`RHO_ONE_MODEL` ``·2**((10 − n)/2)`` and ``2`` for one model (Halpern's iteration) and to
    :data:`RHO_MODELS` and ``1.9`` for several (module doc).
    """
    m, batch, size = v.shape
    rho = (RHO_ONE_MODEL * 2 ** ((10 - n) / 2) if m == 1 else RHO_MODELS) if rho is None else rho
    relax = (2.0 if m == 1 else 1.9) if relax is None else relax
    boxed = beta is not None and m > 1
    if not boxed:
        beta = None
    dtype = v.dtype if dtype is None else dtype
    atol = torch.broadcast_to(torch.as_tensor(atol, dtype=v.dtype, device=v.device), (batch,))

    # the best certified point so far: the fixed split, or the start when it is better
    best_u, best_q = v / 2, torch.zeros_like(v)
    best_g = torch.zeros_like(v[0]) if boxed else None
    best_p = objective(best_u, v - best_u, n, alpha)
    if start is not None:
        q0 = torch.minimum(torch.maximum(start.noise, -zeta[..., None]), zeta[..., None])
        u0, g0 = feasible(start.u_and, q0, v, beta, start.gamma_shared if boxed else None)
        p0 = objective(u0, v + q0 - u0, n, alpha)
        better = p0 < best_p
        best_u[:, better], best_q[:, better], best_p[better] = u0[:, better], q0[:, better], p0[better]
        if boxed:
            best_g[better] = g0[better]
    best_d = torch.zeros(batch, dtype=v.dtype, device=v.device)
    flat, level = _flat_games(v, zeta)
    best_u[:, flat] = level[:, flat, None] / 2
    best_q[:, flat] = level[:, flat, None] - v[:, flat]
    best_p[flat] = 0.0
    if boxed:
        best_g[flat] = 0.0
    iterations = torch.zeros(batch, dtype=torch.int64, device=v.device)
    done = (best_p <= 0) | (best_p <= atol)
    if progress is not None and bool(done.any()):
        progress(int(done.sum()))

    active = torch.nonzero(~done).flatten()
    exact = (v[:, active], zeta[:, active], beta[:, active] if boxed else None)
    if metric is None:
        peak = exact[0].abs().amax(-1)
        noise_free = ((exact[1] < NOISE_FREE_BELOW * peak) & (peak <= NOISE_FREE_PEAK)).any(0)
        d = torch.where(noise_free, NOISE_FREE_METRIC, 1.0).to(v.dtype)
    else:
        d = torch.full((active.numel(),), float(metric), dtype=v.dtype, device=v.device)
    data = _Data(exact, d, n, 1.25 if boxed else 1.0, dtype)
    s = _start(data.v, data.beta, rho, n, None if start is None else _select(start, active, dtype))
    halpern = _Halpern(s) if m == 1 else None
    promote = dtype != v.dtype  # iterations in a lower precision move to that of v once they stall
    stall = _Stall(active.numel(), v.device)
    it = 0
    while active.numel() and it < max_iter:
        it += 1
        last = it % check == 0 or it == max_iter
        before = halpern.snapshot(s) if last and halpern else None
        _smooth_step(s, data.v, data.inverse, data.dw, n)
        z_old = (s.z1, s.z2, s.z3, s.z4 if boxed else None) if last else None
        _splitting_step(s, data.v, data.zeta, data.beta, data.penalty(s.rho), alpha, relax, n)
        if halpern:
            after = halpern.snapshot(s) if last else None
            halpern.average(s)
        if not last:
            continue
        # entries that decay geometrically to zero would become subnormal and slow every operation
        s.flush()
        u_and, q, g_feasible, p, bound = _certify(s, *data.exact, data.penalty(s.rho), alpha, n)
        better = p < best_p[active]
        best_u[:, active[better]] = u_and[:, better]
        best_q[:, active[better]] = q[:, better]
        if boxed:
            best_g[active[better]] = g_feasible[better]
        best_p[active] = torch.minimum(best_p[active], p)
        best_d[active] = torch.maximum(best_d[active], bound)
        iterations[active] = it
        gap = best_p[active] - best_d[active]
        if halpern:
            halpern.restart(s, before, after)
        else:
            _rebalance(s, data.v, z_old, data.dw, n)
        finished = (gap <= tol * best_p[active]) | (gap <= atol[active])
        if finished.any():
            done[active[finished]] = True
            keep = ~finished
            active = active[keep]
            s.keep(keep)
            if halpern:
                halpern.keep(keep)
            data.keep(keep)
            stall.keep(keep)
            if progress is not None:
                progress(int(finished.sum()))
        stalled = stall.update(it, gap[~finished] / best_p[active]) if active.numel() else None
        if stalled is None:
            continue
        if not promote:
            if halpern:
                halpern.boost(s, stalled)
        elif 2 * int(stalled.sum()) >= stalled.numel():  # float32 rounding holds up half of the samples
            promote = False
            s.to(v.dtype)
            if halpern:
                halpern.to(v.dtype)
            data.to(v.dtype)
            stall.reset(it)
    return Solution(best_u, best_q, best_g, best_p, torch.minimum(best_d, best_p), iterations, done)


def _select(start: Start, index: torch.Tensor, dtype: torch.dtype) -> Start:
    """The samples ``index`` of a start, in ``dtype``."""
    g = None if start.gamma_shared is None else start.gamma_shared[index].to(dtype)
    return Start(*(t[:, index].to(dtype) for t in (start.u_and, start.u_or, start.noise)), g)
