"""Games: a model, a sample, players and a baseline give the value vector ``v[S] = v(x_S)`` (SPEC §1, §5).

Every game follows :class:`Game`: ``game.n_players``, ``game(masks)`` for a ``(B, n)`` bool batch,
``game.values()`` for all ``2**n`` subsets in bitmask order, in memory-bounded batches.
:func:`image_values` and :func:`text_values` give the ``(B, 2**n)`` values of many samples of one
model in one call, batching the masked inputs across samples.
"""

from .base import DEFAULT_MEMORY_BUDGET, MAX_PLAYERS, BaseGame, FunctionGame, Game
from .dataset import image_values, text_values
from .image import ImageGame, foreground_values
from .outputs import log_odds, select, target_logit
from .players import central_grid_players, foreground_patches, patch_grid
from .tabular import TabularGame
from .text import DEFAULT_TEXT_PLAYERS, ENGLISH_STOP_WORDS, TextGame, content_words

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "DEFAULT_TEXT_PLAYERS",
    "ENGLISH_STOP_WORDS",
    "MAX_PLAYERS",
    "BaseGame",
    "FunctionGame",
    "Game",
    "ImageGame",
    "TabularGame",
    "TextGame",
    "central_grid_players",
    "content_words",
    "foreground_patches",
    "foreground_values",
    "image_values",
    "log_odds",
    "patch_grid",
    "select",
    "target_logit",
    "text_values",
]
