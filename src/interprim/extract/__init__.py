"""Extraction methods: value vectors in, :class:`~interprim.Interactions` out (SPEC §3)."""

from .closed_form import and_or, harsanyi
from .sparse import sparse_and_or

__all__ = ["and_or", "harsanyi", "sparse_and_or"]
