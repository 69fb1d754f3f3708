"""Argument checks shared by the ``interprim.nn`` modules: raise where bad input enters."""

from __future__ import annotations

from typing import Any

import torch


def check_int(where: str, name: str, value: Any, minimum: int) -> int:
    """Return ``value`` when it is an ``int`` (not a ``bool``) ``>= minimum``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where}: {name} must be an int, got {value!r} of type {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}.")
    return value


def check_module(where: str, name: str, value: Any) -> torch.nn.Module:
    """Return ``value`` when it is a ``torch.nn.Module``, else raise ``TypeError``."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{where}: {name} must be a torch.nn.Module, got {type(value).__name__}.")
    return value
