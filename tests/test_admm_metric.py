"""The metric ``D = diag(d**|T|)`` of the ADMM solver's interaction splittings (extract/admm.py).

Nearly noise-free games run with ``d = ½``, the others with ``d = 1``, in one batch; both metrics
must give certified points, and the normal-matrix inverse must be exact for each.
"""

import numpy as np
import pytest
import torch

import interprim as ip
from interprim.extract import admm
from interprim.sets import orders
from test_sparse import smooth_games


def dense_mobius(n):
    """``M[T, L] = (−1)^{|T|−|L|}`` for ``L ⊆ T``, straight from the definition."""
    size = 2**n
    m = np.zeros((size, size))
    for t in range(size):
        for sub in range(size):
            if sub & t == sub:
                m[t, sub] = (-1) ** (bin(t).count("1") - bin(sub).count("1"))
    return m


@pytest.mark.parametrize("c", [1.0, 1.25])
def test_normal_inverse_solves_the_weighted_normal_equations_per_sample(c):
    n, metric = 4, torch.tensor([1.0, 0.5, 0.5, 0.3], dtype=torch.float64)
    x = torch.randn(2, 4, 2**n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    inverse = admm._NormalInverse(n, c, metric, x)
    y = inverse(x).numpy()
    m = dense_mobius(n)
    for b, d in enumerate(metric.tolist()):
        normal = c * np.eye(2**n) + m.T @ np.diag(d ** orders(n)) @ m
        np.testing.assert_allclose(normal @ y[:, b].T, x[:, b].numpy().T, atol=1e-10)
    # dropping samples keeps the groups right
    keep = torch.tensor([True, False, True, True])
    inverse.keep(keep)
    np.testing.assert_allclose(inverse(x[:, keep]).numpy(), y[:, keep.numpy()], atol=1e-12)


@pytest.mark.parametrize("metric", [1.0, 0.5])
@pytest.mark.parametrize("noise", [0.0, 0.02])
def test_both_metrics_give_certified_points(metric, noise):
    n = 5
    v = torch.as_tensor(smooth_games(n, 3, 21), dtype=torch.float64)
    v = (v - v[:, :1]) / (v[:, -1:] - v[:, :1]).abs()
    zeta = noise * torch.ones(1, 3, dtype=torch.float64)
    sol = admm.solve(v[None], zeta, n, tol=1e-3, metric=metric)
    exact = ip.sparse_and_or(v.numpy(), noise_bound=zeta[0].numpy(), solver="lp").objective
    assert bool(sol.converged.all())
    assert np.all(sol.lower_bound.numpy() <= exact * (1 + 1e-9))
    assert np.all(sol.objective.numpy() >= exact * (1 - 1e-9))
    assert np.all(sol.objective.numpy() <= exact * (1 + 1e-3) + 1e-12)


def test_noise_free_and_noisy_games_share_a_batch():
    n = 6
    v = smooth_games(n, 4, 5)
    bound = 0.02 * np.abs(v[:, -1] - v[:, 0])
    bound[[0, 2]] = 0.0  # two noise-free games: they run with d = ½, the others with d = 1
    batched = ip.sparse_and_or(v, noise_bound=bound, tol=1e-3)
    exact = ip.sparse_and_or(v, noise_bound=bound, solver="lp").objective
    assert batched.meta["converged"]
    assert np.all(batched.objective - exact <= batched.meta["gap"] + 1e-9)
    assert np.all(batched.meta["gap"] <= 1e-3 * batched.objective + 1e-12)
    assert np.all(batched.noise[[0, 2]] == 0)
    for b in range(4):
        alone = ip.sparse_and_or(v[b], noise_bound=bound[b], tol=1e-3)
        assert alone.objective == pytest.approx(batched.objective[b], rel=2e-3)


def test_a_nearly_noise_free_model_in_a_generalizable_problem():
    """One model with ``v(N) ≈ v(∅)`` has ζ ≈ 0 and β ≈ 0: the case that needed ``d = ½``."""
    n = 5
    v = smooth_games(n, 2, 8)
    flat = v[0].copy()
    flat[-1] = flat[0] + 1e-4 * np.abs(flat).max()  # |v(N) − v(∅)| tiny, the game itself is not
    values = [np.stack([flat, v[0]]), np.stack([v[1], v[1] * 0.7])]
    fast = ip.generalizable_and_or(values, alpha=0.1, tol=1e-3)
    exact = ip.generalizable_and_or(values, alpha=0.1, solver="lp")
    f, e = fast[0].meta["joint_objective"], exact[0].meta["joint_objective"]
    assert fast[0].meta["converged"]
    assert np.all(f - e <= fast[0].meta["gap"] + 1e-9)
    assert np.all(fast[0].meta["lower_bound"] <= e * (1 + 1e-9))
