"""The published SGD procedure for sparse and generalizable AND-OR interactions — a baseline.

This module reproduces how the papers extract interactions (SPEC §3, "the published procedure";
P1 App. D after Li & Zhang 2023; P2 §3.3 and App. N), so that results can be compared with it. It
is **not** the reference: plain subgradient descent on a non-smooth objective stops above the
optimum (on real games 35-70 % above it after 20 000 steps, SPEC §3); the certified solvers of
:mod:`interprim.extract.admm` and :mod:`interprim.extract.lp` give the optimum.

Notation (SPEC §2-3): ``M`` is the Möbius transform as a dense ``2**n × 2**n`` matrix,
``M[T, L] = (−1)^{|T|−|L|}`` if ``L ⊆ T`` else 0; ``F`` reverses the bitmask axis (``S ↦ N \\ S``).

**Traditional** (SPEC §3.3, P2 Eq. 4). For every sample, with ``u_and = ½(v + q) + γ`` and
``u_or = ½(v + q) − γ``, ``I_and = M u_and`` and ``I_or = −M F u_or``, minimise
``Σ_{T≠∅} |I_and(T)| + |I_or(T)|`` over ``γ`` and ``q`` with ``|q[S]| ≤ ζ``:

- ``γ = q = 0`` at the start (the fixed split ``u_and = u_or = v/2``);
- ``torch.optim.SGD`` with momentum 0.9 on the loss summed over the batch (samples are
  independent, so each sample gets its own gradient);
- the learning rate of step ``t = 0 … T−1`` decays log-uniformly from ``lr`` to ``lr/10``:
  ``lr_t = lr · 10^(−t/(T−1))`` (:func:`log_uniform_lr`);
- after every step ``q`` is clipped to ``[−ζ, ζ]``.

**Generalizable** (SPEC §3.4, P2 Eq. 5-6). ``m`` models explain the same sample; model ``i`` has
``γ_i = γ_shared + γ̃_i`` and noise ``q_i``. With ``X_type[i, T] = |I_type^(i)(T)|`` the loss is
``Σ_type Σ_{T≠∅} (1−α)·max_i X_type[i, T] + α·Σ_i X_type[i, T]``. All variables start at zero, the
learning rate is constant, and after every step ``q_i`` is clipped to ``±ζ_i`` and ``γ̃_i`` to
``±β_i``.

Departures from the released code, all on the side of SPEC §3: the empty set is left out of the
loss (the code also penalised ``|I_and(∅)|`` and ``|u_or(∅)|``); ``iterations`` counts steps (the
code evaluated ``niter`` times and stepped ``niter − 1`` times); ties in ``max_i`` share the
subgradient evenly (``torch.amax``) instead of giving it to one model.

Published learning rates: ``1e-7`` for text (BERT on SST-2, 20 000 steps); ``1e-5`` for images
(10 000 steps) in Li & Zhang's release; SPEC §3.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._array import check_memory

MAX_DENSE_PLAYERS = 14  # a dense 2**14 × 2**14 matrix is 2 GiB in float64
_PROGRESS_CHUNKS = 100  # the progress callback is called about this many times per run


@dataclass
class SGDSolution:
    """What :func:`solve_sparse_sgd` returns for a batch of ``B`` samples.

    ``u_and`` and ``noise`` have shape ``(B, 2**n)`` (``u_or = v + noise − u_and``); ``objective``
    ``(B,)`` is the loss at the returned point; ``trajectory`` ``(k, B)`` is the loss after the
    steps listed in ``trajectory_iterations`` ``(k,)``, or ``None`` when nothing was recorded.
    """

    u_and: torch.Tensor
    noise: torch.Tensor
    objective: torch.Tensor
    trajectory: torch.Tensor | None
    trajectory_iterations: torch.Tensor | None


@dataclass
class GeneralizableSGDSolution:
    """What :func:`solve_generalizable_sgd` returns for ``m`` models and ``B`` samples.

    ``u_and``, ``noise`` and ``gamma_specific`` have shape ``(m, B, 2**n)``, ``gamma_shared``
    ``(B, 2**n)``; ``objective`` ``(B,)`` is the generalizable loss at the returned point;
    ``trajectory`` ``(k, B)`` and ``trajectory_iterations`` ``(k,)`` as in :class:`SGDSolution`.
    """

    u_and: torch.Tensor
    noise: torch.Tensor
    gamma_shared: torch.Tensor
    gamma_specific: torch.Tensor
    objective: torch.Tensor
    trajectory: torch.Tensor | None
    trajectory_iterations: torch.Tensor | None


# ---------------------------------------------------------------------------------------------
# The dense transform and the two losses
# ---------------------------------------------------------------------------------------------


def dense_mobius(n: int, dtype: torch.dtype = torch.float64, device: Any = None) -> torch.Tensor:
    """The Möbius transform as a dense matrix: ``M[T, L] = (−1)^{|T|−|L|}`` if ``L ⊆ T`` else 0.

    ``M = ⊗ⁿ [[1, 0], [−1, 1]]`` in bitmask order, so ``M @ u`` are the AND interactions of ``u``
    (SPEC §2). This is what the published procedure multiplies by; it takes ``4**n`` entries,
    hence ``n ≤ 14``. The library's own transforms (:mod:`interprim.transforms`) never build it.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer (the number of players), got {n!r}.")
    if n > MAX_DENSE_PLAYERS:
        raise ValueError(
            f"n={n} players: the dense Möbius matrix of the published procedure has 4**{n} entries "
            f"({4**n * torch.empty((), dtype=dtype).element_size() / 2**30:.0f} GiB); it is built for "
            f"n ≤ {MAX_DENSE_PLAYERS} only. Use the certified solvers (solver='admm'), which need O(2**n) memory."
        )
    probe = torch.empty((), dtype=dtype, device=device)
    check_memory("dense_mobius", int(n), 2**n, probe.element_size(), 1.0, probe)
    factor = torch.tensor([[1.0, 0.0], [-1.0, 1.0]], dtype=dtype, device=device)
    matrix = torch.ones((1, 1), dtype=dtype, device=device)
    for _ in range(n):
        matrix = torch.kron(matrix, factor)
    return matrix


def log_uniform_lr(lr: float, iterations: int) -> np.ndarray:
    """Learning rates of the traditional procedure: ``lr_t = lr · 10^(−t/(T−1))`` for ``t = 0 … T−1``.

    Log-uniform from ``lr`` down to ``lr/10`` over ``T = iterations`` steps; ``[lr]`` for one step
    and empty for none. Returned as float64.
    """
    lr = _positive("lr", lr)
    iterations = _count("iterations", iterations)
    if iterations == 1:
        return np.array([lr])
    t = np.arange(iterations, dtype=np.float64)
    return lr * 10.0 ** (-t / (iterations - 1))


def _interactions(u_and: torch.Tensor, u_or: torch.Tensor, mobius_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``I_and = M u_and`` and ``I_or = −M F u_or`` over the last axis; ``mobius_t`` is ``Mᵀ``."""
    return u_and @ mobius_t, -(u_or.flip(-1) @ mobius_t)


def sparse_loss(v: torch.Tensor, gamma: torch.Tensor, q: torch.Tensor, mobius_t: torch.Tensor) -> torch.Tensor:
    """The traditional loss ``Σ_{T≠∅} |I_and(T)| + |I_or(T)|`` per sample (SPEC §3.3, P2 Eq. 4).

    ``u_and = ½(v + q) + γ``, ``u_or = ½(v + q) − γ``; all of shape ``(..., 2**n)``; ``mobius_t``
    is the transposed :func:`dense_mobius`. Returns shape ``(...)``; differentiable.
    """
    half = 0.5 * (v + q)
    i_and, i_or = _interactions(half + gamma, half - gamma, mobius_t)
    return i_and[..., 1:].abs().sum(-1) + i_or[..., 1:].abs().sum(-1)


def generalizable_loss(
    v: torch.Tensor,
    gamma_shared: torch.Tensor,
    gamma_specific: torch.Tensor,
    q: torch.Tensor,
    alpha: float,
    mobius_t: torch.Tensor,
) -> torch.Tensor:
    """The generalizable loss of ``m`` models per sample (SPEC §3.4, P2 Eq. 6).

    With ``γ_i = γ_shared + γ̃_i``, ``u_and^(i) = ½(v_i + q_i) + γ_i``, ``u_or^(i) = ½(v_i + q_i) − γ_i``
    and ``X_type[i, T] = |I_type^(i)(T)|``: ``Σ_type Σ_{T≠∅} (1−α)·max_i X_type[i, T] + α·Σ_i X_type[i, T]``.
    ``v``, ``gamma_specific``, ``q`` have shape ``(m, ..., 2**n)``, ``gamma_shared`` ``(..., 2**n)``.
    Returns shape ``(...)``; differentiable.
    """
    half = 0.5 * (v + q)
    gamma = gamma_shared + gamma_specific
    total = v.new_zeros(v.shape[1:-1])
    for x in _interactions(half + gamma, half - gamma, mobius_t):
        x = x[..., 1:].abs()
        total = total + ((1.0 - alpha) * x.amax(0) + alpha * x.sum(0)).sum(-1)
    return total


# ---------------------------------------------------------------------------------------------
# The two procedures
# ---------------------------------------------------------------------------------------------


def solve_sparse_sgd(
    v: torch.Tensor,
    zeta: Any,
    n: int,
    lr: float,
    iterations: int = 20000,
    momentum: float = 0.9,
    record_every: int = 0,
    progress: bool | Callable[[int], Any] | None = None,
    gamma: Any = None,
    noise: Any = None,
) -> SGDSolution:
    """The published procedure for the traditional sparse AND-OR interactions (module doc; SPEC §3).

    Args:
        v: value vectors ``(B, 2**n)``, float32 or float64, used exactly as given (no centring or
            scaling, unlike the certified solver); the run uses their dtype and device.
        zeta: noise bound ``ζ`` per sample, ``(B,)`` or one number, ``≥ 0``.
        n: number of players.
        lr: initial learning rate ``> 0``; it decays log-uniformly to ``lr/10``.
        iterations: number of SGD steps (``0`` returns the fixed split ``γ = q = 0``).
        momentum: SGD momentum in ``[0, 1)``.
        record_every: if ``> 0``, record the loss at step ``0``, every ``record_every`` steps and at the end.
        progress: ``True`` for a tqdm bar over the steps, or a callable taking a number of steps done.
        gamma, noise: the initial ``γ`` and ``q`` ``(B, 2**n)`` (default zero, as published; P2 Table 2
            compares two runs from two different initial ``γ``); ``noise`` is clipped to ``±ζ``.

    Returns:
        :class:`SGDSolution`; ``|noise| ≤ ζ`` holds exactly.
    """
    v, batch = _check_values("v", v, n, 2)
    zeta_t = _bounds("zeta", zeta, (batch[0],), v)
    schedule = log_uniform_lr(lr, iterations)
    momentum = _momentum(momentum)
    record_every = _count("record_every", record_every)
    mobius_t = dense_mobius(n, v.dtype, v.device).T

    box = zeta_t[:, None]
    gamma = _initial("gamma", gamma, v).requires_grad_(True)
    q = torch.maximum(torch.minimum(_initial("noise", noise, v), box), -box).requires_grad_(True)

    def loss() -> torch.Tensor:
        return sparse_loss(v, gamma, q, mobius_t)

    def clip() -> None:
        q.copy_(torch.maximum(torch.minimum(q, box), -box))

    objective, trajectory, recorded = _run(
        [gamma, q], loss, clip, schedule, momentum, record_every, progress, f"SGD sparse AND-OR (n={n})"
    )
    with torch.no_grad():
        u_and = 0.5 * (v + q) + gamma
    return SGDSolution(u_and.detach(), q.detach().clone(), objective, trajectory, recorded)


def solve_generalizable_sgd(
    v: torch.Tensor,
    zeta: Any,
    beta: Any,
    alpha: float,
    n: int,
    lr: float,
    iterations: int = 20000,
    momentum: float = 0.9,
    record_every: int = 0,
    progress: bool | Callable[[int], Any] | None = None,
    gamma_shared: Any = None,
    gamma_specific: Any = None,
    noise: Any = None,
) -> GeneralizableSGDSolution:
    """The published procedure for generalizable AND-OR interactions of ``m`` models (module doc; SPEC §3.4).

    Args:
        v: value vectors ``(m, B, 2**n)`` of the ``m`` models on the same ``B`` samples, float32
            or float64, used exactly as given; the run uses their dtype and device.
        zeta: noise bounds ``ζ_i`` ``(m, B)`` (or anything that broadcasts to it), ``≥ 0``.
        beta: bounds ``β_i`` on the model-specific split ``γ̃_i``, ``(m, B)`` or broadcastable, ``≥ 0``.
        alpha: weight of the non-maximal interactions, in ``[0, 1]`` (``0`` is P2 Eq. 5).
        n: number of players.
        lr: constant learning rate ``> 0``.
        iterations, momentum, record_every, progress: as in :func:`solve_sparse_sgd`.
        gamma_shared, gamma_specific, noise: the initial ``γ_shared`` ``(B, 2**n)``, ``γ̃_i`` and ``q_i``
            ``(m, B, 2**n)`` (default zero, as published); ``γ̃_i`` and ``q_i`` are clipped to their bounds.

    Returns:
        :class:`GeneralizableSGDSolution`; ``|noise_i| ≤ ζ_i`` and ``|γ̃_i| ≤ β_i`` hold exactly.
    """
    v, (m, batch) = _check_values("v", v, n, 3)
    zeta_t = _bounds("zeta", zeta, (m, batch), v)
    beta_t = _bounds("beta", beta, (m, batch), v)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1] (the weight of non-maximal interactions), got {alpha!r}.")
    alpha = float(alpha)
    lr = _positive("lr", lr)
    schedule = np.full(_count("iterations", iterations), lr)
    momentum = _momentum(momentum)
    record_every = _count("record_every", record_every)
    mobius_t = dense_mobius(n, v.dtype, v.device).T

    q_box, gamma_box = zeta_t[..., None], beta_t[..., None]
    gamma_shared = _initial("gamma_shared", gamma_shared, v[0]).requires_grad_(True)
    gamma_specific = _initial("gamma_specific", gamma_specific, v)
    gamma_specific = torch.maximum(torch.minimum(gamma_specific, gamma_box), -gamma_box).requires_grad_(True)
    q = torch.maximum(torch.minimum(_initial("noise", noise, v), q_box), -q_box).requires_grad_(True)

    def loss() -> torch.Tensor:
        return generalizable_loss(v, gamma_shared, gamma_specific, q, alpha, mobius_t)

    def clip() -> None:
        q.copy_(torch.maximum(torch.minimum(q, q_box), -q_box))
        gamma_specific.copy_(torch.maximum(torch.minimum(gamma_specific, gamma_box), -gamma_box))

    objective, trajectory, recorded = _run(
        [gamma_shared, gamma_specific, q],
        loss,
        clip,
        schedule,
        momentum,
        record_every,
        progress,
        f"SGD generalizable AND-OR (m={m}, n={n})",
    )
    with torch.no_grad():
        u_and = 0.5 * (v + q) + gamma_shared + gamma_specific
    return GeneralizableSGDSolution(
        u_and.detach(),
        q.detach().clone(),
        gamma_shared.detach().clone(),
        gamma_specific.detach().clone(),
        objective,
        trajectory,
        recorded,
    )


def _run(
    params: list[torch.Tensor],
    loss: Callable[[], torch.Tensor],
    clip: Callable[[], None],
    schedule: np.ndarray,
    momentum: float,
    record_every: int,
    progress: bool | Callable[[int], Any] | None,
    desc: str,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Momentum SGD over ``params`` with learning rate ``schedule[t]`` at step ``t``, then ``clip()``.

    Returns the per-sample loss at the final point and, if ``record_every > 0``, the losses after
    steps ``0, record_every, 2·record_every, …`` and after the last step, with those step numbers.
    """
    iterations = len(schedule)
    update, bar = _progress(progress, iterations, desc)
    chunk = max(1, math.ceil(iterations / _PROGRESS_CHUNKS))
    optimizer = torch.optim.SGD(params, lr=float(schedule[0]) if iterations else 0.0, momentum=momentum)
    trajectory: list[torch.Tensor] = []
    recorded: list[int] = []
    with torch.enable_grad():
        for t in range(iterations + 1):
            value = loss()
            if record_every and (t % record_every == 0 or t == iterations):
                trajectory.append(value.detach().clone())
                recorded.append(t)
            if t == iterations:
                break
            optimizer.zero_grad(set_to_none=True)
            value.sum().backward()
            optimizer.param_groups[0]["lr"] = float(schedule[t])
            optimizer.step()
            with torch.no_grad():
                clip()
            if update is not None and ((t + 1) % chunk == 0 or t + 1 == iterations):
                update((t + 1) - (t // chunk) * chunk)
    if bar is not None:
        bar.close()
    objective = value.detach().clone()
    if not record_every:
        return objective, None, None
    device = objective.device
    return objective, torch.stack(trajectory), torch.tensor(recorded, dtype=torch.int64, device=device)


def _progress(progress: Any, total: int, desc: str) -> tuple[Callable[[int], Any] | None, Any]:
    """The update callable for ``progress`` (``None``/``False``, ``True`` for tqdm, or a callable) and the bar."""
    if progress is None or progress is False:
        return None, None
    if progress is True:
        bar = tqdm(total=total, desc=desc, unit="step")
        return bar.update, bar
    if callable(progress):
        return progress, None
    raise TypeError(f"progress must be a bool or a callable taking a number of steps, got {progress!r}.")


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def _check_values(name: str, v: Any, n: Any, ndim: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Check that ``v`` is a finite float tensor of shape ``(…, 2**n)`` with ``ndim`` axes; detach it."""
    layout = "(B, 2**n)" if ndim == 2 else "(m, B, 2**n)"
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor of shape {layout}, got {type(v).__name__}.")
    if v.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} has dtype {v.dtype}; pass float32 or float64 value vectors.")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer (the number of players), got {n!r}.")
    if v.ndim != ndim or v.shape[-1] != 2**n or any(s == 0 for s in v.shape):
        raise ValueError(
            f"{name} has shape {tuple(v.shape)}; expected {layout} with 2**n = {2**n} for n={n} and "
            f"no empty axis (one value per subset of the players, in bitmask order)."
        )
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name} contains NaN or infinite values; every value must be a finite number.")
    return v.detach(), tuple(v.shape[:-1])


def _bounds(name: str, bound: Any, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """A box bound broadcast to ``shape`` in the dtype and device of ``like``; finite and ``≥ 0``."""
    if isinstance(bound, torch.Tensor):
        bound = bound.detach().to(device="cpu", dtype=torch.float64)
    try:
        arr = np.asarray(bound, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers of shape {shape}, got {bound!r}.") from None
    try:
        arr = np.broadcast_to(arr, shape).copy()
    except ValueError:
        raise ValueError(
            f"{name} has shape {arr.shape}, which does not broadcast to {shape}; pass one bound per "
            f"{'sample' if len(shape) == 1 else 'model and sample'}, or one number."
        ) from None
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and ≥ 0 (an absolute bound), got {bound!r}.")
    return torch.as_tensor(arr, dtype=like.dtype, device=like.device)


def _initial(name: str, x: Any, like: torch.Tensor) -> torch.Tensor:
    """A fresh copy of the initial value ``x`` with the shape, dtype and device of ``like`` (zeros for ``None``)."""
    if x is None:
        return torch.zeros_like(like)
    t = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    if tuple(t.shape) != tuple(like.shape) or not bool(torch.isfinite(t).all()):
        raise ValueError(
            f"{name}: the initial value must be finite with shape {tuple(like.shape)}, got shape {tuple(t.shape)}."
        )
    return t.detach().clone()


def _positive(name: str, x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)) or not (
        math.isfinite(x) and x > 0
    ):
        raise ValueError(f"{name} must be a finite number > 0, got {x!r}.")
    return float(x)


def _count(name: str, x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 0:
        raise ValueError(f"{name} must be an integer ≥ 0, got {x!r}.")
    return int(x)


def _momentum(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)) or not 0 <= x < 1:
        raise ValueError(f"momentum must be a number in [0, 1), got {x!r}.")
    return float(x)
