"""The exact path: the sparse AND-OR problem as a linear program solved by HiGHS.

For small ``n`` only (the constraint matrix has ``O(3**n)`` non-zeros): it is the reference that the
first-order solver is certified against in tests and benchmarks. SPEC §3.3 written as an LP over
``x = u_and``, the noise ``q`` and epigraph variables ``t``::

    minimise Σ t_and + Σ t_or
    s.t.  −t_and ≤ P M x ≤ t_and,   −t_or ≤ P M F (v + q − x) ≤ t_or,   −ζ ≤ q ≤ ζ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

_M1 = sp.csr_matrix(np.array([[1.0, 0.0], [-1.0, 1.0]]))


def mobius_matrix(n: int) -> sp.csr_matrix:
    """The Möbius transform as a sparse matrix (``3**n`` non-zeros): ``(M u)[T] = Σ_{L⊆T} (-1)^{|T|-|L|} u[L]``."""
    m = sp.csr_matrix(np.ones((1, 1)))
    for _ in range(n):
        m = sp.kron(_M1, m, format="csr")
    return m


@dataclass
class LPSolution:
    """Optimal split ``u_and``, noise ``q`` and the optimal objective of one sample."""

    u_and: np.ndarray
    noise: np.ndarray
    objective: float


def solve_sparse_lp(v: np.ndarray, zeta: float, n: int) -> LPSolution:
    """Solve SPEC §3.3 for one value vector ``v`` (length ``2**n``) exactly with HiGHS."""
    size = 2**n
    m = mobius_matrix(n)[1:]  # P M
    mf = m[:, ::-1]  # P M F: F reverses the columns
    eye = sp.identity(size - 1, format="csr")
    zero_t = sp.csr_matrix((size - 1, size - 1))
    zero_q = sp.csr_matrix((size - 1, size))
    c_or = mf @ v
    a_ub = sp.vstack(
        [
            sp.hstack([m, zero_q, -eye, zero_t]),
            sp.hstack([-m, zero_q, -eye, zero_t]),
            sp.hstack([-mf, mf, zero_t, -eye]),
            sp.hstack([mf, -mf, zero_t, -eye]),
        ],
        format="csc",
    )
    b_ub = np.concatenate([np.zeros(2 * (size - 1)), -c_or, c_or])
    cost = np.concatenate([np.zeros(2 * size), np.ones(2 * (size - 1))])
    bounds = [(None, None)] * size + [(-zeta, zeta)] * size + [(0, None)] * (2 * (size - 1))
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:  # pragma: no cover - the problem is always feasible and bounded
        raise RuntimeError(f"HiGHS did not solve the sparse AND-OR LP: {res.message}")
    return LPSolution(res.x[:size], res.x[size : 2 * size], float(res.fun))
