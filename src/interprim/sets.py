"""Subsets of the players as integer bitmasks (SPEC §1).

A subset ``S`` of ``N = {0, …, n-1}`` is the integer with bit ``i`` set when player ``i`` is
present. Vectors over subsets (value vectors, interaction vectors) have length ``2**n`` and are
indexed by that integer: ``v[0]`` is the empty set, ``v[2**n - 1]`` the full set ``N``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ._array import check_memory


def _is_index(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)) and x >= 0


def _check_n(n: int, bytes_per_n: float, what: str) -> int:
    """Check that ``n`` is a number of players and that ``bytes_per_n`` bytes per subset fit in memory."""
    if not _is_index(n):
        raise ValueError(f"n must be a non-negative integer number of players, got {n!r}.")
    check_memory(what, int(n), 1, bytes_per_n, 1.0)
    return int(n)


def _check_subset(s: int, n: int | None = None) -> int:
    if not _is_index(s) or (n is not None and s >= 2**n):
        limit = "" if n is None else f" below 2**n = {2**n}"
        raise ValueError(f"a subset is a non-negative integer bitmask{limit}, got {s!r}.")
    return int(s)


def orders(n: int) -> np.ndarray:
    """Order ``|S|`` (popcount) of every subset ``S`` of ``n`` players, as an int64 array of length ``2**n``."""
    n = _check_n(n, 8, "orders")
    out = np.zeros(2**n, dtype=np.int64)
    for i in range(n):
        out[2**i : 2 ** (i + 1)] = out[: 2**i] + 1
    return out


def subset_masks(n: int) -> np.ndarray:
    """The ``(2**n, n)`` bool matrix whose row ``S`` marks the players present in ``S``.

    ``subset_masks(n)[S, i] == bool(S >> i & 1)``: the batch of masks a game is evaluated on.
    """
    n = _check_n(n, 0, "subset_masks")
    check_memory("subset_masks", n, 1, max(n, 1), 1.0)
    masks = np.empty((2**n, n), dtype=bool)
    for i in range(n):  # column i: blocks of 2**i absent then 2**i present
        masks[:, i].reshape(-1, 2, 2**i)[:, 0] = False
        masks[:, i].reshape(-1, 2, 2**i)[:, 1] = True
    return masks


def bitmask(players: Iterable[int]) -> int:
    """The bitmask of a collection of player indices, e.g. ``bitmask([0, 2]) == 5``."""
    s = 0
    for i in players:
        if not _is_index(i):
            raise ValueError(f"players must be non-negative integer indices, got {i!r}.")
        s |= 1 << int(i)
    return s


def players_of(s: int) -> tuple[int, ...]:
    """The player indices in the subset with bitmask ``s``, ascending: ``players_of(5) == (0, 2)``."""
    s = _check_subset(s)
    return tuple(i for i in range(s.bit_length()) if s >> i & 1)


def complement(s: int, n: int) -> int:
    """``N \\ S`` for the subset ``s`` of ``n`` players."""
    n = _check_n(n, 0, "complement")
    return (2**n - 1) ^ _check_subset(s, n)


def subsets_of_order(n: int, k: int) -> np.ndarray:
    """Bitmasks of all subsets of ``n`` players with exactly ``k`` players, ascending."""
    return np.flatnonzero(orders(n) == k)


def is_subset(t: int, s: int) -> bool:
    """``T ⊆ S`` for bitmasks; anything but two non-negative integer bitmasks raises ``ValueError``."""
    return _check_subset(t) & ~_check_subset(s) == 0
