"""Writing an experiment's figures: every figure as PNG (for reading) and SVG (for papers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_figure(fig: Any, out_dir: str | Path, stem: str) -> list[Path]:
    """Write the matplotlib figure ``fig`` as ``<out_dir>/<stem>.png`` and ``.svg``, close it, return both paths."""
    import matplotlib.pyplot as plt

    paths = []
    for suffix in (".png", ".svg"):
        path = Path(out_dir) / f"{stem}{suffix}"
        fig.savefig(path, dpi=120)
        paths.append(path)
    plt.close(fig)
    return paths
