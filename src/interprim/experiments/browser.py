"""The sample browser's data: each analysed sample, its players drawn on it, and its strongest interactions per model.

Every experiment that explains real samples puts ``results["browser"]``, a list of **sections**, into its
results; the HTML report turns each section into a browser of its samples. A section is one set of
models explaining the same samples with the same players by one extraction method (P1 experiments
with players at the layer and at the input give one section per choice of players)::

    {"title": "seed 0, players at the layer (pool1: ...), traditional extraction (...)",
     "models": ["lenet-a", "lenet-b"],
     "samples": [
       {"id": "test #17", "label": "7",
        "input": {"kind": "image", "pixels": [[0, 12, 255, ...], ...], "players": [[y0, x0, y1, x1], ...]},
        "models": {"lenet-a": {"eta": 2.13, "loss": 0.031, "v": 3.45,
                               "top": [{"type": "and", "players": [0, 3], "value": 1.21, "shared": true}, ...]},
                   "lenet-b": {...}}}]}

- ``input``: an **image**, ``pixels`` the displayable image as integers ``0 … 255``, ``H × W`` (grey) or
  ``H × W × 3`` (RGB), and ``players`` the box ``[y0, x0, y1, x1]`` of player ``k`` in that image's pixels
  (``y1``, ``x1`` exclusive; :func:`image_input`); or a **text**, ``text`` and ``players`` the character
  span ``[start, end]`` (end exclusive) of player ``k``'s word in it (:func:`text_input`). Players on an
  intermediate feature map (P1's cells of the central 5×5 grid, :func:`grid_boxes`) are scaled to the image.
- ``models[name]``: ``v = v(N)``, the model's output on the whole sample (the last entry of its value
  vector; every game here has ``v`` = the log-odds of the target: the true label, the trained label, the
  positive class, or the target token); ``loss = −log p(target) = −log σ(v(N)) = softplus(−v(N))``, the
  cross-entropy of the target at the unmasked input (computed as ``logaddexp(0, −v)``); ``eta``, the
  sample's average order (P1 §3.1, :func:`interprim.metrics.average_order`)
  ``η = Σ_k k·(J_pos^(k) + J_neg^(k)) / Σ_k (J_pos^(k) + J_neg^(k))`` over its salient interactions, ``null``
  without one; ``top``: its :data:`TOP` strongest salient interactions, by ``|I(T)|`` (ties: AND before OR,
  then the smaller bitmask of ``T``), each with its ``type``, sorted ``players``, ``value`` and ``shared``:
  whether the same (type, player set) is salient in **every** model of the section on that sample
  (left out when the section has one model). Experiments may add their own per-sample numbers (e.g.
  ``train_loss``).
- **Salient** (SPEC §4): after merging each OR singleton into the AND singleton, ``|I(T)| > τ`` with
  ``τ = 0.02·E_x |v(N) − v(∅)|`` over all the analysed samples of that model (not only the shown ones).
- At most :data:`BROWSE` samples per section (the first analysed ones), of the first seed.

:func:`section` builds a section from the models' interactions and value vectors; :func:`p1_sections`
and :func:`p2_sections` build those of P1's and P2's experiments from what their ``run`` computed and
the data set; :func:`validate` checks a ``browser`` list against the schema.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import metrics
from ..games import central_grid_players, foreground_patches
from ..games.players import sample_indices
from ..games.text import ENGLISH_STOP_WORDS, content_spans, word_spans
from ..interactions import singletons_merged
from . import datasets, p2, pipeline

TOP = 6  # interactions shown per model and sample
BROWSE = 24  # samples shown per section
TYPES = ("and", "or")
SHARED, DISTINCTIVE = "shared", "distinctive"


# ---------------------------------------------------------------------------------------------
# inputs and their players
# ---------------------------------------------------------------------------------------------


def pixels(image: Any) -> np.ndarray:
    """``image`` (``(C, H, W)`` with ``C`` = 1 or 3, or ``(H, W)``; array or tensor) as displayable uint8
    ``H × W`` or ``H × W × 3``.

    The data sets' images are pixel / 255 (:class:`interprim.data.ImageData` holds them in ``[0, 1]``), so
    an image inside ``[0, 1]`` is de-normalised, ``round(255·x)``; any other image is min-max scaled per
    image, ``round(255·(x − min) / (max − min))`` (all 0 when constant).
    """
    x = np.asarray(image.detach().cpu() if hasattr(image, "detach") else image, dtype=np.float64)
    if x.ndim == 3:
        if x.shape[0] not in (1, 3):
            raise ValueError(f"image must be (C, H, W) with 1 or 3 channels, or (H, W); got shape {x.shape}.")
        x = x[0] if x.shape[0] == 1 else np.moveaxis(x, 0, -1)
    elif x.ndim != 2:
        raise ValueError(f"image must be (C, H, W) or (H, W), got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("image holds NaN or infinite values.")
    lo, hi = float(x.min()), float(x.max())
    if not (lo >= 0 and hi <= 1):
        x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    return np.clip(np.rint(255 * x), 0, 255).astype(np.uint8)


def image_input(image: Any, boxes: Sequence[Sequence[int]]) -> dict[str, Any]:
    """``{"kind": "image", "pixels", "players"}``: :func:`pixels` of ``image`` (nested lists of ints) and the
    player boxes ``[y0, x0, y1, x1]`` (end exclusive) in its pixels."""
    shown = pixels(image)
    height, width = shown.shape[:2]
    players = [[int(c) for c in box] for box in boxes]
    for box in players:
        y0, x0, y1, x1 = box
        if not (0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width):
            raise ValueError(f"player box {box} lies outside the {height}x{width} image.")
    return {"kind": "image", "pixels": shown.tolist(), "players": players}


def text_input(text: str, spans: Sequence[Sequence[int]]) -> dict[str, Any]:
    """``{"kind": "text", "text", "players"}``: the text and the character span ``[start, end]`` (end
    exclusive) of each player's word."""
    players = [[int(a), int(b)] for a, b in spans]
    for a, b in players:
        if not 0 <= a < b <= len(text):
            raise ValueError(f"player span [{a}, {b}] lies outside the text of {len(text)} characters.")
    return {"kind": "text", "text": str(text), "players": players}


def mask_boxes(masks: Any) -> list[list[int]]:
    """``[y0, x0, y1, x1]`` (end exclusive) of each player's bool mask, the masks ``(n, H, W)``: the
    bounding box of its pixels (a player's patch or cell is a rectangle, so the box is the player)."""
    out = []
    for k, mask in enumerate(np.asarray(masks.detach().cpu() if hasattr(masks, "detach") else masks, dtype=bool)):
        ys, xs = np.nonzero(mask)
        if not ys.size:
            raise ValueError(f"player {k} covers no pixel.")
        out.append([int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1])
    return out


def scale_box(box: Sequence[int], feature_hw: Sequence[int], image_hw: Sequence[int]) -> list[int]:
    """A box of an ``Hf × Wf`` feature map in the pixels of an ``H × W`` image: rows ``r0 : r1`` become
    ``⌊r0·H/Hf⌋ : ⌈r1·H/Hf⌉`` (columns alike), the pixels the cells cover."""
    (hf, wf), (h, w) = (int(s) for s in feature_hw), (int(s) for s in image_hw)
    y0, x0, y1, x1 = (int(c) for c in box)
    return [y0 * h // hf, x0 * w // wf, -(-y1 * h // hf), -(-x1 * w // wf)]


def grid_boxes(feature_hw: Sequence[int], image_hw: Sequence[int], n: int, seed: int,
               grid: int = pipeline.GRID) -> list[list[int]]:
    """The boxes, in the image's pixels, of P1's players: the ``n`` cells of the central ``grid × grid``
    grid of an ``Hf × Wf`` feature map drawn with ``seed`` (exactly
    :func:`~interprim.games.central_grid_players` as :func:`pipeline.games
    <interprim.experiments.pipeline.games>` calls it), scaled to the image by :func:`scale_box` (the
    identity when the players are on the image)."""
    cells = central_grid_players(tuple(feature_hw)[-2:], grid=grid, n=n, seed=seed)
    return [scale_box(box, tuple(feature_hw)[-2:], image_hw) for box in mask_boxes(cells)]


def player_spans(text: str, n: int, seed: int) -> list[list[int]]:
    """``[start, end]`` of each player of a text game (:class:`~interprim.games.TextGame` with ``n`` and
    ``seed``): all its words with meaning when it has at most ``n``, else ``n`` drawn with ``seed``."""
    spans = content_spans(text, ENGLISH_STOP_WORDS)
    chosen = range(len(spans)) if len(spans) <= n else sample_indices(len(spans), n, seed)
    return [list(spans[i]) for i in chosen]


# ---------------------------------------------------------------------------------------------
# a section
# ---------------------------------------------------------------------------------------------


def top_items(a: np.ndarray, o: np.ndarray, m_and: np.ndarray, m_or: np.ndarray, model: int, top: int,
              n: int) -> list[dict[str, Any]]:
    """The ``top`` strongest salient interactions of ``model`` on one sample, strongest first.

    ``a``, ``o``: merged values ``(m, 2**n)``; ``m_and``, ``m_or``: salient masks ``(m, 2**n)``. Ranked by
    ``|I(T)|``; ties: AND before OR, then the smaller bitmask. Each item: ``type``, ``mask`` (bitmask of
    ``T``), ``players``, ``order``, ``values`` and ``salient`` in every model, ``label`` (``shared`` when
    salient in every model, else ``distinctive``).
    """
    values = {"and": a, "or": o}
    masks = {"and": m_and, "or": m_or}
    candidates = [(-abs(values[t][model, s]), k, s, t) for k, t in enumerate(TYPES)
                  for s in np.flatnonzero(masks[t][model])]
    out = []
    for _, _, s, t in sorted(candidates)[:top]:
        s = int(s)
        salient = [bool(x) for x in masks[t][:, s]]
        out.append({"type": t, "mask": s, "players": [i for i in range(n) if s >> i & 1], "order": s.bit_count(),
                    "values": [float(x) for x in values[t][:, s]], "salient": salient,
                    "label": SHARED if all(salient) else DISTINCTIVE})
    return out


def _pair(found: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(i_and, i_or)`` of an :class:`~interprim.Interactions`, an extraction record (a mapping with
    ``"i_and"`` and ``"i_or"``) or a pair of arrays."""
    if isinstance(found, Mapping):
        found = (found["i_and"], found["i_or"])
    elif hasattr(found, "i_and"):
        found = (found.i_and, found.i_or)
    i_and, i_or = (np.asarray(x, dtype=np.float64) for x in found)
    if i_and.shape != i_or.shape or i_and.ndim != 2:
        raise ValueError(f"i_and and i_or must both be (B, 2**n), got {i_and.shape} and {i_or.shape}.")
    return i_and, i_or


def loss(v: Any) -> np.ndarray:
    """``−log σ(v) = softplus(−v) = log(1 + e^{−v})``: the cross-entropy of the target when ``v`` is its
    log-odds, computed stably."""
    return np.logaddexp(0.0, -np.asarray(v, dtype=np.float64))


def section(
    title: str,
    models: Mapping[str, tuple[Any, Any]],
    inputs: Sequence[Mapping[str, Any]],
    ids: Sequence[str],
    labels: Sequence[str],
    *,
    rows: Sequence[int] | None = None,
    top: int = TOP,
    limit: int = BROWSE,
    extra: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
) -> dict[str, Any]:
    """One section of the browser (module docstring).

    Args:
        models: per model name, ``(interactions, values)``: its interactions of all the analysed samples
            (:class:`~interprim.Interactions`, an extraction record or ``(i_and, i_or)``, each ``(B, 2**n)``)
            and its value vectors ``(B, 2**n)``; every model on the same samples and players.
        inputs, ids, labels: of the shown samples (:func:`image_input` / :func:`text_input`, e.g.
            ``"test #17"``, the target's name), which are the rows ``rows`` of the analysed samples
            (default: the first ``len(inputs)``); at most ``limit`` are kept.
        extra: per model, further per-sample numbers (name → one value per shown sample) to add to its
            entries, e.g. ``{"lenet": {"train_loss": [...]}}``.

    ``τ`` of a model is over all its ``B`` samples: ``0.02·mean |v(N) − v(∅)|`` of its value vectors
    (:func:`interprim.metrics.salient_threshold`).
    """
    names = [str(name) for name in models]
    if not names:
        raise ValueError("a section needs at least one model.")
    rows = list(range(len(inputs))) if rows is None else [int(r) for r in rows]
    if not len(rows) == len(inputs) == len(ids) == len(labels):
        raise ValueError(f"rows ({len(rows)}), inputs ({len(inputs)}), ids ({len(ids)}) and labels ({len(labels)}) "
                         f"must describe the same shown samples.")
    shown = min(len(rows), limit)
    merged_and, merged_or, salient_and, salient_or, etas, outputs = [], [], [], [], [], []
    for name, (found, values) in models.items():
        i_and, i_or = _pair(found)
        v = np.asarray(values, dtype=np.float64)
        if v.shape != i_and.shape:
            raise ValueError(f"model {name!r}: values {v.shape} and interactions {i_and.shape} differ in shape.")
        tau = metrics.salient_threshold(v)  # SPEC §4, over every analysed sample of the model
        m_and, m_or = metrics.salient_mask(i_and, i_or, threshold=tau)
        a, o = singletons_merged(i_and, i_or)
        merged_and.append(a)
        merged_or.append(o)
        salient_and.append(m_and)
        salient_or.append(m_or)
        etas.append(np.asarray(metrics.average_order(i_and, i_or, threshold=tau), dtype=np.float64))
        outputs.append(v[:, -1])
    if len({x.shape for x in merged_and}) != 1:
        raise ValueError(f"the models' games differ in shape: {[x.shape for x in merged_and]}.")
    a, o, m_and, m_or = (np.stack(x) for x in (merged_and, merged_or, salient_and, salient_or))
    n = a.shape[-1].bit_length() - 1
    samples = []
    for i, b in enumerate(rows[:shown]):
        entry: dict[str, Any] = {"id": str(ids[i]), "label": str(labels[i]), "input": dict(inputs[i]), "models": {}}
        for j, name in enumerate(names):
            eta, v = float(etas[j][b]), float(outputs[j][b])
            items = []
            for item in top_items(a[:, b], o[:, b], m_and[:, b], m_or[:, b], j, top, n):
                out = {"type": item["type"], "players": item["players"], "value": item["values"][j]}
                if len(names) > 1:
                    out["shared"] = item["label"] == SHARED
                items.append(out)
            entry["models"][name] = {"eta": eta if math.isfinite(eta) else None, "loss": float(loss(v)), "v": v,
                                     "top": items}
            for key, per_sample in (extra or {}).get(name, {}).items():
                entry["models"][name][key] = per_sample[i]
        samples.append(entry)
    return {"title": str(title), "models": names, "samples": samples}


# ---------------------------------------------------------------------------------------------
# P1's experiments
# ---------------------------------------------------------------------------------------------


def extraction_p1(solver: str = "admm", tol: float | None = None) -> str:
    """The title part of P1's extraction: the traditional sparse AND-OR interactions (SPEC §3.3) by ``solver``."""
    how = "exact LP" if solver == "lp" else (f"certified ADMM, relative gap {tol:g}" if tol else "certified ADMM")
    return f"traditional extraction ({how})"


def p1_players(arch: str, players: str, shared_layers: int, dataset: str, n: int) -> tuple[tuple[Any, ...], str]:
    """The player geometry of ``arch`` (the map the players live on, :func:`pipeline.player_layer
    <interprim.experiments.pipeline.player_layer>`: ``(layer, shape)``) and its words for a title."""
    layer, shape = pipeline.player_layer(arch, shared_layers, players, dataset)
    if datasets.is_text(dataset):
        where = ("masked at the word embeddings" if layer is None else f"their hidden states after {layer} masked")
        return (layer, None), f"players at the {players} ({n} words with meaning of the sentence, {where})"
    if layer is None:
        return (None, tuple(shape)), f"players at the input ({n} cells of the central 5×5 grid of the image)"
    return (layer, tuple(shape)), (f"players at the layer ({layer}: {n} cells of the central 5×5 grid of the {layer} "
                                   f"feature map, {shape[-2]}×{shape[-1]}, scaled to the image)")


def p1_inputs(dataset: str, refs: Sequence[tuple[str, int]], *, feature_shape: Any, n: int, player_seed: int,
              data_path: str | None = None) -> list[dict[str, Any]]:
    """The inputs of P1's games on the samples ``refs`` (``(split, index)``): images with the grid players of
    ``feature_shape`` (the map they live on; ``None`` for text) scaled to the image (:func:`grid_boxes`), or
    sentences with their player words (:func:`player_spans`, as :func:`pipeline.games
    <interprim.experiments.pipeline.games>` draws them)."""
    out = []
    for split, index in refs:
        data = datasets.load(dataset, split, data_path)
        if datasets.is_text(dataset):
            text = data.sentences[int(index)]
            out.append(text_input(text, player_spans(text, n, player_seed)))
        else:
            image = data.images[int(index)]
            out.append(image_input(image, grid_boxes(feature_shape[-2:], image.shape[-2:], n, player_seed)))
    return out


def class_names(dataset: str, refs: Sequence[tuple[str, int]], data_path: str | None = None) -> list[str]:
    """The name of the true class of every sample ``(split, index)``."""
    out = []
    for split, index in refs:
        data = datasets.load(dataset, split, data_path)
        out.append(data.classes[int(data.labels[int(index)])])
    return out


def p1_sections(
    seed: int,
    games: Mapping[str, Mapping[str, tuple[Any, Any]]],
    archs: Mapping[str, str],
    refs: Sequence[tuple[str, int]],
    *,
    shared_layers: int,
    n: int,
    player_seed: int,
    dataset: str,
    data_path: str | None = None,
    extraction: str = extraction_p1(),
    rows: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    extra: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
    note: str = "",
) -> list[dict[str, Any]]:
    """The sections of a P1 experiment: per choice of players (``games``: players → model → ``(interactions,
    values)`` of all ``B`` analysed samples), one section of its models, or one per player geometry when
    their architectures (``archs``: model → arch) put the players on different maps.

    ``refs``: ``(split, index)`` of the ``B`` analysed samples; ``rows``: the shown ones (default the first
    :data:`BROWSE`); ``labels`` (default the true class names), ``ids`` (default ``"<split> #<index>"``) and
    ``extra`` (model → name → values) are per analysed sample. ``note`` goes into the title after the players.
    """
    rows = list(range(min(len(refs), BROWSE))) if rows is None else list(rows)[:BROWSE]
    shown = [refs[r] for r in rows]
    names = class_names(dataset, shown, data_path) if labels is None else [str(labels[r]) for r in rows]
    ids = [f"{split} #{int(index)}" for split, index in shown] if ids is None else [str(ids[r]) for r in rows]
    out = []
    for players, by_model in games.items():
        groups: dict[tuple[Any, ...], tuple[str, list[str]]] = {}
        for model in by_model:
            geometry, where = p1_players(archs[model], players, shared_layers, dataset, n)
            groups.setdefault(geometry, (where, []))[1].append(model)
        for (_, shape), (where, models) in groups.items():
            inputs = p1_inputs(dataset, shown, feature_shape=shape, n=n, player_seed=player_seed, data_path=data_path)
            title = ", ".join(part for part in (f"seed {seed}", where, note, extraction) if part)
            more = {m: {key: [values[r] for r in rows] for key, values in extra[m].items()}
                    for m in models if extra and m in extra}
            out.append(section(title, {m: by_model[m] for m in models}, inputs, ids, names, rows=rows, extra=more))
    return out


def p1_set_sections(
    seed: int,
    games: Mapping[str, Mapping[str, Mapping[str, tuple[Any, Any]]]],
    archs: Mapping[str, str],
    sets: Mapping[str, Sequence[int]],
    splits: Mapping[str, str],
    **kw: Any,
) -> list[dict[str, Any]]:
    """:func:`p1_sections` of an experiment whose analysed samples come in sets (``jaccard-by-order``'s train,
    test and control samples; ``overfitting-dynamics``' train and test samples): ``games``: players → model →
    set → ``(interactions, values)``; ``sets``: the sample indices of each set, ``splits``: the split each is
    drawn from. A model's sets are joined, so its ``τ`` is over all of them (as the experiments take it); the
    first ``BROWSE // len(sets)`` samples of every set are shown, with ids ``"<set> #<index>"`` (``"<set>
    (<split>) #<index>"`` where they differ)."""
    names = list(sets)
    refs = [(splits[name], int(i)) for name in names for i in sets[name]]
    ids = [f"{name} #{int(i)}" if name == splits[name] else f"{name} ({splits[name]}) #{int(i)}"
           for name in names for i in sets[name]]
    starts = np.cumsum([0] + [len(sets[name]) for name in names])
    rows = [int(start) + k for name, start in zip(names, starts) for k in range(min(BROWSE // len(names), len(sets[name])))]
    joined = {}
    for players, by_model in games.items():
        joined[players] = {}
        for model, by_set in by_model.items():
            pairs = [_pair(by_set[name][0]) for name in names]
            joined[players][model] = ((np.concatenate([a for a, _ in pairs]), np.concatenate([o for _, o in pairs])),
                                      np.concatenate([np.asarray(by_set[name][1]) for name in names]))
    return p1_sections(seed, joined, archs, refs, rows=rows, ids=ids, **kw)


# ---------------------------------------------------------------------------------------------
# P2's experiments
# ---------------------------------------------------------------------------------------------


def p2_players(config: Any, samples: Sequence[int]) -> tuple[list[Any], list[list[list[int]]]]:
    """The inputs of P2's games (:mod:`~interprim.experiments.p2`, its ``Config``) on the test ``samples``
    and their players: images (tensors ``(C, H, W)``) with the boxes of their ``n`` foreground patches
    (:func:`~interprim.games.foreground_patches`, :func:`mask_boxes`), or texts (the sentence; task ``lm``:
    the text before the target word) with their players' character spans (:func:`player_spans`)."""
    data_path = config.data_path or None
    data = datasets.load(config.dataset, "test", data_path)
    if config.task == "mnist3":
        images = [data.images[int(i)] for i in samples]
        return images, [mask_boxes(foreground_patches(x, patch=config.patch, n=config.n, seed=config.player_seed))
                        for x in images]
    texts = p2.next_word_texts(config.dataset, config.n, data_path) if config.task == "lm" else None
    shown = [texts[int(i)][0] if texts else data.sentences[int(i)] for i in samples]
    return shown, [player_spans(text, config.n, config.player_seed) for text in shown]


def p2_labels(config: Any, samples: Sequence[int]) -> list[str]:
    """The target of every sample: the class name (``mnist3``: the positive class, ``sst2``: the true
    sentiment), or task ``lm``'s target word (the word after the text)."""
    data_path = config.data_path or None
    data = datasets.load(config.dataset, "test", data_path)
    if config.task != "lm":
        return [data.classes[int(data.labels[int(i)])] for i in samples]
    texts = p2.next_word_texts(config.dataset, config.n, data_path)
    out = []
    for i in samples:
        sentence, start = data.sentences[int(i)], texts[int(i)][1]
        end = next(b for a, b in word_spans(sentence) if a == start)
        out.append(sentence[start:end])
    return out


def extraction_p2(config: Any, method: str, alpha: float | None = None, solver: str | None = None) -> str:
    """The title part of a P2 extraction ``method`` (of :data:`p2.METHODS <interprim.experiments.p2.METHODS>`;
    ``alpha`` and ``solver`` override the config's for ``generalizable``)."""
    if method == "generalizable":
        solver = solver or config.solver
        solver = "exact LP" if solver == "lp" else f"certified ADMM, relative gap {config.tol:g}"
        return f"generalizable extraction (P2 Eq. 6, α = {config.alpha if alpha is None else alpha:g}, {solver})"
    if method == "harsanyi":
        return "Harsanyi AND interactions (closed form)"
    solver = {"traditional-lp": "exact LP", "traditional-admm": f"certified ADMM, relative gap {config.tol:g}"}[method]
    return f"traditional extraction (P2 Eq. 4, {solver})"


def p2_sections(config: Any, seed: int, archs: Sequence[str], samples: Sequence[int], values: Sequence[Any],
                extractions: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """One section per extraction (``extractions``: title part, e.g. :func:`extraction_p2`, → one set of
    interactions per model of ``archs``) of P2's models on the analysed test ``samples``; ``values``: each
    model's value vectors. An extraction of the first ``B' < B`` samples only is matched with the first
    ``B'`` games (its ``τ`` over those)."""
    rows = list(range(min(len(samples), BROWSE)))
    raw, players = p2_players(config, [samples[r] for r in rows])
    inputs = [text_input(x, p) if isinstance(x, str) else image_input(x, p) for x, p in zip(raw, players)]
    labels = p2_labels(config, [samples[r] for r in rows])
    ids = [f"test #{int(samples[r])}" for r in rows]
    if config.task == "mnist3":
        where = f"{config.n} foreground {config.patch}×{config.patch} patches of the image"
    elif config.task == "sst2":
        where = f"{config.n} words with meaning of the sentence"
    else:
        target = "the text's next word" if config.target == "text" else "each model's own most likely next token"
        where = f"{config.n} words with meaning of the text before the target word (v: log-odds of {target})"
    out = []
    for what, found in extractions.items():
        models = {}
        for name, r, v in zip(archs, found, values):
            count = _pair(r)[0].shape[0]
            models[name] = (r, np.asarray(v)[:count])
        count = min(len(rows), *(v.shape[0] for _, v in models.values()))
        out.append(section(f"seed {seed}, {where}, {what}", models, inputs[:count], ids[:count], labels[:count]))
    return out


def p2_browser(config: Any, found: Any, seed: int, methods: Sequence[str] = ("generalizable", "traditional-lp")
               ) -> list[dict[str, Any]]:
    """:func:`p2_sections` of the ``methods`` that a :class:`p2.Extracted <interprim.experiments.p2.Extracted>`
    holds (the generalizable extraction first, then the traditional one by the exact LP); of its first
    method when it holds none of them."""
    chosen = [m for m in methods if m in found.methods] or list(found.methods)[:1]
    chosen = {extraction_p2(config, m): found.methods[m] for m in chosen}
    return p2_sections(config, seed, p2.model_names(config.archs), found.samples, found.values, chosen)


# ---------------------------------------------------------------------------------------------
# the schema
# ---------------------------------------------------------------------------------------------


def _check(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise ValueError(f"browser{where}: {what}")


def validate(sections: Any, limit: int = BROWSE, top: int = TOP) -> None:
    """Raise ``ValueError`` naming the first place where ``sections`` (``results["browser"]``, as built or as
    read back from JSON) breaks the schema of the module docstring; ``None`` when it holds."""
    _check(isinstance(sections, list), "", f"must be a list of sections, got {type(sections).__name__}")
    for s, sec in enumerate(sections):
        at = f"[{s}]"
        _check(isinstance(sec, Mapping) and set(sec) == {"title", "models", "samples"}, at,
               "a section has exactly the keys title, models, samples")
        models = sec["models"]
        _check(isinstance(sec["title"], str) and bool(sec["title"]), at, "title must be a non-empty string")
        _check(isinstance(models, list) and models and len(set(models)) == len(models)
               and all(isinstance(m, str) for m in models), at, "models must be distinct model names")
        _check(isinstance(sec["samples"], list) and len(sec["samples"]) <= limit, at,
               f"samples must be a list of at most {limit}")
        for b, sample in enumerate(sec["samples"]):
            here = f"{at}['samples'][{b}]"
            _check(isinstance(sample.get("id"), str) and isinstance(sample.get("label"), str), here,
                   "id and label must be strings")
            count = _validate_input(sample.get("input"), here + "['input']")
            _check(isinstance(sample.get("models"), Mapping) and list(sample["models"]) == models, here,
                   f"models must hold the section's models {models} in order")
            for name, entry in sample["models"].items():
                _validate_entry(entry, f"{here}['models'][{name!r}]", count, len(models) > 1, top)


def _validate_input(x: Any, where: str) -> int:
    """Check an input; return its number of players."""
    _check(isinstance(x, Mapping) and x.get("kind") in ("image", "text"), where, "kind must be 'image' or 'text'")
    players = x.get("players")
    _check(isinstance(players, list) and len(players) > 0, where, "players must be a non-empty list")
    if x["kind"] == "text":
        text = x.get("text")
        _check(isinstance(text, str), where, "text must be a string")
        for a, b in players:
            _check(isinstance(a, int) and isinstance(b, int) and 0 <= a < b <= len(text), where,
                   f"span [{a}, {b}] is not inside the text")
        return len(players)
    p = np.asarray(x.get("pixels"))
    _check(p.dtype.kind in "iu" and (p.ndim == 2 or (p.ndim == 3 and p.shape[-1] == 3)), where,
           f"pixels must be integers H×W or H×W×3, got dtype {p.dtype}, shape {p.shape}")
    _check(p.size > 0 and int(p.min()) >= 0 and int(p.max()) <= 255, where, "pixels must lie in 0 … 255")
    for box in players:
        _check(len(box) == 4 and all(isinstance(c, (int, np.integer)) for c in box), where,
               f"box {box} must be four integers")
        y0, x0, y1, x1 = box
        _check(0 <= y0 < y1 <= p.shape[0] and 0 <= x0 < x1 <= p.shape[1], where, f"box {box} is not inside the image")
    return len(players)


def _validate_entry(entry: Any, where: str, n: int, several: bool, top: int) -> None:
    _check(isinstance(entry, Mapping) and {"eta", "loss", "v", "top"} <= set(entry), where,
           "needs eta, loss, v and top")
    v, eta = entry["v"], entry["eta"]
    _check(isinstance(v, (int, float)) and math.isfinite(v), where, "v must be a finite number")
    _check(eta is None or (isinstance(eta, (int, float)) and 1 <= eta <= n), where, f"eta must be null or in [1, {n}]")
    _check(math.isclose(entry["loss"], float(loss(v)), rel_tol=1e-9, abs_tol=1e-12), where,
           "loss must be softplus(-v)")
    items = entry["top"]
    _check(isinstance(items, list) and len(items) <= top, where, f"top must be a list of at most {top}")
    _check((eta is None) == (not items), where, "eta is null exactly when no interaction is salient")
    strengths = [abs(item["value"]) for item in items]
    _check(strengths == sorted(strengths, reverse=True), where, "top must be sorted by |value|, strongest first")
    keys = set()
    for item in items:
        ps = item["players"]
        _check(item["type"] in TYPES and ps and ps == sorted(set(ps)) and all(0 <= k < n for k in ps), where,
               f"item {item} must have a type of {TYPES} and sorted distinct players < {n}")
        _check(item["type"] == "and" or len(ps) > 1, where, f"item {item}: OR singletons are merged into AND")
        _check(("shared" in item) == several and ("shared" not in item or isinstance(item["shared"], bool)), where,
               "shared is a bool with several models and absent with one")
        keys.add((item["type"], tuple(ps)))
    _check(len(keys) == len(items), where, "an interaction appears twice in top")
