"""Halpern's anchored iteration, its restarts and penalty updates, the float32 → float64 promotion and
the fast transforms of the ADMM solver (extract/admm.py, issue 15)."""

import numpy as np
import pytest
import torch

import interprim as ip
from interprim import transforms
from interprim.extract import admm
from test_sparse import smooth_games


def scaled_games(n, count, seed):
    v = torch.as_tensor(smooth_games(n, count, seed), dtype=torch.float64)
    return ((v - v[:, :1]) / (v[:, -1:] - v[:, :1]).abs())[None]


def state(batch, n=3, seed=0):
    """An ``_Iterates`` of the sparse problem with random arrays and ``ρ = 8``."""
    g = torch.Generator().manual_seed(seed)
    arrays = {name: torch.randn(1, batch, 2**n, dtype=torch.float64, generator=g) for name in admm._Iterates.NAMES}
    s = admm._Iterates(False, **arrays)
    s.rho = torch.full((batch, 1), 8.0, dtype=torch.float64)
    return s


@pytest.mark.parametrize("name", ["mobius", "mobius_t", "zeta_t"])
@pytest.mark.parametrize("n", [1, 5, 15])
def test_solver_transforms_equal_the_butterflies(name, n):
    x = torch.randn(2, 3, 2**n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    fast, reference = getattr(admm, name)(x, n), getattr(transforms, name)(x, n)
    np.testing.assert_allclose(fast.numpy(), reference.numpy(), atol=1e-9 * 2**n)


@pytest.mark.parametrize("m", [1, 2, 3])
def test_descending_sorts_over_the_model_axis(m):
    a = torch.randn(m, 4, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(m))
    assert torch.equal(admm._descending(a), a.sort(dim=0, descending=True).values)


def test_anchored_step_moves_one_over_k_plus_two_back_to_the_anchor():
    s = state(2)
    halpern = admm._Halpern(s)
    anchor = {name: getattr(s, name).clone() for name in halpern.names}
    for step in range(3):
        moved = {name: getattr(s, name) + 1.0 for name in halpern.names}
        for name, value in moved.items():
            setattr(s, name, value.clone())
        halpern.average(s)
        for name in halpern.names:
            expected = moved[name] + (anchor[name] - moved[name]) / (step + 2)
            torch.testing.assert_close(getattr(s, name), expected)
    assert halpern.k.tolist() == [3.0, 3.0]


def test_restart_reanchors_only_where_the_residual_fell_enough():
    s = state(3)
    halpern = admm._Halpern(s)
    halpern.total = 1000  # far from the latest restart
    before = halpern.snapshot(s)

    def step(scales):  # a step that changes every residual array of sample b by scales[b]
        return {name: before[name] + torch.tensor(scales, dtype=torch.float64)[None, :, None] for name in before}

    halpern.restart(s, before, step([1.0, 1.0, 1.0]))  # the first check only records r₀
    assert halpern.anchor["w0"].equal(before["w0"]) and halpern.k.tolist() == [0.0, 0.0, 0.0]
    halpern.k += 5
    s.w0 = s.w0 + 1.0  # the iterate moved since the anchor
    # sample 0: the residual fell to 0.4 r₀ (restart); 1: 0.9 r₀ (none); 2: 0.3 r₀ (restart)
    halpern.restart(s, before, step([0.4, 0.9, 0.3]))
    assert halpern.k.tolist() == [0.0, 5.0, 0.0]
    torch.testing.assert_close(halpern.anchor["w0"][:, [0, 2]], s.w0[:, [0, 2]])
    assert not torch.equal(halpern.anchor["w0"][:, 1], s.w0[:, 1])
    # sample 1: 0.7 r₀ and growing again since the last check (0.6 r₀): the necessary condition
    halpern.restart(s, before, step([1.0, 0.6, 1.0]))
    halpern.restart(s, before, step([1.0, 0.7, 1.0]))
    assert halpern.k[1] == 0.0
    # the latest restart: after RESTART_LONG of all iterations
    halpern.k += 300
    halpern.restart(s, before, step([1.0, 1.0, 1.0]))
    assert halpern.k.tolist() == [0.0, 0.0, 0.0]


def test_boost_multiplies_rho_keeps_rho_w_and_restarts_at_most_a_few_times():
    s = state(2)
    halpern = admm._Halpern(s)
    halpern.k += 7
    w = s.w0.clone()
    halpern.boost(s, torch.tensor([True, False]))
    assert s.rho[:, 0].tolist() == [8.0 * admm.RHO_BOOST, 8.0]
    torch.testing.assert_close(s.rho[None] * s.w0, 8.0 * w)
    assert halpern.k.tolist() == [0.0, 7.0]
    torch.testing.assert_close(halpern.anchor["w0"][:, 0], s.w0[:, 0])
    for _ in range(admm.RHO_BOOSTS + 2):
        halpern.boost(s, torch.tensor([True, False]))
    assert s.rho[:, 0].tolist() == [8.0 * admm.RHO_BOOST**admm.RHO_BOOSTS, 8.0]


def test_stall_marks_the_samples_whose_gap_stopped_falling():
    stall = admm._Stall(4, torch.device("cpu"))
    gaps = torch.tensor([0.1, 0.1, 0.1, 0.1], dtype=torch.float64)
    assert stall.update(admm.STALL_WINDOW, gaps).tolist() == [False] * 4  # the first window only sets the marks
    assert stall.update(admm.STALL_WINDOW + 25, gaps * 0.99) is None  # too early for a decision
    later = torch.tensor([0.09, 0.05, 0.085, 0.01], dtype=torch.float64)
    assert stall.update(2 * admm.STALL_WINDOW, later).tolist() == [True, False, True, False]
    stall.reset(2 * admm.STALL_WINDOW)
    assert stall.update(3 * admm.STALL_WINDOW, later).tolist() == [False] * 4


def test_a_game_whose_multipliers_drift_at_the_first_rho_certifies_after_a_boost():
    # the first of these games: at ρ = 8 the splittings converge, the multipliers drift at a constant
    # rate and the bound creeps up (gap 1.8e-5 after 6000 iterations); a larger ρ certifies 1e-5
    n = 5
    v = scaled_games(n, 6, 3)[:, :1]
    zeta = torch.full((1, 1), 0.02, dtype=torch.float64)
    sol = admm.solve(v, zeta, n, tol=1e-5)
    assert bool(sol.converged.all())
    exact = ip.sparse_and_or(v[0].numpy(), noise_bound=0.02, solver="lp").objective
    assert float(sol.lower_bound) <= exact[0] * (1 + 1e-9) and float(sol.objective) <= exact[0] * (1 + 1e-5)


def test_float32_iterations_move_to_float64_and_reach_a_tight_certified_gap(monkeypatch):
    n = 5
    v = scaled_games(n, 6, 3)
    zeta = torch.full((1, 6), 0.02, dtype=torch.float64)
    promoted = []
    original = admm._Iterates.to

    def spy(self, dtype):
        promoted.append(dtype)
        original(self, dtype)

    monkeypatch.setattr(admm._Iterates, "to", spy)
    sol = admm.solve(v, zeta, n, tol=1e-5, dtype=torch.float32)
    assert promoted == [torch.float64]
    assert bool(sol.converged.all())
    exact = ip.sparse_and_or(v[0].numpy(), noise_bound=zeta[0].numpy(), solver="lp").objective
    assert np.all(sol.lower_bound.numpy() <= exact * (1 + 1e-9))
    assert np.all(sol.objective.numpy() <= exact * (1 + 1e-5) + 1e-12)


def test_float64_iterations_are_never_promoted(monkeypatch):
    n = 4
    v = scaled_games(n, 3, 5)
    calls = []
    monkeypatch.setattr(admm._Iterates, "to", lambda self, dtype: calls.append(dtype))
    sol = admm.solve(v, torch.full((1, 3), 0.02, dtype=torch.float64), n, tol=1e-6)
    assert calls == [] and bool(sol.converged.all())


def test_generalizable_pairs_certify_from_float32_iterations():
    n = 5
    v = torch.cat([scaled_games(n, 4, 7), scaled_games(n, 4, 8)])
    zeta = torch.full((2, 4), 0.02, dtype=torch.float64)
    beta = torch.full((2, 4), 0.5, dtype=torch.float64)
    sol = admm.solve(v, zeta, n, beta=beta, alpha=0.1, tol=1e-4, dtype=torch.float32)
    assert bool(sol.converged.all())
    exact = ip.generalizable_and_or(list(v.numpy()), noise_bound=0.02, specific_bounds=0.5, solver="lp")
    optimum = np.asarray(exact[0].meta["lower_bound"])
    assert np.all(sol.lower_bound.numpy() <= optimum * (1 + 1e-9) + 1e-12)
    assert np.all(sol.objective.numpy() <= optimum * (1 + 1e-4) + 1e-9)
