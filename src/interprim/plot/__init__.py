"""Figures (matplotlib), one function per figure kind."""

from .interactions import interaction_panel

__all__ = ["interaction_panel"]
