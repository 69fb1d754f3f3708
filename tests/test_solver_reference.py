"""An independent reference for the solvers: the LPs of SPEC §3.3-3.4 written directly from their
definitions with dense matrices (n ≤ 3), and the SPEC defaults ζ, β, α locked against it."""

import numpy as np
import pytest
from scipy.optimize import linprog

import interprim as ip


def dense_mobius(n):
    """``M[T, L] = (−1)^{|T|−|L|}`` for ``L ⊆ T`` (SPEC §2), from the definition."""
    size = 2**n
    m = np.zeros((size, size))
    for t in range(size):
        for sub in range(size):
            if sub & ~t == 0:
                m[t, sub] = (-1) ** (bin(t).count("1") - bin(sub).count("1"))
    return m


def reference_optimum(v, zeta, beta=None, alpha=1.0):
    """The optimum of SPEC §3.3 (one model) or §3.4 (``m ≥ 2``) for one sample, by a dense LP.

    ``I_and^(i) = M(½(v_i + q_i) + γ_i)`` and ``I_or^(i) = −M F(½(v_i + q_i) − γ_i)`` with
    ``γ_i = g + γ̃_i`` (``γ̃`` absent for one model), ``|q_i| ≤ ζ_i``, ``|γ̃_i| ≤ β_i``; the
    objective ``Σ_type Σ_{T≠∅} (1−α) max_i |I| + α Σ_i |I|`` (``Σ |I|`` for one model) through
    epigraph variables ``t ≥ |I|`` and ``s ≥ t_i``.
    """
    v = np.atleast_2d(np.asarray(v, dtype=np.float64))
    m, size = v.shape
    n = size.bit_length() - 1
    mob = dense_mobius(n)[1:]  # rows T ≠ ∅
    flip = np.eye(size)[::-1]
    k = size - 1
    # variables: g (size); per model γ̃ (size), q (size), t_and (k), t_or (k); then s_and, s_or (k each)
    per = 2 * size + 2 * k
    coupled = m > 1
    n_vars = size + m * per + (2 * k if coupled else 0)
    cost = np.zeros(n_vars)
    bounds = [(None, None)] * size
    rows, rhs = [], []
    s_at = size + m * per
    for i in range(m):
        at = size + i * per
        gt, q, ta, to = at, at + size, at + 2 * size, at + 2 * size + k
        b = 0.0 if not coupled else beta[i]
        bounds += [(-b, b)] * size + [(-zeta[i], zeta[i])] * size + [(0, None)] * (2 * k)
        weight = alpha if coupled else 1.0
        cost[ta : ta + 2 * k] = weight
        for sign in (1, -1):
            # ±I_and = ±M(½v + ½q + g + γ̃) ≤ t_and
            row = np.zeros((k, n_vars))
            row[:, :size] = sign * mob
            row[:, gt : gt + size] = sign * mob
            row[:, q : q + size] = sign * 0.5 * mob
            row[:, ta : ta + k] = -np.eye(k)
            rows.append(row)
            rhs.append(-sign * 0.5 * mob @ v[i])
            # ±I_or = ∓M F(½v + ½q − g − γ̃) ≤ t_or
            mf = mob @ flip
            row = np.zeros((k, n_vars))
            row[:, :size] = sign * mf
            row[:, gt : gt + size] = sign * mf
            row[:, q : q + size] = -sign * 0.5 * mf
            row[:, to : to + k] = -np.eye(k)
            rows.append(row)
            rhs.append(sign * 0.5 * mf @ v[i])
        if coupled:
            for offset, t_at in ((0, ta), (k, to)):
                row = np.zeros((k, n_vars))
                row[:, t_at : t_at + k] = np.eye(k)
                row[:, s_at + offset : s_at + offset + k] = -np.eye(k)
                rows.append(row)
                rhs.append(np.zeros(k))
    if coupled:
        bounds += [(0, None)] * (2 * k)
        cost[s_at:] = 1 - alpha
    res = linprog(cost, A_ub=np.vstack(rows), b_ub=np.concatenate(rhs), bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return res.fun


def random_games(shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("solver", ["lp", "admm"])
def test_sparse_matches_the_dense_reference_with_the_spec_noise_bound(n, solver):
    v = random_games((3, 2**n), n)
    r = ip.sparse_and_or(v, solver=solver, tol=1e-6)
    for b in range(3):
        zeta = 0.02 * abs(v[b, -1] - v[b, 0])  # SPEC §3.3 default
        assert r.meta["noise_bound"][b] == pytest.approx(zeta, rel=1e-15)
        assert r.objective[b] == pytest.approx(reference_optimum(v[b], [zeta]), rel=2e-6, abs=1e-9)


@pytest.mark.parametrize("m, n", [(2, 2), (2, 3), (3, 2)])
@pytest.mark.parametrize("solver", ["lp", "admm"])
def test_generalizable_matches_the_dense_reference_with_the_spec_defaults(m, n, solver):
    v = random_games((m, 2, 2**n), 10 * m + n) * np.array([1.0, 3.0, 0.5])[:m, None, None]
    rs = ip.generalizable_and_or(list(v), solver=solver, tol=1e-6)
    assert all(r.meta["alpha"] == 0.1 for r in rs)  # SPEC §3.4 default
    for b in range(2):
        change = np.abs(v[:, b, -1] - v[:, b, 0])
        zeta, beta = 0.02 * change, 0.5 * change  # SPEC §3.3-3.4 defaults
        for i, r in enumerate(rs):
            assert r.meta["noise_bound"][b] == pytest.approx(zeta[i], rel=1e-15)
            assert r.meta["specific_bound"][b] == pytest.approx(beta[i], rel=1e-15)
        expected = reference_optimum(v[:, b], zeta, beta, alpha=0.1)
        assert rs[0].meta["joint_objective"][b] == pytest.approx(expected, rel=2e-6, abs=1e-9)


def test_alpha_zero_is_eq_5_of_p2():
    v = random_games((2, 2**3), 5)
    rs = ip.generalizable_and_or(list(v[:, None]), alpha=0.0, solver="lp")
    change = np.abs(v[:, -1] - v[:, 0])
    expected = reference_optimum(v, 0.02 * change, 0.5 * change, alpha=0.0)
    assert rs[0].meta["joint_objective"][0] == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_the_reference_is_not_trivially_zero():
    v = random_games((2**3,), 3)
    assert reference_optimum(v, [0.0]) > 0.1
    # with a noise bound as large as the game, nothing is left to explain
    assert reference_optimum(v, [np.ptp(v)]) == pytest.approx(0.0, abs=1e-9)
