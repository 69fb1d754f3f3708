"""Tests of the AND/OR interaction transforms (SPEC §2) against a reference built from the definitions.

The reference matrices below are written straight from the formulas, one row (one subset ``T``
or ``S``) at a time, with popcounts taken from ``bin(S).count("1")`` and complements taken with
``^`` — nothing is shared with the fast butterflies in ``interprim.transforms``. For ``n <= 10``
the dense ``2**n × 2**n`` matrices are at most 8 MiB each.
"""

from __future__ import annotations

import functools
import tracemalloc
import zlib

import numpy as np
import pytest
import torch

import interprim._array as _array
from interprim.transforms import (
    and_interactions,
    inverse_and,
    inverse_or,
    mobius,
    mobius_t,
    or_interactions,
    or_part,
    reconstruct,
    split_interactions,
    zeta,
    zeta_t,
)

ALL_N = list(range(1, 11))
CUDA = torch.cuda.is_available()
DEVICES = ["cpu"] + (["cuda"] if CUDA else [])


# ---------------------------------------------------------------------------------------------
# Reference implementation, straight from the definitions
# ---------------------------------------------------------------------------------------------


def popcount(s: int) -> int:
    return bin(s).count("1")


@functools.lru_cache(maxsize=None)
def _popcounts(n: int) -> np.ndarray:
    return np.array([popcount(s) for s in range(2**n)], dtype=np.int64)


@functools.lru_cache(maxsize=None)
def ref_mobius_matrix(n: int) -> np.ndarray:
    """``A[T, L] = (-1)^{|T|-|L|}`` if ``L ⊆ T`` else 0, so that ``I_and = A @ u_and``."""
    size = 2**n
    pc = _popcounts(n)
    L = np.arange(size)
    A = np.zeros((size, size))
    for T in range(size):
        inside = (L & ~T) == 0  # L ⊆ T
        A[T, inside] = (-1.0) ** (popcount(T) - pc[inside])
    return A


@functools.lru_cache(maxsize=None)
def ref_or_matrix(n: int) -> np.ndarray:
    """``R`` with ``I_or = R @ u_or``: ``I_or(T) = -Σ_{L⊆T} (-1)^{|T|-|L|} u_or(N∖L)``, row ∅ zero."""
    size = 2**n
    full = size - 1
    pc = _popcounts(n)
    L = np.arange(size)
    R = np.zeros((size, size))
    for T in range(1, size):  # I_or(∅) = 0: row 0 stays zero
        inside = (L & ~T) == 0
        comp = full ^ L[inside]  # N ∖ L
        R[T, comp] = -((-1.0) ** (popcount(T) - pc[inside]))
    return R


@functools.lru_cache(maxsize=None)
def ref_zeta_matrix(n: int) -> np.ndarray:
    """``Z[S, T] = 1`` if ``T ⊆ S``: ``u_and(S) = Σ_{T⊆S} I_and(T)``."""
    size = 2**n
    T = np.arange(size)
    Z = np.zeros((size, size))
    for S in range(size):
        Z[S, (T & ~S) == 0] = 1.0
    return Z


@functools.lru_cache(maxsize=None)
def ref_meet_matrix(n: int) -> np.ndarray:
    """``O[S, T] = 1`` if ``T ∩ S ≠ ∅``: the OR part ``Σ_{T∩S≠∅} I_or(T)``."""
    size = 2**n
    T = np.arange(size)
    O = np.zeros((size, size))
    for S in range(size):
        O[S, (T & S) != 0] = 1.0
    return O


def ref_and(u):
    n = int(np.log2(u.shape[-1]))
    return u @ ref_mobius_matrix(n).T


def ref_or(u):
    n = int(np.log2(u.shape[-1]))
    return u @ ref_or_matrix(n).T


def ref_inverse_and(i_and):
    n = int(np.log2(i_and.shape[-1]))
    return i_and @ ref_zeta_matrix(n).T


def ref_inverse_or(i_or):
    n = int(np.log2(i_or.shape[-1]))
    return i_or @ ref_meet_matrix(n).T


def ref_reconstruct(i_and, i_or):
    """``h(S) = Σ_{T⊆S} I_and(T) + Σ_{T∩S≠∅} I_or(T)``, looping over ``T`` explicitly."""
    size = i_and.shape[-1]
    S = np.arange(size)
    h = np.zeros(i_and.shape)
    for T in range(size):
        h += np.where((T & ~S) == 0, 1.0, 0.0) * i_and[..., T : T + 1]  # T ⊆ S
        h += np.where((T & S) != 0, 1.0, 0.0) * i_or[..., T : T + 1]  # T ∩ S ≠ ∅
    return h


def ref_split(u_and, u_or):
    i_and = ref_and(u_and)
    i_and[..., 0] = u_and[..., 0] + u_or[..., 0]
    return i_and, ref_or(u_or)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def rng_for(*key) -> np.random.Generator:
    """A generator seeded from ``key``, the same in every run (``hash`` of a str is not)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def assert_close(actual, expected, rel=1e-10):
    """``max|actual - expected| <= rel * max(1, max|expected|)`` (works for numpy and torch)."""
    a = actual.detach().cpu().numpy() if isinstance(actual, torch.Tensor) else np.asarray(actual)
    e = expected.detach().cpu().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert a.shape == e.shape, (a.shape, e.shape)
    scale = max(1.0, float(np.max(np.abs(e))) if e.size else 1.0)
    err = float(np.max(np.abs(a.astype(np.float64) - e.astype(np.float64)))) if e.size else 0.0
    assert err <= rel * scale, f"max abs error {err:.3e} > {rel:.1e} * {scale:.3e}"


ONE_ARG = {
    "and_interactions": (and_interactions, ref_and),
    "or_interactions": (or_interactions, ref_or),
    "inverse_and": (inverse_and, ref_inverse_and),
    "inverse_or": (inverse_or, ref_inverse_or),
}


def call_public(name, *args):
    if name in ONE_ARG:
        return ONE_ARG[name][0](*args)
    return {"split_interactions": split_interactions, "reconstruct": reconstruct}[name](*args)


PUBLIC = list(ONE_ARG) + ["split_interactions", "reconstruct"]
ARITY = {name: 1 for name in ONE_ARG} | {"split_interactions": 2, "reconstruct": 2}
ARG_NAMES = {
    "and_interactions": ("u_and",),
    "or_interactions": ("u_or",),
    "inverse_and": ("i_and",),
    "inverse_or": ("i_or",),
    "split_interactions": ("u_and", "u_or"),
    "reconstruct": ("i_and", "i_or"),
}


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


# ---------------------------------------------------------------------------------------------
# The reference itself, on hand-worked small cases
# ---------------------------------------------------------------------------------------------


def test_reference_hand_worked_n2():
    # u over ∅, {0}, {1}, {0,1}
    u = np.array([1.0, 3.0, 7.0, 20.0])
    # Harsanyi dividends: u(∅), u0-u∅, u1-u∅, u01-u0-u1+u∅
    np.testing.assert_array_equal(ref_and(u), [1.0, 2.0, 6.0, 11.0])
    # I_or({0}) = u(N)-u({1}), I_or({1}) = u(N)-u({0}), I_or(N) = -u(N)+u({0})+u({1})-u(∅)
    np.testing.assert_array_equal(ref_or(u), [0.0, 13.0, 17.0, -11.0])
    np.testing.assert_array_equal(and_interactions(u), [1.0, 2.0, 6.0, 11.0])
    np.testing.assert_array_equal(or_interactions(u), [0.0, 13.0, 17.0, -11.0])
    # OR part: S meets {0}, {1}, N
    np.testing.assert_array_equal(ref_inverse_or(np.array([5.0, 1.0, 2.0, 4.0])), [0.0, 5.0, 6.0, 7.0])
    np.testing.assert_array_equal(ref_inverse_and(np.array([5.0, 1.0, 2.0, 4.0])), [5.0, 6.0, 7.0, 12.0])


def test_reference_matrices_consistent():
    # Z is the inverse of A, and the reconstruct loop agrees with the matrices
    for n in (1, 2, 3, 5):
        np.testing.assert_allclose(ref_zeta_matrix(n) @ ref_mobius_matrix(n), np.eye(2**n), atol=0)
        rng = rng_for("refcons", n)
        a, o = rng.normal(size=(2, 2**n))
        assert_close(ref_reconstruct(a, o), ref_inverse_and(a) + ref_inverse_or(o))


# ---------------------------------------------------------------------------------------------
# Public transforms vs the reference, every n from 1 to 10
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", ALL_N)
@pytest.mark.parametrize("name", list(ONE_ARG))
def test_one_arg_transform_matches_reference(name, n):
    fn, ref = ONE_ARG[name]
    u = rng_for(name, n).normal(size=(2, 2**n))
    out = fn(u)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == u.shape
    assert_close(out, ref(u))


@pytest.mark.parametrize("n", ALL_N)
@pytest.mark.parametrize("name", list(ONE_ARG))
def test_one_arg_transform_exact_on_basis(name, n):
    # Each basis vector e_L gives column L of the transform's matrix; all entries are small
    # integers, so float64 must reproduce the reference matrix exactly.
    fn, _ = ONE_ARG[name]
    matrix = {
        "and_interactions": ref_mobius_matrix,
        "or_interactions": ref_or_matrix,
        "inverse_and": ref_zeta_matrix,
        "inverse_or": ref_meet_matrix,
    }[name](n)
    np.testing.assert_array_equal(fn(np.eye(2**n)), matrix.T)


@pytest.mark.parametrize("n", ALL_N)
def test_split_interactions_matches_reference(n):
    rng = rng_for("split", n)
    u_and, u_or = rng.normal(size=(2, 3, 2**n))
    i_and, i_or = split_interactions(u_and, u_or)
    r_and, r_or = ref_split(u_and, u_or)
    assert_close(i_and, r_and)
    assert_close(i_or, r_or)
    # bias in I_and(∅), OR has none; all other entries are the plain transforms
    np.testing.assert_allclose(i_and[..., 0], u_and[..., 0] + u_or[..., 0], rtol=0, atol=1e-12)
    assert np.all(i_or[..., 0] == 0)
    assert_close(i_and[..., 1:], and_interactions(u_and)[..., 1:])
    assert_close(i_or, or_interactions(u_or))


@pytest.mark.parametrize("n", ALL_N)
def test_reconstruct_matches_reference(n):
    rng = rng_for("reconstruct", n)
    i_and, i_or = rng.normal(size=(2, 2, 2**n))
    assert_close(reconstruct(i_and, i_or), ref_reconstruct(i_and, i_or))


@pytest.mark.parametrize("n", [1, 4, 9])
def test_or_empty_set_entry_is_ignored(n):
    rng = rng_for("orempty", n)
    i_and, i_or = rng.normal(size=(2, 2**n))
    zeroed = i_or.copy()
    zeroed[0] = 0.0
    # or_part is Σ_T - Σ_{T⊆N∖S}: equal up to rounding, not bit for bit
    assert_close(inverse_or(i_or), inverse_or(zeroed), rel=1e-12)
    assert_close(reconstruct(i_and, i_or), reconstruct(i_and, zeroed), rel=1e-12)
    assert abs(inverse_or(i_or)[0]) <= 1e-12 * np.abs(i_or).sum()  # the empty set meets nothing


# ---------------------------------------------------------------------------------------------
# Internals used by the solvers: mobius, zeta, their adjoints, or_part
# ---------------------------------------------------------------------------------------------

INTERNALS = {
    "mobius": (mobius, lambda n: ref_mobius_matrix(n)),
    "zeta": (zeta, lambda n: ref_zeta_matrix(n)),
    "mobius_t": (mobius_t, lambda n: ref_mobius_matrix(n).T),
    "zeta_t": (zeta_t, lambda n: ref_zeta_matrix(n).T),
    "or_part": (or_part, lambda n: ref_meet_matrix(n)),
}


@pytest.mark.parametrize("n", ALL_N)
@pytest.mark.parametrize("name", list(INTERNALS))
def test_internal_matches_dense_matrix(name, n):
    fn, mat = INTERNALS[name]
    eye = np.eye(2**n)
    # row L of fn(eye) is fn(e_L) = column L of the matrix
    np.testing.assert_array_equal(fn(eye, n), mat(n).T)
    x = rng_for(name, n).normal(size=(3, 2**n))
    assert_close(fn(x, n), x @ mat(n).T)


@pytest.mark.parametrize("n", [1, 2, 5, 10, 14])
@pytest.mark.parametrize("pair", [(mobius, mobius_t), (zeta, zeta_t)], ids=["mobius", "zeta"])
def test_adjoint_identity(pair, n):
    fwd, adj = pair
    rng = rng_for("adjoint", fwd.__name__, n)
    x, y = rng.normal(size=(2, 2**n))
    lhs = float(np.dot(fwd(x, n), y))
    rhs = float(np.dot(x, adj(y, n)))
    scale = np.linalg.norm(fwd(x, n)) * np.linalg.norm(y)
    assert abs(lhs - rhs) <= 1e-12 * scale
    # torch path too
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    assert abs(float(fwd(xt, n) @ yt) - float(xt @ adj(yt, n))) <= 1e-12 * scale


@pytest.mark.parametrize("n", [1, 3, 8])
def test_internals_do_not_write_to_input(n):
    x = rng_for("internal-inplace", n).normal(size=(2, 2**n))
    x.flags.writeable = False
    for fn, _ in INTERNALS.values():
        fn(x, n)
        xt = torch.from_numpy(x.copy())
        before = xt.clone()
        fn(xt, n)
        assert torch.equal(xt, before)


# ---------------------------------------------------------------------------------------------
# Inverses and universal matching
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 6, 10, 15])
def test_and_inverse_round_trips(n):
    u = rng_for("and-inv", n).normal(size=(2, 2**n))
    assert_close(inverse_and(and_interactions(u)), u)
    assert_close(and_interactions(inverse_and(u)), u)
    assert_close(zeta(mobius(u, n), n), u)
    assert_close(mobius_t(zeta_t(u, n), n), u)


@pytest.mark.parametrize("n", [1, 2, 6, 10, 15])
def test_or_inverse_round_trips(n):
    u = rng_for("or-inv", n).normal(size=(2, 2**n))
    # documented constant: the OR transform forgets u(∅)
    assert_close(inverse_or(or_interactions(u)), u - u[..., :1])
    # inverse_or ignores I_or(∅); or_interactions returns I_or(∅) = 0
    expected = u.copy()
    expected[..., 0] = 0.0
    assert_close(or_interactions(inverse_or(u)), expected)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 12, 16])
def test_universal_matching(n):
    rng = rng_for("matching", n)
    u_and = rng.normal(size=(2, 2**n))
    u_or = rng.normal(size=(2, 2**n)) * 3.0 + 1.0
    h = reconstruct(*split_interactions(u_and, u_or))
    assert_close(h, u_and + u_or, rel=1e-10)


@pytest.mark.parametrize("n", [3, 10])
def test_universal_matching_torch(n):
    rng = rng_for("matching-torch", n)
    u_and, u_or = (torch.from_numpy(a) for a in rng.normal(size=(2, 4, 2**n)))
    h = reconstruct(*split_interactions(u_and, u_or))
    assert isinstance(h, torch.Tensor)
    assert_close(h, u_and + u_or, rel=1e-10)


def test_universal_matching_pure_and_pure_or():
    n = 6
    rng = rng_for("matching-pure", n)
    u = rng.normal(size=2**n)
    zero = np.zeros(2**n)
    assert_close(reconstruct(*split_interactions(u, zero)), u)
    assert_close(reconstruct(*split_interactions(zero, u)), u)
    # a pure OR split puts the whole bias u(∅) into I_and(∅) and nothing else in I_and
    i_and, _ = split_interactions(zero, u)
    assert i_and[0] == u[0] and np.all(i_and[1:] == 0)


# ---------------------------------------------------------------------------------------------
# Batching, numpy vs torch, no writes to inputs, dtypes and devices
# ---------------------------------------------------------------------------------------------


def random_args(name, shape, seed_key):
    rng = rng_for(*seed_key)
    return tuple(rng.normal(size=shape) for _ in range(ARITY[name]))


@pytest.mark.parametrize("n", [1, 4, 7])
@pytest.mark.parametrize("name", PUBLIC)
def test_batched_equals_looped(name, n):
    args = random_args(name, (3, 2, 2**n), ("batch", name, n))
    out = as_tuple(call_public(name, *args))
    for i in range(3):
        for j in range(2):
            single = as_tuple(call_public(name, *(a[i, j] for a in args)))
            for o, s in zip(out, single):
                assert o.shape == (3, 2, 2**n)
                assert_close(o[i, j], s, rel=1e-13)
    # and the torch path batches the same way
    out_t = as_tuple(call_public(name, *(torch.from_numpy(a) for a in args)))
    for o, ot in zip(out, out_t):
        assert tuple(ot.shape) == (3, 2, 2**n)
        assert_close(ot, o, rel=1e-13)


@pytest.mark.parametrize("n", [2, 5])
@pytest.mark.parametrize("name", list(INTERNALS))
def test_internal_batched_equals_looped(name, n):
    fn, _ = INTERNALS[name]
    x = rng_for("ibatch", name, n).normal(size=(3, 2, 2**n))
    out = fn(x, n)
    for i in range(3):
        for j in range(2):
            assert_close(out[i, j], fn(x[i, j], n), rel=1e-13)


def test_empty_batch():
    for name in PUBLIC:
        args = tuple(np.zeros((0, 8)) for _ in range(ARITY[name]))
        for o in as_tuple(call_public(name, *args)):
            assert o.shape == (0, 8)
        for o in as_tuple(call_public(name, *(torch.from_numpy(a) for a in args))):
            assert tuple(o.shape) == (0, 8)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [1, 6, 10])
@pytest.mark.parametrize("name", PUBLIC)
def test_numpy_equals_torch(name, n, device):
    args = random_args(name, (2, 2**n), ("np-torch", name, n))
    ref = as_tuple(call_public(name, *args))
    # float64: same numbers up to rounding
    out64 = as_tuple(call_public(name, *(torch.tensor(a, device=device) for a in args)))
    for o, r in zip(out64, ref):
        assert isinstance(o, torch.Tensor) and o.dtype == torch.float64 and o.device.type == device
        assert_close(o, r, rel=1e-12)
    # float32 in → float32 out, close to the float64 result
    out32 = as_tuple(call_public(name, *(torch.tensor(a, dtype=torch.float32, device=device) for a in args)))
    for o, r in zip(out32, ref):
        assert o.dtype == torch.float32 and o.device.type == device
        assert_close(o, r, rel=1e-4)
    # numpy float32 stays float32 too
    out_np32 = as_tuple(call_public(name, *(a.astype(np.float32) for a in args)))
    for o, r in zip(out_np32, ref):
        assert isinstance(o, np.ndarray) and o.dtype == np.float32
        assert_close(o, r, rel=1e-4)


@pytest.mark.parametrize("name", PUBLIC)
def test_integer_and_list_inputs_become_float64(name):
    ints = tuple(np.arange(8, dtype=np.int32) * (k + 1) for k in range(ARITY[name]))
    ref = as_tuple(call_public(name, *(a.astype(np.float64) for a in ints)))
    for o, r in zip(as_tuple(call_public(name, *ints)), ref):
        assert isinstance(o, np.ndarray) and o.dtype == np.float64
        np.testing.assert_array_equal(o, r)
    for o, r in zip(as_tuple(call_public(name, *(a.tolist() for a in ints))), ref):
        assert isinstance(o, np.ndarray) and o.dtype == np.float64
        np.testing.assert_array_equal(o, r)
    for dt in (torch.int64, torch.int16, torch.uint8):
        out = as_tuple(call_public(name, *(torch.tensor(a).to(dt) for a in ints)))
        for o, r in zip(out, ref):
            assert isinstance(o, torch.Tensor) and o.dtype == torch.float64
            np.testing.assert_array_equal(o.numpy(), r)


@pytest.mark.parametrize("name", PUBLIC)
def test_inputs_not_modified_numpy(name):
    args = random_args(name, (2, 32), ("inplace-np", name))
    copies = [a.copy() for a in args]
    for a in args:
        a.flags.writeable = False  # any write attempt raises
    out = as_tuple(call_public(name, *args))
    for a, c in zip(args, copies):
        np.testing.assert_array_equal(a, c)
        for o in out:
            assert not np.shares_memory(o, a)
    # and a non-contiguous (reversed, strided) view is read correctly and left alone
    base = [np.ascontiguousarray(np.repeat(a[..., ::-1], 2, axis=-1)) for a in args]
    views = [b[..., ::-2] for b in base]
    snapshot = [b.copy() for b in base]
    out_v = as_tuple(call_public(name, *views))
    out_c = as_tuple(call_public(name, *(np.ascontiguousarray(v) for v in views)))
    for o, c in zip(out_v, out_c):
        np.testing.assert_array_equal(o, c)
    for b, s in zip(base, snapshot):
        np.testing.assert_array_equal(b, s)


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("name", PUBLIC)
def test_inputs_not_modified_torch(name, requires_grad):
    args = [torch.from_numpy(a) for a in random_args(name, (2, 32), ("inplace-t", name))]
    args = [a.clone().requires_grad_(requires_grad) for a in args]
    snapshots = [a.detach().clone() for a in args]
    versions = [a._version for a in args]
    out = as_tuple(call_public(name, *args))
    for a, s, v in zip(args, snapshots, versions):
        assert torch.equal(a.detach(), s)
        assert a._version == v  # no in-place op touched the input
        for o in out:
            assert o.data_ptr() != a.data_ptr()
    # non-contiguous tensor input (a transposed batch) gives the contiguous result
    t_args = [a.detach().T.contiguous().T for a in args]  # (2, 32) with strides (1, 2)
    assert not t_args[0].is_contiguous()
    out_nc = as_tuple(call_public(name, *t_args))
    out_c = as_tuple(call_public(name, *(a.contiguous() for a in t_args)))
    for o, c in zip(out_nc, out_c):
        assert_close(o, c, rel=1e-13)  # torch may sum in another order: equal up to rounding


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", PUBLIC)
def test_torch_output_dtype_and_device(name, dtype, device):
    args = [torch.randn(3, 16, dtype=dtype, device=device) for _ in range(ARITY[name])]
    for o in as_tuple(call_public(name, *args)):
        assert isinstance(o, torch.Tensor)
        assert o.dtype == dtype and o.device == args[0].device and tuple(o.shape) == (3, 16)
        assert not o.requires_grad


def test_mixed_arguments_follow_the_first():
    rng = rng_for("mixed")
    a, o = rng.normal(size=(2, 16))
    # numpy float32 first: the second is converted to it
    i_and, i_or = split_interactions(a.astype(np.float32), o)
    assert i_and.dtype == np.float32 and i_or.dtype == np.float32
    assert reconstruct(a.astype(np.float32), o).dtype == np.float32
    # torch first, numpy second: torch out
    h = reconstruct(torch.from_numpy(a), o)
    assert isinstance(h, torch.Tensor) and h.dtype == torch.float64
    assert_close(h, reconstruct(a, o), rel=1e-13)


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------


def _leaf(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, dtype=torch.float64, generator=g).requires_grad_(True)


@pytest.mark.parametrize("n", [1, 3])
def test_gradcheck_public(n):
    shape = (2, 2**n)
    for k, (fn, arity) in enumerate(
        [
            (and_interactions, 1),
            (or_interactions, 1),
            (inverse_and, 1),
            (inverse_or, 1),
            (split_interactions, 2),
            (reconstruct, 2),
        ]
    ):
        args = tuple(_leaf(shape, 100 * n + 10 * k + j) for j in range(arity))
        assert torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-7)


def test_gradcheck_split_with_one_argument_tracked():
    # the bias path differs when only one of the two arguments requires grad
    a, o = _leaf((2, 8), 1), _leaf((2, 8), 2)
    assert torch.autograd.gradcheck(lambda x: split_interactions(x, o.detach()), (a,))
    assert torch.autograd.gradcheck(lambda y: split_interactions(a.detach(), y), (o,))
    assert torch.autograd.gradcheck(lambda y: reconstruct(a.detach(), y), (o,))


@pytest.mark.parametrize("n", [2, 5, 9])
def test_gradient_is_the_adjoint(n):
    # d<w, M u>/du = Mᵀ w, d<w, Z x>/dx = Zᵀ w: autograd through the torch path must give the adjoints
    w = torch.from_numpy(rng_for("adj-grad", n).normal(size=2**n))
    u = _leaf((2**n,), n)
    (and_interactions(u) @ w).backward()
    assert_close(u.grad, mobius_t(w, n), rel=1e-12)
    x = _leaf((2**n,), n + 1)
    (inverse_and(x) @ w).backward()
    assert_close(x.grad, zeta_t(w, n), rel=1e-12)
    # OR: I_or = -(M (u∘c)) with the ∅ row dropped, so grad(S) = -(Mᵀ w')(N∖S) with w'(∅) = 0
    y = _leaf((2**n,), n + 2)
    (or_interactions(y) @ w).backward()
    w0 = w.clone()
    w0[0] = 0
    assert_close(y.grad, -mobius_t(w0, n).flip(-1), rel=1e-12)


def test_no_grad_context_gives_untracked_output():
    u = _leaf((2, 16), 7)
    with torch.no_grad():
        for o in as_tuple(split_interactions(u, u)) + (reconstruct(u, u), and_interactions(u)):
            assert not o.requires_grad
    assert and_interactions(u).requires_grad


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def _call_with_bad(name, position, bad):
    """Call ``name`` with ``bad`` at argument ``position`` and a good (length-8) vector elsewhere."""
    args = [np.zeros(8) for _ in range(ARITY[name])]
    args[position] = bad
    return call_public(name, *args)


BAD_ARGS = [(name, pos) for name in PUBLIC for pos in range(ARITY[name])]
BAD_IDS = [f"{name}-{ARG_NAMES[name][pos]}" for name, pos in BAD_ARGS]


@pytest.mark.parametrize(("name", "pos"), BAD_ARGS, ids=BAD_IDS)
@pytest.mark.parametrize("length", [0, 1, 3, 6, 12, 1000])
def test_length_not_power_of_two(name, pos, length):
    arg = ARG_NAMES[name][pos]
    with pytest.raises(ValueError, match=rf"^{arg}: .*length {length}.*2\*\*n"):
        _call_with_bad(name, pos, np.ones(length))
    with pytest.raises(ValueError, match=rf"^{arg}: .*length {length}"):
        _call_with_bad(name, pos, torch.ones(2, length, dtype=torch.float64))


@pytest.mark.parametrize(("name", "pos"), BAD_ARGS, ids=BAD_IDS)
def test_scalar_rejected(name, pos):
    arg = ARG_NAMES[name][pos]
    for bad in (np.float64(3.0), 3.0, np.array(2.0), torch.tensor(1.0, dtype=torch.float64)):
        with pytest.raises(ValueError, match=rf"^{arg}: .*scalar"):
            _call_with_bad(name, pos, bad)


@pytest.mark.parametrize(("name", "pos"), BAD_ARGS, ids=BAD_IDS)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_rejected(name, pos, value):
    arg = ARG_NAMES[name][pos]
    x = np.zeros((2, 8))
    x[1, 5] = value
    with pytest.raises(ValueError, match=rf"^{arg}: .*NaN or infinite"):
        _call_with_bad(name, pos, x)
    with pytest.raises(ValueError, match=rf"^{arg}: .*NaN or infinite"):
        _call_with_bad(name, pos, x.astype(np.float32))
    for dt in (torch.float64, torch.float32):
        with pytest.raises(ValueError, match=rf"^{arg}: .*NaN or infinite"):
            _call_with_bad(name, pos, torch.tensor(x, dtype=dt))


@pytest.mark.parametrize(("name", "pos"), BAD_ARGS, ids=BAD_IDS)
def test_unsupported_dtypes_rejected(name, pos):
    arg = ARG_NAMES[name][pos]
    bad_numpy = [
        np.ones(8, dtype=bool),
        np.ones(8, dtype=np.complex128),
        np.ones(8, dtype=np.complex64),
        np.ones(8, dtype=np.float16),
        np.ones(8, dtype=object),
        np.array(["a"] * 8),
    ]
    for bad in bad_numpy:
        with pytest.raises(ValueError, match=rf"^{arg}: dtype"):
            _call_with_bad(name, pos, bad)
    bad_torch = [
        torch.ones(8, dtype=torch.bool),
        torch.ones(8, dtype=torch.complex128),
        torch.ones(8, dtype=torch.float16),
        torch.ones(8, dtype=torch.bfloat16),
    ]
    for bad in bad_torch:
        with pytest.raises(ValueError, match=rf"^{arg}: dtype"):
            _call_with_bad(name, pos, bad)
    # lists of bools and ragged lists are not arrays of numbers either
    with pytest.raises(ValueError, match=rf"^{arg}: "):
        _call_with_bad(name, pos, [True] * 8)
    with pytest.raises(ValueError, match=rf"^{arg}: cannot be read"):
        _call_with_bad(name, pos, [[1.0, 2.0], [1.0]])


@pytest.mark.parametrize("name", ["split_interactions", "reconstruct"])
def test_mismatched_shapes_rejected(name):
    first, second = ARG_NAMES[name]
    fn = split_interactions if name == "split_interactions" else reconstruct
    for a, b in [((8,), (16,)), ((2, 8), (8,)), ((2, 8), (3, 8)), ((4, 2, 8), (2, 4, 8))]:
        with pytest.raises(ValueError, match=rf"^{first} has shape \(.*\) but {second} has shape"):
            fn(np.zeros(a), np.zeros(b))
        with pytest.raises(ValueError, match=rf"^{first} has shape .* but {second} has shape"):
            fn(torch.zeros(a, dtype=torch.float64), torch.zeros(b, dtype=torch.float64))


def _expected_fit(have, batch, copies):
    """Largest n with batch * 8 bytes * copies * 2**n <= have, computed by counting up."""
    n = 0
    while batch * 8 * copies * 2 ** (n + 1) <= have:
        n += 1
    return n


@pytest.mark.parametrize(("name", "pos"), BAD_ARGS, ids=BAD_IDS)
def test_too_large_for_memory(name, pos, monkeypatch):
    arg = ARG_NAMES[name][pos]
    have = 5000
    args = [np.ones((3, 2**8)) for _ in range(ARITY[name])]
    target = args[pos]
    # only the argument under test sees the small budget, so the message must name it
    monkeypatch.setattr(_array, "available_memory", lambda x=None: have if x is target else 1 << 40)
    with pytest.raises(ValueError, match=rf"^{arg}: n=8 players with a batch of 3 .*memory") as info:
        call_public(name, *args)
    copies = 3 if name != "reconstruct" else 4
    fits = _expected_fit(have, 3, copies)
    assert f"at most n={fits} fits" in str(info.value)
    # ... and that n does fit
    ok = [np.ones((3, 2**fits)) for _ in range(ARITY[name])]
    monkeypatch.setattr(_array, "available_memory", lambda x=None: have)
    call_public(name, *ok)


def test_too_large_for_memory_torch(monkeypatch):
    monkeypatch.setattr(_array, "available_memory", lambda x=None: 1 << 20)
    big = torch.zeros(2**16, dtype=torch.float32)  # 3 copies of 256 KiB = 768 KiB fit
    and_interactions(big)
    with pytest.raises(ValueError, match=r"^u_and: n=17 .*at most n=16 fits"):
        and_interactions(torch.zeros(2**17, dtype=torch.float32))
    with pytest.raises(ValueError, match=r"^u_or: n=17 .*at most n=15 fits"):
        or_interactions(torch.zeros(2**17, dtype=torch.float64))


# ---------------------------------------------------------------------------------------------
# Memory: O(2**n), within the budget the input check reserves
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PUBLIC)
def test_numpy_peak_memory_within_checked_budget(name):
    n = 16
    args = random_args(name, (2**n,), ("mem", name))
    copies = 4 if name == "reconstruct" else 3
    # what as_vectors reserves for each argument, plus 64 KiB for Python objects and ufunc buffers
    budget = copies * args[0].nbytes + 2**16
    tracemalloc.start()
    try:
        call_public(name, *args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= budget, f"peak {peak} bytes > budget {budget} bytes"


# ---------------------------------------------------------------------------------------------
# kron_apply: the chunked Kronecker product used by the solvers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 6, 7, 11])
@pytest.mark.parametrize("chunk", [1, 3, 5, 7])
def test_kron_apply_equals_the_dense_kronecker_product(n, chunk):
    from interprim.transforms import kron_apply

    rng = np.random.default_rng(n * 10 + chunk)
    a = rng.normal(size=(2, 2))
    dense = np.ones((1, 1))
    for _ in range(n):
        dense = np.kron(dense, a)
    x = rng.normal(size=(3, 2**n))
    np.testing.assert_allclose(kron_apply(x, n, a, chunk=chunk), x @ dense.T, rtol=1e-10, atol=1e-10)
    t = kron_apply(torch.tensor(x), n, a, chunk=chunk)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64
    np.testing.assert_allclose(t.numpy(), x @ dense.T, rtol=1e-10, atol=1e-10)
    # the Möbius factor gives the Möbius transform
    np.testing.assert_allclose(kron_apply(x, n, [[1.0, 0.0], [-1.0, 1.0]], chunk=chunk), mobius(x, n), atol=1e-9)
