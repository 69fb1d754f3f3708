"""``solver="auto"`` (the default): the fastest certified route for the batch at hand, and the
interior-point method it picks for a few small games (``interprim.extract.ipm``)."""

import warnings

import numpy as np
import pytest
import torch

import interprim as ip
from interprim.extract import ConvergenceWarning, _driver
from test_sparse import smooth_games

CPU = torch.device("cpu")


def logistic_games(n, batch, seed):
    """A scikit-learn-like smooth model: the probability of a logistic regression on random features, masked."""
    rng = np.random.default_rng(seed)
    masks = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(np.float64)
    out = []
    for _ in range(batch):
        x, w, b = rng.normal(size=n), rng.normal(size=n), rng.normal()
        out.append(1 / (1 + np.exp(-((masks * x) @ w + b))))
    return np.stack(out)


def lp_optimum(v, **kw):
    return ip.sparse_and_or(v, solver="lp", **kw).objective


# --- the rule --------------------------------------------------------------------------------


def test_the_rule_of_auto(threads):
    threads(1)  # the limits of the tables are per thread
    choose = _driver.choose
    assert choose("auto", 10, 1, 1, 1e-3, CPU) == "ipm"  # one game: the interior-point method
    loose, tight = _driver.IPM_MAX_BATCH[11]
    assert loose < tight  # at tighter tolerances the ADMM needs more iterations: the crossover moves up
    assert choose("auto", 11, 1, loose, 1e-2, CPU) == "ipm"
    assert choose("auto", 11, 1, loose + 1, 1e-2, CPU) == "admm"  # a big batch
    assert choose("auto", 11, 1, loose + 1, 1e-3, CPU) == "ipm"
    assert choose("auto", 11, 1, tight + 1, 1e-3, CPU) == "admm"
    assert choose("auto", 10, 1, 10**6, 1e-2, CPU) == "ipm"  # n ≤ 10: the interior-point method won at every batch
    assert choose("auto", 9, 1, 10**6, 1e-2, CPU) == "ipm"
    assert choose("auto", 6, 1, 10**6, 1e-3, CPU) == "ipm"  # small games: any batch
    assert choose("auto", 13, 1, 1, 1e-3, CPU) == "admm"  # beyond the interior-point method
    assert choose("auto", 10, 1, 1, 1e-7, CPU) == "ipm"  # the interior-point method certifies 1e-7
    assert choose("auto", 10, 1, 1, 1e-8, CPU) == "lp"  # tighter than the interior-point method certifies
    assert choose("auto", 8, 1, 1, 1e-3, torch.device("cuda")) == "admm"  # GPU tensors
    assert choose("auto", 6, 2, 1, 1e-3, CPU) == "lp"  # one small pair: the exact LP
    assert choose("auto", 3, 2, 10**4, 1e-3, CPU) == "ipm"  # … more: the interior-point method (two models)
    assert choose("auto", 6, 3, 1, 1e-3, CPU) == "lp"  # three models, small: the exact LP
    assert choose("auto", 3, 3, 10**4, 1e-3, CPU) == "admm"  # … for a small batch only
    assert choose("auto", 9, 3, 1, 1e-3, CPU) == "admm"  # unmeasured n never take the LP
    assert choose("auto", 12, 3, 1, 1e-3, CPU) == "admm"  # beyond LP_MAX_SIZE
    threads(2)  # the interior-point method solves a batch on every thread: each adds its limit
    assert choose("auto", 11, 1, 2 * loose, 1e-2, CPU) == "ipm"
    assert choose("auto", 11, 1, 2 * loose + 1, 1e-2, CPU) == "admm"
    for solver in ("admm", "ipm", "lp", "sgd"):
        assert choose(solver, 10, 1, 10**6, 1e-3, CPU) == solver


def test_auto_picks_the_interior_point_method_for_one_small_game():
    v = logistic_games(8, 1, 0)[0]
    r = ip.sparse_and_or(v)
    assert r.meta["solver"] == "ipm"
    assert r.meta["converged"] and 0 < r.meta["iterations"] <= 100
    assert r.meta["gap"] <= 1e-3 * r.objective
    assert r.meta["tol"] == 1e-3


def test_auto_picks_admm_for_a_big_batch(monkeypatch):
    monkeypatch.setattr(_driver, "IPM_MAX_BATCH", {8: (2, 2)})
    v = smooth_games(8, 3, 1)
    r = ip.sparse_and_or(v, tol=1e-2)
    assert r.meta["solver"] == "admm"
    assert r.meta["converged"]
    assert ip.sparse_and_or(v[:2], tol=1e-2).meta["solver"] == "ipm"


def test_the_meta_keys_are_those_of_every_solver():
    v = smooth_games(5, 2, 2)
    keys = {s: set(ip.sparse_and_or(v, solver=s).meta) for s in ("auto", "ipm", "admm", "lp")}
    assert keys["auto"] == keys["ipm"] == keys["admm"] == keys["lp"]
    joint = {s: set(ip.generalizable_and_or([v, 2 * v], solver=s)[0].meta) for s in ("auto", "admm", "lp")}
    assert joint["auto"] == joint["admm"] == joint["lp"]


# --- certified: the same optimum as the exact LP ----------------------------------------------


@pytest.mark.parametrize("tol", [1e-2, 1e-3])
def test_auto_is_within_its_certified_gap_of_the_lp_optimum(tol, mnist_games):
    games = {
        "mnist": mnist_games.reshape(-1, 2**6),
        "smooth": smooth_games(7, 3, 3),
        "logistic": logistic_games(7, 3, 4),
        "random": np.random.default_rng(5).normal(size=(3, 2**6)),
    }
    for name, v in games.items():
        r = ip.sparse_and_or(v, tol=tol)
        optimum = lp_optimum(v)
        assert r.meta["solver"] == "ipm", name
        assert r.meta["converged"]
        assert np.all(r.meta["lower_bound"] <= optimum * (1 + 1e-9) + 1e-12), name  # a valid lower bound
        assert np.all(r.objective >= optimum * (1 - 1e-9) - 1e-12), name  # a feasible point
        assert np.all(r.objective - optimum <= r.meta["gap"] + 1e-9 * optimum), name
        assert np.all(r.meta["gap"] <= tol * r.objective), name
        assert np.max(r.matching_error(v)) < 1e-12
        assert np.all(np.abs(r.noise) <= r.meta["noise_bound"][..., None])


def test_auto_agrees_with_admm_within_their_certified_gaps():
    v = smooth_games(6, 4, 6)
    auto, admm = ip.sparse_and_or(v, tol=1e-3), ip.sparse_and_or(v, solver="admm", tol=1e-3)
    assert auto.meta["solver"] == "ipm" and admm.meta["solver"] == "admm"
    assert np.all(auto.meta["lower_bound"] <= admm.objective + 1e-12)
    assert np.all(admm.meta["lower_bound"] <= auto.objective + 1e-12)
    assert np.allclose(auto.objective, admm.objective, rtol=2e-3)


def test_the_interior_point_method_without_noise_and_with_a_flat_game():
    """``noise=0`` fixes the noise at zero; a game the noise bound absorbs has optimum zero and stops at once."""
    v = logistic_games(6, 2, 7)
    r = ip.sparse_and_or(v, noise=0, solver="ipm")
    assert r.meta["converged"] and np.all(r.noise == 0)
    assert np.allclose(r.objective, lp_optimum(v, noise=0), rtol=1e-3)
    flat = np.random.default_rng(8).normal(size=(2, 2**5))
    flat[:, -1] = flat[:, 0] + 1.0
    r = ip.sparse_and_or(flat, noise_bound=[10.0, 0.0], solver="ipm")  # one flat game, one without noise
    assert r.meta["converged"]
    assert r.objective[0] <= 1e-12 and r.meta["iterations"][0] == 0
    assert r.objective[1] > 0 and np.all(r.noise[1] == 0)
    assert np.max(r.matching_error(flat)) < 1e-12


def test_tight_tolerances_refine_the_directions_and_are_certified(monkeypatch):
    """Below ``REFINE_BELOW`` the sparse problem refines each direction; the certificate holds at ``1e-5``."""
    from interprim.extract import ipm

    calls, refined = [], ipm._Newton.refined

    def counting(self, *direction):
        calls.append(1)
        return refined(self, *direction)

    monkeypatch.setattr(ipm._Newton, "refined", counting)
    v = logistic_games(7, 3, 12)
    ip.sparse_and_or(v, solver="ipm", tol=1e-3)
    assert not calls  # at the usual tolerances: no refinement
    r = ip.sparse_and_or(v, solver="ipm", tol=1e-5)
    assert calls and r.meta["converged"]
    optimum = lp_optimum(v)
    assert np.all(r.meta["lower_bound"] <= optimum * (1 + 1e-9)) and np.all(r.objective <= optimum * (1 + 1e-5))


def test_a_stalled_interior_point_method_falls_back_to_the_exact_lp():
    v = smooth_games(6, 2, 9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        r = ip.sparse_and_or(v, max_iter=1)  # one iteration certifies nothing: the LP takes over
    assert r.meta["solver"] == "ipm+lp"
    assert r.meta["converged"]
    assert np.allclose(r.objective, lp_optimum(v), rtol=1e-9)
    with pytest.warns(ConvergenceWarning, match="2 of 2 samples stopped"):
        r = ip.sparse_and_or(v, solver="ipm", max_iter=1)  # asked for by name: no fallback, an honest warning
    assert r.meta["solver"] == "ipm" and not r.meta["converged"]
    assert np.all(r.meta["lower_bound"] <= lp_optimum(v) + 1e-12)


def test_the_interior_point_method_refuses_what_it_cannot_solve():
    with pytest.raises(ValueError, match="solver='ipm' solves the sparse problem of one model .* of two models"):
        ip.generalizable_and_or([np.zeros(16), np.ones(16), np.ones(16)], solver="ipm")
    with pytest.raises(ValueError, match="n ≤ 12"):
        ip.sparse_and_or(np.zeros(2**13), solver="ipm")


# --- array types and the generalizable method --------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_in_torch_out(dtype):
    v = torch.tensor(smooth_games(5, 6, 10), dtype=dtype).reshape(2, 3, 2**5)
    r = ip.sparse_and_or(v)
    assert r.meta["solver"] == "ipm"
    for x in (r.i_and, r.i_or, r.gamma, r.noise):
        assert isinstance(x, torch.Tensor) and x.dtype == dtype and tuple(x.shape) == (2, 3, 2**5)
    assert r.meta["gap"].shape == (2, 3)
    rs = ip.generalizable_and_or([v, 2 * v])
    assert rs[0].meta["solver"] == "ipm"
    assert isinstance(rs[1].i_and, torch.Tensor) and rs[1].i_and.dtype == dtype


def test_two_models_take_the_lp_for_few_small_samples_the_ipm_for_more_and_the_admm_beyond(monkeypatch):
    v = smooth_games(5, 3, 11)
    pair = [v, 1.5 * v + 0.2 * smooth_games(5, 3, 12)]
    exact = ip.generalizable_and_or(pair, solver="lp")
    optimum = exact[0].meta["joint_objective"]
    few = ip.generalizable_and_or([x[:2] for x in pair], tol=1e-3)  # 2 ≤ PAIR_LP_MAX_BATCH[5]
    assert few[0].meta["solver"] == "lp"
    np.testing.assert_allclose(few[0].meta["joint_objective"], optimum[:2], rtol=1e-9)
    auto = ip.generalizable_and_or(pair, tol=1e-3)
    assert auto[0].meta["solver"] == "ipm" and auto[0].meta["converged"]
    monkeypatch.setattr(_driver, "IPM_PAIR_MAX_BATCH", {5: (2, 2)})  # n = 5 now at the table's edge: 3 > 2
    big = ip.generalizable_and_or(pair, tol=1e-3)
    assert big[0].meta["solver"] == "admm" and big[0].meta["converged"]
    for r in (auto, big):
        assert np.all(r[0].meta["lower_bound"] <= optimum * (1 + 1e-9))
        assert np.all(r[0].meta["joint_objective"] - optimum <= r[0].meta["gap"] + 1e-9 * optimum)


@pytest.mark.parametrize(
    "n, batch, tol, expected",
    [(8, 16, 1e-2, "ipm"), (8, 17, 1e-2, "admm"), (8, 128, 1e-3, "ipm"), (9, 16, 1e-2, "ipm"),
     (9, 17, 1e-2, "admm"), (10, 1, 1e-2, "ipm"), (10, 2, 1e-2, "admm"),
     (10, 16, 1e-3, "ipm"), (10, 17, 1e-3, "admm"), (11, 1, 1e-3, "admm"), (6, 500, 1e-2, "ipm"),
     (4, 4, 1e-3, "lp"), (4, 5, 1e-3, "ipm"), (8, 4, 1e-7, "ipm"), (8, 4, 1e-8, "lp"), (12, 1, 1e-8, "admm"),
     (7, 256, 1e-2, "ipm"), (7, 257, 1e-2, "admm"), (7, 1024, 1e-3, "ipm"), (7, 1025, 1e-3, "admm")],
)
def test_the_rule_for_two_models(n, batch, tol, expected, threads):
    threads(1)
    assert _driver.choose("auto", n, 2, batch, tol, torch.device("cpu")) == expected


def test_one_pair_on_several_threads_takes_the_interior_point_method(threads, monkeypatch):
    """Alone, a pair factorises on every thread, so it takes the interior-point method at every n of the table
    even where the table's limit per thread is zero (as at n = 10 and tol = 1e-2 before the sixth session)."""
    cpu = torch.device("cpu")
    monkeypatch.setattr(_driver, "IPM_PAIR_MAX_BATCH", {9: (0, 64), 10: (0, 16)})
    threads(2)
    assert _driver.choose("auto", 10, 2, 1, 1e-2, cpu) == "ipm"
    assert _driver.choose("auto", 10, 2, 2, 1e-2, cpu) == "admm"
    assert _driver.choose("auto", 11, 2, 1, 1e-2, cpu) == "admm"  # beyond the table
    threads(1)
    assert _driver.choose("auto", 10, 2, 1, 1e-2, cpu) == "admm"


def test_three_models_keep_the_lp_for_few_small_samples_and_the_admm_for_many(monkeypatch):
    values = [smooth_games(5, 2, 11 + i) for i in range(3)]
    auto = ip.generalizable_and_or(values, tol=1e-3)
    assert auto[0].meta["solver"] == "lp"  # m · batch = 6 ≤ LP_MAX_BATCH[5]
    monkeypatch.setattr(_driver, "LP_MAX_BATCH", {4: (2, 2), 5: (2, 2)})
    assert ip.generalizable_and_or(values, tol=1e-3)[0].meta["solver"] == "admm"


def test_the_interior_point_method_solves_a_batch_on_every_thread_with_the_same_result(threads, monkeypatch):
    """The batch is cut into one part per thread; each game's result does not depend on its part."""
    import threading

    from interprim.extract import ipm

    solve_chunk, seen = ipm._solve_chunk, []

    def recording(v, *args):
        seen.append((threading.get_ident(), v.shape[0], torch.get_num_threads()))
        return solve_chunk(v, *args)

    monkeypatch.setattr(ipm, "_solve_chunk", recording)
    v = smooth_games(6, 7, 21)
    threads(1)
    alone = ip.sparse_and_or(v, solver="ipm", tol=1e-4)
    assert len({ident for ident, _, _ in seen}) == 1 and sum(b for _, b, _ in seen) == 7
    seen.clear()
    threads(3)
    split = ip.sparse_and_or(v, solver="ipm", tol=1e-4)
    assert torch.get_num_threads() == 3
    assert len({ident for ident, _, _ in seen}) == 3 and sorted(b for _, b, _ in seen) == [2, 2, 3]
    assert {t for _, _, t in seen} == {1}  # every operation of every part on one thread
    for key in ("i_and", "i_or", "noise", "gamma"):
        assert np.array_equal(getattr(alone, key), getattr(split, key)), key
    assert np.array_equal(alone.meta["iterations"], split.meta["iterations"])
    assert np.array_equal(alone.meta["gap"], split.meta["gap"])


def test_the_interior_point_method_runs_on_one_thread_and_restores_the_callers():
    """Its small operations wait for descheduled threads on a loaded CPU; the caller's setting comes back."""
    v = smooth_games(5, 2, 13)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        r = ip.sparse_and_or(v, solver="ipm")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
    assert r.meta["converged"]
    assert np.allclose(r.objective, ip.sparse_and_or(v, solver="ipm").objective, rtol=1e-12)
