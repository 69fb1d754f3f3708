"""Text games: players are words of a sentence (SPEC §5, P1 App. F.2, P2 App. P.2).

The words with meaning of the sentence (:func:`content_words`: split at whitespace and
punctuation from the characters alone, stop words and punctuation skipped) are the candidate
players; ``n`` of them are the players (sampled with a seed, or given explicitly as words or
indices). Each player covers all tokens of the model's own tokenisation that overlap the word's
characters (the fast tokenizer's ``offset_mapping``), so models with different tokenizers explain
the same words. ``v(x_S)`` is the model's output when every sub-token of each word outside ``S``
carries the baseline vector and unselected tokens keep their own vectors, where the vectors are

- the word embeddings (``inputs_embeds``, ``layer=None``, P2), or
- the hidden states after the first ``k`` transformer blocks (``layer=k``; ``layer="low"`` is
  P1's choice, after the low layers: ``k = 1`` for BERT-Tiny). The embeddings and the first ``k``
  blocks run **once** on the sentence; only the remaining blocks, the pooler and the head run on
  the masked hidden states.

Works with Hugging Face sequence classifiers (``model.get_input_embeddings()``, ``model(inputs_embeds=...,
attention_mask=...)``; for ``layer=k`` also ``output_hidden_states=True`` and a base model whose
list of transformer blocks runs in order) and causal language models (per-position logits
``(B, L, V)``, explained at the next token of the last real position, P2 Task 2; ``layer=None``),
with their fast tokenizers, without importing ``transformers`` itself.
"""

from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..nn.layers import _is_transformers_model, _transformer_blocks, low_layer_count
from ._model import ModelGame, as_float_tensor, as_logits, eval_mode, model_device
from .base import DEFAULT_MEMORY_BUDGET, check_n_players
from .players import sample_indices

ENGLISH_STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just let me
    more most my myself of off on once only or other our ours ourselves out over own same she should
    so some such than that the their theirs them themselves then there these they this those through
    to too under until up very was we were what when where which while who whom why will with would
    you your yours yourself yourselves s t d ll m re ve o y also us may might must shall upon
    """.split()
)
"""Built-in English stop words: articles, pronouns, auxiliaries, prepositions, conjunctions and the
fragments of contractions (``s``, ``t``, ``ll``...). Negations (``not``, ``no``, ``nor``, ``never``)
are deliberately absent: they carry meaning for sentiment."""


_SEPARATOR, _ALONE, _INSIDE = 0, 1, 2
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)  # fmt: skip
DEFAULT_TEXT_PLAYERS = 10
"""The number of word players of a text game when neither ``n`` nor ``players`` is given (SPEC §5: 8-10)."""


def _char_kind(ch: str) -> int:
    """How BERT's pre-tokenizer treats a character: a separator (whitespace, or a control character,
    which BERT's normaliser drops), a word of its own (punctuation, a CJK ideograph), or part of a word."""
    if ch.isspace():
        return _SEPARATOR
    category = unicodedata.category(ch)
    if category.startswith("C") or ch == "\ufffd":
        return _SEPARATOR
    code = ord(ch)
    if ch in _ASCII_PUNCTUATION or category.startswith("P") or any(lo <= code <= hi for lo, hi in _CJK_RANGES):
        return _ALONE
    return _INSIDE


def word_spans(sentence: str) -> list[tuple[int, int]]:
    """The character spans ``(start, end)`` of all words of ``sentence``, punctuation included, in
    order (see :func:`content_words` for what a word is)."""
    spans: list[tuple[int, int]] = []
    start = None
    for i, ch in enumerate(sentence):
        kind = _char_kind(ch)
        if kind == _INSIDE:
            start = i if start is None else start
            continue
        if start is not None:
            spans.append((start, i))
            start = None
        if kind == _ALONE:
            spans.append((i, i + 1))
    if start is not None:
        spans.append((start, len(sentence)))
    return spans


def _content(word: str, stop_words: frozenset[str]) -> bool:
    """A word with meaning: not a stop word and not only punctuation or symbols."""
    return any(ch.isalnum() for ch in word) and word.lower() not in stop_words


def content_spans(sentence: str, stops: frozenset[str]) -> list[tuple[int, int]]:
    """The character spans of the words with meaning of ``sentence`` (:func:`content_words`), in order."""
    return [(a, b) for a, b in word_spans(sentence) if _content(sentence[a:b], stops)]


def content_words(sentence: str, stop_words: Iterable[str] | None = None) -> list[str]:
    """The words with meaning of ``sentence``, in sentence order: the candidate players of a text game.

    A **word** is what BERT's (uncased or cased) pre-tokenizer makes a word, computed here from the
    characters alone, without any tokenizer, so every model gets the same words whatever its
    tokenisation:

    - whitespace separates words and belongs to none; control characters are dropped like
      whitespace (BERT's normaliser removes them);
    - every punctuation character — ASCII ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~`` and every Unicode
      character of category ``P*`` — is a word of its own, and so is every CJK ideograph;
    - any other maximal run of characters is one word (letters, digits, other symbols, marks).

    So ``"don't"`` is ``don``, ``'``, ``t``; ``"do n't"`` is ``do``, ``n``, ``'``, ``t``;
    ``"1,000.5"`` is ``1``, ``,``, ``000``, ``.``, ``5``; ``"3rd"`` and ``"B52"`` are one word.
    A word has **meaning** when it holds a letter or digit (``str.isalnum``) and its lower case is
    not a stop word (``stop_words``, compared lower-case; ``None`` for
    :data:`ENGLISH_STOP_WORDS`, where ``t``, ``s``, ``ll``... are stop words but ``n`` and
    negations are not). Punctuation never has meaning. Words keep the sentence's spelling and
    case; a word occurring several times is listed at each occurrence.

    For BERT-style tokenizers these are exactly the words of ``encoding.word_ids()``, so the default
    players of :class:`TextGame` are unchanged; other tokenizers (byte-level BPE, SentencePiece)
    group sub-tokens differently, and the games map each word's character span onto their tokens.
    """
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a string, got {type(sentence).__name__}.")
    return [sentence[a:b] for a, b in content_spans(sentence, stop_word_set(stop_words))]


def stop_word_set(stop_words: Iterable[str] | None) -> frozenset[str]:
    """The stop words to skip, lower-case: :data:`ENGLISH_STOP_WORDS` for ``None``."""
    if stop_words is None:
        return ENGLISH_STOP_WORDS
    words = list(stop_words) if isinstance(stop_words, Iterable) and not isinstance(stop_words, str) else [None]
    if not all(isinstance(w, str) for w in words):
        raise ValueError(f"stop_words must be an iterable of words (strings) or None, got {stop_words!r}.")
    return frozenset(w.lower() for w in words)


def check_tokenizer(tokenizer: Any) -> None:
    """Raise ``ValueError`` unless ``tokenizer`` is a fast Hugging Face tokenizer (it gives ``offset_mapping``)."""
    if not callable(tokenizer) or not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"tokenizer must be a fast Hugging Face tokenizer (tokenizer.is_fast is True) to map words to their "
            f"sub-tokens, got {type(tokenizer).__name__}; load it with "
            f"AutoTokenizer.from_pretrained(name, use_fast=True)."
        )


@dataclass(frozen=True)
class SentencePlayers:
    """The players of one sentence: ``inputs`` (the tokenizer's tensors, ``(1, L)`` each), the
    players' ``words`` and their token positions ``word_tokens``, all ``tokens``, and ``indices``,
    each player's index into :func:`content_words` of the sentence."""

    inputs: dict[str, torch.Tensor]
    words: list[str]
    word_tokens: list[tuple[int, ...]]
    tokens: list[str]
    indices: list[int] = field(default_factory=list)


def _quote(sentence: str, limit: int = 80) -> str:
    return repr(sentence if len(sentence) <= limit else sentence[: limit - 1] + "…")


def _as_list(players: Any, name: str) -> list[Any]:
    """``players`` as a list: a list, tuple, array or tensor (not a string)."""
    if isinstance(players, (np.ndarray, torch.Tensor)):
        return players.tolist() if players.ndim > 0 else [players.item()]
    if isinstance(players, (str, bytes)) or not isinstance(players, Sequence):
        raise ValueError(
            f"{name} must be a list of words (strings) or of indices into content_words(sentence), got "
            f"{players!r}."
        )
    return list(players)


def resolve_players(players: Any, sentence: str, spans: list[tuple[int, int]]) -> list[int]:
    """Explicit players as indices into ``spans`` (the sentence's :func:`content_spans`), in the given order.

    A string is a word with meaning of the sentence (exact spelling and case); the ``k``-th time a
    string appears in ``players`` it is the ``k``-th occurrence of that word in the sentence. An
    integer is an index into :func:`content_words` of the sentence. Raises ``ValueError`` naming
    the word or index and the sentence when a word is absent (or a stop word, or punctuation),
    listed more often than it occurs, an index is out of range, or two players are the same word.
    """
    items = _as_list(players, "players")
    if not items:
        raise ValueError(f"players is empty for the sentence {_quote(sentence)}; give at least one word.")
    texts = [sentence[a:b] for a, b in spans]
    listed = f"its words with meaning are {texts}" if len(texts) <= 40 else f"it has {len(texts)} words with meaning"
    listed = listed if texts else "it has no words with meaning (pass stop_words=() to allow every word)"
    seen: dict[str, int] = {}
    chosen: list[int] = []
    for item in items:
        if isinstance(item, str):
            occurrences = [i for i, text in enumerate(texts) if text == item]
            k = seen.get(item, 0)
            if k >= len(occurrences):
                if occurrences:
                    raise ValueError(
                        f"the word {item!r} is listed {k + 1} times in players but occurs {len(occurrences)} "
                        f"time(s) with meaning in the sentence {_quote(sentence)}; a player is one occurrence."
                    )
                words = [sentence[a:b] for a, b in word_spans(sentence)]
                if item in words:
                    punctuation = not any(ch.isalnum() for ch in item)
                    why = "punctuation" if punctuation else "a stop word (pass stop_words=() to allow it)"
                    reason = f"is {why}, not a word with meaning"
                elif item.lower() in {w.lower() for w in words}:
                    cased = sorted({w for w in words if w.lower() == item.lower()})
                    reason = f"does not occur with this case (words match exactly; the sentence has {cased})"
                elif item in sentence:
                    reason = "is not a whole word (words split at whitespace and punctuation, see content_words)"
                else:
                    reason = "does not occur"
                raise ValueError(f"the word {item!r} {reason} in the sentence {_quote(sentence)}; {listed}.")
            seen[item] = k + 1
            index = occurrences[k]
        elif isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
            if not 0 <= item < len(texts):
                raise ValueError(
                    f"the player index {item} is out of range 0..{len(texts) - 1} of content_words(sentence) for "
                    f"the sentence {_quote(sentence)}; {listed}."
                )
            index = int(item)
        else:
            raise ValueError(
                f"players must hold words (strings) or indices into content_words(sentence), got {item!r} for "
                f"the sentence {_quote(sentence)}."
            )
        if index in chosen:
            raise ValueError(
                f"duplicate players: {item!r} is the word {texts[index]!r} (index {index} of content_words) "
                f"already chosen for the sentence {_quote(sentence)}."
            )
        chosen.append(index)
    return chosen


def span_tokens(encoding: Any, sentence: str, spans: list[tuple[int, int]]) -> list[tuple[int, ...]]:
    """The token positions of each character span: the non-special tokens whose character span
    (``offset_mapping``) overlaps it, so a word covers all its sub-tokens in any tokenisation."""
    offsets = encoding["offset_mapping"][0].tolist()
    special = encoding["special_tokens_mask"][0].tolist() if "special_tokens_mask" in encoding else [0] * len(offsets)
    result = []
    for start, end in spans:
        tokens = tuple(t for t, (a, b) in enumerate(offsets) if not special[t] and a < b and a < end and b > start)
        if not tokens:
            raise ValueError(
                f"the tokenizer gives no token for the word {sentence[start:end]!r} (characters {start}..{end}) of "
                f"the sentence {_quote(sentence)}; it drops those characters, so the word cannot be a player."
            )
        result.append(tokens)
    return result


def max_length(model: torch.nn.Module, tokenizer: Any) -> int | None:
    """The most tokens the model takes: the smaller of ``model.config.max_position_embeddings`` and
    ``tokenizer.model_max_length`` where they are set (``None`` when neither is)."""
    limits = (
        getattr(getattr(model, "config", None), "max_position_embeddings", None),
        getattr(tokenizer, "model_max_length", None),
    )
    # transformers stands for "no limit" with a huge model_max_length (int(1e30))
    known = [int(x) for x in limits if isinstance(x, int) and not isinstance(x, bool) and 0 < x < 2**31]
    return min(known) if known else None


def sentence_players(
    tokenizer: Any,
    sentence: str,
    n: int,
    seed: int,
    stops: frozenset[str],
    players: Any = None,
    limit: int | None = None,
) -> SentencePlayers:
    """Tokenise ``sentence`` and choose its players among its :func:`content_words`.

    Without ``players``: all content words when there are at most ``n``, else ``n`` of them sampled
    with ``seed`` (kept in sentence order); the same sentence, ``n`` and ``seed`` give the same words
    for every tokenizer. With ``players`` (words or indices, :func:`resolve_players`): those, in the
    given order, whatever ``n``. Each player covers the tokens overlapping its characters
    (:func:`span_tokens`). A sentence of more than ``limit`` tokens (:func:`max_length`) raises ``ValueError``.
    """
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError(f"sentence must be a non-empty string, got {sentence!r}.")
    spans = content_spans(sentence, stops)
    if players is not None:
        chosen = resolve_players(players, sentence, spans)
    elif not spans:
        raise ValueError(
            f"the sentence {sentence!r} has no words with meaning (all are stop words or punctuation); "
            f"pass stop_words=() to allow every word."
        )
    else:
        chosen = list(range(len(spans))) if len(spans) <= n else sample_indices(len(spans), n, seed)
    encoding = tokenizer(sentence, return_tensors="pt", return_offsets_mapping=True, return_special_tokens_mask=True)
    length = encoding["input_ids"].shape[1]
    if limit is not None and length > limit:
        raise ValueError(
            f"the sentence {_quote(sentence)} is {length} tokens long but the model takes at most {limit} "
            f"(model.config.max_position_embeddings, tokenizer.model_max_length); shorten it."
        )
    inputs = {key: encoding[key] for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoding}
    return SentencePlayers(
        inputs=inputs,
        words=[sentence[slice(*spans[i])] for i in chosen],
        word_tokens=span_tokens(encoding, sentence, [spans[i] for i in chosen]),
        tokens=list(tokenizer.convert_ids_to_tokens(encoding["input_ids"][0].tolist())),
        indices=chosen,
    )


class _Given(torch.nn.Module):
    """Stands in for a model's embedding module: returns the given hidden states, whatever its arguments."""

    def __init__(self, hidden: torch.Tensor) -> None:
        super().__init__()
        self.hidden = hidden

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.hidden


class TextPath:
    """A sequence classifier or causal LM cut where the word players live (``layer``: ``None`` or ``k``).

    :meth:`low` gives the vectors the players mask for a batch of tokenised sentences and the
    model's output on them; :meth:`high` the output with masked vectors in their place. For
    ``layer=k``, :meth:`low` runs the model once with ``output_hidden_states=True`` (its
    ``hidden_states[k]`` is the output of block ``k``, 1-based) and :meth:`high` runs the model
    with its list of blocks temporarily cut to blocks ``k+1…`` and its embedding module replaced by
    one that returns the given hidden states (both restored afterwards; not thread-safe), so the
    model's own attention-mask handling, pooler and head apply. Call both under
    ``torch.no_grad()`` and :func:`~interprim.games._model.eval_mode`.

    Both give the model's scores as ``(B, C)`` logits. A model whose logits are per position,
    ``(B, L, V)`` — a causal language model such as ``GPT2LMHeadModel`` or any
    ``AutoModelForCausalLM`` — is explained at its **next token**: the scores are the logits of the
    last real position of each row (the last position whose ``attention_mask`` is 1; sentences are
    padded on the right), ``C = V``. :attr:`next_token` records which kind the model is (``None``
    until the first call). While the model runs, a forward pre-hook on its output embeddings
    (``model.get_output_embeddings()``, the LM head) passes it only the hidden state of that
    position, so the ``(B, L, V)`` logits are never built (a model that does not call that module
    gets its full logits gathered instead). Causal LMs work with ``layer=None`` only.
    """

    def __init__(self, model: torch.nn.Module, layer: int | str | None) -> None:
        self.model = model
        self.layer: int | None = None
        self.next_token: bool | None = None
        get_head = getattr(model, "get_output_embeddings", None)
        head = get_head() if callable(get_head) else None
        self._head = head if isinstance(head, torch.nn.Module) else None
        if layer is None:
            return
        if not _is_transformers_model(model):
            raise ValueError(
                f"layer={layer!r} needs a Hugging Face model (transformers.PreTrainedModel) with a list of "
                f"transformer blocks, got {type(model).__name__}; use layer=None to mask the word embeddings."
            )
        self._base, blocks_name = _transformer_blocks(model, "TextGame")
        parent_name, _, self._blocks_attr = blocks_name.rpartition(".")
        self._blocks_parent = self._base.get_submodule(parent_name)
        count = len(getattr(self._blocks_parent, self._blocks_attr))
        if layer == "low":
            layer = low_layer_count(model) - 1  # the low layers: the embeddings and the first blocks
        if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)) or not 0 <= layer <= count:
            raise ValueError(
                f"layer must be None (the word embeddings), 'low' or a number of transformer blocks k in "
                f"0..{count} (mask the hidden states after the first k blocks), got {layer!r}."
            )
        self.layer = int(layer)
        words = model.get_input_embeddings()
        self._embeddings_name = next(
            (name for name, child in self._base.named_children() if any(m is words for m in child.modules())), None
        )
        if self._embeddings_name is None:
            raise ValueError(
                f"layer={layer!r}: the base model of {type(model).__name__} has no child holding its input "
                f"embeddings; use layer=None."
            )

    def low(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(vectors, logits)`` of a batch of tokenised sentences: ``(B, L, d)`` and the model's ``(B, C)`` scores."""
        mask = inputs.get("attention_mask")
        if self.layer is None:
            embeds = self.model.get_input_embeddings()(inputs["input_ids"])
            rest = {key: value for key, value in inputs.items() if key != "input_ids"}
            _, logits = self._run(lambda: self.model(inputs_embeds=embeds, **rest), mask)
            return embeds, logits
        raw, logits = self._run(lambda: self.model(**inputs, output_hidden_states=True), mask)
        hidden = getattr(raw, "hidden_states", None)
        if not isinstance(hidden, (tuple, list)) or len(hidden) <= self.layer:
            raise ValueError(
                f"layer={self.layer}: the model did not return hidden_states for output_hidden_states=True; "
                f"use layer=None."
            )
        return hidden[self.layer], logits

    def high(self, vectors: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The model's ``(B, C)`` scores with ``vectors`` ``(B, L, d)`` in place of those of :meth:`low`.

        ``inputs`` holds the batch's ``attention_mask`` (and, for ``layer=None``, ``token_type_ids``).
        """
        mask = inputs.get("attention_mask")
        if self.layer is None:
            return self._run(lambda: self.model(inputs_embeds=vectors, **inputs), mask)[1]
        blocks = getattr(self._blocks_parent, self._blocks_attr)
        embeddings = getattr(self._base, self._embeddings_name)
        setattr(self._blocks_parent, self._blocks_attr, torch.nn.ModuleList(list(blocks)[self.layer :]))
        setattr(self._base, self._embeddings_name, _Given(vectors))
        try:
            call = lambda: self.model(inputs_embeds=vectors, attention_mask=inputs["attention_mask"])  # noqa: E731
            return self._run(call, mask)[1]
        finally:
            setattr(self._blocks_parent, self._blocks_attr, blocks)
            setattr(self._base, self._embeddings_name, embeddings)

    def _run(self, call: Any, mask: torch.Tensor | None) -> tuple[Any, torch.Tensor]:
        """``(raw, logits)``: the model's output of ``call()`` and its ``(B, C)`` scores (the last real
        position's logits for per-position logits), with the LM head fed that position only."""
        handle = None
        if self._head is not None and self.next_token is not False:

            def last_only(module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
                hidden = args[0] if args else None
                if not isinstance(hidden, torch.Tensor) or hidden.ndim != 3 or hidden.shape[1] <= 1:
                    return None
                if mask is not None and tuple(mask.shape) != tuple(hidden.shape[:2]):
                    return None
                rows = torch.arange(hidden.shape[0], device=hidden.device)
                picked = hidden[rows, last_positions(mask, *hidden.shape[:2], hidden.device)]
                return (picked[:, None], *args[1:])

            handle = self._head.register_forward_pre_hook(last_only)
        try:
            raw = call()
        finally:
            if handle is not None:
                handle.remove()
        logits = raw.logits if hasattr(raw, "logits") else raw[0] if isinstance(raw, (tuple, list)) and raw else raw
        if not isinstance(logits, torch.Tensor) or logits.ndim != 3:
            self.next_token = False if self.next_token is None else self.next_token
            return raw, as_logits(logits)
        if self.layer is not None:
            raise ValueError(
                f"layer={self.layer}: the model returns per-position logits {tuple(logits.shape)} (a causal "
                f"language model, explained at its next token); its hidden states after k blocks cannot be "
                f"masked here (its embedding module also adds positions); use layer=None to mask the word "
                f"embeddings."
            )
        if getattr(getattr(self.model, "config", None), "is_encoder_decoder", False):
            raise ValueError(
                f"{type(self.model).__name__} is an encoder-decoder model; text games explain sequence "
                f"classifiers and causal language models (decoder-only) only."
            )
        self.next_token = True
        if logits.shape[1] != 1:
            rows = torch.arange(logits.shape[0], device=logits.device)
            return raw, logits[rows, last_positions(mask, *logits.shape[:2], logits.device)]
        return raw, logits[:, 0]


def last_positions(mask: torch.Tensor | None, batch: int, length: int, device: torch.device) -> torch.Tensor:
    """The index of the last real position of each row: the last 1 of ``mask`` ``(B, L)`` (``L − 1``
    without a mask or for a row of zeros), ``(B,)`` long on ``device``."""
    if mask is None:
        return torch.full((batch,), length - 1, dtype=torch.long, device=device)
    flipped = (mask != 0).flip(1).to(torch.int8)
    return (length - 1 - flipped.argmax(1)).to(device=device, dtype=torch.long)


def text_baseline(
    baseline: Any, path: TextPath, vectors: torch.Tensor, word_tokens: list[tuple[int, ...]], tokenizer: Any
) -> torch.Tensor:
    """The baseline vector ``(d,)`` of one sentence whose unmasked vectors are ``vectors`` ``(L, d)``.

    ``"mean"``: at the embeddings, the mean word embedding over the vocabulary (P1); after ``k``
    blocks, the mean hidden state over the players' sub-tokens in this sentence (P1 App. F.2:
    "the average embedding over different input variables"). ``"players_mean"``: the mean vector
    over the players' sub-tokens in this sentence at any layer (at the embeddings: the mean
    embedding of the players' tokens). ``"mask"``: the embedding of the tokenizer's mask token
    (embedding level only). A vector of size ``d`` is used as given.
    """
    dtype, size = vectors.dtype, vectors.shape[1]
    if isinstance(baseline, str):
        if baseline == "players_mean" or (baseline == "mean" and path.layer is not None):
            return vectors[sorted({t for tokens in word_tokens for t in tokens})].mean(0)
        layer = path.model.get_input_embeddings()
        if baseline == "mean":
            weight = getattr(layer, "weight", None)
            if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
                raise ValueError(
                    "baseline='mean' needs an embedding layer with a (vocabulary, d) weight; pass a vector."
                )
            return weight.detach().mean(0).to(dtype)
        if baseline == "mask":
            if path.layer is not None:
                raise ValueError(
                    f"baseline='mask' is the mask token's embedding, defined at the embedding level only; with "
                    f"layer={path.layer} use 'mean' (the players' mean hidden state) or a vector of size {size}."
                )
            mask_id = getattr(tokenizer, "mask_token_id", None)
            if mask_id is None:
                raise ValueError("baseline='mask': the tokenizer has no mask token; use 'mean' or pass a vector.")
            return layer(torch.tensor([mask_id], device=vectors.device))[0].detach()
        raise ValueError(
            f"baseline must be 'mean', 'mask', 'players_mean' or a vector of size {size}, got {baseline!r}."
        )
    vector = as_float_tensor(baseline, "baseline", dtype, vectors.device)
    if vector.ndim > 1 or (vector.ndim == 1 and vector.shape[0] != size):
        raise ValueError(
            f"baseline must be a vector of the embedding size {size} (or a scalar), got shape {tuple(vector.shape)}."
        )
    return vector.expand(size)


def word_membership(word_tokens: list[tuple[int, ...]], length: int, dtype: torch.dtype) -> torch.Tensor:
    """The ``(n, length)`` 0/1 matrix of the token positions each word player covers."""
    membership = torch.zeros(len(word_tokens), length, dtype=dtype)
    for i, tokens in enumerate(word_tokens):
        membership[i, list(tokens)] = 1
    return membership


def check_player_count(n: Any, count: int) -> int:
    """The number of explicit players, ``count``, checked against ``n`` (``None`` or equal to it)."""
    if n is not None and (isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n != count):
        raise ValueError(f"n={n!r} but {count} players were given; leave n=None with explicit players.")
    return check_n_players(count, "the number of players")


class TextGame(ModelGame):
    """The game of ``n`` words of a sentence for a Hugging Face sequence classifier or causal LM.

    The players are words with meaning (:func:`content_words`: words split at whitespace and
    punctuation, stop words and punctuation skipped), defined on the sentence's characters, not on
    the tokens: each player covers every token of the model's own tokenisation that overlaps the
    word's characters (the fast tokenizer's ``offset_mapping``; special tokens never), so the same
    words are the same players for models with different tokenizers.

    Args:
        model: a Hugging Face model with ``get_input_embeddings()`` taking ``inputs_embeds`` and
            ``attention_mask`` (and ``token_type_ids`` when the tokenizer makes them): a sequence
            classifier returning ``(B, C)`` logits (or an object with ``.logits``), or a causal
            language model (``AutoModelForCausalLM``-style) returning per-position logits
            ``(B, L, V)``, detected from that shape. A causal LM is explained at its next token
            (P2 Task 2): ``v(x_S)`` is ``output`` of the logits of the sentence's last real
            position, by default the log-odds ``log p(y|x_S) / (1 − p(y|x_S))`` of the token ``y``
            (``target``, default the most likely next token of the unmasked sentence); see
            :class:`TextPath`. Causal LMs need ``layer=None``.
        tokenizer: its **fast** tokenizer (``tokenizer.is_fast``), needed for ``offset_mapping``.
        sentence: the text, at most :func:`max_length` tokens long (``ValueError`` otherwise).
        n: the number of players, default 10 (:data:`DEFAULT_TEXT_PLAYERS`): all content words
            are players when there are at most ``n`` (a ``UserWarning`` says so when ``n`` is
            given), else ``n`` of them are sampled with ``seed`` (kept in sentence order; the same
            words for every tokenizer). With ``players``, ``n`` must be ``None`` (the default) or
            ``len(players)``.
        players: explicit players instead of sampling, in player order (player ``i`` is
            ``players[i]``): words of the sentence (strings, exact spelling; each must be one of
            :func:`content_words` — pass ``stop_words=()`` to allow stop words; the ``k``-th time a
            string is listed it is the ``k``-th occurrence of that word in the sentence) and/or
            indices into ``content_words(sentence, stop_words)``. ``ValueError`` (naming the word
            or index and the sentence) for a missing word, an index out of range or a repeated player.
        baseline: ``"mean"`` — P1's mean: with ``layer=None`` the mean of the word-embedding
            matrix over the vocabulary, with ``layer=k`` the mean hidden state of the players'
            sub-tokens in the sentence; ``"players_mean"`` — the mean vector of the players'
            sub-tokens in the sentence at any layer (with ``layer=None``: their mean embedding);
            ``"mask"`` — the embedding of the tokenizer's mask token (P2 uses a special token;
            ``layer=None`` only); or a vector of the hidden size (e.g.
            ``emb.weight[tokenizer.cls_token_id]``).
        target: the class (a sequence classifier) or the token id (a causal LM) whose output is
            explained; ``None`` for the model's prediction on the unmasked sentence.
        output: as for :class:`~interprim.games.ImageGame` (``"log_odds"``, ``"logit"`` or a
            callable ``(logits, target)``), applied to the ``(B, C)`` or next-token ``(B, V)`` logits.
        layer: ``None`` — mask the word embeddings (``inputs_embeds``); ``k`` (``0 ≤ k ≤`` the
            number of blocks) — mask the hidden states after the first ``k`` transformer blocks
            (``0``: the output of the embedding module), running the embeddings and those blocks
            once; ``"low"`` — after the low layers (:func:`interprim.nn.low_layer_count`; ``k = 1``
            for BERT-Tiny, P1 App. F.2). See :class:`TextPath`.
        stop_words: words never chosen as players (compared lower-case); ``None`` for
            :data:`ENGLISH_STOP_WORDS`.
        device, memory_budget, batch_size: as for :class:`~interprim.games.ImageGame`.

    Attributes: ``words`` (the players' text, in player order), ``word_indices`` (their indices
    into ``content_words(sentence, stop_words)``), ``word_tokens`` (each player's token positions),
    ``tokens`` (all tokens of the sentence), ``layer`` (``None`` or ``k``), ``next_token``
    (whether the model is a causal LM explained at its next token), ``features`` (``(L, d)``,
    the unmasked vectors the players mask), ``baseline`` (``(d,)``), ``target`` and ``logits``
    (the unmasked sentence's ``(C,)`` or next-token ``(V,)`` logits).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        sentence: str,
        n: int | None = None,
        seed: int = 0,
        baseline: Any = "mean",
        target: int | None = None,
        output: Any = "log_odds",
        layer: int | str | None = None,
        stop_words: Iterable[str] | None = None,
        device: Any = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        batch_size: int | None = None,
        players: Any = None,
    ) -> None:
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "get_input_embeddings"):
            raise TypeError(
                f"model must be a torch.nn.Module with get_input_embeddings() (a Hugging Face model), got "
                f"{type(model).__name__}."
            )
        check_tokenizer(tokenizer)
        stops = stop_word_set(stop_words)
        count = check_n_players(DEFAULT_TEXT_PLAYERS if n is None else n, "n") if players is None else 0
        found = sentence_players(tokenizer, sentence, count, seed, stops, players, max_length(model, tokenizer))
        if players is not None:
            check_player_count(n, len(found.words))
        elif n is not None and len(found.words) < count:
            warnings.warn(
                f"n={count} but the sentence {_quote(sentence)} has only {len(found.words)} words with meaning: "
                f"the game has {len(found.words)} players.",
                UserWarning,
                stacklevel=2,
            )
        self.words, self.word_tokens, self.tokens = found.words, found.word_tokens, found.tokens
        self.word_indices = found.indices
        self._path = TextPath(model, layer)
        self.layer = self._path.layer
        device = model_device(model, device)
        inputs = {key: value.to(device) for key, value in found.inputs.items()}
        self._inputs = {key: value for key, value in inputs.items() if key != "input_ids"}
        if self.layer is not None:
            self._inputs = {"attention_mask": self._inputs["attention_mask"]}
        with torch.no_grad(), eval_mode(model):
            features, logits = self._path.low(inputs)
            self.features = features[0].detach()
            self.baseline = text_baseline(baseline, self._path, self.features, self.word_tokens, tokenizer)
        self.next_token = bool(self._path.next_token)
        super().__init__(model, len(self.words), output, device, memory_budget, batch_size)
        self._resolve_target(logits, target)
        membership = word_membership(self.word_tokens, self.features.shape[0], self.features.dtype)
        self._membership = membership.to(device)

    @property
    def bytes_per_sample(self) -> int:
        """Bytes of one masked matrix of vectors ``(L, d)`` (plus one row of next-token logits for a causal LM)."""
        row = self.features.numel() + (self.logits.numel() if self.next_token else 0)
        return row * self.features.element_size()

    def masked(self, masks: Any) -> torch.Tensor:
        """The masked vectors (embeddings or hidden states) for a ``(B, n)`` bool batch of masks: ``(B, L, d)``."""
        hidden = self._hidden(masks, self._membership)
        return torch.where(hidden[..., None], self.baseline, self.features)

    def _evaluate(self, masks: torch.Tensor) -> torch.Tensor:
        vectors = self.masked(masks)
        inputs = {key: value.expand(vectors.shape[0], -1) for key, value in self._inputs.items()}
        with eval_mode(self.model):
            logits = self._path.high(vectors, inputs)
        return self._scalars(logits)
