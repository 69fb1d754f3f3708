"""The interior-point method's factorisation (``interprim.extract.ipm._cholesky``: LAPACK in place —
MKL from torch's library or SciPy's — on one thread per part of a batch) and its reused
normal-matrix buffer."""

import ctypes

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

import interprim as ip
from interprim.extract import ipm
from interprim.transforms import zeta
from test_sparse import smooth_games


def spd(batch, size, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(batch, size, size, generator=g, dtype=torch.float64)
    return a @ a.mT / size + torch.eye(size, dtype=torch.float64)


@pytest.fixture(params=["mkl", "scipy"])
def lapack(request, monkeypatch):
    """Each LAPACK the method can use, made the one in use."""
    found = ipm._mkl_lapack() if request.param == "mkl" else ipm._scipy_lapack()
    if found is None:
        assert request.param == "mkl"  # SciPy always exports dpotrf
        pytest.skip("torch's library exports no MKL here (only x86 Linux wheels do)")
    monkeypatch.setattr(ipm, "_lapack", lambda: found)
    return found


@pytest.mark.parametrize("size", [1, 7, 64, 300])
def test_lapack_factors_in_place_equal_torchs_on_the_lower_triangle(size, lapack):
    k = spd(3, size, size)
    expected = torch.linalg.cholesky(k)
    given = torch.tril(k) + torch.full_like(k, float("nan")).triu(1)  # the upper triangle is never read
    chol, info = ipm._cholesky(given)
    assert chol.data_ptr() == given.data_ptr()
    assert info.tolist() == [0, 0, 0]
    lower = torch.tril(chol)
    assert torch.allclose(lower, expected, rtol=1e-10, atol=1e-12)
    assert torch.allclose(lower @ lower.mT, k, rtol=1e-10, atol=1e-12)
    single, info = ipm._cholesky(k.float())  # other types: torch
    assert info.tolist() == [0, 0, 0] and torch.allclose(single.double(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_matrix_that_is_not_positive_definite_is_reported(dtype, lapack):
    k = spd(3, 16, 0).to(dtype)
    k[1, 5, 5] = -1.0
    _, info = ipm._cholesky(k)
    assert info[0] == 0 and info[2] == 0 and info[1] > 0


def zeta_matrix(n):
    return torch.tensor([[1.0 if (t & s) == t else 0.0 for t in range(2**n)] for s in range(2**n)], dtype=torch.float64)


@pytest.mark.parametrize("n", [4, 8, 9])  # 8, 9: blocks of ipm._LEAF rows below one or two levels of recursion
def test_the_normal_matrix_fills_a_given_buffer_with_the_lower_triangle_of_its_definition(n):
    batch = 2
    g = torch.Generator().manual_seed(3)
    d = [torch.rand(batch, 2**n, generator=g, dtype=torch.float64) + 0.1 for _ in range(3)]
    buffer = torch.full((batch, 2**n, 2**n), float("nan"), dtype=torch.float64)
    k = ipm._normal_matrix(zeta(d[0], n), zeta(d[1], n), d[2], out=buffer)
    assert k.data_ptr() == buffer.data_ptr()
    z = zeta_matrix(n)
    fz = z.flip(0)
    for i in range(batch):
        full = z @ torch.diag(d[0][i]) @ z.T + fz @ torch.diag(d[1][i]) @ fz.T + torch.diag(d[2][i])
        assert torch.allclose(torch.tril(k[i]), torch.tril(full), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("with_join", [True, False])
def test_the_gram_blocks_fill_the_whole_matrix_when_asked(with_join):
    """``_gram(..., lower=False)`` (the off-diagonal blocks of the pair's normal matrix) writes every entry."""
    n, batch = 8, 2
    g = torch.Generator().manual_seed(4)
    d_a, d_b = (torch.rand(batch, 2**n, generator=g, dtype=torch.float64) for _ in range(2))
    out = torch.full((batch, 2**n, 2**n), float("nan"), dtype=torch.float64)
    ipm._gram(zeta(d_a, n), zeta(d_b, n) if with_join else None, out, lower=False)
    z = zeta_matrix(n)
    for i in range(batch):
        full = z @ torch.diag(d_a[i]) @ z.T + (z.flip(0) @ torch.diag(d_b[i]) @ z.flip(0).T if with_join else 0.0)
        assert torch.allclose(out[i], full, rtol=1e-12, atol=1e-12)


def factor_threads(lapack):
    """The threads a factorisation called now, in this thread, would use."""
    if lapack.source == "mkl":
        get = ipm._torch_mkl().MKL_Get_Max_Threads
        get.restype = ctypes.c_int
        return {get()}
    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


def test_a_batch_factorises_on_one_thread_per_part_and_one_game_on_all(monkeypatch, threads, lapack):
    threads(2)
    outside = factor_threads(lapack)
    seen = []

    def recording(*args):
        seen.append(factor_threads(lapack))
        lapack.potrf(*args)

    monkeypatch.setattr(ipm, "_lapack", lambda: ipm._Lapack(recording, lapack.threads, lapack.source))
    v = smooth_games(6, 3, 8)
    alone = [ip.sparse_and_or(v[i], solver="ipm", tol=1e-6) for i in range(3)]
    everything = {2} if lapack.source == "mkl" else outside  # MKL: torch's threads; SciPy: BLAS's own
    assert seen and all(t == everything for t in seen)
    assert factor_threads(lapack) == outside  # restored
    seen.clear()
    batch = ip.sparse_and_or(v, solver="ipm", tol=1e-6)
    assert seen and all(t == {1} for t in seen)
    assert factor_threads(lapack) == outside  # restored
    threads(1)
    seen.clear()
    ip.sparse_and_or(v[0], solver="ipm", tol=1e-6)
    assert seen and all(t == {1} for t in seen)  # one torch thread: one thread
    exact = ip.sparse_and_or(v, solver="lp").objective
    for i, one in enumerate(alone):
        assert one.meta["converged"] and batch.meta["converged"]
        assert abs(one.objective - exact[i]) <= 1e-5 * exact[i] + 1e-9
        assert abs(batch.objective[i] - exact[i]) <= 1e-5 * exact[i] + 1e-9
        assert np.max(np.abs(ip.transforms.reconstruct(one.i_and, one.i_or) - (v[i] + one.noise))) < 1e-9


def test_a_lapack_that_does_not_factorise_is_not_used():
    def untouched(uplo, size, a, lda, info):
        pass

    assert not ipm._factors_correctly(ipm._Lapack(untouched, None, "fake"))
    assert ipm._factors_correctly(ipm._scipy_lapack())


def test_without_lapack_the_method_factorises_with_torch_and_certifies_the_lp_optimum(monkeypatch):
    # the path of GPU tensors and of builds without an exported LAPACK: torch.linalg.cholesky_ex
    monkeypatch.setattr(ipm, "_lapack", lambda: None)
    calls, factor = [], torch.linalg.cholesky_ex

    def counting(k):
        calls.append(k.shape)
        return factor(k)

    monkeypatch.setattr(torch.linalg, "cholesky_ex", counting)
    v = smooth_games(6, 4, 21)
    r = ip.sparse_and_or(v, solver="ipm", tol=1e-4)
    exact = ip.sparse_and_or(v, solver="lp").objective
    assert (2**6, 2**6) in {tuple(shape[-2:]) for shape in calls} and r.meta["converged"]
    assert np.all(np.asarray(r.meta["lower_bound"]) <= exact * (1 + 1e-9) + 1e-12)
    assert np.all(r.objective <= exact * (1 + 1e-4) + 1e-9)


def solver_of(problem, theta, chol, excess):
    """The ``_Newton`` of ``problem`` that only solves ``K y = r`` (factor ``chol`` of ``K₀``, the free
    variables' ``excess``): the iterate's slacks and residuals are not used."""
    unused = torch.zeros(())
    return ipm._Newton(unused, unused, unused, unused, problem.moves, problem.bounded, theta, chol, unused, unused,
                       problem.apply_a, problem.apply_at, False, problem.free_columns(), excess)


def test_a_free_variables_scaling_above_the_others_is_left_out_of_the_factor():
    """``_without_excess``: the free variable's scaling is capped at the largest other one of its sample,
    and the rest is its excess; without free variables ``theta`` is unchanged."""
    theta = torch.tensor([[[5.0, 1.0], [2.0, 3.0]], [[0.5, 1.0], [2.0, 3.0]]], dtype=torch.float64)
    factored, excess = ipm._without_excess(theta, ((0, 0),))
    assert factored[:, 0, 0].tolist() == [3.0, 0.5]
    assert excess.tolist() == [[2.0], [0.0]]
    assert torch.equal(factored[:, 1], theta[:, 1]) and torch.equal(factored[:, 0, 1], theta[:, 0, 1])
    same, none = ipm._without_excess(theta, ())
    assert same is theta and none is None


@pytest.mark.parametrize("huge", [1.0, 1e6, 1e12])
def test_the_solve_with_the_free_variables_excess_meets_the_full_normal_matrix(huge):
    """``_Newton.solve`` with the factor of ``K₀`` and Woodbury's correction solves ``K y = r`` for the whole
    ``K = K₀ + U E Uᵀ`` (``A Θ Aᵀ``), also when the free variable's scaling (here ``a⁺[∅]``) is 1e12 times
    the others'. Checked against the dense saddle-point system ``[[K₀, U], [Uᵀ, −E⁻¹]] [y; s] = [r; 0]``,
    which stays well posed however large ``E`` is, and, where ``E`` leaves the product precise, against
    ``A Θ Aᵀ y`` through the transforms."""
    n, batch = 6, 3
    v = torch.as_tensor(smooth_games(n, batch, 7))
    problem = ipm._Sparse(v, 0.05 * v.abs().amax(-1), n)
    g = torch.Generator().manual_seed(8)
    theta = torch.where(problem.moves, torch.rand(batch, 5, 2**n, generator=g, dtype=torch.float64) + 0.05, 0.0)
    theta[:, 0, 0] = huge * torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    factored, excess = ipm._without_excess(theta, problem.free)
    assert bool((excess > 0).all()) == (huge > 1)
    k0 = problem.normal(factored, torch.zeros(batch, 2**n, 2**n, dtype=torch.float64)).tril()
    k0 = k0 + k0.tril(-1).mT
    chol, info = ipm._cholesky(k0.clone())
    assert info.tolist() == [0] * batch
    columns = problem.free_columns()
    newton = solver_of(problem, theta, chol, excess)
    r = torch.randn(batch, 2**n, generator=g, dtype=torch.float64)
    y = newton.solve(r)
    for b in range(batch):
        inverse = 1.0 / excess[b, 0] if excess[b, 0] > 0 else torch.tensor(float("inf"), dtype=torch.float64)
        if torch.isinf(inverse):  # no excess: K = K₀
            expected = torch.linalg.solve(k0[b], r[b])
        else:
            saddle = torch.zeros(2**n + 1, 2**n + 1, dtype=torch.float64)
            saddle[: 2**n, : 2**n], saddle[: 2**n, -1], saddle[-1, : 2**n], saddle[-1, -1] = k0[b], columns[:, 0], columns[:, 0], -inverse
            expected = torch.linalg.solve(saddle, torch.cat((r[b], torch.zeros(1, dtype=torch.float64))))[: 2**n]
        assert torch.allclose(y[b], expected, rtol=0, atol=1e-9 * expected.abs().max())
    if huge <= 1e6:
        product = problem.apply_a(theta * problem.apply_at(y))
        assert torch.allclose(product, r, rtol=0, atol=1e-8 * r.abs().max())


def test_a_failed_factor_with_an_excess_marks_its_game_instead_of_raising():
    """After a failed factorisation of ``K₀`` the Woodbury correction must not raise for the whole batch:
    the game with the broken factor is marked failed (it then stalls), the other is solved."""
    n, batch = 4, 2
    v = torch.as_tensor(smooth_games(n, batch, 2))
    problem = ipm._Sparse(v, 0.05 * v.abs().amax(-1), n)
    theta = torch.where(problem.moves, torch.ones(batch, 5, 2**n, dtype=torch.float64), 0.0)
    theta[:, 0, 0] = 1e9
    factored, excess = ipm._without_excess(theta, problem.free)
    chol, info = ipm._cholesky(problem.normal(factored, torch.zeros(batch, 2**n, 2**n, dtype=torch.float64)))
    chol[1] = float("nan")  # as after a breakdown
    newton = solver_of(problem, theta, chol, excess)
    y = newton.solve(torch.ones(batch, 2**n, dtype=torch.float64))
    assert newton.failed.tolist() == [False, True]
    assert torch.isfinite(y[0]).all()


def test_the_sparse_problem_reaches_tight_tolerances_although_the_free_entrys_scaling_grows_without_bound():
    """At 1e-7 the scaling of ``a⁺[∅]`` outgrows every other; factorised whole it stalled these games above
    the tolerance, kept out of the factor (Woodbury) it does not; the result is the LP's optimum."""
    v = smooth_games(9, 8, 3)
    fast = ip.sparse_and_or(v, solver="ipm", tol=1e-7)
    assert fast.meta["solver"] == "ipm" and fast.meta["converged"]
    exact = ip.sparse_and_or(v[:2], solver="lp").objective
    np.testing.assert_allclose(fast.objective[:2], exact, rtol=2e-7)
