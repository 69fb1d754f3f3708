"""A figure of the strongest interactions of image samples: the players on the image and the top effects."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..interactions import Interactions


def interaction_panel(
    images: Sequence[np.ndarray],
    players: np.ndarray,
    results: Interactions,
    titles: Sequence[str],
    path: str | Path,
    top: int = 8,
    merge_singletons: bool = True,
) -> Path:
    """One row per sample: the image with its players outlined and labelled as in the bars, and the ``top`` interactions.

    ``images`` are ``(H, W)`` arrays; ``players`` is a bool ``(n, h, w)`` array on a map that is
    resized to ``H × W`` for display (nearest neighbour); ``results`` holds one sample per image
    (batch shape ``(len(images),)``). Bars show ``I(T)`` for AND (blue) and OR (orange)
    interactions, labelled by their players; with ``merge_singletons`` (the default) a singleton
    ``{i}`` is one grey bar ``single {i}`` of ``I_and({i}) + I_or({i})`` (see
    :meth:`Interactions.top`). Writes a PNG and returns its path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(images)
    fig, axes = plt.subplots(rows, 2, figsize=(9, 2.8 * rows), squeeze=False, gridspec_kw={"width_ratios": [1, 2]})
    height, width = np.asarray(images[0]).shape
    ry, rx = height / players.shape[1], width / players.shape[2]
    for row, (image, title) in enumerate(zip(images, titles)):
        ax = axes[row, 0]
        ax.imshow(image, cmap="gray")
        for i, mask in enumerate(players):
            ys, xs = np.nonzero(mask)
            y0, y1, x0, x1 = ys.min() * ry, (ys.max() + 1) * ry, xs.min() * rx, (xs.max() + 1) * rx
            ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color="red", lw=1))
            ax.text(x0, y0 + 2, results[row].players[i], color="yellow", fontsize=7)  # the labels of the bars
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        ax = axes[row, 1]
        labels, effects, colors = _bars(results[row], top, merge_singletons)
        ax.barh(range(len(labels))[::-1], effects, color=colors)
        ax.set_yticks(range(len(labels))[::-1], labels, fontsize=7)
        ax.axvline(0, color="black", lw=0.5)
        ax.set_xlabel("interaction I(T)", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


_COLORS = {"and": "tab:blue", "or": "tab:orange", "single": "tab:gray"}


def _bars(result: Interactions, top: int, merge_singletons: bool = True) -> tuple[list[str], list[float], list[str]]:
    """Labels, effects and colours of the bars of one sample's ``top`` interactions, strongest first."""
    items = result.top(top, merge_singletons=merge_singletons)
    labels = [f"{kind} {{{','.join(p)}}}" for kind, p, _ in items]
    return labels, [effect for _, _, effect in items], [_COLORS[kind] for kind, _, _ in items]
