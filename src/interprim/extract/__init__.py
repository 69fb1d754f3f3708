"""Extraction methods: value vectors in, :class:`~interprim.Interactions` out (SPEC §3)."""

from ._driver import ConvergenceWarning
from .closed_form import and_or, harsanyi
from .generalizable import generalizable_and_or
from .sparse import sparse_and_or

__all__ = ["ConvergenceWarning", "and_or", "generalizable_and_or", "harsanyi", "sparse_and_or"]
