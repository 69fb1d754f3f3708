"""Tests of the figures (``interprim.plot``)."""

from __future__ import annotations

import matplotlib.colors
import matplotlib.figure
import numpy as np
import pytest

from interprim import Interactions
from interprim.plot import interaction_panel


def _two_samples() -> Interactions:
    # n = 2 players p, q; sample 0: {p} AND 2 and OR -0.5 (both non-zero), {p, q} OR 1; sample 1: {q} OR only
    i_and = np.array([[5.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, -0.25]])
    i_or = np.array([[0.0, -0.5, 0.0, 1.0], [0.0, 0.0, 3.0, 0.0]])
    return Interactions(i_and, i_or, players=["p", "q"])


@pytest.fixture
def figures(monkeypatch):
    """The figures ``interaction_panel`` draws, captured instead of written."""
    drawn: list[matplotlib.figure.Figure] = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda self, *args, **kwargs: drawn.append(self))
    return drawn


def _bars(ax) -> list[tuple[str, float]]:
    """``(label, effect)`` of each bar from the top (bars are drawn strongest first, top to bottom)."""
    tops = sorted(ax.patches, key=lambda p: -p.get_y())
    labels = {round(y): t.get_text() for y, t in zip(ax.get_yticks(), ax.get_yticklabels())}
    return [(labels[round(p.get_y() + p.get_height() / 2)], p.get_width()) for p in tops]


def test_panel_shows_each_singleton_once_with_the_summed_effect(tmp_path, figures):
    r = _two_samples()
    images = [np.zeros((8, 8)), np.ones((8, 8))]
    players = np.zeros((2, 4, 4), dtype=bool)
    players[0, :2, :2] = players[1, 2:, 2:] = True
    interaction_panel(images, players, r, ["a", "b"], tmp_path / "f.png", top=3)
    (fig,) = figures
    first, second = fig.axes[1], fig.axes[3]
    assert [t.get_text() for t in fig.axes[0].texts] == ["p", "q"]  # the image names players as the bars do
    assert _bars(first) == [("single {p}", 1.5), ("or {p,q}", 1.0), ("single {q}", 0.0)]
    assert _bars(second) == [("single {q}", 3.0), ("and {p,q}", -0.25), ("single {p}", 0.0)]
    grey = matplotlib.colors.to_rgba("tab:gray")
    assert [p.get_facecolor() for p in first.patches][0] == grey


def test_panel_unmerged_keeps_both_kinds(tmp_path, figures):
    r = _two_samples()
    players = np.ones((1, 2, 2), dtype=bool)
    r1 = Interactions(r.i_and[:1, :2], r.i_or[:1, :2], players=["p"])
    interaction_panel([np.zeros((4, 4))], players, r1, ["a"], tmp_path / "f.png", top=5, merge_singletons=False)
    assert _bars(figures[0].axes[1]) == [("and {p}", 2.0), ("or {p}", -0.5)]


def test_panel_writes_a_png(tmp_path):
    r = _two_samples()
    players = np.zeros((2, 4, 4), dtype=bool)
    players[0, 0, 0] = players[1, 3, 3] = True
    path = interaction_panel([np.zeros((8, 8))] * 2, players, r, ["a", "b"], tmp_path / "sub" / "f.png", top=2)
    assert path == tmp_path / "sub" / "f.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
