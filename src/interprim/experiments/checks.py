"""Checks shared by the experiments' configs: each raises a ``ValueError`` naming the field and the fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .pipeline import PLAYERS


def check_seeds(seeds: Sequence[Any], below: int | None = None, why: str = "") -> None:
    """``seeds``: a non-empty list of distinct integers ``>= 0`` (and ``< below`` when given; ``why`` says why)."""
    limit = "" if below is None else f" and < {below}{why}"
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds) or (
        below is not None and any(s >= below for s in seeds)
    ):
        raise ValueError(f"seeds must be a non-empty list of integers >= 0{limit}, got {seeds!r}.")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds!r}.")


def check_players(players: Sequence[Any]) -> None:
    """``players``: a non-empty list of distinct values of :data:`~interprim.experiments.pipeline.PLAYERS`."""
    bad = [p for p in players if p not in PLAYERS]
    if not players or bad or len(set(players)) != len(players):
        raise ValueError(f"players must be a non-empty list of distinct values of {PLAYERS}, got {players!r}.")


def check_counts(config: Any, names: Sequence[str]) -> None:
    """Every field of ``config`` in ``names`` is ``>= 1``."""
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)!r}.")
