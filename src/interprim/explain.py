"""One call from a model and an input to its AND-OR interactions: :func:`explain`.

:func:`explain` builds the game of the input's players (``interprim.games``: ``ImageGame``,
``TextGame``, ``TabularGame`` or a ``FunctionGame`` around any numpy callable), computes its value
vector ``v[S] = v(x_S)`` over all ``2**n`` subsets of players (SPEC §1, §5) and extracts the
interactions (SPEC §3). The result knows its players: ``r.players`` are their labels and
``r.meta["players"]`` says what each covers (JSON, kept by ``save``/``load`` and ``to_dict``):

- images: ``{"kind": "image", "labels", "layer", "shape": [h, w], "feature_mask"}``, where
  ``feature_mask`` is an ``h × w`` list of lists holding player ``i`` at the positions it masks and
  ``-1`` elsewhere (Captum's ``feature_mask`` convention), on the image or on the output of ``layer``;
- text: ``{"kind": "text", "labels", "text", "spans"}``, each player's ``[start, end)`` characters
  of ``text``;
- tables: ``{"kind": "table", "labels", "columns", "feature_names"}``, each player's column indices.

In a batch whose players differ between samples (an image's own foreground patches, sentences)
``meta["players"]`` holds one such dict per sample, and ``r[b]`` gets sample ``b``'s.
``meta["target"]`` is the class explained (for a batch a list, one per sample; ``None`` for a
model's raw scalar output).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .extract import and_or, generalizable_and_or, harsanyi, sparse_and_or
from .games import FunctionGame, ImageGame, TabularGame, TextGame
from .games._model import as_logits, eval_mode
from .games.base import MAX_PLAYERS
from .games.image import ImagePath
from .games.outputs import check_target, predicted_class, resolve_output
from .games.players import central_grid_players, check_players, foreground_patches
from .games.text import ENGLISH_STOP_WORDS, content_spans
from .interactions import Interactions

METHODS = {"sparse": sparse_and_or, "generalizable": generalizable_and_or, "harsanyi": harsanyi, "and_or": and_or}
DEFAULT_PLAYERS = 10
"""Players of an image or a sentence when ``players`` is not given (SPEC §5: 8-10): up to 10
foreground patches, 10 cells of P1's central grid on a feature map, 10 words with meaning."""


def explain(
    model: Any,
    x: Any,
    *,
    target: Any = None,
    baseline: Any = None,
    players: Any = None,
    layer: Any = None,
    tokenizer: Any = None,
    feature_names: Sequence[str] | None = None,
    method: str | None = None,
    output: Any = "log_odds",
    seed: int = 0,
    **options: Any,
) -> Interactions | list[Interactions]:
    """The AND-OR interactions of a model on one input (or a batch), with players that know what they cover.

    ``r = ip.explain(model, x)`` reads like Captum's ``FeatureAblation(model).attribute(x,
    baselines=0, target=y, feature_mask=m)``: ``x`` is split into ``n`` players, the model's output
    ``v(x_S)`` (by default the log-odds of ``target``, SPEC §1) is computed on every subset ``S`` of
    present players with the others set to ``baseline``, and ``v`` is decomposed into AND and OR
    interactions (``method``). What ``x`` is decides the kind of input:

    - **image**: a torch model and a ``(C, H, W)`` image, or ``(B, C, H, W)`` for a batch (a numpy
      array or a tensor). ``players``: an int ``n`` or ``None`` — ``n`` (default up to 10)
      foreground patches of the image (:func:`~interprim.games.foreground_patches`, patches of about
      1/7 of the image side), or with ``layer`` ``n`` cells of P1's central 5×5 grid on that
      layer's map (:func:`~interprim.games.central_grid_players`); bool masks ``(n, H, W)`` (e.g.
      :func:`~interprim.games.patch_grid`), or ``(B, n, H, W)`` one set per image; or Captum's
      ``feature_mask``, an integer map ``(H, W)`` (or ``(C, H, W)``, equal across channels): each id
      ``≥ 0`` is one player (label: the id), negative ids are no player. ``layer``: ``None`` (the
      input), ``"low"`` or a module name: the players mask that module's output
      (:class:`~interprim.games.ImageGame`). ``baseline`` (default 0): a scalar or a tensor
      broadcastable to the image (or map).
    - **text**: a Hugging Face sequence classifier or causal LM, its fast ``tokenizer`` and a
      sentence (or a list of them). ``players``: an int ``n`` or ``None`` — ``n`` (default 10) words
      with meaning (:func:`~interprim.games.content_words`; all of them when fewer), or a list of
      the words (or indices into ``content_words``); for a batch one list for all or one per
      sentence. A causal LM is explained at the log-odds of its most likely next token
      (``target``: a token id). ``layer``: ``None`` (word embeddings), ``k`` or ``"low"``
      (:class:`~interprim.games.TextGame`). ``baseline`` (default ``"mean"``, the mean embedding):
      as for ``TextGame``.
    - **table** or **any callable**: a feature row ``(d,)`` or a batch ``(B, d)`` and a torch model,
      a scikit-learn-like estimator or any function numpy ``(B, d)`` in, numpy out. An estimator
      with ``predict_proba`` is explained at the log-odds of ``target`` computed from its
      probabilities (``log p_y − log Σ_{c≠y} p_c``), one with ``decision_function`` at its
      scores taken as logits; a regressor's ``predict`` or a callable returning ``(B,)`` values
      gives those values as they are (no target), one returning ``(B, C)`` gives logits.
      ``players``: ``None`` (every column its own player), a list of columns or column groups
      (``[0, [1, 2], 3]``), or a dict ``{label: columns}``; ``feature_names`` names the columns
      (default: the estimator's ``feature_names_in_``, the columns of a DataFrame, else ``x0,
      x1, …``); a group is labelled by its columns' names joined with ``+``. ``baseline``: a row
      ``(d,)``, a scalar, or background data ``(m, d)`` whose mean row is used; default zeros.

    Args:
        model: the model, or a list of models explained on the same players (same images, words
            or columns): then ``method`` defaults to ``"generalizable"`` and a list of results,
            one per model, is returned.
        x: the input: image(s), sentence(s) or feature row(s), as above.
        target: the class explained (a token id for a causal LM): an int, one per sample of a
            batch, or ``None`` for the prediction of the (first) model on the unmasked input.
        baseline, players, layer: what a masked player becomes, the players, where they live (above).
        tokenizer: the fast tokenizer of a text model (a list, one per model, for several models).
        feature_names: names of a table's columns.
        method: ``"sparse"`` (one model's default: :func:`~interprim.sparse_and_or`, SPEC §3.3),
            ``"generalizable"`` (several models' default: :func:`~interprim.generalizable_and_or`,
            SPEC §3.4), ``"harsanyi"`` (AND only) or ``"and_or"`` (the fixed split ``v/2``).
        output: the scalar of the model's logits: ``"log_odds"`` (default), ``"logit"`` or a
            callable ``(logits, target) -> (B,)`` (:mod:`interprim.games.outputs`).
        seed: the seed that samples players (foreground patches, grid cells, words).
        **options: options of the method, e.g. ``noise``, ``tol``, ``solver``, ``alpha``, ``progress``.

    Returns:
        :class:`~interprim.Interactions` of batch shape ``()`` for one input, ``(B,)`` for a batch;
        a list of them, one per model, for several models. ``r.players`` are the players' labels
        (patch numbers or feature-mask ids, words, column names), ``r.meta["players"]`` what they
        cover (module docstring), ``r.meta["target"]`` the class explained. ``r.plot(...)`` draws it.

    Raises:
        TypeError: ``model`` is not callable (or not a torch model where one is needed), ``x`` is
            not an image, sentence or feature row, or ``options`` has an option ``method`` lacks.
        ValueError: bad shapes, players or targets, no ``tokenizer`` for text, ``n`` above 24
            players, or an unknown ``method``; each message names the argument.
    """
    models, several = _as_models(model)
    method = _check_method(method, several)
    _check_options(method, options)
    kind, x, batched = _kind_of(models, x)
    if kind == "text":
        tokenizers = _tokenizers(tokenizer, len(models))
        found = _text(models, tokenizers, x, players, target, baseline, layer, output, seed)
        values, labels, described, targets = found
    else:
        if tokenizer is not None:
            raise ValueError(f"tokenizer is for text input; x is {'an image' if kind == 'image' else 'a table'}.")
        if kind == "image":
            values, labels, described, targets = _image(models, x, players, target, baseline, layer, output, seed)
        else:
            if layer is not None:
                raise ValueError(f"layer={layer!r} is for images and text; x is a table (feature rows).")
            values, labels, described, targets = _table(models, x, players, target, baseline, feature_names, output)
    if not batched:
        values = [v[0] for v in values]
        described = described[0]
        targets = targets[0]
    elif all(d == described[0] for d in described):  # the same players for every sample: one description
        described = described[0]
    meta = {"players": described, "target": targets if not batched else _targets_meta(targets)}
    if method == "generalizable":
        results = generalizable_and_or(values, players=labels, **options)
    else:
        results = [METHODS[method](v, players=labels, **options) for v in values]
    for i, r in enumerate(results):
        r.meta.update(meta if i == 0 else copy.deepcopy(meta))
    return results if several else results[0]


# --- arguments -------------------------------------------------------------------------------


def _as_models(model: Any) -> tuple[list[Any], bool]:
    if isinstance(model, (list, tuple)):
        if len(model) == 0:
            raise ValueError("model is an empty list; pass a model or a list of models.")
        models, several = list(model), True
    else:
        models, several = [model], False
    for i, m in enumerate(models):
        if not (callable(m) or hasattr(m, "predict_proba") or hasattr(m, "decision_function") or hasattr(m, "predict")):
            where = f"model[{i}]" if several else "model"
            raise TypeError(
                f"{where} must be a torch model, a scikit-learn-like estimator (predict_proba, decision_function "
                f"or predict) or a callable, got {type(m).__name__}."
            )
    return models, several


def _check_method(method: Any, several: bool) -> str:
    if method is None:
        return "generalizable" if several else "sparse"
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}.")
    if method == "generalizable" and not several:
        raise ValueError(
            "method='generalizable' extracts the interactions shared by several models; pass model=[model1, "
            "model2, ...] (or method='sparse' for one model)."
        )
    return method


def _check_options(method: str, options: dict[str, Any]) -> None:
    allowed = [p for p in inspect.signature(METHODS[method]).parameters if p not in ("v", "values", "players")]
    unknown = [k for k in options if k not in allowed]
    if unknown:
        listed = ", ".join(allowed) if allowed else "none"
        raise TypeError(
            f"explain() got {unknown[0]!r}, which is not an option of method={method!r} (its options: {listed})."
        )


def _kind_of(models: list[Any], x: Any) -> tuple[str, Any, bool]:
    """``("image" | "text" | "table", x, batched)``: the kind of input and whether it is a batch."""
    if isinstance(x, str):
        return "text", [x], False
    if x is None:
        raise TypeError("x must be an image (C, H, W), a sentence, or a feature row (d,) (or a batch of them), "
                        "got None.")
    if isinstance(x, (list, tuple)) and x and all(isinstance(s, str) for s in x):
        return "text", list(x), True
    names = _pandas_names(x)  # a DataFrame (or a row of one) keeps its column names for feature_names
    try:
        if isinstance(x, torch.Tensor):
            array = x.detach().cpu()
        else:
            array = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float64))
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(
            f"x must be an image (C, H, W), a sentence, or a feature row (d,) (or a batch of them), got "
            f"{type(x).__name__} ({e})."
        ) from None
    if array.dtype == torch.bool or array.dtype.is_complex:
        raise ValueError(f"x must hold real numbers, got dtype {array.dtype}.")
    torch_models = all(isinstance(m, torch.nn.Module) for m in models)
    if array.ndim in (3, 4):
        if not torch_models:
            raise TypeError(
                f"x of shape {tuple(array.shape)} is an image; images are explained for torch models "
                f"(torch.nn.Module), got {type(models[0]).__name__}."
            )
        if array.ndim == 4 and array.shape[0] == 0:
            raise ValueError("x is an empty batch of images (B = 0).")
        return "image", array if array.ndim == 4 else array[None], array.ndim == 4
    if array.ndim in (1, 2):
        if array.ndim == 2 and torch_models and any(_has_conv(m) for m in models):
            raise ValueError(
                f"x has shape {tuple(array.shape)}, but the model is a convolutional network: an image must be "
                f"(C, H, W); add the channel axis with x[None] (a batch is (B, C, H, W))."
            )
        rows = array[None] if array.ndim == 1 else array
        if rows.shape[0] == 0 or rows.shape[1] == 0:
            raise ValueError(f"x of shape {tuple(array.shape)} has no feature rows or no columns.")
        return "table", (rows, names), array.ndim == 2
    raise ValueError(
        f"x has shape {tuple(array.shape)}; explain takes an image (C, H, W) or a batch (B, C, H, W), a sentence "
        f"or a list of sentences, or a feature row (d,) or a batch (B, d)."
    )


def _pandas_names(x: Any) -> list[str] | None:
    """The column names of a pandas DataFrame, or the index of a Series (a row of one); else ``None``."""
    if not type(x).__module__.startswith("pandas"):
        return None
    names = getattr(x, "columns", None) if getattr(x, "ndim", 0) == 2 else getattr(x, "index", None)
    return None if names is None else [str(c) for c in names]


def _has_conv(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.conv._ConvNd) for m in model.modules())


def _targets_per_sample(target: Any, count: int) -> list[Any]:
    """``target`` as one entry per sample: ``None`` for each, one int for all, or one per sample."""
    if target is None:
        return [None] * count
    if isinstance(target, (int, np.integer)) and not isinstance(target, (bool, np.bool_)):
        return [int(target)] * count
    listed = target.tolist() if isinstance(target, (np.ndarray, torch.Tensor)) else target
    integers = isinstance(listed, (list, tuple)) and len(listed) == count
    if integers and all(isinstance(t, (int, np.integer)) and not isinstance(t, (bool, np.bool_)) for t in listed):
        return [int(t) for t in listed]
    raise ValueError(f"target must be a class index, one per sample ({count}), or None, got {target!r}.")


def _targets_meta(targets: list[Any]) -> Any:
    """A batch's targets as ``meta["target"]``: a list of ints (``r[b]`` picks sample ``b``'s), or ``None``."""
    return None if any(t is None for t in targets) else [int(t) for t in targets]


def _check_count(n: int, name: str) -> None:
    if n > MAX_PLAYERS:
        raise ValueError(
            f"{name} gives {n} players; a game is evaluated on all 2**n subsets, so at most {MAX_PLAYERS} players "
            f"are allowed (8-12 is usual): choose fewer players or group them."
        )


def _label_duplicates(labels: list[str]) -> list[str]:
    """Labels made unique by numbering repeats: ``good``, ``good#2``."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return out


def _as_numpy_values(games_values: list[list[torch.Tensor]]) -> list[np.ndarray]:
    """One ``(B, 2**n)`` float64 array per model from the models' per-sample value tensors."""
    return [torch.stack(per_sample).numpy() for per_sample in games_values]


# --- images ----------------------------------------------------------------------------------


def _patch_size(height: int, width: int) -> int:
    """About a seventh of the shorter side, dividing both sides (P2: 4×4 patches on 28×28 MNIST)."""
    for size in range(max(1, min(height, width) // 7), 0, -1):
        if height % size == 0 and width % size == 0:
            return size
    return 1


def _foreground(image: torch.Tensor, n: int | None, seed: int) -> torch.Tensor:
    """``n`` foreground patches of ``image`` (``None``: as many as there are, up to :data:`DEFAULT_PLAYERS`)."""
    patch = _patch_size(image.shape[-2], image.shape[-1])
    if n is not None:
        try:
            return foreground_patches(image, patch=patch, n=n, seed=seed)
        except ValueError as e:
            raise ValueError(f"players={n}: {e} Pass player masks (e.g. interprim.games.patch_grid) instead.") from None
    for count in range(DEFAULT_PLAYERS, 0, -1):
        try:
            return foreground_patches(image, patch=patch, n=count, seed=seed)
        except ValueError:
            continue
    raise ValueError(
        "the image has no foreground patch (it is uniform); pass players: bool masks or an integer feature_mask."
    )


def _image_players(
    models: list[Any], images: torch.Tensor, players: Any, layer: Any, seed: int
) -> tuple[torch.Tensor, list[str] | None]:
    """Players as bool ``(n, h, w)`` (shared) or ``(B, n, h, w)`` (one set per image), and the ids as labels."""
    if layer is None:
        spatial = tuple(images.shape[-2:])
    else:
        path = ImagePath(models[0], layer)  # ValueError naming the layer when the model has no such module
        with torch.no_grad(), eval_mode(models[0]):
            param = next(models[0].parameters(), None)
            probe = images[:1] if param is None else images[:1].to(device=param.device, dtype=param.dtype)
            spatial = tuple(path.low(probe)[0].shape[-2:])
    if players is None or (isinstance(players, (int, np.integer)) and not isinstance(players, (bool, np.bool_))):
        n = None if players is None else int(players)
        if n is not None and not 1 <= n <= MAX_PLAYERS:
            _check_count(n, f"players={n}")
            raise ValueError(f"players={n}: the number of players must be at least 1.")
        if layer is not None:
            count = DEFAULT_PLAYERS if n is None else n
            if count > 25:
                raise ValueError(f"players={count}: P1's central grid has 25 cells; pass masks for more players.")
            try:
                return central_grid_players(spatial, grid=5, n=count, seed=seed), None
            except ValueError as e:
                raise ValueError(f"layer={layer!r}: {e} Pass player masks on its {spatial} map instead.") from None
        chosen = []
        for b, image in enumerate(images):
            try:
                chosen.append(_foreground(image, n, seed))
            except ValueError as e:
                raise ValueError(f"x[{b}]: {e}" if images.shape[0] > 1 else str(e)) from None
        least = min(p.shape[0] for p in chosen)
        if any(p.shape[0] != least for p in chosen):  # a batch: the same number for every image
            chosen = [_foreground(image, least, seed) for image in images]
        return (torch.stack(chosen) if len(chosen) > 1 else chosen[0]), None
    tensor = players if isinstance(players, torch.Tensor) else torch.as_tensor(np.asarray(players))
    if tensor.dtype == torch.bool:
        if tensor.ndim in (3, 4):
            _check_count(tensor.shape[-3], f"players of shape {tuple(tensor.shape)}")
        if tensor.ndim == 4 and tensor.shape[0] != images.shape[0]:
            raise ValueError(
                f"players of shape {tuple(tensor.shape)} give one set per image, but x holds {images.shape[0]} images."
            )
        if tensor.ndim == 4:
            return torch.stack([check_players(p, spatial, f"players[{b}]") for b, p in enumerate(tensor)]), None
        return check_players(tensor, spatial), None
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex:
        raise ValueError(
            f"players must be a number, bool masks (n, H, W) or an integer feature_mask (H, W), got dtype "
            f"{tensor.dtype}."
        )
    if tensor.ndim == 3:  # a feature_mask of the input's shape (C, H, W): the same ids in every channel
        if not bool((tensor == tensor[:1]).all()):
            raise ValueError(
                "players (a feature_mask of shape (C, H, W)) differs between channels; a player covers every "
                "channel of its positions, so pass an (H, W) map."
            )
        tensor = tensor[0]
    if tensor.ndim != 2 or tuple(tensor.shape) != spatial:
        where = "the image" if layer is None else f"the output of layer {layer!r}"
        raise ValueError(
            f"players as a feature_mask must be an integer map of shape {spatial} ({where}), got {tuple(tensor.shape)}."
        )
    ids = sorted(int(i) for i in torch.unique(tensor) if int(i) >= 0)
    if not ids:
        raise ValueError("players (a feature_mask) holds no id >= 0; every id >= 0 is a player.")
    _check_count(len(ids), "players (a feature_mask)")
    return torch.stack([tensor == i for i in ids]), [str(i) for i in ids]


def _feature_mask(masks: torch.Tensor) -> list[list[int]]:
    ids = torch.full(masks.shape[1:], -1, dtype=torch.int64)
    for i, mask in enumerate(masks):
        ids[mask] = i
    return ids.tolist()


def _image(
    models: list[Any],
    images: torch.Tensor,
    players: Any,
    target: Any,
    baseline: Any,
    layer: Any,
    output: Any,
    seed: int,
) -> tuple[list[np.ndarray], list[str], list[dict], list[Any]]:
    masks, ids = _image_players(models, images, players, layer, seed)
    per_image = masks.ndim == 4
    n = masks.shape[-3]
    labels = ids or [str(i) for i in range(n)]
    baseline = 0.0 if baseline is None else baseline
    targets = _targets_per_sample(target, images.shape[0])
    values: list[list[torch.Tensor]] = [[] for _ in models]
    resolved: list[Any] = []
    name = None
    for b, image in enumerate(images):
        own = masks[b] if per_image else masks
        games = []
        for m, model in enumerate(models):
            if not isinstance(model, torch.nn.Module):
                raise TypeError(f"images are explained for torch models; model {m} is a {type(model).__name__}.")
            t = targets[b] if m == 0 else games[0].target
            games.append(ImageGame(model, image, own, baseline, t, output, layer))
            values[m].append(games[-1].values())
        resolved.append(games[0].target)
        name = games[0].layer
    spatial = list(masks.shape[-2:])
    described = [
        {"kind": "image", "labels": labels, "layer": name, "shape": spatial,
         "feature_mask": _feature_mask(masks[b] if per_image else masks)}
        for b in range(images.shape[0])
    ]  # fmt: skip
    return _as_numpy_values(values), labels, described, resolved


# --- text ------------------------------------------------------------------------------------


def _tokenizers(tokenizer: Any, count: int) -> list[Any]:
    if tokenizer is None:
        raise ValueError(
            "tokenizer is needed for text: pass the model's fast Hugging Face tokenizer, "
            "e.g. tokenizer=AutoTokenizer.from_pretrained(name)."
        )
    if isinstance(tokenizer, (list, tuple)):
        if len(tokenizer) != count:
            raise ValueError(f"tokenizer holds {len(tokenizer)} tokenizers for {count} models; give one per model.")
        return list(tokenizer)
    return [tokenizer] * count


def _sentence_players(players: Any, count: int) -> list[Any]:
    """``players`` of text as ``(n, explicit)`` per sentence."""
    if players is None or (isinstance(players, (int, np.integer)) and not isinstance(players, (bool, np.bool_))):
        if players is not None:
            _check_count(int(players), f"players={int(players)}")
        return [(None if players is None else int(players), None)] * count
    if isinstance(players, (str, bytes)) or not isinstance(players, (Sequence, np.ndarray)):
        raise TypeError(
            f"players must be a number of words, a list of words (or indices into content_words), or one such list "
            f"per sentence, got {players!r}."
        )
    nested = [isinstance(p, (list, tuple, np.ndarray)) for p in players]
    if players and all(nested):
        if len(players) != count:
            raise ValueError(f"players holds {len(players)} lists for {count} sentences; give one per sentence.")
        return [(None, list(p)) for p in players]
    _check_count(len(players), "players")
    return [(None, list(players))] * count


def _text(
    models: list[Any], tokenizers: list[Any], sentences: list[str], players: Any, target: Any, baseline: Any,
    layer: Any, output: Any, seed: int,
) -> tuple[list[np.ndarray], list[str], list[dict], list[Any]]:
    chosen = _sentence_players(players, len(sentences))
    targets = _targets_per_sample(target, len(sentences))
    baseline = "mean" if baseline is None else baseline
    values: list[list[torch.Tensor]] = [[] for _ in models]
    described, resolved = [], []
    for b, sentence in enumerate(sentences):
        n, explicit = chosen[b]
        games = []
        for m, (model, tokenizer) in enumerate(zip(models, tokenizers)):
            if m == 0:
                game = TextGame(
                    model, tokenizer, sentence, n, seed, baseline, targets[b], output, layer, players=explicit
                )
            else:  # the same words for every model, whatever its tokenizer
                game = TextGame(model, tokenizer, sentence, None, seed, baseline, games[0].target, output, layer,
                                players=games[0].word_indices)
            games.append(game)
            values[m].append(game.values())
        spans = content_spans(sentence, ENGLISH_STOP_WORDS)
        described.append({
            "kind": "text", "labels": _label_duplicates(list(games[0].words)), "text": sentence,
            "spans": [list(spans[i]) for i in games[0].word_indices],
        })  # fmt: skip
        resolved.append(games[0].target)
    counts = [len(d["labels"]) for d in described]
    if len(set(counts)) > 1:
        raise ValueError(
            f"the sentences give different numbers of players ({counts}); a batch needs the same n for every "
            f"sentence: pass players=n no larger than the fewest words with meaning, or explain them one at a time."
        )
    labels = described[0]["labels"] if len(described) == 1 else [str(i) for i in range(counts[0])]
    if len({tuple(d["labels"]) for d in described}) == 1:
        labels = described[0]["labels"]
    return _as_numpy_values(values), labels, described, resolved


# --- tables and any callable -------------------------------------------------------------------


def _scorer(model: Any) -> tuple[Any, str]:
    """``(call, kind)``: what to call on a numpy batch and how to read its output."""
    name = getattr(model, "__name__", "")
    if hasattr(model, "predict_proba") and not isinstance(model, torch.nn.Module):
        return model.predict_proba, "proba"
    if name == "predict_proba":
        return model, "proba"
    if hasattr(model, "decision_function") and not isinstance(model, torch.nn.Module):
        return model.decision_function, "logits"
    if name == "decision_function":
        return model, "logits"
    if callable(model):
        return model, "raw"
    return model.predict, "raw"


def _numpy_call(call: Any, model: Any, rows: np.ndarray) -> np.ndarray:
    """``call(rows)`` as a float64 array; a DataFrame with the estimator's column names when it was fitted on one."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None and len(names) == rows.shape[1]:
        try:
            import pandas as pd

            rows = pd.DataFrame(rows, columns=list(names))
        except ImportError:
            pass
    out = call(rows)
    out = out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
    try:
        return out.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"the model returned {out.dtype} values; explain needs numbers.") from None


def _as_scores(out: np.ndarray, kind: str, count: int) -> torch.Tensor | None:
    """The logits ``(B, C)`` of a numpy output, or ``None`` for one raw value per row."""
    if out.ndim == 2 and out.shape[1] == 1 and kind == "raw":
        out = out[:, 0]
    if out.ndim == 1 and out.shape[0] == count and kind == "raw":
        return None
    if out.ndim not in (1, 2) or out.shape[0] != count:
        raise ValueError(f"the model returned shape {out.shape} for {count} rows; it must give (B,) or (B, C).")
    if kind == "proba":
        if out.ndim != 2:
            raise ValueError(f"predict_proba returned shape {out.shape}; probabilities are (B, classes).")
        out = np.log(np.clip(out, np.finfo(np.float64).tiny, None))  # log-probabilities as logits: exact log-odds
    return as_logits(torch.from_numpy(np.ascontiguousarray(out)))


def _column_groups(players: Any, names: list[str]) -> tuple[list[list[int]], list[str]]:
    width = len(names)
    if players is None:
        _check_count(width, f"x with {width} columns (one player each)")
        return [[c] for c in range(width)], list(names)
    if isinstance(players, dict):
        labels, groups = [str(k) for k in players], list(players.values())
    elif isinstance(players, (str, bytes)) or not isinstance(players, (Sequence, np.ndarray)):
        raise TypeError(f"players of a table must be a list of columns or column groups, or a dict, got {players!r}.")
    else:
        labels, groups = None, list(players)
    if not groups:
        raise ValueError("players is empty; give at least one column or group.")
    _check_count(len(groups), "players")
    out: list[list[int]] = []
    owner: dict[int, int] = {}
    for i, group in enumerate(groups):
        columns = [group] if isinstance(group, (int, np.integer, str)) else list(group)
        if not columns:
            raise ValueError(f"players[{i}] is an empty group; every player covers at least one column.")
        resolved = []
        for c in columns:
            if isinstance(c, str):
                if c not in names:
                    raise ValueError(f"players[{i}] names the column {c!r}, which is not in feature_names {names}.")
                c = names.index(c)
            if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)) or not 0 <= c < width:
                raise ValueError(f"players[{i}] has column {c!r}; columns are integers in 0..{width - 1} or names.")
            if int(c) in owner:
                raise ValueError(f"column {int(c)} is in players {owner[int(c)]} and {i}; groups must be disjoint.")
            owner[int(c)] = i
            resolved.append(int(c))
        out.append(resolved)
    labels = labels or ["+".join(names[c] for c in group) for group in out]
    return out, labels


def _table(
    models: list[Any], x: Any, players: Any, target: Any, baseline: Any, feature_names: Any, output: Any
) -> tuple[list[np.ndarray], list[str], list[dict], list[Any]]:
    rows, frame_names = x
    rows = rows.to(torch.float64)
    if not bool(torch.isfinite(rows).all()):
        raise ValueError("x contains NaN or infinite values; every feature must be a finite number.")
    width = rows.shape[1]
    if feature_names is None:
        own = getattr(models[0], "feature_names_in_", None)
        found = frame_names if frame_names is not None else own
        feature_names = [str(c) for c in found] if found is not None and len(found) == width else None
    names = [f"x{c}" for c in range(width)] if feature_names is None else [str(c) for c in feature_names]
    if len(names) != width:
        raise ValueError(f"feature_names has {len(names)} names but x has {width} columns.")
    groups, labels = _column_groups(players, names)
    base = _table_baseline(baseline, width)
    membership = np.zeros((len(groups), width), dtype=bool)
    for i, columns in enumerate(groups):
        membership[i, columns] = True
    targets = _targets_per_sample(target, rows.shape[0])
    values: list[list[torch.Tensor]] = [[] for _ in models]
    resolved = []
    for b, row in enumerate(rows):
        first = None
        for m, model in enumerate(models):
            t = targets[b] if m == 0 else first
            game, t = _table_game(model, row, groups, membership, base, t, output, m)
            values[m].append(game.values())
            first = t if m == 0 else first
        resolved.append(first)
    described = [{"kind": "table", "labels": labels, "columns": groups, "feature_names": names}] * rows.shape[0]
    return _as_numpy_values(values), labels, described, resolved


def _table_baseline(baseline: Any, width: int) -> np.ndarray:
    if baseline is None:
        return np.zeros(width)
    if isinstance(baseline, str):
        raise TypeError(
            f"baseline of a table must be a row ({width},), a scalar or background data (m, {width}), got {baseline!r}."
        )
    try:
        given = baseline.detach().cpu() if isinstance(baseline, torch.Tensor) else baseline
        array = np.asarray(given, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"baseline of a table must hold numbers ({e}).") from None
    if array.ndim == 2 and array.shape[1] == width and array.shape[0] > 0:
        array = array.mean(0)  # background data: its mean row
    if array.ndim == 0:
        array = np.full(width, float(array))
    if array.shape != (width,) or not np.isfinite(array).all():
        raise ValueError(
            f"baseline of a table must be a finite row ({width},), a scalar or background data (m, {width}), got "
            f"shape {array.shape}."
        )
    return array


def _table_game(
    model: Any, row: torch.Tensor, groups: list[list[int]], membership: np.ndarray, base: np.ndarray, target: Any,
    output: Any, index: int,
) -> tuple[Any, Any]:
    """The game of one feature row for a torch model (``TabularGame``) or a numpy callable (``FunctionGame``)."""
    if isinstance(model, torch.nn.Module):
        game = TabularGame(model, row, groups, baseline=torch.from_numpy(base), target=target, output=output)
        return game, game.target
    call, kind = _scorer(model)
    x = row.numpy()
    scores = _as_scores(_numpy_call(call, model, x[None]), kind, 1)
    if scores is None:
        if target is not None and index == 0:
            raise ValueError(
                f"target={target!r}, but the model returns one value per row (a regressor or a score), not classes; "
                f"leave target=None."
            )
        resolved = None
    else:
        resolved = predicted_class(scores) if target is None else check_target(target, scores.shape[1])
    scalar = resolve_output(output)

    def raw_or_scored(masks: torch.Tensor) -> np.ndarray:
        hidden = (~masks.numpy()).astype(np.float64) @ membership > 0
        out = _numpy_call(call, model, np.where(hidden, base, x))
        scores = _as_scores(out, kind, out.shape[0])
        return out.reshape(-1) if scores is None else scalar(scores, resolved).numpy()

    return FunctionGame(raw_or_scored, len(groups)), resolved
