"""The published SGD procedure (SPEC §3): dense transform, losses, schedule, bounds, batching, errors."""

import numpy as np
import pytest
import torch

import interprim as ip
from interprim.extract.sgd import (
    dense_mobius,
    generalizable_loss,
    log_uniform_lr,
    solve_generalizable_sgd,
    solve_sparse_sgd,
    sparse_loss,
)
from interprim.transforms import mobius


def games(n, batch, seed, dtype=torch.float64):
    """Log-odds of a small random ReLU network on masked inputs: value vectors like real ones."""
    g = torch.Generator().manual_seed(seed)
    masks = ((torch.arange(2**n)[:, None] >> torch.arange(n)) & 1).double()
    out = []
    for _ in range(batch):
        x = torch.randn(n, 3, generator=g, dtype=torch.float64)
        w1 = torch.randn(3 * n, 16, generator=g, dtype=torch.float64) * 2.0 / np.sqrt(n)
        w2 = torch.randn(16, 4, generator=g, dtype=torch.float64)
        z = torch.relu((masks[:, :, None] * x).reshape(2**n, -1) @ w1) @ w2
        out.append(z[:, 0] - torch.logsumexp(z[:, 1:], dim=1))
    return torch.stack(out).to(dtype)


def loop_mobius(n):
    """M[T, L] = (−1)^{|T|−|L|} for L ⊆ T, written out subset by subset."""
    m = np.zeros((2**n, 2**n))
    for t in range(2**n):
        for sub in range(2**n):
            if sub & ~t == 0:
                m[t, sub] = (-1) ** (bin(t).count("1") - bin(sub).count("1"))
    return m


def loop_interactions(u_and, u_or, n):
    """I_and(T) = Σ_{L⊆T} (−1)^{|T|−|L|} u_and(L), I_or(T) = −Σ_{L⊆T} (−1)^{|T|−|L|} u_or(N\\L), by loops."""
    full = 2**n - 1
    i_and, i_or = np.zeros(2**n), np.zeros(2**n)
    for t in range(2**n):
        for sub in range(2**n):
            if sub & ~t == 0:
                sign = (-1) ** (bin(t).count("1") - bin(sub).count("1"))
                i_and[t] += sign * u_and[sub]
                i_or[t] -= sign * u_or[full & ~sub]
    return i_and, i_or


def fixed_split_objective(v):
    """Σ_{T≠∅} |I_and| + |I_or| of u_and = u_or = v/2, with the library's fast transforms."""
    i_and, i_or = ip.and_interactions(v / 2), ip.or_interactions(v / 2)
    return i_and[..., 1:].abs().sum(-1) + i_or[..., 1:].abs().sum(-1)


# --------------------------------------------------------------------------------------------
# The dense transform, the schedule and the losses
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 5])
def test_dense_mobius_is_the_mobius_transform(n):
    m = dense_mobius(n)
    np.testing.assert_array_equal(m.numpy(), loop_mobius(n))
    # the fast transform of the identity's rows gives the columns of M
    torch.testing.assert_close(mobius(torch.eye(2**n, dtype=torch.float64), n), m.T, rtol=0, atol=0)
    x = torch.randn(4, 2**n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    torch.testing.assert_close(x @ m.T, mobius(x, n), rtol=1e-12, atol=1e-12)
    assert dense_mobius(n, torch.float32).dtype == torch.float32


def test_dense_mobius_refuses_large_n_before_allocating():
    with pytest.raises(ValueError, match="n=15.*n ≤ 14"):
        dense_mobius(15)
    with pytest.raises(ValueError, match="positive integer"):
        dense_mobius(0)


def test_log_uniform_schedule_follows_the_formula():
    lr, steps = 3e-3, 7
    rates = log_uniform_lr(lr, steps)
    expected = [lr * 10 ** (-t / (steps - 1)) for t in range(steps)]
    np.testing.assert_allclose(rates, expected, rtol=1e-14)
    assert rates[0] == lr and rates[-1] == pytest.approx(lr / 10, rel=1e-14)
    np.testing.assert_allclose(np.diff(np.log10(rates)), -1 / (steps - 1), rtol=1e-12)
    np.testing.assert_array_equal(log_uniform_lr(lr, 1), [lr])
    assert log_uniform_lr(lr, 0).shape == (0,)


@pytest.mark.parametrize("n", [3, 4])
def test_sparse_loss_matches_the_definition(n):
    rng = np.random.default_rng(n)
    v, gamma, q = rng.normal(size=(3, 2, 2**n))
    loss = sparse_loss(*(torch.as_tensor(a) for a in (v, gamma, q)), dense_mobius(n).T)
    for b in range(2):
        u_and = 0.5 * (v[b] + q[b]) + gamma[b]
        u_or = 0.5 * (v[b] + q[b]) - gamma[b]
        i_and, i_or = loop_interactions(u_and, u_or, n)
        assert loss[b].item() == pytest.approx(np.abs(i_and[1:]).sum() + np.abs(i_or[1:]).sum(), rel=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.7])
def test_generalizable_loss_matches_the_definition(alpha):
    n, m, batch = 3, 3, 2
    rng = np.random.default_rng(int(alpha * 10))
    v, spec, q = rng.normal(size=(3, m, batch, 2**n))
    shared = rng.normal(size=(batch, 2**n))
    loss = generalizable_loss(
        *(torch.as_tensor(a) for a in (v, shared, spec, q)), alpha, dense_mobius(n).T
    )
    for b in range(batch):
        x_and, x_or = np.zeros((m, 2**n)), np.zeros((m, 2**n))
        for i in range(m):
            g = shared[b] + spec[i, b]
            u = 0.5 * (v[i, b] + q[i, b])
            i_and, i_or = loop_interactions(u + g, u - g, n)
            x_and[i], x_or[i] = np.abs(i_and), np.abs(i_or)
        expected = 0.0
        for x in (x_and, x_or):
            for t in range(1, 2**n):
                expected += (1 - alpha) * max(x[:, t]) + alpha * sum(x[:, t])
        assert loss[b].item() == pytest.approx(expected, rel=1e-12)


def test_generalizable_loss_with_alpha_one_is_the_sum_of_traditional_losses():
    n, m = 4, 2
    g = torch.Generator().manual_seed(5)
    v, spec, q = (torch.randn(m, 3, 2**n, dtype=torch.float64, generator=g) for _ in range(3))
    shared = torch.randn(3, 2**n, dtype=torch.float64, generator=g)
    mt = dense_mobius(n).T
    joint = generalizable_loss(v, shared, spec, q, 1.0, mt)
    separate = sum(sparse_loss(v[i], shared + spec[i], q[i], mt) for i in range(m))
    torch.testing.assert_close(joint, separate, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------------------------
# The procedures against a reference written out step by step
# --------------------------------------------------------------------------------------------


def reference_sparse_sgd(v, zeta, n, rates, momentum):
    """Momentum SGD on the traditional loss with explicit subgradients (one sample, numpy)."""
    m = loop_mobius(n)
    gamma, q = np.zeros(2**n), np.zeros(2**n)
    bufs = None
    for lr in rates:
        u = 0.5 * (v + q)
        s_and = np.sign(m @ (u + gamma))
        s_or = np.sign(-m @ (u - gamma)[::-1])
        s_and[0] = s_or[0] = 0.0
        back_and, back_or = m.T @ s_and, (m.T @ s_or)[::-1]  # Mᵀ s and F Mᵀ s
        grads = [back_and + back_or, 0.5 * back_and - 0.5 * back_or]
        bufs = grads if bufs is None else [momentum * b + g for b, g in zip(bufs, grads)]
        gamma, q = gamma - lr * bufs[0], q - lr * bufs[1]
        q = np.clip(q, -zeta, zeta)
    return gamma, q


def reference_generalizable_sgd(v, zeta, beta, alpha, n, lr, steps, momentum):
    """Momentum SGD on the generalizable loss with explicit subgradients (one sample, numpy)."""
    mm = loop_mobius(n)
    models = v.shape[0]
    shared, spec, q = np.zeros(2**n), np.zeros((models, 2**n)), np.zeros((models, 2**n))
    bufs = None
    for _ in range(steps):
        u = 0.5 * (v + q)
        g = shared + spec
        i_and = (u + g) @ mm.T
        i_or = -((u - g)[:, ::-1] @ mm.T)
        d = []
        for x in (i_and, i_or):
            top = np.zeros_like(x)
            top[np.argmax(np.abs(x), axis=0), np.arange(2**n)] = 1.0
            w = np.sign(x) * (alpha + (1 - alpha) * top)
            w[:, 0] = 0.0
            d.append(w)
        back_and, back_or = d[0] @ mm, (d[1] @ mm)[:, ::-1]
        g_gamma = back_and + back_or
        grads = [g_gamma.sum(0), g_gamma, 0.5 * back_and - 0.5 * back_or]
        bufs = grads if bufs is None else [momentum * b + gr for b, gr in zip(bufs, grads)]
        shared, spec, q = shared - lr * bufs[0], spec - lr * bufs[1], q - lr * bufs[2]
        q = np.clip(q, -zeta[:, None], zeta[:, None])
        spec = np.clip(spec, -beta[:, None], beta[:, None])
    return shared, spec, q


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sparse_sgd_follows_the_published_procedure_step_by_step(momentum):
    n, steps, lr = 4, 25, 0.05
    v = games(n, 2, 3)
    zeta = torch.tensor([0.05, 0.2], dtype=torch.float64)
    sol = solve_sparse_sgd(v, zeta, n, lr, iterations=steps, momentum=momentum)
    rates = [lr * 10 ** (-t / (steps - 1)) for t in range(steps)]
    for b in range(2):
        gamma, q = reference_sparse_sgd(v[b].numpy(), zeta[b].item(), n, rates, momentum)
        np.testing.assert_allclose(sol.noise[b].numpy(), q, atol=1e-10)
        np.testing.assert_allclose(sol.u_and[b].numpy(), 0.5 * (v[b].numpy() + q) + gamma, atol=1e-10)


def test_generalizable_sgd_follows_the_published_procedure_step_by_step():
    n, steps, lr, alpha = 3, 25, 0.03, 0.2
    base = games(n, 2, 8)
    v = torch.stack([base, 1.3 * base + 0.2 * games(n, 2, 9), games(n, 2, 10)])
    zeta = torch.tensor([[0.05, 0.1], [0.02, 0.0], [0.1, 0.1]], dtype=torch.float64)
    beta = torch.tensor([[0.03, 0.2], [0.05, 0.1], [0.0, 1.0]], dtype=torch.float64)
    sol = solve_generalizable_sgd(v, zeta, beta, alpha, n, lr, iterations=steps)
    for b in range(2):
        shared, spec, q = reference_generalizable_sgd(
            v[:, b].numpy(), zeta[:, b].numpy(), beta[:, b].numpy(), alpha, n, lr, steps, 0.9
        )
        np.testing.assert_allclose(sol.gamma_shared[b].numpy(), shared, atol=1e-10)
        np.testing.assert_allclose(sol.gamma_specific[:, b].numpy(), spec, atol=1e-10)
        np.testing.assert_allclose(sol.noise[:, b].numpy(), q, atol=1e-10)
        np.testing.assert_allclose(sol.u_and[:, b].numpy(), 0.5 * (v[:, b].numpy() + q) + shared + spec, atol=1e-10)


# --------------------------------------------------------------------------------------------
# Outcomes of a run
# --------------------------------------------------------------------------------------------


def test_sparse_run_improves_on_the_fixed_split_keeps_bounds_and_never_beats_the_optimum():
    n = 5
    v = games(n, 3, 1) * 2.0 + 0.5
    zeta = 0.02 * (v[:, -1] - v[:, 0]).abs()
    sol = solve_sparse_sgd(v, zeta, n, 1e-2, iterations=400, record_every=100)
    start = fixed_split_objective(v)
    # the trajectory starts at the fixed split and is recorded at the promised steps
    assert sol.trajectory_iterations.tolist() == [0, 100, 200, 300, 400]
    torch.testing.assert_close(sol.trajectory[0], start, rtol=1e-12, atol=0)
    torch.testing.assert_close(sol.trajectory[-1], sol.objective, rtol=0, atol=0)
    assert torch.all(sol.objective < 0.9 * start)
    # bounds hold exactly, and are active (the check is not vacuous)
    assert torch.all(sol.noise.abs() <= zeta[:, None])
    assert torch.any(sol.noise.abs() == zeta[:, None])
    # the objective is that of the returned split, by the fast transforms
    u_or = v + sol.noise - sol.u_and
    direct = ip.and_interactions(sol.u_and)[:, 1:].abs().sum(-1) + ip.or_interactions(u_or)[:, 1:].abs().sum(-1)
    torch.testing.assert_close(sol.objective, direct, rtol=1e-10, atol=0)
    # a baseline: it stays above the certified optimum
    optimum = ip.sparse_and_or(v.numpy(), noise_bound=zeta.numpy(), solver="lp").objective
    assert np.all(sol.objective.numpy() >= optimum * (1 - 1e-9))


def test_generalizable_run_improves_keeps_bounds_and_reports_its_loss():
    n, alpha = 4, 0.1
    base = games(n, 2, 4)
    v = torch.stack([base, 0.8 * base + 0.3 * games(n, 2, 5)])
    scale = (v[..., -1] - v[..., 0]).abs()
    zeta, beta = 0.02 * scale, 0.05 * scale
    sol = solve_generalizable_sgd(v, zeta, beta, alpha, n, 1e-2, iterations=300, record_every=150)
    mt = dense_mobius(n).T
    zero = torch.zeros_like(v)
    start = generalizable_loss(v, zero[0], zero, zero, alpha, mt)
    torch.testing.assert_close(sol.trajectory[0], start, rtol=0, atol=0)
    assert sol.trajectory_iterations.tolist() == [0, 150, 300]
    assert torch.all(sol.objective < 0.95 * start)
    assert torch.all(sol.noise.abs() <= zeta[..., None]) and torch.any(sol.noise.abs() == zeta[..., None])
    assert torch.all(sol.gamma_specific.abs() <= beta[..., None])
    assert torch.any(sol.gamma_specific.abs() == beta[..., None])
    again = generalizable_loss(v, sol.gamma_shared, sol.gamma_specific, sol.noise, alpha, mt)
    torch.testing.assert_close(sol.objective, again, rtol=1e-12, atol=0)
    torch.testing.assert_close(sol.u_and, 0.5 * (v + sol.noise) + sol.gamma_shared + sol.gamma_specific)


def test_zero_and_one_iterations():
    n = 4
    v = games(n, 2, 6)
    zeta = torch.full((2,), 0.01, dtype=torch.float64)
    none = solve_sparse_sgd(v, zeta, n, 1e-2, iterations=0, record_every=5)
    torch.testing.assert_close(none.u_and, v / 2, rtol=0, atol=0)
    assert torch.all(none.noise == 0)
    torch.testing.assert_close(none.objective, fixed_split_objective(v), rtol=1e-12, atol=0)
    assert none.trajectory.shape == (1, 2) and none.trajectory_iterations.tolist() == [0]
    one = solve_sparse_sgd(v, zeta, n, 1e-2, iterations=1)
    gamma, q = reference_sparse_sgd(v[0].numpy(), 0.01, n, [1e-2], 0.9)
    np.testing.assert_allclose(one.u_and[0].numpy(), 0.5 * (v[0].numpy() + q) + gamma, atol=1e-12)
    assert one.trajectory is None and one.trajectory_iterations is None
    gen = solve_generalizable_sgd(torch.stack([v, v]), 0.01, 0.1, 0.1, n, 1e-2, iterations=0)
    assert torch.all(gen.gamma_shared == 0) and torch.all(gen.gamma_specific == 0) and torch.all(gen.noise == 0)
    torch.testing.assert_close(gen.u_and, torch.stack([v, v]) / 2, rtol=0, atol=0)


def test_batched_equals_one_sample_at_a_time():
    n = 4
    v = games(n, 3, 12)
    zeta = 0.03 * (v[:, -1] - v[:, 0]).abs()
    whole = solve_sparse_sgd(v, zeta, n, 5e-3, iterations=200)
    for b in range(3):
        one = solve_sparse_sgd(v[b : b + 1], zeta[b : b + 1], n, 5e-3, iterations=200)
        torch.testing.assert_close(one.u_and[0], whole.u_and[b], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(one.noise[0], whole.noise[b], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(one.objective[0], whole.objective[b], rtol=1e-12, atol=0)
    vv = torch.stack([v, 0.7 * v + 0.1])
    whole = solve_generalizable_sgd(vv, 0.02, 0.1, 0.1, n, 5e-3, iterations=200)
    for b in range(3):
        one = solve_generalizable_sgd(vv[:, b : b + 1], 0.02, 0.1, 0.1, n, 5e-3, iterations=200)
        torch.testing.assert_close(one.gamma_shared[0], whole.gamma_shared[b], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(one.u_and[:, 0], whole.u_and[:, b], rtol=1e-12, atol=1e-12)


def test_float32_runs_in_float32_and_progress_counts_every_step():
    n = 4
    v = games(n, 2, 2, dtype=torch.float32)
    seen = []
    sol = solve_sparse_sgd(v, 0.01, n, 1e-2, iterations=250, progress=seen.append)
    assert sol.u_and.dtype == sol.noise.dtype == sol.objective.dtype == torch.float32
    assert sum(seen) == 250 and len(seen) <= 101
    ref = solve_sparse_sgd(v.double(), 0.01, n, 1e-2, iterations=250)
    assert torch.all(sol.objective.double() < fixed_split_objective(v.double()))
    torch.testing.assert_close(sol.objective.double(), ref.objective, rtol=0.05, atol=0)
    seen.clear()
    solve_generalizable_sgd(torch.stack([v, v]), 0.01, 0.1, 0.1, n, 1e-2, iterations=7, progress=seen.append)
    assert sum(seen) == 7


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def test_bad_input_raises_clear_errors():
    n = 3
    v = games(n, 2, 0)
    ok = dict(zeta=0.01, n=n, lr=1e-2, iterations=2)
    cases = [
        (dict(ok, v=v[0]), "shape"),
        (dict(ok, v=v[:, :7]), "shape"),
        (dict(ok, v=v, n=4), "shape"),
        (dict(ok, v=torch.full_like(v, float("nan"))), "NaN"),
        (dict(ok, v=v, zeta=-0.1), "zeta"),
        (dict(ok, v=v, zeta=[0.1, 0.1, 0.1]), "zeta"),
        (dict(ok, v=v, lr=0.0), "lr"),
        (dict(ok, v=v, lr=-1e-3), "lr"),
        (dict(ok, v=v, lr=float("nan")), "lr"),
        (dict(ok, v=v, iterations=-1), "iterations"),
        (dict(ok, v=v, momentum=1.0), "momentum"),
        (dict(ok, v=v, record_every=-2), "record_every"),
    ]
    for kwargs, word in cases:
        with pytest.raises(ValueError, match=word):
            solve_sparse_sgd(**kwargs)
    with pytest.raises(TypeError, match="torch tensor"):
        solve_sparse_sgd(v.numpy(), 0.01, n, 1e-2)
    with pytest.raises(TypeError, match="dtype"):
        solve_sparse_sgd(v.to(torch.int64), 0.01, n, 1e-2)
    with pytest.raises(TypeError, match="progress"):
        solve_sparse_sgd(v, 0.01, n, 1e-2, iterations=1, progress="yes")
    with pytest.raises(ValueError, match="n=15"):
        solve_sparse_sgd(torch.zeros(1, 2**15, dtype=torch.float64), 0.0, 15, 1e-2)

    vv = torch.stack([v, v])
    gok = dict(zeta=0.01, beta=0.1, alpha=0.1, n=n, lr=1e-2, iterations=2)
    gcases = [
        (dict(gok, v=v), "shape"),
        (dict(gok, v=vv, alpha=-0.1), "alpha"),
        (dict(gok, v=vv, alpha=1.5), "alpha"),
        (dict(gok, v=vv, beta=-1.0), "beta"),
        (dict(gok, v=vv, beta=np.ones((3, 2))), "beta"),
        (dict(gok, v=vv, zeta=np.array([[0.1, -0.1], [0.1, 0.1]])), "zeta"),
        (dict(gok, v=vv, lr=0), "lr"),
    ]
    for kwargs, word in gcases:
        with pytest.raises(ValueError, match=word):
            solve_generalizable_sgd(**kwargs)
