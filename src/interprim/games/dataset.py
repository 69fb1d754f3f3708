"""Value vectors of many samples of one model in one call: ``(B, 2**n)`` (SPEC §1, §5).

:func:`image_values` and :func:`text_values` compute what a loop of
``ImageGame(...).values()`` / ``TextGame(...).values()`` over the samples computes, with the
masked inputs of all samples batched together: the model runs on the unmasked samples (and the
low layers, on the split path, **once per sample**) in batches of samples, then on the
``B · 2**n`` masked inputs in batches that cross sample boundaries, each holding at most
``memory_budget`` bytes of masked inputs (and on a CPU at most
:data:`~interprim.games.base.CPU_BATCH_BYTES`, 4 MiB, as a game's batches). Row ``b`` of the result is sample ``b``'s value vector
in bitmask order (``values[b, S] = v_b(x_S)``). Batching across samples pays off where one game's
``2**n`` masked inputs are too few to fill a batch (small ``n``, small models) and in the
unmasked passes; ``benchmarks/games.py`` measures it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._array import as_tensor
from ._model import as_float_tensor, as_logits, batch_rows, eval_mode, model_device, model_dtype
from .base import DEFAULT_MEMORY_BUDGET, check_batch_size, check_n_players, check_values, masks_of_range
from .image import ImagePath, check_baseline
from .outputs import check_target, predicted_class, resolve_output
from .players import check_players
from .text import (
    DEFAULT_TEXT_PLAYERS,
    SentencePlayers,
    TextPath,
    check_player_count,
    check_tokenizer,
    max_length,
    sentence_players,
    stop_word_set,
    text_baseline,
    word_membership,
)


def _check_budget(memory_budget: Any) -> int:
    if (
        isinstance(memory_budget, (bool, np.bool_))
        or not isinstance(memory_budget, (int, np.integer))
        or memory_budget < 1
    ):
        raise ValueError(f"memory_budget must be a positive number of bytes, got {memory_budget!r}.")
    return int(memory_budget)


def _targets(targets: Any, logits: torch.Tensor) -> list[int]:
    """One class per sample: ``targets`` checked against the ``(B, C)`` logits, or the predicted classes."""
    count = logits.shape[0]
    if targets is None:
        return [predicted_class(logits[b : b + 1]) for b in range(count)]
    listed = targets.tolist() if isinstance(targets, torch.Tensor) else np.asarray(targets).tolist()
    if not isinstance(listed, list) or len(listed) != count:
        raise ValueError(f"targets must hold one class per sample ({count}), got {targets!r}; or pass None.")
    checked = []
    for b, t in enumerate(listed):
        try:
            checked.append(check_target(t, logits.shape[1]))
        except ValueError as e:
            raise ValueError(f"targets[{b}]: {e}") from None
    return checked


def _chunks(count: int, total: int, rows: int) -> Iterator[list[tuple[int, int, int]]]:
    """Batches of at most ``rows`` of the ``count · total`` (sample, subset) pairs, sample-major.

    A batch is a list of ``(j, start, stop)``: subsets ``start..stop-1`` of the ``j``-th sample.
    """
    sample, start = 0, 0
    while sample < count:
        batch, room = [], rows
        while room and sample < count:
            stop = min(total, start + room)
            batch.append((sample, start, stop))
            room -= stop - start
            sample, start = (sample + 1, 0) if stop == total else (sample, stop)
        yield batch


def _absent(start: int, stop: int, n: int, like: torch.Tensor) -> torch.Tensor:
    """``1 − masks`` of subsets ``start..stop-1``: a ``(stop − start, n)`` matrix of ``like``'s dtype and device."""
    return (~masks_of_range(start, stop, n)).to(device=like.device, dtype=like.dtype)


def _write_values(
    values: torch.Tensor, batch: list[tuple[int, int, int]], order: Sequence[int], raw: Any, output: Any,
    targets: list[int],
) -> None:
    """Store ``output(logits, target)`` of each sample's rows of a batch's model output into ``values``."""
    logits = as_logits(raw).to(torch.float64)
    offset = 0
    for j, start, stop in batch:
        b, rows = order[j], stop - start
        out = output(logits[offset : offset + rows], targets[b])
        values[b, start:stop] = check_values(out, rows, f"the model's output on sample {b}")
        offset += rows


def _player_matrices(players: Any, spatial: tuple[int, int], count: int) -> torch.Tensor:
    """Players as ``(1 or B, n, H·W)`` 0/1 rows: one shared set ``(n, H, W)`` or one per image ``(B, n, H, W)``."""
    players = as_tensor(players, "players", "a bool tensor (n, H, W) or (B, n, H, W)")
    if players.ndim != 4:
        return check_players(players, spatial).reshape(1, -1, spatial[0] * spatial[1])
    if players.shape[0] != count:
        raise ValueError(
            f"players of shape (B, n, H, W) need one set per image, B = {count}, got {players.shape[0]}; pass "
            f"(n, H, W) to use the same players for every image."
        )
    checked = [check_players(p, spatial, f"players[{b}]") for b, p in enumerate(players)]
    return torch.stack([p.reshape(p.shape[0], -1) for p in checked])  # (B, n, H, W): the same n for all


def _models(models: list[Any] | tuple[Any, ...]) -> list[Any]:
    """A non-empty list of models (``ValueError`` otherwise)."""
    if not models:
        raise ValueError("model: give one model or a non-empty list of models.")
    return list(models)


def image_values(
    model: torch.nn.Module | Sequence[torch.nn.Module],
    images: Any,
    players: Any,
    layer: str | None = None,
    baseline: Any = 0.0,
    targets: Any = None,
    output: Any = "log_odds",
    device: Any = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    batch_size: int | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """The value vectors of the image games of ``B`` images for one model: float64 CPU ``(B, 2**n)``.

    Row ``b`` equals ``ImageGame(model, images[b], players_b, baseline, targets[b], output, layer).values()``
    (up to the rounding of a different batch composition). A list of ``m`` models gives their games on
    the same images with the same players, ``(m, B, 2**n)`` (P2's input to
    :func:`~interprim.generalizable_and_or`); pass ``targets`` so that every model explains the same class.

    Args:
        model, layer, baseline, output, device: as for :class:`~interprim.games.ImageGame`
            (``layer="low"``: P1's player layer; the split path runs the low layers once per image,
            in batches of images). ``baseline`` is shared by all images.
        images: ``(B, C, H, W)``, cast to the model's dtype and moved to the device.
        players: bool ``(n, H, W)``, the same players for every image (P1's grid on the feature
            map), or ``(B, n, H, W)``, players per image (e.g. P2's foreground patches).
        targets: one class per image, or ``None`` for each image's predicted class.
        memory_budget: bytes of masked maps per forward pass (plus a copy of the image per map on
            the hook path; on a CPU at most 4 MiB, as for a game); ``batch_size`` fixes the number
            of masked maps per pass instead. The unmasked images run in batches of that size too.
        progress: show a bar over the masked evaluations.
    """
    if isinstance(model, (list, tuple)):
        return torch.stack([image_values(one, images, players, layer, baseline, targets, output, device,
                                         memory_budget, batch_size, progress) for one in _models(model)])
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    device = model_device(model, device)
    images = as_float_tensor(images, "images", model_dtype(model), device)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(
            f"images must have shape (B, C, H, W) with B >= 1, got {tuple(images.shape)}; stack the images "
            f"(a single one as image[None])."
        )
    budget, batch_size = _check_budget(memory_budget), check_batch_size(batch_size)
    output = resolve_output(output)
    path = ImagePath(model, layer)
    count = images.shape[0]
    with torch.no_grad(), eval_mode(model):
        step = batch_size or batch_rows(budget, path.bytes_per_map(images, images[0]), device)
        lows = [path.low(images[i : i + step]) for i in range(0, count, step)]
        features = torch.cat([maps for maps, _ in lows])
        targets = _targets(targets, torch.cat([as_logits(raw) for _, raw in lows]))
        del lows
        spatial = (features.shape[-2], features.shape[-1])
        matrices = _player_matrices(players, spatial, count).to(device=device, dtype=features.dtype)
        n = check_n_players(matrices.shape[1], "the number of players")
        where = "image" if path.kind == "input" else f"output of layer {path.layer!r}"
        base = check_baseline(baseline, features[0], where)
        total = 2**n
        rows = min(batch_size or batch_rows(budget, path.bytes_per_map(features, images[0]), device), count * total)
        values = torch.empty(count, total, dtype=torch.float64)
        shape = (1,) * (features.ndim - 3) + spatial
        order = range(count)
        bar = tqdm(total=count * total, desc=f"image_values (B={count}, n={n})", unit="eval", disable=not progress)
        for batch in _chunks(count, total, rows):
            size = sum(stop - start for _, start, stop in batch)
            maps = torch.empty((size, *features.shape[1:]), dtype=features.dtype, device=device)
            offset = 0
            for b, start, stop in batch:
                hidden = _absent(start, stop, n, features) @ matrices[b if matrices.shape[0] > 1 else 0] > 0
                torch.where(hidden.reshape(-1, *shape), base, features[b], out=maps[offset : offset + stop - start])
                offset += stop - start
            sources = None
            if path.kind == "hook":
                sources = torch.cat([images[b].expand(stop - start, *images.shape[1:]) for b, start, stop in batch])
            _write_values(values, batch, order, path.high(maps, sources), output, targets)
            bar.update(size)
        bar.close()
    return values


def _pad(rows: list[torch.Tensor], length: int, fill: int) -> torch.Tensor:
    """Stack ``(1, L_i)`` token rows into ``(len(rows), length)``, filling on the right with ``fill``."""
    out = torch.full((len(rows), length), fill, dtype=rows[0].dtype)
    for i, row in enumerate(rows):
        out[i, : row.shape[1]] = row[0]
    return out


def _players_per_sentence(players: Any, count: int) -> list[Any]:
    """``players`` of :func:`text_values` as one entry per sentence: ``None``, one list shared by
    every sentence, or a list of ``count`` lists (one per sentence)."""
    if players is None:
        return [None] * count
    if isinstance(players, (np.ndarray, torch.Tensor)):
        players = players.tolist()
    if isinstance(players, (str, bytes)) or not isinstance(players, Sequence):
        raise ValueError(
            f"players must be a list of words or word indices (shared by every sentence), or a list of such "
            f"lists (one per sentence), got {players!r}."
        )
    nested = [isinstance(p, (Sequence, np.ndarray, torch.Tensor)) and not isinstance(p, (str, bytes)) for p in players]
    if not players or not any(nested):
        return [players] * count
    if not all(nested):
        raise ValueError(
            "players mixes lists and single words/indices; give one list shared by every sentence or one "
            "list per sentence."
        )
    if len(players) != count:
        raise ValueError(f"players holds {len(players)} lists but there are {count} sentences; give one per sentence.")
    return list(players)


def text_values(
    model: torch.nn.Module | Sequence[torch.nn.Module],
    tokenizer: Any,
    sentences: Sequence[str],
    n: int | None = None,
    seed: int = 0,
    baseline: Any = "mean",
    targets: Any = None,
    output: Any = "log_odds",
    layer: int | str | None = None,
    stop_words: Iterable[str] | None = None,
    device: Any = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    batch_size: int | None = None,
    progress: bool = False,
    players: Any = None,
) -> tuple[torch.Tensor, list[list[str]]]:
    """The value vectors of the text games of ``B`` sentences for one model: ``(values, words)``.

    ``values`` is float64 CPU ``(B, 2**n)``, row ``b`` equal to ``TextGame(model, tokenizer,
    sentences[b], n, seed, baseline, targets[b], output, layer, stop_words, players=players_b).values()``
    (up to the rounding of a different batch composition); ``words[b]`` are that game's players,
    the ``n`` words of sentence ``b`` in player order (sentence order when sampled, the given order
    with ``players``): ``values[b, S]`` keeps the words ``words[b][i]`` for the bits ``i`` of ``S``.

    A list of ``m`` models (with one tokenizer for all, or a list of one per model) gives their games
    on the same sentences, ``(m, B, 2**n)``: the players are the same words for every model whatever
    its tokenizer (a word covers all of its tokens), the input of
    :func:`~interprim.generalizable_and_or` (P2). ``targets`` (classes) then apply to every model.

    Args:
        model, tokenizer, n, seed, baseline, output, layer, stop_words, device: as for
            :class:`~interprim.games.TextGame` (a sequence classifier or a causal LM, explained
            at the next token of each sentence's last real position); without ``players`` every
            sentence must have at least ``n`` (default 10) words with meaning (``ValueError``
            lists those that do not). With ``layer=k`` the embeddings and the first ``k`` blocks
            run once per sentence.
        sentences: the texts.
        targets: one class (or next-token id, for a causal LM) per sentence, or ``None`` for
            each sentence's prediction on the unmasked text.
        memory_budget: bytes of masked vectors per forward pass, counted at the longest sentence's
            length (plus a row of next-token logits for a causal LM; on a CPU at most 4 MiB, as
            for a game); ``batch_size`` fixes the number of masked sentences per pass instead.
        progress: show a bar over the masked evaluations.
        players: explicit players (see :class:`~interprim.games.TextGame`): one list of words or
            indices into :func:`~interprim.games.content_words` used for every sentence, or one
            list per sentence (``B`` lists, all of the same length ``n``; ``n`` must then be
            ``None`` or that length). Errors name the sentence's index.

    Sentences of different lengths share a forward pass padded on the right with an attention
    mask of 0 (sentences are processed in order of length, so a pass pads little); padding does
    not change a transformer's output on the real tokens, and a causal LM's next token is read
    at each row's last real position.
    """
    if isinstance(model, (list, tuple)):
        models = _models(model)
        tokenizers = list(tokenizer) if isinstance(tokenizer, (list, tuple)) else [tokenizer] * len(models)
        if len(tokenizers) != len(models):
            raise ValueError(f"tokenizer: give one tokenizer for all models or one per model ({len(models)}), got "
                             f"{len(tokenizers)}.")
        found = [text_values(one, tok, sentences, n, seed, baseline, targets, output, layer, stop_words, device,
                             memory_budget, batch_size, progress, players) for one, tok in zip(models, tokenizers)]
        return torch.stack([v for v, _ in found]), found[0][1]
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "get_input_embeddings"):
        raise TypeError(
            f"model must be a torch.nn.Module with get_input_embeddings() (a Hugging Face model), got "
            f"{type(model).__name__}."
        )
    check_tokenizer(tokenizer)
    if isinstance(sentences, str) or not isinstance(sentences, Sequence) or len(sentences) == 0:
        raise ValueError(f"sentences must be a non-empty sequence of strings, got {type(sentences).__name__}.")
    stops = stop_word_set(stop_words)
    per_sentence = _players_per_sentence(players, len(sentences))
    sampled = check_n_players(DEFAULT_TEXT_PLAYERS if n is None else n, "n") if players is None else 0
    found: list[SentencePlayers] = []
    limit = max_length(model, tokenizer)
    for b, text in enumerate(sentences):
        try:
            found.append(sentence_players(tokenizer, text, sampled, seed, stops, per_sentence[b], limit))
        except ValueError as e:
            raise ValueError(f"sentences[{b}]: {e}") from None
    if players is None:
        n = sampled
        short = [b for b, found_b in enumerate(found) if len(found_b.words) < n]
        if short:
            raise ValueError(
                f"sentences {short[:10]}{' …' if len(short) > 10 else ''} have fewer than n={n} words with "
                f"meaning; drop them or lower n."
            )
    else:
        counts = [len(found_b.words) for found_b in found]
        if len(set(counts)) > 1:
            raise ValueError(
                f"players must give every sentence the same number of players (values are (B, 2**n)); got "
                f"{counts[:20]}{' …' if len(counts) > 20 else ''} per sentence."
            )
        n = check_player_count(n, counts[0])
    budget, batch_size = _check_budget(memory_budget), check_batch_size(batch_size)
    output = resolve_output(output)
    path = TextPath(model, layer)
    device = model_device(model, device)
    count = len(found)
    lengths = [found_b.inputs["input_ids"].shape[1] for found_b in found]
    order = sorted(range(count), key=lengths.__getitem__)
    keys = ["attention_mask"] if path.layer is not None else [k for k in found[0].inputs if k != "input_ids"]
    pad_id = getattr(tokenizer, "pad_token_id", None) or 0
    with torch.no_grad(), eval_mode(model):
        embedding = model.get_input_embeddings().weight
        step = batch_size or batch_rows(budget, max(lengths) * embedding.shape[1] * embedding.element_size(), device)
        features: list[torch.Tensor] = [torch.empty(0)] * count
        logits: list[torch.Tensor] = [torch.empty(0)] * count
        for i in range(0, count, step):
            part = order[i : i + step]
            length = max(lengths[b] for b in part)
            inputs = {
                key: _pad([found[b].inputs[key] for b in part], length, pad_id if key == "input_ids" else 0).to(device)
                for key in found[0].inputs
            }
            vectors, scores = path.low(inputs)
            for j, b in enumerate(part):
                features[b] = vectors[j, : lengths[b]].detach()
            for j, row in enumerate(as_logits(scores)):
                logits[part[j]] = row
        targets = _targets(targets, torch.stack(logits))
        total, width, dtype = 2**n, features[0].shape[1], features[0].dtype
        own = isinstance(baseline, str) and (
            baseline == "players_mean" or (baseline == "mean" and path.layer is not None)
        )
        first = None if own else text_baseline(baseline, path, features[0], found[0].word_tokens, tokenizer)
        baselines = [
            text_baseline(baseline, path, features[b], found[b].word_tokens, tokenizer) if own else first
            for b in range(count)
        ]
        members = [word_membership(found[b].word_tokens, lengths[b], dtype).to(device) for b in range(count)]
        row_bytes = (max(lengths) * width + (logits[0].numel() if path.next_token else 0)) * features[0].element_size()
        rows = min(batch_size or batch_rows(budget, row_bytes, device), count * total)
        values = torch.empty(count, total, dtype=torch.float64)
        bar = tqdm(total=count * total, desc=f"text_values (B={count}, n={n})", unit="eval", disable=not progress)
        for batch in _chunks(count, total, rows):
            size = sum(stop - start for _, start, stop in batch)
            length = max(lengths[order[j]] for j, _, _ in batch)
            vectors = torch.zeros(size, length, width, dtype=dtype, device=device)
            inputs = {key: torch.zeros(size, length, dtype=torch.long, device=device) for key in keys}
            offset = 0
            for j, start, stop in batch:
                b, end = order[j], offset + stop - start
                hidden = _absent(start, stop, n, members[b]) @ members[b] > 0
                vectors[offset:end, : lengths[b]] = torch.where(hidden[..., None], baselines[b], features[b])
                for key in keys:
                    inputs[key][offset:end, : lengths[b]] = found[b].inputs[key][0].to(device)
                offset = end
            _write_values(values, batch, order, path.high(vectors, inputs), output, targets)
            bar.update(size)
        bar.close()
    return values, [found_b.words for found_b in found]
