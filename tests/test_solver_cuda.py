"""The batched solver on a CUDA device (issue 15): float32 iterations, a float64 certificate, the same
optima as on the CPU. Skipped with a reason where no CUDA device is present."""

import numpy as np
import pytest
import torch

import interprim as ip
from test_sparse import smooth_games

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def assert_brackets(lower, objective, optimum):
    """The certified interval ``[lower, objective]`` holds the CPU's LP optimum and is within 0.1 % of it."""
    assert np.all(lower <= optimum * (1 + 1e-9) + 1e-12)
    assert np.all(objective <= optimum * (1 + 1e-3) + 1e-9)


def assert_matching(result, values):
    """Universal matching against ``v + q`` holds on the device."""
    assert float(np.max(result.matching_error(values))) < 1e-9 * max(1.0, float(values.abs().max()))


@pytest.mark.parametrize("n", [5, 8])
def test_sparse_admm_on_cuda_certifies_the_cpu_optimum(n):
    v = smooth_games(n, 12, 40 + n)
    exact = ip.sparse_and_or(v, solver="lp").objective
    on_device = torch.as_tensor(v, device="cuda")
    r = ip.sparse_and_or(on_device, solver="admm", tol=1e-3)
    assert r.i_and.device.type == "cuda" and r.meta["solver"] == "admm"
    lower, objective = np.asarray(r.meta["lower_bound"]), r.objective.cpu().numpy()
    assert np.all(np.asarray(r.meta["converged"]))
    assert_brackets(lower, objective, exact)
    assert_matching(r, on_device)


def test_generalizable_admm_on_cuda_certifies_the_cpu_optimum():
    n = 5
    a, b = smooth_games(n, 6, 60), smooth_games(n, 6, 61)
    exact = ip.generalizable_and_or([a, b], solver="lp")
    optimum = np.asarray(exact[0].meta["lower_bound"])
    rs = ip.generalizable_and_or([torch.as_tensor(a, device="cuda"), torch.as_tensor(b, device="cuda")],
                                 solver="admm", tol=1e-3)
    lower = np.asarray(rs[0].meta["lower_bound"])
    gap = np.asarray(rs[0].meta["gap"])
    assert rs[0].i_and.device.type == "cuda"
    assert_brackets(lower, lower + gap, optimum)


def test_sparse_ipm_on_cuda_certifies_the_cpu_optimum():
    v = smooth_games(8, 6, 80)
    exact = ip.sparse_and_or(v, solver="lp").objective
    on_device = torch.as_tensor(v, device="cuda")
    r = ip.sparse_and_or(on_device, solver="ipm", tol=1e-3)
    assert r.i_and.device.type == "cuda" and r.meta["solver"] == "ipm" and r.meta["converged"]
    lower, objective = np.asarray(r.meta["lower_bound"]), r.objective.cpu().numpy()
    assert_brackets(lower, objective, exact)
    assert_matching(r, on_device)


def test_pair_ipm_on_cuda_certifies_the_cpu_optimum():
    n = 6
    a, b = smooth_games(n, 5, 62), smooth_games(n, 5, 63)
    optimum = np.asarray(ip.generalizable_and_or([a, b], solver="lp")[0].meta["joint_objective"])
    on_device = [torch.as_tensor(a, device="cuda"), torch.as_tensor(b, device="cuda")]
    rs = ip.generalizable_and_or(on_device, solver="ipm", tol=1e-3)
    assert rs[0].i_and.device.type == "cuda" and rs[0].meta["solver"] == "ipm" and rs[0].meta["converged"]
    assert_brackets(np.asarray(rs[0].meta["lower_bound"]), np.asarray(rs[0].meta["joint_objective"]), optimum)
    for r, v in zip(rs, on_device):
        assert_matching(r, v)


def test_auto_on_cuda_runs_the_batched_admm():
    v = torch.as_tensor(smooth_games(6, 4, 70), device="cuda")
    assert ip.sparse_and_or(v).meta["solver"] == "admm"
