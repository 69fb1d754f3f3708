"""Tests of the closed-form extraction methods ``harsanyi`` and ``and_or`` (SPEC §3.1-3.2).

The references are written from the definitions of SPEC §2 with plain loops over subsets
(``L ⊆ T`` as ``L & ~T == 0``, popcounts with ``bin``), independent of the butterflies in
:mod:`interprim.transforms`.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from interprim import Interactions, and_or, harsanyi, reconstruct

CUDA = torch.cuda.is_available()
DEVICES = ["cpu"] + (["cuda"] if CUDA else [])


@pytest.fixture
def rng():
    return np.random.default_rng(7)


# ---------------------------------------------------------------------------------------------
# Reference, straight from the definitions
# ---------------------------------------------------------------------------------------------


def popcount(s: int) -> int:
    return bin(s).count("1")


@functools.lru_cache(maxsize=None)
def mobius_matrix(n: int) -> np.ndarray:
    """``A[T, L] = (-1)^{|T|-|L|}`` for ``L ⊆ T``, else 0."""
    size = 2**n
    A = np.zeros((size, size))
    for T in range(size):
        for L in range(size):
            if L & ~T == 0:
                A[T, L] = (-1.0) ** (popcount(T) - popcount(L))
    return A


def ref_harsanyi(v: np.ndarray) -> np.ndarray:
    """``I(T) = Σ_{L⊆T} (-1)^{|T|-|L|} v(L)`` over the last axis."""
    n = v.shape[-1].bit_length() - 1
    return v @ mobius_matrix(n).T


def ref_and_or(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fixed split ``u_and = u_or = v/2`` of one vector, by direct loops over ``T`` and ``L ⊆ T``."""
    size = v.shape[-1]
    full = size - 1
    u_and = u_or = v / 2
    i_and = np.zeros(size)
    i_or = np.zeros(size)
    for T in range(size):
        for L in range(size):
            if L & ~T == 0:
                sign = (-1.0) ** (popcount(T) - popcount(L))
                i_and[T] += sign * u_and[L]
                if T:
                    i_or[T] -= sign * u_or[full ^ L]
    i_and[0] = u_and[0] + u_or[0]  # the bias b
    return i_and, i_or


def ref_h(i_and: np.ndarray, i_or: np.ndarray) -> np.ndarray:
    """``h(S) = Σ_{T⊆S} I_and(T) + Σ_{T∩S≠∅} I_or(T)`` by direct loops."""
    size = i_and.shape[-1]
    h = np.zeros(size)
    for S in range(size):
        for T in range(size):
            if T & ~S == 0:
                h[S] += i_and[T]
            if T & S:
                h[S] += i_or[T]
    return h


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 9))
def test_harsanyi_is_the_mobius_transform(rng, n):
    v = rng.normal(size=2**n)
    r = harsanyi(v)
    assert isinstance(r, Interactions)
    assert r.n_players == n and r.batch_shape == ()
    np.testing.assert_allclose(r.i_and, ref_harsanyi(v), rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(r.i_or, np.zeros(2**n))
    assert r.i_and[0] == v[0]  # the bias is v(∅)


def test_harsanyi_hand_worked():
    # n = 2: v(∅)=1, v({0})=3, v({1})=4, v({0,1})=10
    r = harsanyi(np.array([1.0, 3.0, 4.0, 10.0]))
    np.testing.assert_allclose(r.i_and, [1.0, 2.0, 3.0, 10.0 - 3.0 - 4.0 + 1.0])
    assert float(r.objective) == pytest.approx(2.0 + 3.0 + 4.0)


@pytest.mark.parametrize("n", range(1, 7))
def test_and_or_matches_definition(rng, n):
    v = rng.normal(size=2**n)
    r = and_or(v)
    e_and, e_or = ref_and_or(v)
    np.testing.assert_allclose(r.i_and, e_and, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(r.i_or, e_or, rtol=1e-10, atol=1e-10)
    assert r.i_and[0] == pytest.approx(v[0], abs=1e-14)  # bias v(∅) = u_and(∅) + u_or(∅)
    assert r.i_or[0] == 0.0


def test_and_or_hand_worked():
    # n = 1: v(∅)=2, v({0})=6, so u_and = u_or = v/2 = (1, 3).
    # I_and = (b, u_and({0}) - u_and(∅)) = (1 + 1, 3 - 1) = (2, 2);
    # I_or({0}) = -[(-1)^1 u_or(N∖∅) + (-1)^0 u_or(N∖{0})] = -[-3 + 1] = 2.
    # Check: h(∅) = 2, h({0}) = 2 + 2 + 2 = 6.
    r = and_or(np.array([2.0, 6.0]))
    np.testing.assert_allclose(r.i_and, [2.0, 2.0])
    np.testing.assert_allclose(r.i_or, [0.0, 2.0])


@pytest.mark.parametrize("method", [harsanyi, and_or])
@pytest.mark.parametrize("n", [1, 3, 5, 8])
def test_universal_matching(rng, method, n):
    v = rng.normal(size=2**n)
    r = method(v)
    np.testing.assert_allclose(reconstruct(r.i_and, r.i_or), v, rtol=1e-10, atol=1e-10)
    assert float(r.matching_error(v)) < 1e-10
    assert float(r.matching_error(v, with_noise=False)) < 1e-10
    if n <= 5:
        np.testing.assert_allclose(ref_h(r.i_and, r.i_or), v, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n", [2, 4])
def test_gamma_noise_and_meta(rng, n):
    v = rng.normal(size=2**n)
    h, a = harsanyi(v), and_or(v)
    # harsanyi: u_and = v = ½v + γ  =>  γ = v/2
    np.testing.assert_allclose(h.gamma, v / 2)
    np.testing.assert_array_equal(h.noise, np.zeros_like(v))
    assert h.meta == {"method": "harsanyi"}
    # fixed split: γ = 0
    np.testing.assert_array_equal(a.gamma, np.zeros_like(v))
    np.testing.assert_array_equal(a.noise, np.zeros_like(v))
    assert a.meta == {"method": "and_or"}
    # γ reproduces the split: u_and = ½(v + q) + γ, u_or = ½(v + q) − γ
    for r in (h, a):
        u_and = (v + r.noise) / 2 + r.gamma
        u_or = (v + r.noise) / 2 - r.gamma
        np.testing.assert_allclose(r.i_and[1:], ref_harsanyi(u_and)[1:], atol=1e-12)
        np.testing.assert_allclose(r.i_and[0], u_and[0] + u_or[0], atol=1e-12)


@pytest.mark.parametrize("method", [harsanyi, and_or])
def test_objective_players_meta(rng, method):
    v = rng.normal(size=(2, 8))
    r = method(v, players=["a", "b", "c"])
    assert r.players == ("a", "b", "c")
    expected = np.abs(r.i_and[:, 1:]).sum(-1) + np.abs(r.i_or[:, 1:]).sum(-1)
    np.testing.assert_allclose(r.objective, expected, rtol=1e-12)
    assert method(v).players == ("0", "1", "2")
    with pytest.raises(ValueError, match="players"):
        method(v, players=["a", "b"])


def test_harsanyi_objective_smaller_on_and_game():
    # a pure AND game is sparsest as Harsanyi: one interaction
    v = np.zeros(8)
    v[7] = 5.0
    r = harsanyi(v)
    assert float(r.objective) == pytest.approx(5.0)
    assert r.top(1) == [("and", ("0", "1", "2"), 5.0)]


@pytest.mark.parametrize("method", [harsanyi, and_or])
def test_batched_equals_looped(rng, method):
    v = rng.normal(size=(2, 3, 32))
    r = method(v)
    assert r.batch_shape == (2, 3)
    for i in range(2):
        for j in range(3):
            one = method(v[i, j])
            for name in ("i_and", "i_or", "gamma", "noise", "objective"):
                np.testing.assert_allclose(getattr(r, name)[i, j], getattr(one, name), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", [harsanyi, and_or])
def test_input_not_modified(rng, method):
    v = rng.normal(size=(2, 16))
    keep = v.copy()
    method(v)
    np.testing.assert_array_equal(v, keep)
    t = torch.from_numpy(v.copy())
    method(t)
    np.testing.assert_array_equal(t.numpy(), keep)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", [harsanyi, and_or])
def test_torch_equals_numpy(rng, method, device):
    v = rng.normal(size=(3, 64))
    r = method(v)
    t = method(torch.tensor(v, device=device))
    for name in ("i_and", "i_or", "gamma", "noise", "objective"):
        x = getattr(t, name)
        assert isinstance(x, torch.Tensor), name
        assert x.dtype == torch.float64 and x.device.type == device, name
        np.testing.assert_allclose(x.cpu().numpy(), getattr(r, name), rtol=1e-12, atol=1e-12)
    t32 = method(torch.tensor(v, dtype=torch.float32, device=device))
    assert t32.i_and.dtype == torch.float32
    np.testing.assert_allclose(t32.i_and.cpu().numpy(), r.i_and, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("method", [harsanyi, and_or])
def test_integer_and_list_input(method):
    v = [0, 1, 2, 5]
    r = method(v)
    assert r.i_and.dtype == np.float64
    np.testing.assert_allclose(r.i_and, method(np.array(v, dtype=float)).i_and)


def test_float32_numpy_kept():
    r = harsanyi(np.arange(8, dtype=np.float32))
    assert r.i_and.dtype == np.float32 and r.gamma.dtype == np.float32


@pytest.mark.parametrize("method", [harsanyi, and_or])
@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros(6), "the last axis has length 6"),
        (np.zeros(1), "the last axis has length 1"),
        (np.zeros((2, 12)), "the last axis has length 12"),
        (np.array([0.0, np.nan, 1.0, 2.0]), "NaN"),
        (np.array([0.0, np.inf, 1.0, 2.0]), "infinite"),
        (np.zeros(4, dtype=bool), "dtype bool"),
        (np.zeros(4, dtype=complex), "dtype complex"),
        (torch.zeros(4, dtype=torch.bool), "dtype torch.bool"),
        (torch.tensor([0.0, float("nan"), 0.0, 0.0]), "NaN"),
        (np.float64(3.0), "scalar"),
        ("abcd", "dtype"),
    ],
)
def test_bad_input_names_v(method, bad, match):
    with pytest.raises(ValueError, match=r"^v: .*" + match):
        method(bad)
