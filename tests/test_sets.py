"""Tests of subsets as bitmasks (SPEC §1), against Python's own bit handling."""

from __future__ import annotations

import itertools
import tracemalloc
from math import comb

import numpy as np
import pytest

import interprim._array as _array
from interprim.sets import bitmask, complement, is_subset, orders, players_of, subset_masks, subsets_of_order

NS = list(range(0, 13))


# ---------------------------------------------------------------------------------------------
# orders and subset_masks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", NS)
def test_orders_is_popcount(n):
    o = orders(n)
    assert isinstance(o, np.ndarray) and o.dtype == np.int64 and o.shape == (2**n,)
    assert o.tolist() == [bin(s).count("1") for s in range(2**n)]


def test_orders_accepts_numpy_integers():
    assert orders(np.int32(3)).tolist() == [0, 1, 1, 2, 1, 2, 2, 3]
    assert orders(np.int64(2)).tolist() == [0, 1, 1, 2]


@pytest.mark.parametrize("n", NS)
def test_subset_masks_are_the_bits(n):
    m = subset_masks(n)
    assert m.dtype == bool and m.shape == (2**n, n)
    for s in range(2**n):
        bits = format(s, f"0{max(n, 1)}b")[::-1][:n]  # bit i is character i after reversing
        assert m[s].tolist() == [c == "1" for c in bits]
    # rows are the masks a game is evaluated on: their popcounts are the orders
    np.testing.assert_array_equal(m.sum(axis=1), orders(n))


def test_subset_masks_small_by_hand():
    np.testing.assert_array_equal(
        subset_masks(2), np.array([[False, False], [True, False], [False, True], [True, True]])
    )
    assert subset_masks(0).shape == (1, 0)


# ---------------------------------------------------------------------------------------------
# bitmask, players_of, complement, is_subset
# ---------------------------------------------------------------------------------------------


def test_bitmask_examples():
    assert bitmask([]) == 0
    assert bitmask([0]) == 1
    assert bitmask([0, 2]) == 5
    assert bitmask([2, 0]) == 5  # order does not matter
    assert bitmask([1, 1, 1]) == 2  # duplicates do not matter
    assert bitmask(range(4)) == 15
    assert bitmask({3}) == 8
    assert bitmask(np.array([0, 3])) == 9  # numpy integers
    assert bitmask([np.int64(70)]) == 1 << 70  # Python ints are unbounded
    assert players_of(5) == (0, 2)
    assert players_of(0) == ()
    assert players_of(1 << 70) == (70,)


@pytest.mark.parametrize("n", [0, 1, 5, 9])
def test_bitmask_players_of_round_trip(n):
    for s in range(2**n):
        players = players_of(s)
        assert isinstance(players, tuple)
        assert list(players) == sorted(players) and len(set(players)) == len(players)
        assert players == tuple(i for i, c in enumerate(reversed(bin(s)[2:])) if c == "1")
        assert all(0 <= i < max(n, 1) for i in players)
        assert bitmask(players) == s
        assert players_of(np.int64(s)) == players
    for k in range(n + 1):
        for players in itertools.combinations(range(n), k):
            assert players_of(bitmask(players)) == players


@pytest.mark.parametrize("n", [0, 1, 4, 8])
def test_complement(n):
    full = 2**n - 1
    for s in range(2**n):
        c = complement(s, n)
        assert c == full - s
        assert c & s == 0 and c | s == full
        assert complement(c, n) == s
        assert set(players_of(c)) == set(range(n)) - set(players_of(s))
    assert complement(0, n) == full and complement(full, n) == 0
    # reversing a vector over subsets maps S to N∖S (what the OR transform relies on)
    assert [complement(s, n) for s in range(2**n)] == list(range(2**n))[::-1]


def test_is_subset():
    n = 4
    for t, s in itertools.product(range(2**n), repeat=2):
        assert is_subset(t, s) == set(players_of(t)).issubset(players_of(s))
    assert is_subset(0, 0) and is_subset(np.int64(1), np.int64(3)) and not is_subset(4, 3)
    for t, s in (("a", 1), (1, "b"), (-1, 3), (1.0, 3), (True, 3)):
        with pytest.raises(ValueError, match="a subset is a non-negative integer bitmask"):
            is_subset(t, s)


# ---------------------------------------------------------------------------------------------
# subsets_of_order
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", NS)
def test_subsets_of_order(n):
    seen = []
    for k in range(n + 1):
        s = subsets_of_order(n, k)
        assert len(s) == comb(n, k)
        assert s.tolist() == sorted(s.tolist())
        assert all(bin(int(x)).count("1") == k for x in s)
        assert all(0 <= int(x) < 2**n for x in s)
        seen.extend(s.tolist())
    assert sorted(seen) == list(range(2**n))  # every subset has exactly one order
    assert len(subsets_of_order(n, n + 1)) == 0 == comb(n, n + 1)
    assert len(subsets_of_order(n, -1)) == 0


def test_subsets_of_order_by_hand():
    assert subsets_of_order(3, 1).tolist() == [1, 2, 4]
    assert subsets_of_order(3, 2).tolist() == [3, 5, 6]
    assert subsets_of_order(4, 4).tolist() == [15]
    assert subsets_of_order(0, 0).tolist() == [0]


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

BAD_N = [-1, -10, 2.5, 3.0, True, False, "3", None, np.float64(2.0)]


@pytest.mark.parametrize("bad", BAD_N, ids=repr)
def test_orders_bad_n(bad):
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        orders(bad)
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        subsets_of_order(bad, 1)


@pytest.mark.parametrize("bad", [-1, -10, 2.5, 3.0, True, False, np.float64(2.0)], ids=repr)
def test_subset_masks_bad_n(bad):
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        subset_masks(bad)


@pytest.mark.parametrize("bad", ["3", None], ids=repr)
def test_subset_masks_non_number_n(bad):
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        subset_masks(bad)


@pytest.mark.parametrize("bad", [-1, 1.0, 2.5, True, "a", None], ids=repr)
def test_bitmask_bad_players(bad):
    with pytest.raises(ValueError, match="players must be non-negative integer indices"):
        bitmask([0, bad])


@pytest.mark.parametrize("bad", [-1, -5, -(1 << 70)])
def test_players_of_negative(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        players_of(bad)


@pytest.mark.parametrize("bad", [2.5, True, "5", None], ids=repr)
def test_players_of_non_integer(bad):
    with pytest.raises(ValueError):
        players_of(bad)


@pytest.mark.parametrize(("s", "n"), [(8, 3), (-1, 3), (1, -1)])
def test_complement_out_of_range(s, n):
    with pytest.raises(ValueError):
        complement(s, n)


# ---------------------------------------------------------------------------------------------
# Memory checks
# ---------------------------------------------------------------------------------------------


def test_orders_too_large_for_memory(monkeypatch):
    monkeypatch.setattr(_array, "available_memory", lambda x=None: 8 * 2**10)
    assert len(orders(10)) == 2**10  # 8 KiB of int64 fits exactly
    with pytest.raises(ValueError, match=r"^orders: n=11 .*at most n=10 fits"):
        orders(11)
    with pytest.raises(ValueError, match=r"^orders: n=40 .*at most n=10 fits"):
        subsets_of_order(40, 3)


def test_subset_masks_too_large_for_memory(monkeypatch):
    monkeypatch.setattr(_array, "available_memory", lambda x=None: 10**6)
    with pytest.raises(ValueError, match=r"^subset_masks: n=30 .*memory"):
        subset_masks(30)


def test_subset_masks_peak_within_checked_budget(monkeypatch):
    n = 14
    budget = 2 * n * 2**n  # twice what the check reserves: it passes
    monkeypatch.setattr(_array, "available_memory", lambda x=None: budget)
    tracemalloc.start()
    try:
        subset_masks(n)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= budget, f"peak {peak} bytes > {budget} bytes available"
