"""Figures of explained samples (:func:`interprim.explain`): one function per kind of figure.

- :func:`bar` — the ``top`` interactions of one sample, AND, OR and singletons coloured;
- :func:`image` — the players on the image, coloured by their singleton effect, and the bars;
- :func:`text` — the sentence, its player words coloured by their singleton effect, and the bars;
- :func:`shared` — several models' interactions on one sample: those in every model's top ``k``
  next to those in only some of them (for :func:`interprim.generalizable_and_or`).

The singleton effect of player ``i`` is ``I_and({i}) + I_or({i})`` (a one-player AND and OR
interaction trigger identically, SPEC §2). Each function returns a matplotlib ``Figure`` built
without ``pyplot`` (no global state, any backend) and writes it to ``path`` when given.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._array import to_numpy
from ..interactions import Interactions, singletons_merged
from .interactions import _COLORS, _bars

_LEGEND = {"and": "AND", "or": "OR", "single": "single {i}: I_and + I_or"}
_MODEL_COLORS = ("tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


def bar(result: Interactions, *, top: int = 10, path: str | os.PathLike | None = None) -> Any:
    """A bar chart of one sample's ``top`` interactions, strongest on top: AND blue, OR orange, singletons grey.

    Bars are labelled by the players' labels (feature names for a table from :func:`interprim.explain`).
    """
    _check_one(result, "bar")
    fig = _figure(7, 1.2 + 0.32 * _count(result, top))
    _draw_bars(fig.add_subplot(1, 1, 1), result, top)
    return _finish(fig, path)


def image(result: Interactions, image: Any, *, top: int = 10, path: str | os.PathLike | None = None) -> Any:
    """The players on the image, coloured by their singleton effect and numbered, next to the ``top`` interactions.

    ``image``: ``(C, H, W)`` (1 channel: grey, 3: RGB rescaled to [0, 1], else the channel mean),
    ``(H, W)`` or ``(1, C, H, W)``, numpy or torch. The players come from
    ``result.meta["players"]["feature_mask"]`` (:func:`interprim.explain`); players on a feature map
    are drawn stretched to the image's size.
    """
    _check_one(result, "image")
    described = _described(result, "image")
    ids = np.asarray(described["feature_mask"], dtype=np.int64)
    pixels, cmap = _displayable(image)
    height, width = pixels.shape[:2]
    fig = _figure(10, max(3.2, 1.2 + 0.3 * _count(result, top)))
    grid = fig.add_gridspec(1, 2, width_ratios=[1, 1.5])
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(pixels, cmap=cmap, interpolation="nearest")
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    effects = _singletons(result)
    bound = float(np.max(np.abs(effects))) or 1.0
    norm, cmap = Normalize(-bound, bound), matplotlib.colormaps["RdBu_r"]
    overlay = np.zeros((*ids.shape, 4))  # each player tinted by its effect, the stronger the more opaque
    for i in range(result.n_players):
        overlay[ids == i] = (*cmap(norm(effects[i]))[:3], 0.75 * abs(effects[i]) / bound)
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    ax.imshow(overlay, extent=extent, interpolation="nearest")
    shown = ScalarMappable(norm=norm, cmap=cmap)
    ry, rx = height / ids.shape[0], width / ids.shape[1]
    ys, xs = (np.arange(ids.shape[0]) + 0.5) * ry - 0.5, (np.arange(ids.shape[1]) + 0.5) * rx - 0.5
    for i, label in enumerate(result.players):
        mask = ids == i
        if not mask.any():
            continue
        rows, cols = np.nonzero(mask)
        box = (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1)
        if mask.sum() == (box[1] - box[0]) * (box[3] - box[2]):  # a rectangle: its outline
            from matplotlib.patches import Rectangle

            ax.add_patch(Rectangle((box[2] * rx - 0.5, box[0] * ry - 0.5), (box[3] - box[2]) * rx,
                                   (box[1] - box[0]) * ry, fill=False, color="gold", lw=1))  # fmt: skip
        else:
            ax.contour(xs, ys, mask.astype(float), levels=[0.5], colors="gold", linewidths=1)
        ax.text(cols.mean() * rx + rx / 2 - 0.5, rows.mean() * ry + ry / 2 - 0.5, label, color="black", fontsize=7,
                ha="center", va="center", bbox={"boxstyle": "round,pad=0.1", "fc": "white", "alpha": 0.7, "lw": 0})
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.axis("off")
    where = "" if described.get("layer") is None else f" on {described['layer']!r}"
    ax.set_title(f"players{where}: singleton effect I_and({{i}}) + I_or({{i}})", fontsize=9)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=7)
    _draw_bars(fig.add_subplot(grid[0, 1]), result, top)
    return _finish(fig, path)


def text(result: Interactions, *, top: int = 10, path: str | os.PathLike | None = None) -> Any:
    """The sentence with each player word coloured by its singleton effect (red up, blue down; the
    effect printed below it), over a bar chart of the ``top`` interactions.

    The sentence and the words' character spans come from ``result.meta["players"]``
    (:func:`interprim.explain`); other words are printed plain.
    """
    _check_one(result, "text")
    described = _described(result, "text")
    sentence, spans = str(described["text"]), [tuple(s) for s in described["spans"]]
    effects = _singletons(result)
    lines = 0.35 + 0.5 * (1 + len(sentence) // 80)  # inches for the sentence: about 80 characters a line
    bars = 0.9 + 0.3 * _count(result, top)
    fig = _figure(9, lines + bars)
    grid = fig.add_gridspec(2, 1, height_ratios=[lines, bars])
    ax = fig.add_subplot(grid[0, 0])
    ax.axis("off")
    _draw_sentence(fig, ax, sentence, spans, effects)
    _draw_bars(fig.add_subplot(grid[1, 0]), result, top)
    return _finish(fig, path)


def shared(
    results: Sequence[Interactions],
    *,
    top: int = 10,
    names: Sequence[str] | None = None,
    sample: int | None = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Several models' interactions on the same sample and players: shared by all vs distinctive.

    An interaction (type and players; singletons merged, as :meth:`~interprim.Interactions.top`
    lists them) is **salient** in a model when it is among that model's ``top`` strongest. The
    left panel shows those salient in every model, the right one those salient in some but not
    all (labelled with the models they are salient in); each row has one bar per model, its
    ``I(T)`` in that model. ``results``: one :class:`~interprim.Interactions` per model (e.g.
    :func:`interprim.generalizable_and_or`, or :func:`interprim.explain` with several models);
    ``sample`` picks a sample of batched results; ``names`` labels the models (default
    ``model 0``, ``model 1``, …).
    """
    import matplotlib.patches as mpatches

    results = _pick(results, sample)
    m = len(results)
    names = [f"model {i}" for i in range(m)] if names is None else [str(s) for s in names]
    if len(names) != m:
        raise ValueError(f"names has {len(names)} entries for {m} models.")
    _check_top(top)
    keys = [set(_top_keys(r, top)) for r in results]
    everywhere = set.intersection(*keys)
    values = [_key_values(r) for r in results]
    strength = {k: np.mean([abs(v[k]) for v in values]) for k in set.union(*keys)}
    common = sorted(everywhere, key=lambda k: -strength[k])
    rest = sorted(set.union(*keys) - everywhere, key=lambda k: (-max(abs(v[k]) for v in values)))
    labels = results[0].players
    rows = max(len(common), len(rest), 1)
    fig = _figure(11, 1.6 + 0.34 * rows * (1 + 0.25 * (m - 1)))
    for column, (chosen, title) in enumerate(
        [(common, f"salient in all {m} models ({len(common)})"), (rest, f"salient in some models only ({len(rest)})")]
    ):
        ax = fig.add_subplot(1, 2, column + 1)
        height = 0.8 / m
        for row, key in enumerate(chosen):
            for i in range(m):
                y = len(chosen) - 1 - row + 0.4 - (i + 0.5) * height
                ax.barh(y, values[i][key], height=height, color=_MODEL_COLORS[i % len(_MODEL_COLORS)],
                        alpha=1.0 if key in keys[i] else 0.35)  # fmt: skip
        ticks = [_key_label(k, labels) for k in chosen]
        if column == 1:
            ticks = [f"{t}  [{', '.join(names[i] for i in range(m) if k in keys[i])}]" for t, k in zip(ticks, chosen)]
        ax.set_yticks(range(len(chosen))[::-1], ticks, fontsize=7)
        ax.axvline(0, color="black", lw=0.5)
        ax.set_xlabel("interaction I(T)", fontsize=8)
        ax.set_title(title, fontsize=9)
        if not chosen:
            ax.text(0.5, 0.5, "none", transform=ax.transAxes, ha="center", va="center", color="gray")
            ax.set_yticks([])
    handles = [mpatches.Patch(color=_MODEL_COLORS[i % len(_MODEL_COLORS)], label=names[i]) for i in range(m)]
    fig.suptitle(f"the top {top} interactions of each model (pale: not in that model's top {top})", fontsize=10)
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.955), ncol=m, fontsize=8, frameon=False)
    return _finish(fig, path, top_margin=1 - 0.75 / fig.get_figheight())


def draw(result: Interactions, kind: str | None, *, input: Any = None, top: int = 10, path: Any = None) -> Any:
    """The figure :meth:`Interactions.plot` draws: ``kind`` (``None``: by the players' kind), one sample."""
    _check_one(result, "plot")
    described = result.meta.get("players")
    covers = described.get("kind") if isinstance(described, dict) else None
    if kind is None:
        kind = covers if covers in ("image", "text") else "bar"
    if kind == "bar":
        return bar(result, top=top, path=path)
    if kind == "image":
        if input is None:
            raise ValueError("kind='image' draws the players on the image: pass input=image, (C, H, W) or (H, W).")
        return image(result, input, top=top, path=path)
    if kind == "text":
        return text(result, top=top, path=path)
    raise ValueError(f"kind must be 'image', 'text', 'bar' or None (by the players' kind), got {kind!r}.")


# --- helpers ---------------------------------------------------------------------------------


def _check_one(result: Any, what: str) -> None:
    if not isinstance(result, Interactions):
        raise TypeError(f"{what} draws an Interactions, got {type(result).__name__}.")
    if result.batch_shape:
        raise ValueError(
            f"{what} draws one sample, but this holds a batch of shape {result.batch_shape}; pick one first, "
            f"e.g. r[0].plot(...)."
        )


def _check_top(top: Any) -> int:
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}.")
    return int(top)


def _count(result: Interactions, top: int) -> int:
    """The number of bars: ``top``, at most the number of interactions (singletons merged)."""
    n = result.n_players
    return min(_check_top(top), 2 ** (n + 1) - 2 - n)


def _described(result: Interactions, kind: str) -> dict:
    described = result.meta.get("players")
    if not isinstance(described, dict) or described.get("kind") != kind:
        found = described.get("kind") if isinstance(described, dict) else None
        raise ValueError(
            f"kind={kind!r} needs the description of {kind} players in meta['players'] (made by interprim.explain), "
            f"but these interactions {'describe ' + repr(found) + ' players' if found else 'carry none'}; "
            f"use kind='bar'."
        )
    return described


def _pick(results: Sequence[Interactions], sample: int | None) -> list[Interactions]:
    if isinstance(results, Interactions) or not isinstance(results, Sequence) or len(results) < 2:
        raise ValueError("results must be a list of Interactions, one per model (at least 2).")
    out = []
    for i, r in enumerate(results):
        if not isinstance(r, Interactions):
            raise TypeError(f"results[{i}] is a {type(r).__name__}, not an Interactions.")
        if r.batch_shape:
            if sample is None:
                raise ValueError(
                    f"results hold a batch of shape {r.batch_shape}; pass sample=b to compare the models on sample b."
                )
            r = r[sample]
        if r.n_players != results[0].n_players:
            raise ValueError(f"results[{i}] has {r.n_players} players but results[0] has {results[0].n_players}.")
        out.append(r)
    return out


def _singletons(result: Interactions) -> np.ndarray:
    i_and, i_or = to_numpy(result.i_and).astype(np.float64), to_numpy(result.i_or).astype(np.float64)
    return np.array([i_and[1 << i] + i_or[1 << i] for i in range(result.n_players)])


def _top_keys(result: Interactions, top: int) -> list[tuple[str, int]]:
    """``(type, bitmask)`` of the ``top`` strongest interactions, singletons merged (``type`` "and" for them)."""
    values = _key_values(result)
    keys = sorted(values, key=lambda k: (-abs(values[k]), k[0] != "and", k[1]))
    return keys[:top]


def _key_values(result: Interactions) -> dict[tuple[str, int], float]:
    i_and, i_or = singletons_merged(to_numpy(result.i_and).astype(np.float64), to_numpy(result.i_or).astype(np.float64))
    size = 2**result.n_players
    out = {("and", s): float(i_and[s]) for s in range(1, size)}
    out.update({("or", s): float(i_or[s]) for s in range(1, size) if s & (s - 1)})
    return out


def _key_label(key: tuple[str, int], labels: Sequence[str]) -> str:
    kind, s = key
    members = [labels[i] for i in range(len(labels)) if s >> i & 1]
    kind = "single" if len(members) == 1 else kind
    return f"{kind} {{{','.join(members)}}}"


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)  # a canvas to measure text on and to save with, whatever pyplot's backend
    return fig


def _finish(fig: Any, path: Any, top_margin: float | None = None) -> Any:
    fig.tight_layout()
    if top_margin is not None:
        fig.subplots_adjust(top=top_margin)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    return fig


def _draw_bars(ax: Any, result: Interactions, top: int) -> None:
    import matplotlib.patches as mpatches

    labels, effects, colors = _bars(result, _check_top(top))
    listed = len(labels)
    largest = max((abs(e) for e in effects), default=0.0)
    kept = [j for j, e in enumerate(effects) if abs(e) >= 0.005 * largest] or list(range(min(1, len(effects))))
    labels, effects, colors = ([seq[j] for j in kept] for seq in (labels, effects, colors))  # no invisible bars
    ax.barh(range(len(labels))[::-1], effects, color=colors)
    ax.set_yticks(range(len(labels))[::-1], labels, fontsize=7)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlabel("interaction I(T)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    change = float(np.asarray(result.output_change()))
    which = f"top {listed} interactions"
    if len(labels) < listed:  # the others would be invisible
        which = f"the {len(labels)} interactions ≥ 0.5 % of the top"
    ax.set_title(f"{which} (v(N) − v(∅) = {change:.3g})", fontsize=9)
    kinds = [k for k in _LEGEND if _COLORS[k] in colors]
    handles = [mpatches.Patch(color=_COLORS[k], label=_LEGEND[k]) for k in kinds]
    ax.legend(handles=handles, fontsize=7, loc="lower right", framealpha=0.8)


def _displayable(image: Any) -> tuple[np.ndarray, str | None]:
    """An image as ``(H, W)`` grey or ``(H, W, 3)`` RGB in [0, 1] for ``imshow``, and its colour map."""
    array = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3:
        array = np.moveaxis(array, 0, -1) if array.shape[0] == 3 else array.mean(0)
    if array.ndim not in (2, 3):
        raise ValueError(f"input must be an image (C, H, W) or (H, W), got shape {np.shape(image)}.")
    if array.ndim == 3:
        low, high = array.min(), array.max()
        return (array - low) / (high - low if high > low else 1.0), None
    return array, "gray"


def _draw_sentence(fig: Any, ax: Any, sentence: str, spans: list[tuple[int, int]], effects: np.ndarray) -> None:
    """Lay the sentence out word by word, wrapping lines; player words on a box of their effect's colour."""
    import matplotlib

    cmap = matplotlib.colormaps["RdBu_r"]
    bound = float(np.max(np.abs(effects))) or 1.0
    player_of = {span: i for i, span in enumerate(spans)}
    pieces: list[tuple[str, int | None, bool]] = []  # (text, player, space before)
    cursor = 0
    for start, end in sorted(spans) + [(len(sentence), len(sentence))]:
        for k, chunk in enumerate(sentence[cursor:start].split()):
            before = k > 0 or (cursor < start and sentence[cursor].isspace()) or not pieces
            pieces.append((chunk, None, before and bool(pieces)))
        if start < end:
            pieces.append((sentence[start:end], player_of[(start, end)], start > 0 and sentence[start - 1].isspace()))
        cursor = end
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    space = _width(ax, "a a", renderer, box) - _width(ax, "aa", renderer, box)
    line = 12 * 2.6 * fig.dpi / 72 / box.height  # a line of words and their effects, in axes fractions
    x, y = 0.0, 1.0 - 0.4 * line
    for chunk, player, before in pieces:
        width = _width(ax, chunk, renderer, box)
        if before:
            x += space
        if x + width > 1.0 and x > 0:
            x, y = 0.0, y - line
        style = {}
        if player is not None:
            strength = effects[player] / bound
            style = {"bbox": {"boxstyle": "round,pad=0.2", "fc": cmap(0.5 + 0.5 * strength), "lw": 0},
                     "color": "white" if abs(strength) > 0.6 else "black"}  # fmt: skip
            ax.text(x + width / 2, y - 0.45 * line, f"{effects[player]:+.2f}", transform=ax.transAxes, fontsize=7,
                    ha="center", va="center", color="dimgray")  # fmt: skip
        ax.text(x, y, chunk, transform=ax.transAxes, fontsize=12, va="center", ha="left", **style)
        x += width
    ax.set_title("words (players) by their singleton effect I_and({i}) + I_or({i})", fontsize=9)


def _width(ax: Any, chunk: str, renderer: Any, box: Any) -> float:
    """The width of ``chunk`` at the sentence's font size, as a fraction of the axes' width."""
    t = ax.text(0, 0, chunk, fontsize=12, transform=ax.transAxes)
    width = t.get_window_extent(renderer).width / box.width
    t.remove()
    return width
