"""Figures (matplotlib), one function per figure kind.

:func:`bar`, :func:`image` and :func:`text` draw one explained sample (what
:meth:`interprim.Interactions.plot` dispatches to), :func:`shared` several models' shared and
distinctive interactions, :func:`interaction_panel` a panel of image samples.
"""

from .explained import bar, image, shared, text
from .interactions import interaction_panel

__all__ = ["bar", "image", "interaction_panel", "shared", "text"]
