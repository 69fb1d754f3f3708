"""Players of image games: spatial masks on an image or a feature map (SPEC §5).

A player is a bool ``(H, W)`` mask; a set of ``n`` players is a bool tensor ``(n, H, W)`` of
disjoint, non-empty masks. The helpers return players in row-major order of their top-left
corner, so player ``i`` is the ``i``-th chosen patch from the top-left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .base import check_n_players


def _positive_int(x: Any, name: str) -> int:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)) or x < 1:
        raise ValueError(f"{name} must be a positive integer, got {x!r}.")
    return int(x)


def _pair(x: Any, name: str) -> tuple[int, int]:
    if isinstance(x, (tuple, list)):
        if len(x) != 2:
            raise ValueError(f"{name} must be an integer or a pair (height, width), got {x!r}.")
        return _positive_int(x[0], name), _positive_int(x[1], name)
    size = _positive_int(x, name)
    return size, size


def sample_indices(count: int, n: int, seed: int) -> list[int]:
    """``n`` distinct indices out of ``range(count)`` drawn with ``seed`` (a fresh generator), ascending."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}.")
    generator = torch.Generator().manual_seed(int(seed))
    return sorted(torch.randperm(count, generator=generator)[:n].tolist())


def check_players(players: Any, spatial_shape: Sequence[int], name: str = "players") -> torch.Tensor:
    """``players`` as a bool CPU tensor ``(n, H, W)`` of disjoint, non-empty masks on an ``(H, W)`` grid.

    Raises ``ValueError`` naming the offending players when the shape is wrong, a mask is empty or
    two masks overlap, and when ``n`` is not in ``1..MAX_PLAYERS``.
    """
    if not isinstance(players, torch.Tensor):
        try:
            players = torch.as_tensor(np.ascontiguousarray(players))
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"{name} must be a bool tensor (n, H, W), got {type(players).__name__} ({e}).") from None
    height, width = (int(s) for s in spatial_shape)
    if players.ndim != 3 or tuple(players.shape[1:]) != (height, width):
        raise ValueError(
            f"{name} must have shape (n, H, W) = (n, {height}, {width}) to mask a map of spatial size "
            f"{height}x{width}, got {tuple(players.shape)}."
        )
    if players.dtype != torch.bool:
        raise ValueError(
            f"{name} must be a bool tensor of masks, got dtype {players.dtype}; convert with players.bool()."
        )
    check_n_players(players.shape[0], f"the number of {name}")
    players = players.detach().cpu()
    sizes = players.reshape(players.shape[0], -1).sum(1)
    empty = torch.nonzero(sizes == 0).flatten().tolist()
    if empty:
        raise ValueError(f"{name} {empty} are empty masks; every player must cover at least one position.")
    cover = players.sum(0)
    if bool((cover > 1).any()):
        row, col = (int(i) for i in torch.nonzero(cover > 1)[0])
        both = torch.nonzero(players[:, row, col]).flatten().tolist()
        raise ValueError(f"{name} {both} overlap (both cover position ({row}, {col})); players must be disjoint masks.")
    return players


def patch_grid(
    height: int, width: int, patch: int | tuple[int, int], region: tuple[int, int, int, int] | None = None
) -> torch.Tensor:
    """All masks of a grid of ``patch``-sized patches tiling ``region``, bool ``(m, height, width)``, row-major.

    ``patch`` is a size or ``(patch_height, patch_width)``; ``region = (top, left, bottom, right)``
    (half-open, default the whole map) must be a whole number of patches in each direction.
    """
    height, width = _positive_int(height, "height"), _positive_int(width, "width")
    ph, pw = _pair(patch, "patch")
    top, left, bottom, right = (0, 0, height, width) if region is None else region
    if not (0 <= top < bottom <= height and 0 <= left < right <= width):
        raise ValueError(
            f"region=(top, left, bottom, right)={region!r} must satisfy 0 <= top < bottom <= {height} and "
            f"0 <= left < right <= {width}."
        )
    if (bottom - top) % ph or (right - left) % pw:
        raise ValueError(
            f"the region of size {bottom - top}x{right - left} is not a whole number of {ph}x{pw} patches; "
            f"choose a patch size that divides it or pass a region that is a multiple of it."
        )
    rows, cols = (bottom - top) // ph, (right - left) // pw
    masks = torch.zeros(rows * cols, height, width, dtype=torch.bool)
    for r in range(rows):
        for c in range(cols):
            y, x = top + r * ph, left + c * pw
            masks[r * cols + c, y : y + ph, x : x + pw] = True
    return masks


def central_grid_players(
    feature_shape: Sequence[int], grid: int = 5, n: int = 10, seed: int = 0, margin: int = 1
) -> torch.Tensor:
    """P1's players on an intermediate feature map (SPEC §5, P1 App. F.2), bool ``(n, H, W)``.

    The central region ``[margin, H − margin) × [margin, W − margin)`` (the edges excluded) is split
    uniformly into ``grid × grid`` cells, cell ``k`` spanning ``margin + ⌊k·size/grid⌋`` to
    ``margin + ⌊(k+1)·size/grid⌋``; ``n`` cells are sampled with ``seed`` and returned in row-major
    order. The players depend only on the shape and the seed: the same for every sample.
    """
    if len(feature_shape) < 2:
        raise ValueError(f"feature_shape must end with (H, W), got {tuple(feature_shape)!r}.")
    height, width = (_positive_int(s, "feature_shape") for s in feature_shape[-2:])
    grid = _positive_int(grid, "grid")
    if isinstance(margin, (bool, np.bool_)) or not isinstance(margin, (int, np.integer)) or margin < 0:
        raise ValueError(f"margin must be a non-negative integer, got {margin!r}.")
    n = check_n_players(n, "n")
    inner_h, inner_w = height - 2 * margin, width - 2 * margin
    if inner_h < grid or inner_w < grid:
        raise ValueError(
            f"the central region of a {height}x{width} map without a margin of {margin} is {inner_h}x{inner_w}, "
            f"too small for a {grid}x{grid} grid; use a smaller margin or grid."
        )
    if n > grid * grid:
        raise ValueError(f"n={n} players do not fit in a {grid}x{grid} grid of {grid * grid} cells; lower n.")
    rows = [margin + k * inner_h // grid for k in range(grid + 1)]
    cols = [margin + k * inner_w // grid for k in range(grid + 1)]
    chosen = sample_indices(grid * grid, n, seed)
    players = torch.zeros(n, height, width, dtype=torch.bool)
    for i, cell in enumerate(chosen):
        r, c = divmod(cell, grid)
        players[i, rows[r] : rows[r + 1], cols[c] : cols[c + 1]] = True
    return players


def foreground_patches(
    image: Any, patch: int | tuple[int, int] = 4, n: int = 10, seed: int = 0, threshold: float = 0.1
) -> torch.Tensor:
    """P2's players at the input: ``n`` foreground ``patch × patch`` patches of ``image``, bool ``(n, H, W)``.

    ``image`` is ``(C, H, W)`` or ``(H, W)``. A patch is foreground when its mean intensity (over its
    pixels and the channels) exceeds ``lo + threshold · (hi − lo)``, with ``lo``/``hi`` the image's
    darkest/brightest channel-mean pixel, so the rule does not depend on how the image was
    normalised. ``n`` foreground patches are sampled at random with ``seed`` (as P2 App. P.2
    selects them) and returned in row-major order. Raises ``ValueError`` when fewer than ``n``
    patches are foreground.
    """
    if not isinstance(image, torch.Tensor):
        image = torch.as_tensor(np.asarray(image))
    if image.ndim not in (2, 3) or image.dtype == torch.bool or image.dtype.is_complex:
        raise ValueError(
            f"image must be a real (C, H, W) or (H, W) array, got shape {tuple(image.shape)} and dtype {image.dtype}."
        )
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold is a fraction of the image's intensity range in [0, 1), got {threshold!r}.")
    n = check_n_players(n, "n")
    intensity = image.detach().cpu().to(torch.float64)
    intensity = intensity.mean(0) if intensity.ndim == 3 else intensity
    ph, pw = _pair(patch, "patch")
    patches = patch_grid(intensity.shape[0], intensity.shape[1], (ph, pw))
    flat = patches.reshape(patches.shape[0], -1).to(torch.float64)
    means = flat @ intensity.reshape(-1) / flat.sum(1)
    lo, hi = float(intensity.min()), float(intensity.max())
    cut = lo + threshold * (hi - lo)
    foreground = torch.nonzero(means > cut).flatten().tolist() if hi > lo else []
    if len(foreground) < n:
        raise ValueError(
            f"only {len(foreground)} of the {patches.shape[0]} {ph}x{pw} patches are foreground (mean intensity "
            f"above {cut:.4g}, threshold={threshold}); ask for fewer players or lower the threshold."
        )
    return patches[[foreground[k] for k in sample_indices(len(foreground), n, seed)]]
