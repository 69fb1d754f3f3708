"""The exact path: the sparse and the generalizable AND-OR problems as linear programs solved by HiGHS.

The reference that the first-order solver is certified against in tests and benchmarks. The LP is
written over the interactions themselves: for model ``i``, ``a_i = M u_and_i`` (AND) and
``b_i = M F u_or_i`` (minus the OR interactions), each split into positive and negative parts, so
that ``u_and_i = Z a_i`` and ``u_or_i = F Z b_i`` (``Z = M⁻¹``, the zeta transform, ``3**n``
non-zeros). With the noise ``q_i``, the specific parts ``γ̃_i``, the shared part ``g`` and, for
``m ≥ 2`` models, epigraph variables ``s`` of the maxima (SPEC §3.3-3.4)::

    minimise   α Σ_i Σ_{T≠∅} (|a_i[T]| + |b_i[T]|) + (1 − α) Σ_{T≠∅} (s_and[T] + s_or[T])
    such that  Z a_i + F Z b_i − q_i = v_i                       (universal matching)
               −F Z b_i + ½ q_i − g − γ̃_i = −½ v_i               (γ_i = g + γ̃_i, only with bounds β)
               |a_i[T]| ≤ s_and[T],  |b_i[T]| ≤ s_or[T]          (only for m ≥ 2 and α < 1)
               |q_i| ≤ ζ_i,  |γ̃_i| ≤ β_i

For one model the objective is ``Σ_{T≠∅} |a[T]| + |b[T]|`` (SPEC §3.3). The constraint matrix has
``O(m·3**n)`` non-zeros, so this is for ``n ≤ 12`` or so; HiGHS's interior-point method is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from ..transforms import zeta as zeta_transform

_Z1 = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0]]))


def zeta_matrix(n: int) -> sp.csr_matrix:
    """The zeta transform as a sparse matrix (``3**n`` non-zeros): ``(Z a)[S] = Σ_{T⊆S} a[T]``."""
    z = sp.csr_matrix(np.ones((1, 1)))
    for _ in range(n):
        z = sp.kron(_Z1, z, format="csr")
    return z


@dataclass
class LPSolution:
    """Optimal splits ``u_and`` and noise ``q`` ``(m, 2**n)``, shared part ``g`` (or ``None``), optimum."""

    u_and: np.ndarray
    noise: np.ndarray
    gamma_shared: np.ndarray | None
    objective: float


def solve_lp(
    v: np.ndarray, zeta: np.ndarray, n: int, beta: np.ndarray | None = None, alpha: float = 1.0
) -> LPSolution:
    """Solve the problem of the module doc for one sample: ``v`` ``(m, 2**n)``, ``zeta`` and ``beta`` ``(m,)``."""
    m, size = v.shape
    boxed = beta is not None and m > 1
    coupled = m > 1 and alpha < 1
    weight = alpha if m > 1 else 1.0
    z = zeta_matrix(n).tocsc()
    fz = z[::-1]  # F Z: F reverses the rows
    eye = sp.identity(size, format="csc")

    # variable blocks, in order: per model a+, a-, b+, b-, q, [γ̃]; then [g]; then [s_and, s_or]
    per_model = 6 if boxed else 5
    n_vars = m * per_model * size + (size if boxed else 0) + (2 * (size - 1) if coupled else 0)
    g_at = m * per_model * size
    s_at = g_at + (size if boxed else 0)

    def block(i: int, k: int) -> int:
        return (i * per_model + k) * size

    cost = np.zeros(n_vars)
    lower = np.zeros(n_vars)
    upper = np.full(n_vars, np.inf)
    eq_rows, eq_rhs, ub_rows = [], [], []
    for i in range(m):
        for k in range(4):
            cost[block(i, k) + 1 : block(i, k) + size] = weight
        lower[block(i, 4) : block(i, 5)], upper[block(i, 4) : block(i, 5)] = -zeta[i], zeta[i]
        match = {block(i, 0): z, block(i, 1): -z, block(i, 2): fz, block(i, 3): -fz, block(i, 4): -eye}
        eq_rows.append(match)
        eq_rhs.append(v[i])
        if boxed:
            lower[block(i, 5) : block(i, 6)], upper[block(i, 5) : block(i, 6)] = -beta[i], beta[i]
            eq_rows.append({block(i, 2): -fz, block(i, 3): fz, block(i, 4): 0.5 * eye, g_at: -eye, block(i, 5): -eye})
            eq_rhs.append(-0.5 * v[i])
        if coupled:
            pick = sp.identity(size, format="csc")[1:]
            neg = -sp.identity(size - 1, format="csc")
            ub_rows.append({block(i, 0): pick, block(i, 1): pick, s_at: neg})
            ub_rows.append({block(i, 2): pick, block(i, 3): pick, s_at + size - 1: neg})
    if boxed:
        lower[g_at : g_at + size] = -np.inf
    if coupled:
        cost[s_at:] = 1.0 - alpha

    a_eq = _assemble(eq_rows, n_vars)
    a_ub = _assemble(ub_rows, n_vars) if ub_rows else None
    b_ub = np.zeros(a_ub.shape[0]) if ub_rows else None
    res = linprog(
        cost,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=np.concatenate(eq_rhs),
        bounds=np.stack([lower, upper], axis=1),
        method="highs-ipm",
    )
    if res.status != 0:  # pragma: no cover - the problem is always feasible and bounded
        raise RuntimeError(f"HiGHS did not solve the AND-OR LP: {res.message}")
    x = res.x
    a = np.stack([x[block(i, 0) : block(i, 1)] - x[block(i, 1) : block(i, 2)] for i in range(m)])
    q = np.stack([x[block(i, 4) : block(i, 5)] for i in range(m)])
    g = x[g_at : g_at + size].copy() if boxed else None
    return LPSolution(zeta_transform(a, n), q, g, float(res.fun))


def _assemble(rows: list[dict[int, sp.spmatrix]], n_vars: int) -> sp.csc_matrix:
    """Stack row blocks given as ``{first column: block}`` into one sparse matrix with ``n_vars`` columns."""
    out = []
    for row in rows:
        height = next(iter(row.values())).shape[0]
        parts, at = [], 0
        for start in sorted(row):
            if start > at:
                parts.append(sp.csc_matrix((height, start - at)))
            parts.append(row[start])
            at = start + row[start].shape[1]
        if at < n_vars:
            parts.append(sp.csc_matrix((height, n_vars - at)))
        out.append(sp.hstack(parts, format="csc"))
    return sp.vstack(out, format="csc")
