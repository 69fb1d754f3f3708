"""Solvers that always finish honestly (issue 10, item 6) and start where they are told (item 5)."""

import time
import warnings

import numpy as np
import pytest
import torch

import interprim as ip
from interprim.extract import ConvergenceWarning
from test_sparse import smooth_games


def flat_game(n, seed):
    """A game the default noise bound of ``noise=10`` absorbs completely: its optimum is zero."""
    v = np.random.default_rng(seed).normal(size=2**n)
    v[-1] = v[0] + 1.0  # |v(N) − v(∅)| = 1, so ζ = 10 > (max − min)/2
    return v


def test_a_zero_optimum_game_stops_at_once_and_does_not_hold_up_its_batch():
    v = np.stack([flat_game(6, 0), smooth_games(6, 1, 3)[0]])
    start = time.perf_counter()
    r = ip.sparse_and_or(v, noise_bound=[10.0, 0.02 * abs(v[1, -1] - v[1, 0])])
    assert time.perf_counter() - start < 10
    assert r.meta["converged"]
    assert r.meta["iterations"][0] == 0
    assert r.objective[0] <= 1e-12
    assert r.meta["iterations"][1] < 20000
    assert np.all(np.abs(r.noise) <= r.meta["noise_bound"][:, None])
    assert np.max(r.matching_error(v)) < 1e-12


def test_the_issue_example_noise_10():
    r = ip.sparse_and_or(flat_game(8, 1), noise=10)
    assert r.meta["iterations"] == 0 and r.meta["converged"] and r.objective <= 1e-12


def test_a_zero_optimum_sample_of_several_models_stops_at_once():
    v = np.stack([flat_game(5, 2), 3 * flat_game(5, 3)])[:, None]
    rs = ip.generalizable_and_or(list(v), noise=10)
    assert rs[0].meta["iterations"][0] == 0 and rs[0].meta["converged"]
    assert rs[0].meta["joint_objective"][0] <= 1e-12


def test_absolute_tolerance_stops_a_sample_whose_gap_is_small_in_absolute_terms():
    v = smooth_games(5, 2, 4)
    strict = ip.sparse_and_or(v, solver="admm", tol=1e-6, dtype=torch.float64)
    loose = ip.sparse_and_or(v, solver="admm", tol=1e-6, atol=10.0, dtype=torch.float64)
    assert np.all(loose.meta["iterations"] < strict.meta["iterations"])
    assert np.all(loose.meta["gap"] <= 10.0)
    with pytest.raises(ValueError, match="atol must be"):
        ip.sparse_and_or(v, atol=-1.0)


def test_unconverged_samples_raise_a_warning_with_their_gaps():
    v = smooth_games(6, 3, 5)
    with pytest.warns(ConvergenceWarning, match=r"3 of 3 samples stopped at max_iter=30 .* gaps are [0-9.]+ %"):
        r = ip.sparse_and_or(v, solver="admm", max_iter=30)
    assert not r.meta["converged"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert ip.sparse_and_or(v, solver="admm").meta["converged"]
    with pytest.warns(ConvergenceWarning, match="of 2 samples stopped"):
        ip.generalizable_and_or([v[:2], 2 * v[:2]], solver="admm", max_iter=30)


@pytest.mark.parametrize("m, n", [(1, 13), (2, 12), (3, 12)])
def test_the_lp_refuses_sizes_it_cannot_handle(m, n):
    values = np.zeros((m, 2**n))
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"solver='lp' with n=%d .* use solver='admm'" % n):
        if m == 1:
            ip.sparse_and_or(values[0], solver="lp")
        else:
            ip.generalizable_and_or(list(values), solver="lp")
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("offset", [0.0, 1e6, 1e12])
def test_universal_matching_holds_to_float_precision_whatever_the_offset(offset):
    v = smooth_games(5, 3, 6) + offset
    for r in (ip.sparse_and_or(v), ip.generalizable_and_or([v, 2 * v - offset])[1]):
        target = v if r.meta.get("model", 0) == 0 else 2 * v - offset
        ulp = np.spacing(np.abs(target).max(-1))
        assert np.all(r.matching_error(target) <= 8 * ulp)
        assert r.meta["converged"]


def test_float32_values_keep_the_noise_within_its_bound_exactly():
    v = smooth_games(4, 64, 8).astype(np.float32)
    r = ip.sparse_and_or(v)
    assert r.noise.dtype == np.float32
    assert np.all(np.abs(r.noise.astype(np.float64)) <= r.meta["noise_bound"][:, None])
    assert np.any(np.abs(r.noise.astype(np.float64)) >= 0.999 * r.meta["noise_bound"][:, None])  # bounds are active
    rs = ip.generalizable_and_or([torch.tensor(v[:8]), torch.tensor(2 * v[:8])])
    for r in rs:
        assert r.noise.dtype == torch.float32
        assert torch.all(r.noise.double().abs() <= torch.tensor(r.meta["noise_bound"])[:, None])


# --- initial points (item 5) ------------------------------------------------------------------


def test_a_warm_start_from_a_nearby_game_reaches_the_same_certified_optimum_in_fewer_iterations():
    v = smooth_games(7, 4, 9)
    first = ip.sparse_and_or(v, solver="admm")
    nearby = v * (1 + 1e-7)
    cold = ip.sparse_and_or(nearby, solver="admm")
    warm = ip.sparse_and_or(nearby, solver="admm", init=first)
    assert warm.meta["converged"] and cold.meta["converged"]
    assert np.all(warm.meta["lower_bound"] <= cold.objective + 1e-12)
    assert np.all(cold.meta["lower_bound"] <= warm.objective + 1e-12)
    assert warm.meta["iterations"].sum() < 0.8 * cold.meta["iterations"].sum()


def test_a_warm_start_of_the_generalizable_method():
    v = smooth_games(6, 2, 10)
    pair = [v, 1.5 * v + 0.1 * smooth_games(6, 2, 11)]
    first = ip.generalizable_and_or(pair, solver="admm")
    warm = ip.generalizable_and_or(pair, solver="admm", init=first)
    assert warm[0].meta["converged"]
    assert np.all(warm[0].meta["lower_bound"] <= first[0].meta["joint_objective"] + 1e-12)
    assert warm[0].meta["iterations"].sum() < first[0].meta["iterations"].sum()


def test_sgd_starts_from_the_given_gamma():
    """P2 Table 2: the published procedure from two initial γ gives two different explanations."""
    v = smooth_games(4, 1, 12)[0]
    rng = np.random.default_rng(0)
    g1, g2 = rng.normal(size=16), rng.normal(size=16)
    # with a vanishing learning rate the procedure stays at its start
    still = ip.sparse_and_or(v, solver="sgd", max_iter=1, lr=1e-12, init=g1)
    np.testing.assert_allclose(still.gamma, g1, atol=1e-9)
    a = ip.sparse_and_or(v, solver="sgd", max_iter=200, lr=1e-3, init=g1)
    b = ip.sparse_and_or(v, solver="sgd", max_iter=200, lr=1e-3, init=g2)
    assert np.abs(a.i_and - b.i_and).max() > 1e-2
    zero = ip.sparse_and_or(v, solver="sgd", max_iter=200, lr=1e-3)
    same = ip.sparse_and_or(v, solver="sgd", max_iter=200, lr=1e-3, init=np.zeros(16))
    np.testing.assert_array_equal(zero.i_and, same.i_and)


def test_generalizable_sgd_starts_from_the_given_gammas():
    v = smooth_games(3, 1, 13)
    g = np.random.default_rng(1).normal(size=(2, 1, 8)) * 0.01
    r = ip.generalizable_and_or([v, 2 * v], solver="sgd", max_iter=1, lr=1e-12, init=list(g))
    for i in range(2):
        np.testing.assert_allclose(r[i].gamma, g[i], atol=1e-9)


def test_the_lp_accepts_and_ignores_a_start():
    v = smooth_games(3, 2, 14)
    exact = ip.sparse_and_or(v, solver="lp")
    started = ip.sparse_and_or(v, solver="lp", init=np.ones_like(v))
    np.testing.assert_allclose(started.objective, exact.objective, rtol=1e-9)


@pytest.mark.parametrize(
    "init, match",
    [
        (np.zeros((3, 8)), r"init γ: has shape \(3, 8\)"),
        (np.full((2, 8), np.nan), "init γ: contains NaN"),
        ("start", "init γ: cannot be read"),
    ],
)
def test_bad_initial_points_raise_clear_errors(init, match):
    with pytest.raises(ValueError, match=match):
        ip.sparse_and_or(smooth_games(3, 2, 15), init=init)
    with pytest.raises(ValueError, match="init must be 2 Interactions"):
        ip.generalizable_and_or([np.zeros((2, 8)), np.ones((2, 8))], init=[np.zeros((2, 8))])
