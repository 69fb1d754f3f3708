"""The generalizable AND-OR method (SPEC §3.4): the ADMM solver is certified against the exact LP."""

import numpy as np
import pytest
import torch

import interprim as ip
from interprim.extract.generalizable import joint_objective
from test_sparse import smooth_games


def related_games(n, batch, seed, m=2):
    """``m`` models' games on the same samples: a common part plus a model-specific part."""
    common = smooth_games(n, batch, seed)
    return [0.7 * common + 0.3 * smooth_games(n, batch, seed + 100 * (i + 1)) for i in range(m)]


def check_certificate(fast, exact):
    """The certified lower bound is below the LP optimum and the point is within its certified gap."""
    optimum = exact[0].meta["joint_objective"]
    got = fast[0].meta["joint_objective"]
    assert np.all(fast[0].meta["lower_bound"] <= optimum * (1 + 1e-7) + 1e-9)
    assert np.all(got >= optimum * (1 - 1e-7) - 1e-9)
    assert np.all(got - optimum <= fast[0].meta["gap"] + 1e-7)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5, 1.0])
def test_admm_is_within_its_certified_gap_of_the_lp_optimum(alpha):
    values = related_games(5, 3, 1)
    fast = ip.generalizable_and_or(values, alpha=alpha, tol=1e-3)
    exact = ip.generalizable_and_or(values, alpha=alpha, solver="lp")
    check_certificate(fast, exact)
    assert np.all(fast[0].meta["gap"] <= 1e-3 * fast[0].meta["joint_objective"] + 1e-12)
    assert fast[0].meta["converged"]


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5, 1.0])
def test_on_real_mnist_games(mnist_games, alpha):
    fast = ip.generalizable_and_or(list(mnist_games), alpha=alpha, tol=1e-3)
    exact = ip.generalizable_and_or(list(mnist_games), alpha=alpha, solver="lp")
    check_certificate(fast, exact)
    for k in range(2):
        assert np.max(fast[k].matching_error(mnist_games[k])) < 1e-10


def test_sparse_method_on_real_mnist_games(mnist_games):
    for v in mnist_games:
        fast = ip.sparse_and_or(v, tol=1e-3)
        exact = ip.sparse_and_or(v, solver="lp")
        assert np.all(fast.meta["lower_bound"] <= exact.objective * (1 + 1e-7))
        assert np.all(fast.objective - exact.objective <= fast.meta["gap"] + 1e-7)


@pytest.mark.parametrize("solver", ["admm", "lp", "sgd"])
def test_bounds_matching_and_the_split_hold_exactly(solver):
    values = related_games(4, 3, 2, m=3)
    values = [v * 2.0 + 1.0 for v in values]
    rs = ip.generalizable_and_or(values, alpha=0.1, noise=0.05, specific=0.2, solver=solver, max_iter=2000, lr=1e-3)
    assert len(rs) == 3
    shared = rs[0].meta["gamma_shared"]
    for v, r in zip(values, rs):
        zeta = 0.05 * np.abs(v[:, -1] - v[:, 0])
        beta = 0.2 * np.abs(v[:, -1] - v[:, 0])
        np.testing.assert_allclose(r.meta["noise_bound"], zeta)
        np.testing.assert_allclose(r.meta["specific_bound"], beta)
        assert np.all(np.abs(r.noise) <= zeta[:, None])
        assert np.all(np.abs(r.meta["gamma_specific"]) <= beta[:, None])
        np.testing.assert_array_equal(r.meta["gamma_shared"], shared)
        np.testing.assert_allclose(r.gamma, shared + r.meta["gamma_specific"], atol=1e-12 * np.abs(v).max())
        assert np.max(r.matching_error(v)) < 1e-12 * np.abs(v).max() + 1e-12
        # γ is the split of SPEC §3.3: u_and = ½(v + q) + γ gives the AND interactions
        np.testing.assert_allclose(r.i_and[:, 1:], ip.and_interactions((v + r.noise) / 2 + r.gamma)[:, 1:], atol=1e-9)
    joint = joint_objective(np.stack([r.i_and for r in rs]), np.stack([r.i_or for r in rs]), 0.1)
    np.testing.assert_allclose(rs[0].meta["joint_objective"], joint)


def test_alpha_one_with_free_specific_parts_is_the_sum_of_sparse_optima():
    values = related_games(4, 3, 3)
    joint = ip.generalizable_and_or(values, alpha=1.0, specific_bounds=1e6, solver="lp")
    separate = sum(ip.sparse_and_or(v, solver="lp").objective for v in values)
    np.testing.assert_allclose(joint[0].meta["joint_objective"], separate, rtol=1e-6)
    fast = ip.generalizable_and_or(values, alpha=1.0, specific_bounds=1e6, tol=1e-3)
    assert np.all(np.abs(fast[0].meta["joint_objective"] - separate) <= fast[0].meta["gap"] + 1e-6 * separate)


def test_zero_specific_bounds_force_one_shared_split():
    values = related_games(4, 2, 4)
    rs = ip.generalizable_and_or(values, specific_bounds=0.0)
    np.testing.assert_allclose(rs[0].gamma, rs[1].gamma, atol=1e-12)
    np.testing.assert_array_equal(rs[0].meta["gamma_specific"], 0.0)


def test_sharing_beats_separate_extraction_on_the_joint_objective():
    """The joint optimum can only be lower than the joint objective of the separate sparse optima."""
    values = related_games(5, 3, 5)
    joint = ip.generalizable_and_or(values, alpha=0.1, solver="lp")
    separate = [ip.sparse_and_or(v, solver="lp") for v in values]
    sep = joint_objective(np.stack([r.i_and for r in separate]), np.stack([r.i_or for r in separate]), 0.1)
    assert np.all(joint[0].meta["joint_objective"] <= sep + 1e-7)


def test_batched_equals_looped_and_torch_equals_numpy():
    """The optimum need not be unique, so batched and looped runs agree up to their certified gaps."""
    values = [v.reshape(2, 2, 32) for v in related_games(5, 4, 6)]
    batched = ip.generalizable_and_or(values)
    assert batched[0].batch_shape == (2, 2)
    obj, gap, low = (batched[0].meta[k] for k in ("joint_objective", "gap", "lower_bound"))
    for i in range(2):
        for j in range(2):
            single = ip.generalizable_and_or([v[i, j] for v in values])
            s_obj, s_gap, s_low = (single[0].meta[k] for k in ("joint_objective", "gap", "lower_bound"))
            assert s_low <= obj[i, j] + 1e-12 and low[i, j] <= s_obj + 1e-12
            assert abs(s_obj - obj[i, j]) <= max(s_gap, gap[i, j])
    t = ip.generalizable_and_or([torch.tensor(v) for v in values])
    assert isinstance(t[1].i_or, torch.Tensor) and t[1].i_or.shape == (2, 2, 32)
    assert np.all(t[0].meta["lower_bound"] <= obj + 1e-12)
    # one array with the models on the first axis is accepted as well
    stacked = ip.generalizable_and_or(np.stack(values), solver="lp")
    assert len(stacked) == 2 and np.all(low <= stacked[0].meta["joint_objective"] + 1e-9)


def test_absolute_bounds_per_model_and_per_sample():
    values = related_games(4, 3, 7)
    rs = ip.generalizable_and_or(values, specific_bounds=[0.1, [0.2, 0.3, 0.4]], noise_bound=[0.01, 0.02])
    np.testing.assert_allclose(rs[0].meta["specific_bound"], [0.1, 0.1, 0.1])
    np.testing.assert_allclose(rs[1].meta["specific_bound"], [0.2, 0.3, 0.4])
    np.testing.assert_allclose(rs[1].meta["noise_bound"], [0.02, 0.02, 0.02])
    assert np.all(np.abs(rs[1].meta["gamma_specific"]) <= np.array([0.2, 0.3, 0.4])[:, None])


@pytest.mark.parametrize(
    "values, kwargs, match",
    [
        ([np.zeros(8)], {}, "needs at least 2"),
        ([np.zeros(8), np.zeros(16)], {}, "every model must explain the same samples"),
        ([np.zeros((2, 8)), np.zeros((3, 8))], {}, "every model must explain the same samples"),
        ([np.zeros(8), torch.zeros(8)], {}, "mixes numpy arrays and torch tensors"),
        ([np.zeros(8), np.zeros(6)], {}, r"values\[1\]: the last axis has length 6"),
        ([np.zeros(8), np.full(8, np.nan)], {}, r"values\[1\]: contains NaN"),
        ([np.zeros(8)] * 2, dict(alpha=1.5), "alpha must be"),
        ([np.zeros(8)] * 2, dict(alpha=-0.1), "alpha must be"),
        ([np.zeros(8)] * 2, dict(specific_bounds=-1.0), "specific_bounds must be finite"),
        ([np.zeros((3, 8))] * 2, dict(specific_bounds=[1.0, 2.0, 3.0]), "specific_bounds=.* does not fit"),
        ([np.zeros(8)] * 2, dict(specific=-0.5), "specific must be"),
        ([np.zeros(8)] * 2, dict(solver="adam"), "solver must be one of"),
        ([np.zeros(8)] * 2, dict(lr=0.0), "lr must be"),
        ("not values", {}, "values must be a list"),
    ],
)
def test_bad_inputs_raise_clear_errors(values, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ip.generalizable_and_or(values, **kwargs)


def test_float32_iterations_keep_a_float64_certificate():
    values = related_games(5, 2, 8)
    fast = ip.generalizable_and_or(values, tol=1e-3, dtype=torch.float32)
    check_certificate(fast, ip.generalizable_and_or(values, solver="lp"))
    assert np.all(np.abs(fast[1].meta["gamma_specific"]) <= fast[1].meta["specific_bound"][:, None])
