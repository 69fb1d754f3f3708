"""The two extraction methods without learning: Harsanyi (AND only) and the fixed split (SPEC §3.1-3.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._array import as_vectors
from ..interactions import Interactions
from ..transforms import mobius, split_interactions


def harsanyi(v: Any, players: Sequence[str] | None = None) -> Interactions:
    """Harsanyi dividends, AND interactions only: ``u_and = v``, ``u_or = 0`` (SPEC §3.1).

    ``I_and(T) = Σ_{L⊆T} (-1)^{|T|-|L|} v(L)`` (P1 Eq. 2, P2 Eq. 1); ``I_or ≡ 0``. In the split
    parametrisation ``u_and = ½v + γ`` this is ``γ = v/2``; the noise is zero.

    Args:
        v: value vectors of shape ``(..., 2**n)`` in bitmask order (numpy or torch).
        players: optional labels of the ``n`` players.
    """
    v, n = as_vectors("v", v, copies=4)
    return Interactions(
        i_and=mobius(v, n), i_or=v * 0, gamma=v / 2, noise=v * 0, players=players, meta={"method": "harsanyi"}
    )


def and_or(v: Any, players: Sequence[str] | None = None) -> Interactions:
    """AND-OR interactions of the fixed split ``u_and = u_or = v/2`` (SPEC §3.2), i.e. ``γ = 0``, no noise.

    ``I_and = M(v/2)`` with the bias ``v(∅)`` in ``I_and(∅)``, ``I_or(T) = -M(v[N\\·]/2)(T)`` for
    ``T ≠ ∅`` (P1 Eq. 2-3).
    """
    v, _ = as_vectors("v", v, copies=5)
    i_and, i_or = split_interactions(v / 2, v / 2)
    return Interactions(i_and=i_and, i_or=i_or, gamma=v * 0, noise=v * 0, players=players, meta={"method": "and_or"})
