"""The sample browser of a run's page: the samples of ``results["browser"]``, drawn for the template.

``results["browser"]`` (optional) is a list of sections::

    [{"title": "seed 0, players at the layer ..., traditional extraction",
      "models": ["lenet-a", "lenet-b"],
      "samples": [{"id": "test #17", "label": "7",
                   "input": {"kind": "image", "pixels": [[0, 12, 255], ...], "players": [[y0, x0, y1, x1], ...]},
                   "models": {"lenet-a": {"eta": 2.13, "loss": 0.031, "v": 3.45, "train_loss": 0.2,
                                          "top": [{"type": "and", "players": [0, 3], "value": 1.21,
                                                   "shared": true}, ...]}}}]}]

``pixels`` are uint8, H×W (grey) or H×W×3 (RGB); ``players`` are boxes in pixel coordinates (``y1``
and ``x1`` exclusive), player ``k`` being ``players[k]``. A text input is ``{"kind": "text", "text":
"...", "players": [[start, end], ...]}`` with character spans. ``eta`` may be ``null``,
``train_loss`` and ``shared`` absent. An input of another kind (or an image that cannot be drawn)
is shown as the list of its players.

Images are drawn here, once per sample, as small PNGs with the players as numbered boxes; text
has its player words marked and numbered. Each player has one colour (:data:`PALETTE`) in the
picture, the text and the tables.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from .templates import data_uri

#: the colour of player ``k`` is ``PALETTE[k % len(PALETTE)]`` (matplotlib's tab10)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
#: the per-model numbers shown above the interactions, by key, with their labels
STATS = (("eta", "η"), ("loss", "loss"), ("v", "v(N)"), ("train_loss", "train loss"))
#: the height of a drawn sample image, in inches at :data:`DPI`
IMAGE_HEIGHT, DPI = 2.8, 100


def browser_view(sections: Any) -> list[dict[str, Any]] | None:
    """The sections of the browser, their samples numbered across sections; ``None`` when there is no sample.

    Raises ``ValueError`` naming the place (``results.browser[0].samples[3]``) when the structure
    is not a list of sections holding lists of sample objects.
    """
    if sections is None:
        return None
    _expect(sections, list, "results.browser", "a list of sections")
    views, count = [], 0
    for i, section in enumerate(sections):
        where = f"results.browser[{i}]"
        _expect(section, dict, where, "an object with title, models and samples")
        samples = _expect(section.get("samples"), list, f"{where}.samples", "a list of samples")
        models = _model_names(section, samples, where)
        views.append({
            "title": str(section.get("title", f"section {i + 1}")),
            "samples": [_sample_view(sample, models, count + j, f"{where}.samples[{j}]")
                        for j, sample in enumerate(samples)],
        })
        count += len(samples)
    return views if count else None


def _expect(value: Any, kind: type, where: str, what: str) -> Any:
    """``value``, checked to be a ``kind``; otherwise ``ValueError`` naming ``where`` and ``what`` it should be."""
    if not isinstance(value, kind):
        raise ValueError(f"{where} must be {what} (see interprim.report.samples), got {type(value).__name__}.")
    return value


def _model_names(section: dict[str, Any], samples: list[Any], where: str) -> list[str]:
    """The section's ``models``, or the models of its samples in order of appearance when it names none."""
    if "models" in section:
        return [str(m) for m in _expect(section["models"], list, f"{where}.models", "a list of model names")]
    names: dict[str, None] = {}
    for sample in samples:
        if isinstance(sample, dict) and isinstance(sample.get("models"), dict):
            names.update(dict.fromkeys(sample["models"]))
    return list(names)


def _sample_view(sample: Any, models: list[str], index: int, where: str) -> dict[str, Any]:
    """One sample: its id, label, drawn input and one table per model that it has."""
    _expect(sample, dict, where, "an object with id, input and models")
    found = _expect(sample.get("models", {}), dict, f"{where}.models", "an object of model results by name")
    view = input_view(sample.get("input"))
    return {
        "index": index,
        "id": str(sample.get("id", f"#{index}")),
        "label": None if sample.get("label") is None else str(sample["label"]),
        "input": view,
        "models": [_model_view(name, found[name], view.get("words")) for name in models
                   if isinstance(found.get(name), dict)],
    }


def _model_view(name: str, result: dict[str, Any], words: list[str] | None) -> dict[str, Any]:
    """One model on one sample: its numbers (:data:`STATS`) and its top interactions."""
    top = result.get("top")
    return {
        "name": name,
        "stats": [(label, result[key]) for key, label in STATS if key in result],
        "top": [_interaction_view(item, words) for item in (top if isinstance(top, list) else [])
                if isinstance(item, dict)],
    }


def _interaction_view(item: dict[str, Any], words: list[str] | None) -> dict[str, Any]:
    """One interaction: ``AND``/``OR``, its players (with their words for text), value, shared or not."""
    players = item.get("players")
    return {
        "type": str(item.get("type", "?")).upper(),
        "players": [_player(k, words) for k in (players if isinstance(players, list) else [])],
        "value": item.get("value"),
        "shared": bool(item.get("shared")),
    }


def _player(k: Any, words: list[str] | None) -> dict[str, Any]:
    """Player ``k`` as shown in a table: its number, colour and, for text, its word."""
    if not isinstance(k, int) or isinstance(k, bool):
        return {"k": str(k), "color": None, "word": None}
    word = words[k] if words is not None and 0 <= k < len(words) else None
    return {"k": k, "color": PALETTE[k % len(PALETTE)], "word": word}


def input_view(spec: Any) -> dict[str, Any]:
    """The input of a sample for the template: ``kind`` ``image`` (``src``), ``text`` (``segments``, ``words``) or ``list``."""
    spec = spec if isinstance(spec, dict) else {}
    kind, players = spec.get("kind"), spec.get("players", [])
    try:
        if kind == "image":
            return {"kind": "image", "src": draw_image(spec["pixels"], players), "players": len(players)}
        if kind == "text":
            segments, words = mark_text(spec["text"], players)
            return {"kind": "text", "segments": segments, "words": words}
    except (KeyError, TypeError, ValueError):
        pass  # shown as the list of its players below
    listed = players if isinstance(players, list) else []
    return {"kind": "list", "name": str(kind), "players": [json.dumps(p) for p in listed]}


def draw_image(pixels: Any, boxes: Sequence[Sequence[int]]) -> str:
    """A PNG ``data:`` URI of the image ``pixels`` (H×W grey or H×W×3 RGB, 0–255) with ``boxes`` drawn numbered.

    Raises ``ValueError`` for pixels of another shape and boxes that are not ``[y0, x0, y1, x1]``.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    image = np.clip(np.asarray(pixels, dtype=float), 0, 255)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)) or image.size == 0:
        raise ValueError(f"pixels of shape {image.shape}: expected H×W or H×W×3.")
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    height, width = image.shape[:2]
    fig = Figure(figsize=(IMAGE_HEIGHT * min(max(width / height, 0.5), 2.5), IMAGE_HEIGHT), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest", aspect="auto")
    else:
        ax.imshow(image.astype(np.uint8), interpolation="nearest", aspect="auto")
    for k, (y0, x0, y1, x1) in enumerate(boxes):
        color = PALETTE[k % len(PALETTE)]
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=color, linewidth=2))
        ax.text(x0 - 0.5, y0 - 0.5, str(k), color="white", fontsize=9, fontweight="bold", ha="left", va="top",
                bbox={"boxstyle": "square,pad=0.15", "facecolor": color, "edgecolor": "none"})
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return data_uri(buffer.getvalue())


def mark_text(text: str, spans: Sequence[Sequence[int]]) -> tuple[list[dict[str, Any]], list[str]]:
    """``text`` cut into segments, those of player ``k`` (the span ``spans[k]``) marked; and the player words.

    A segment is ``{"text", "player", "color"}`` (``player`` ``None`` between players). Spans are
    clipped to the text, and a span overlapping an earlier one keeps only its part after it.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}.")

    def clip(i: int) -> int:
        return min(max(int(i), 0), len(text))

    bounds = [(clip(start), clip(end)) for start, end in spans]
    segments, cursor = [], 0
    for start, end, k in sorted((start, end, k) for k, (start, end) in enumerate(bounds)):
        start = max(start, cursor)
        if end <= start:
            continue
        if start > cursor:
            segments.append({"text": text[cursor:start], "player": None, "color": None})
        segments.append({"text": text[start:end], "player": k, "color": PALETTE[k % len(PALETTE)]})
        cursor = end
    if cursor < len(text):
        segments.append({"text": text[cursor:], "player": None, "color": None})
    return segments, [text[start:end] for start, end in bounds]
