"""The interior-point method's factorisation (``interprim.extract.ipm._cholesky``) and its reused
normal-matrix buffer: LAPACK in place for one game, torch for a batch, the same factors either way."""

import numpy as np
import pytest
import torch

import interprim as ip
from interprim.extract import ipm
from interprim.transforms import zeta
from test_sparse import smooth_games


def spd(batch, size, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(batch, size, size, generator=g, dtype=torch.float64)
    return a @ a.mT / size + torch.eye(size, dtype=torch.float64)


@pytest.mark.parametrize("size", [1, 7, 64, 300])
def test_lapack_factors_equal_torchs_on_the_lower_triangle(size):
    k = spd(3, size, size)
    expected = torch.linalg.cholesky(k)
    given = torch.tril(k) + torch.full_like(k, float("nan")).triu(1)  # the upper triangle is never read
    chol, info = ipm._cholesky(given, lapack=True)
    assert chol.data_ptr() == given.data_ptr()  # in place
    assert info.tolist() == [0, 0, 0]
    lower = torch.tril(chol)
    assert torch.allclose(lower, expected, rtol=1e-10, atol=1e-12)
    assert torch.allclose(lower @ lower.mT, k, rtol=1e-10, atol=1e-12)


def test_lapack_reports_a_matrix_that_is_not_positive_definite():
    for lapack in (True, False):
        k = spd(3, 16, 0)
        k[1, 5, 5] = -1.0
        _, info = ipm._cholesky(k, lapack=lapack)
        assert info[0] == 0 and info[2] == 0 and info[1] > 0


def test_the_normal_matrix_fills_a_given_buffer_with_the_lower_triangle_of_its_definition():
    n, batch = 4, 2
    g = torch.Generator().manual_seed(3)
    d = [torch.rand(batch, 2**n, generator=g, dtype=torch.float64) + 0.1 for _ in range(3)]
    buffer = torch.full((batch, 2**n, 2**n), float("nan"), dtype=torch.float64)
    k = ipm._normal_matrix(zeta(d[0], n), zeta(d[1], n), d[2], out=buffer)
    assert k.data_ptr() == buffer.data_ptr()
    z = torch.tensor([[1.0 if (t & s) == t else 0.0 for t in range(2**n)] for s in range(2**n)], dtype=torch.float64)
    fz = z.flip(0)
    for i in range(batch):
        full = z @ torch.diag(d[0][i]) @ z.T + fz @ torch.diag(d[1][i]) @ fz.T + torch.diag(d[2][i])
        assert torch.allclose(torch.tril(k[i]), torch.tril(full), atol=1e-12)


@pytest.fixture
def threads():
    previous = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(previous)


def test_one_game_is_factorised_by_lapack_and_a_batch_by_torch_with_the_same_certified_optimum(monkeypatch, threads):
    threads(2)
    v = smooth_games(6, 3, 8)
    used, factor = [], ipm._cholesky

    def recording(k, lapack):
        used.append((k.shape[0], lapack))
        return factor(k, lapack)

    monkeypatch.setattr(ipm, "_cholesky", recording)
    alone = [ip.sparse_and_or(v[i], solver="ipm", tol=1e-6) for i in range(3)]
    assert used and all(lapack and b == 1 for b, lapack in used)
    used.clear()
    batch = ip.sparse_and_or(v, solver="ipm", tol=1e-6)
    assert used and not any(lapack for _, lapack in used)
    exact = ip.sparse_and_or(v, solver="lp").objective
    for i, one in enumerate(alone):
        assert one.meta["converged"] and batch.meta["converged"]
        assert abs(one.objective - exact[i]) <= 1e-5 * exact[i] + 1e-9
        assert abs(batch.objective[i] - exact[i]) <= 1e-5 * exact[i] + 1e-9
        assert np.max(np.abs(ip.transforms.reconstruct(one.i_and, one.i_or) - (v[i] + one.noise))) < 1e-9


def test_one_game_on_one_thread_keeps_to_torchs_factorisation(monkeypatch, threads):
    """SciPy's BLAS would not keep to one thread."""
    threads(1)
    used, factor = [], ipm._cholesky
    monkeypatch.setattr(ipm, "_cholesky", lambda k, lapack: used.append(lapack) or factor(k, lapack))
    one = ip.sparse_and_or(smooth_games(5, 1, 2)[0], solver="ipm", tol=1e-4)
    assert one.meta["converged"] and used and not any(used)
