"""Checks shared by the experiments' configs: each raises a ``ValueError`` naming the field and the fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..nn import names
from . import datasets
from .models import OPTIMIZERS
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


def check_data(config: Any, *, text: bool = False, arches: Sequence[str] = ("arch",)) -> None:
    """``dataset`` and ``data_path`` (:func:`datasets.check <interprim.experiments.datasets.check>`),
    the architectures named by the fields ``arches`` for that data set, ``optimizer``, and no
    adversarial training on text. ``text``: whether the experiment runs on SST-2 at all."""
    if datasets.is_text(config.dataset) and not text:
        image_sets = tuple(datasets.IMAGES)
        raise ValueError(f"dataset = {config.dataset!r}: this experiment runs on images only, one of {image_sets}.")
    datasets.check(config.dataset, config.data_path or None)
    allowed = datasets.TEXT_ARCHES if datasets.is_text(config.dataset) else names()
    for field in arches:
        if getattr(config, field) not in allowed:
            raise ValueError(f"{field} must be one of {allowed} for dataset {config.dataset!r}, "
                             f"got {getattr(config, field)!r}.")
    if getattr(config, "optimizer", "sgd") not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {config.optimizer!r}.")
    if datasets.is_text(config.dataset) and getattr(config, "adversarial", False):
        raise ValueError(f"adversarial = true trains on perturbed images; set adversarial = false for dataset "
                         f"{config.dataset!r}.")


def check_n(n: int, dataset: str) -> None:
    """``n`` players: 2 .. 25 cells of the 5×5 grid for images, 2 .. 16 words for text."""
    top = 16 if datasets.is_text(dataset) else 25
    what = "words of a sentence" if datasets.is_text(dataset) else "cells of the 5x5 grid"
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= top:
        raise ValueError(f"n must be 2 .. {top} ({what}), got {n!r}.")


def check_test_samples(config: Any) -> None:
    """``samples``: at least 3 (correlations over samples) and at most the test split of the config's data set."""
    test_size = datasets.size(config.dataset, "test", config.data_path or None)
    if not 3 <= config.samples <= test_size:
        raise ValueError(f"samples must be >= 3 (correlations over samples) and at most the {test_size} test "
                         f"images, got {config.samples}.")
