"""interprim: exact, fast AND-OR interaction primitives of neural networks.

See the README for a tour; SPEC.md-style formulas are in each function's docstring.
"""

from . import metrics, plot, sets
from .explain import explain
from .extract import ConvergenceWarning, and_or, generalizable_and_or, harsanyi, sparse_and_or
from .games import image_values, text_values
from .interactions import Interactions
from .transforms import (
    and_interactions,
    inverse_and,
    inverse_or,
    or_interactions,
    reconstruct,
    split_interactions,
)

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "Interactions",
    "and_interactions",
    "and_or",
    "explain",
    "generalizable_and_or",
    "harsanyi",
    "image_values",
    "inverse_and",
    "inverse_or",
    "metrics",
    "or_interactions",
    "plot",
    "reconstruct",
    "sets",
    "sparse_and_or",
    "split_interactions",
    "text_values",
]
