"""Fast AND and OR interaction transforms and their inverses (SPEC §2; P1 Eq. 2-3, P2 Eq. 1-3).

Vectors over subsets have length ``2**n`` in bitmask order (see :mod:`interprim.sets`). The
transforms are Kronecker products of ``n`` 2×2 blocks, so each is applied as ``n`` passes over the
last axis, one per player: ``O(n·2**n)`` time and ``O(2**n)`` memory, never a dense matrix. All
functions accept any leading batch shape and return the array type they were given (numpy in →
numpy out; torch in → torch out, on the same device, with autograd flowing through).

Conventions for a split ``v = u_and + u_or``:

- ``I_and(T) = Σ_{L⊆T} (-1)^{|T|-|L|} u_and(L)``                      (Möbius / Harsanyi dividend)
- ``I_or(T)  = -Σ_{L⊆T} (-1)^{|T|-|L|} u_or(N \\ L)`` for ``T ≠ ∅``, ``I_or(∅) = 0``
- the bias ``b = u_and(∅) + u_or(∅)`` is stored in ``I_and(∅)`` (:func:`split_interactions`)
- universal matching: ``h(S) = Σ_{T⊆S} I_and(T) + Σ_{T∩S≠∅} I_or(T) = u_and(S) + u_or(S)``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._array import as_vectors, check_same_shape, is_torch, same_kind, torch

# ---------------------------------------------------------------------------------------------
# The four butterflies. ``up`` passes act on subsets (x[S ∪ {i}] += s·x[S]); ``down`` passes act
# on supersets (x[S] += s·x[S ∪ {i}]). They are the Kronecker powers of [[1,0],[s,1]] and of its
# transpose. The functions below take an already checked array and do not validate.
# ---------------------------------------------------------------------------------------------


def _butterfly(x: Any, n: int, sign: int, up: bool) -> Any:
    lead = tuple(x.shape[:-1])
    if is_torch(x):
        if _tracked(x):
            # out of place, so autograd records every pass
            for i in range(n):
                y = x.reshape(*lead, 2 ** (n - 1 - i), 2, 2**i)
                lo, hi = y.unbind(-2)
                if up:
                    hi = hi + lo if sign > 0 else hi - lo
                else:
                    lo = lo + hi if sign > 0 else lo - hi
                x = torch.stack((lo, hi), dim=-2).reshape(*lead, 2**n)
            return x
        x = x.clone(memory_format=torch.contiguous_format)
    else:
        x = np.array(x, copy=True, order="C")
    for i in range(n):
        y = x.reshape(*lead, 2 ** (n - 1 - i), 2, 2**i)
        lo, hi = y[..., 0, :], y[..., 1, :]
        dst, src = (hi, lo) if up else (lo, hi)
        if sign > 0:
            dst += src
        else:
            dst -= src
    return x


def kron_apply(x: Any, n: int, a: Any, chunk: int = 7) -> Any:
    """``(a ⊗ a ⊗ … ⊗ a) x`` for a 2×2 matrix ``a`` over the last axis (unchecked input).

    Entry ``S`` of the result is ``Σ_L Π_i a[S_i, L_i] x[L]`` with ``S_i`` the bit of player ``i``.
    For ``n ≤ 2·chunk`` the vector is viewed as a ``2**h × 2**l`` matrix ``X`` (high and low bits,
    ``h = ⌊n/2⌋``) and ``(A_h ⊗ A_l) x = A_h X A_lᵀ`` with ``A_s = ⊗^s a``: two matrix products and
    no copies. Beyond that the players are taken ``chunk`` at a time: one ``2**chunk × 2**chunk``
    product on the lowest bits, then a rotation of the bits. Either way ``O(2**chunk·n·2**n)`` flops
    in few, large kernels, which beats ``n`` butterfly passes for the solvers' batches of small
    games. Not recorded by autograd.
    """
    lead = tuple(x.shape[:-1])
    torch_in = is_torch(x)
    key = tuple(float(e) for e in np.asarray(a, dtype=np.float64).ravel())

    def block(s: int, transposed: bool = True) -> Any:  # (⊗^s a)ᵀ, or ⊗^s a, in the type of x
        k = key if transposed else (key[0], key[2], key[1], key[3])
        return _kron_tensor(k, s, x.dtype, x.device) if torch_in else _kron_block(k, s).astype(x.dtype, copy=False)

    if n <= 2 * chunk:
        high, low = n // 2, n - n // 2
        return (block(high, False) @ x.reshape(-1, 2**high, 2**low) @ block(low)).reshape(*lead, 2**n)
    left = n
    while left:
        s = min(chunk, left)
        x = (x.reshape(-1, 2**s) @ block(s)).reshape(*lead, 2 ** (n - s), 2**s)
        x = (x.transpose(-1, -2) if torch_in else np.swapaxes(x, -1, -2)).reshape(*lead, 2**n)
        left -= s
    return x


@functools.lru_cache(maxsize=64)
def _kron_tensor(a: tuple[float, ...], s: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """:func:`_kron_block` as a tensor of the given type and device, made once."""
    return torch.as_tensor(_kron_block(a, s), dtype=dtype, device=device)


@functools.lru_cache(maxsize=64)
def _kron_block(a: tuple[float, ...], s: int) -> np.ndarray:
    """``(⊗^s a)ᵀ`` for the 2×2 matrix with entries ``a`` (row-major); callers must not write to it."""
    block = np.ones((1, 1))
    for _ in range(s):
        block = np.kron(block, np.reshape(a, (2, 2)))
    block = np.ascontiguousarray(block.T)
    return block


def mobius(x: Any, n: int) -> Any:
    """``(M x)[T] = Σ_{L⊆T} (-1)^{|T|-|L|} x[L]`` — the Möbius transform (unchecked input)."""
    return _butterfly(x, n, -1, True)


def zeta(x: Any, n: int) -> Any:
    """``(Z x)[S] = Σ_{T⊆S} x[T]`` — the inverse of :func:`mobius` (unchecked input)."""
    return _butterfly(x, n, +1, True)


def mobius_t(x: Any, n: int) -> Any:
    """``(Mᵀ y)[L] = Σ_{T⊇L} (-1)^{|T|-|L|} y[T]`` — the adjoint of :func:`mobius` (unchecked input)."""
    return _butterfly(x, n, -1, False)


def zeta_t(x: Any, n: int) -> Any:
    """``(Zᵀ y)[T] = Σ_{S⊇T} y[S]`` — the adjoint of :func:`zeta` (unchecked input)."""
    return _butterfly(x, n, +1, False)


def _flip(x: Any) -> Any:
    """``x[..., N \\ S]`` for every ``S``: the complement of a bitmask reverses the last axis."""
    if is_torch(x):
        return x.flip(-1)
    return x[..., ::-1]


def _tracked(x: Any) -> bool:
    """True for a torch tensor that autograd is recording: it must not be written in place."""
    return is_torch(x) and x.requires_grad and torch.is_grad_enabled()


def _set_empty_zero(x: Any) -> Any:
    if _tracked(x):
        return torch.cat((x[..., :1] * 0, x[..., 1:]), dim=-1)
    x[..., 0] = 0
    return x


# ---------------------------------------------------------------------------------------------
# Public, checked transforms
# ---------------------------------------------------------------------------------------------


def and_interactions(u_and: Any) -> Any:
    """AND (Harsanyi) interactions of the AND part: ``I_and(T) = Σ_{L⊆T} (-1)^{|T|-|L|} u_and(L)``.

    P1 Eq. 2, P2 Eq. 1 (SPEC §2). ``I_and[..., 0] == u_and[..., 0]``; for a split with an OR part,
    use :func:`split_interactions` so that the bias also holds ``u_or(∅)``.

    Args:
        u_and: array of shape ``(..., 2**n)`` in bitmask order (numpy or torch).
    Returns:
        ``I_and`` of the same shape and array type.
    """
    x, n = as_vectors("u_and", u_and, copies=3)
    return mobius(x, n)


def or_interactions(u_or: Any) -> Any:
    """OR interactions of the OR part: ``I_or(T) = -Σ_{L⊆T} (-1)^{|T|-|L|} u_or(N \\ L)``, ``I_or(∅) = 0``.

    P1 Eq. 3, P2 Eq. 2 (SPEC §2). An OR interaction is an AND interaction of the game with
    presence and absence swapped: ``I_or = -M(u_or[N \\ ·])`` with the empty set zeroed.

    Args:
        u_or: array of shape ``(..., 2**n)`` in bitmask order (numpy or torch).
    Returns:
        ``I_or`` of the same shape and array type, with ``I_or[..., 0] == 0``.
    """
    x, n = as_vectors("u_or", u_or, copies=3)
    return _or_unchecked(x, n)


def _or_unchecked(x: Any, n: int) -> Any:
    y = mobius(_flip(x), n)
    return _set_empty_zero(-y)


def split_interactions(u_and: Any, u_or: Any) -> tuple[Any, Any]:
    """AND and OR interactions of a split ``v = u_and + u_or``, with the bias in ``I_and(∅)``.

    ``I_and = M u_and`` except ``I_and(∅) = b = u_and(∅) + u_or(∅)`` (SPEC §2, P2 Eq. 3), and
    ``I_or`` as in :func:`or_interactions`. Then ``reconstruct(I_and, I_or) == u_and + u_or``
    exactly (universal matching).
    """
    a, n = as_vectors("u_and", u_and, copies=3)
    o, n_or = as_vectors("u_or", u_or, copies=3)
    check_same_shape("u_and", a, "u_or", o)
    o = same_kind(o, a)
    i_and = mobius(a, n)
    bias = o[..., :1]
    if _tracked(i_and):
        i_and = torch.cat((i_and[..., :1] + bias, i_and[..., 1:]), dim=-1)
    else:
        i_and[..., :1] += bias
    return i_and, _or_unchecked(o, n)


def inverse_and(i_and: Any) -> Any:
    """``u_and(S) = Σ_{T⊆S} I_and(T)`` — the inverse of :func:`and_interactions` (the zeta transform)."""
    x, n = as_vectors("i_and", i_and, copies=3)
    return zeta(x, n)


def inverse_or(i_or: Any) -> Any:
    """``Σ_{T∩S≠∅} I_or(T)`` for every ``S`` — the OR part's contribution to the output.

    This is the inverse of :func:`or_interactions` up to the constant it drops:
    ``inverse_or(or_interactions(u)) == u - u[..., :1]``; ``I_or(∅)`` is ignored.
    """
    x, n = as_vectors("i_or", i_or, copies=3)
    return or_part(x, n)


def reconstruct(i_and: Any, i_or: Any) -> Any:
    """Output explained by the interactions on every masked sample (universal matching, SPEC §2).

    ``h(S) = Σ_{T⊆S} I_and(T) + Σ_{T∩S≠∅, T≠∅} I_or(T)`` for all ``2**n`` subsets ``S``.
    """
    a, n = as_vectors("i_and", i_and, copies=4)
    o, _ = as_vectors("i_or", i_or, copies=4)
    check_same_shape("i_and", a, "i_or", o)
    o = same_kind(o, a)
    return zeta(a, n) + or_part(o, n)


def or_part(i_or: Any, n: int) -> Any:
    """``Σ_{T∩S≠∅} I_or(T)`` for every ``S`` (unchecked input; see :func:`inverse_or`).

    Computed as ``Σ_T I_or(T) - Σ_{T⊆N\\S} I_or(T)``; the empty set never meets ``S``, so
    whatever ``I_or(∅)`` holds cancels.
    """
    return i_or.sum(-1)[..., None] - _flip(zeta(i_or, n))
