"""Text games: players are words of a sentence (SPEC §5, P1 App. F.2, P2 App. P.2).

The sentence is tokenised; sub-tokens are grouped into words with the fast tokenizer's
``word_ids()``; stop words and punctuation are skipped; ``n`` of the remaining words are the
players. ``v(x_S)`` is the model's output when every sub-token of each word outside ``S`` carries
the baseline vector and unselected tokens keep their own vectors, where the vectors are

- the word embeddings (``inputs_embeds``, ``layer=None``, P2), or
- the hidden states after the first ``k`` transformer blocks (``layer=k``; ``layer="low"`` is
  P1's choice, after the low layers: ``k = 1`` for BERT-Tiny). The embeddings and the first ``k``
  blocks run **once** on the sentence; only the remaining blocks, the pooler and the head run on
  the masked hidden states.

Works with Hugging Face sequence classifiers (``model.get_input_embeddings()``, ``model(inputs_embeds=...,
attention_mask=...)``; for ``layer=k`` also ``output_hidden_states=True`` and a base model whose
list of transformer blocks runs in order) and their fast tokenizers, without importing
``transformers`` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..nn.layers import _is_transformers_model, _transformer_blocks, low_layer_count
from ._model import ModelGame, as_float_tensor, eval_mode, model_device
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


def _content(word: str, stop_words: frozenset[str]) -> bool:
    """A word with meaning: not a stop word and not only punctuation or symbols."""
    return any(ch.isalnum() for ch in word) and word.lower() not in stop_words


def stop_word_set(stop_words: Iterable[str] | None) -> frozenset[str]:
    """The stop words to skip, lower-case: :data:`ENGLISH_STOP_WORDS` for ``None``."""
    if stop_words is None:
        return ENGLISH_STOP_WORDS
    words = list(stop_words) if isinstance(stop_words, Iterable) and not isinstance(stop_words, str) else [None]
    if not all(isinstance(w, str) for w in words):
        raise ValueError(f"stop_words must be an iterable of words (strings) or None, got {stop_words!r}.")
    return frozenset(w.lower() for w in words)


def check_tokenizer(tokenizer: Any) -> None:
    """Raise ``ValueError`` unless ``tokenizer`` is a fast Hugging Face tokenizer (it has ``word_ids()``)."""
    if not callable(tokenizer) or not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"tokenizer must be a fast Hugging Face tokenizer (tokenizer.is_fast is True) to group sub-tokens "
            f"into words, got {type(tokenizer).__name__}; load it with "
            f"AutoTokenizer.from_pretrained(name, use_fast=True)."
        )


@dataclass(frozen=True)
class SentencePlayers:
    """The players of one sentence: ``inputs`` (the tokenizer's tensors, ``(1, L)`` each), the
    players' ``words`` and their token positions ``word_tokens``, and all ``tokens``."""

    inputs: dict[str, torch.Tensor]
    words: list[str]
    word_tokens: list[tuple[int, ...]]
    tokens: list[str]


def sentence_players(tokenizer: Any, sentence: str, n: int, seed: int, stops: frozenset[str]) -> SentencePlayers:
    """Tokenise ``sentence`` and choose its players: all content words when there are at most ``n``,
    else ``n`` of them sampled with ``seed`` (kept in sentence order)."""
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError(f"sentence must be a non-empty string, got {sentence!r}.")
    encoding = tokenizer(sentence, return_tensors="pt")
    positions: dict[int, list[int]] = {}
    for position, word in enumerate(encoding.word_ids(0)):
        if word is not None:
            positions.setdefault(word, []).append(position)
    texts = {}
    for word in positions:
        span = encoding.word_to_chars(0, word)
        texts[word] = sentence[span.start : span.end]
    candidates = [word for word in positions if _content(texts[word], stops)]
    if not candidates:
        raise ValueError(
            f"the sentence {sentence!r} has no words with meaning (all are stop words or punctuation); "
            f"pass stop_words=() to allow every word."
        )
    chosen = candidates if len(candidates) <= n else [candidates[k] for k in sample_indices(len(candidates), n, seed)]
    inputs = {key: encoding[key] for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoding}
    return SentencePlayers(
        inputs=inputs,
        words=[texts[word] for word in chosen],
        word_tokens=[tuple(positions[word]) for word in chosen],
        tokens=list(tokenizer.convert_ids_to_tokens(encoding["input_ids"][0].tolist())),
    )


class _Given(torch.nn.Module):
    """Stands in for a model's embedding module: returns the given hidden states, whatever its arguments."""

    def __init__(self, hidden: torch.Tensor) -> None:
        super().__init__()
        self.hidden = hidden

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.hidden


class TextPath:
    """A sequence classifier cut where the word players live (``layer`` resolved: ``None`` or ``k``).

    :meth:`low` gives the vectors the players mask for a batch of tokenised sentences and the
    model's output on them; :meth:`high` the output with masked vectors in their place. For
    ``layer=k``, :meth:`low` runs the model once with ``output_hidden_states=True`` (its
    ``hidden_states[k]`` is the output of block ``k``, 1-based) and :meth:`high` runs the model
    with its list of blocks temporarily cut to blocks ``k+1…`` and its embedding module replaced by
    one that returns the given hidden states (both restored afterwards; not thread-safe), so the
    model's own attention-mask handling, pooler and head apply. Call both under
    ``torch.no_grad()`` and :func:`~interprim.games._model.eval_mode`.
    """

    def __init__(self, model: torch.nn.Module, layer: int | str | None) -> None:
        self.model = model
        self.layer: int | None = None
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

    def low(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Any]:
        """``(vectors, raw)`` of a batch of tokenised sentences: ``(B, L, d)`` and the model's output."""
        if self.layer is None:
            embeds = self.model.get_input_embeddings()(inputs["input_ids"])
            rest = {key: value for key, value in inputs.items() if key != "input_ids"}
            return embeds, self.model(inputs_embeds=embeds, **rest)
        raw = self.model(**inputs, output_hidden_states=True)
        hidden = getattr(raw, "hidden_states", None)
        if not isinstance(hidden, (tuple, list)) or len(hidden) <= self.layer:
            raise ValueError(
                f"layer={self.layer}: the model did not return hidden_states for output_hidden_states=True; "
                f"use layer=None."
            )
        return hidden[self.layer], raw

    def high(self, vectors: torch.Tensor, inputs: dict[str, torch.Tensor]) -> Any:
        """The model's output with ``vectors`` ``(B, L, d)`` in place of those of :meth:`low`.

        ``inputs`` holds the batch's ``attention_mask`` (and, for ``layer=None``, ``token_type_ids``).
        """
        if self.layer is None:
            return self.model(inputs_embeds=vectors, **inputs)
        blocks = getattr(self._blocks_parent, self._blocks_attr)
        embeddings = getattr(self._base, self._embeddings_name)
        setattr(self._blocks_parent, self._blocks_attr, torch.nn.ModuleList(list(blocks)[self.layer :]))
        setattr(self._base, self._embeddings_name, _Given(vectors))
        try:
            return self.model(inputs_embeds=vectors, attention_mask=inputs["attention_mask"])
        finally:
            setattr(self._blocks_parent, self._blocks_attr, blocks)
            setattr(self._base, self._embeddings_name, embeddings)


def text_baseline(
    baseline: Any, path: TextPath, vectors: torch.Tensor, word_tokens: list[tuple[int, ...]], tokenizer: Any
) -> torch.Tensor:
    """The baseline vector ``(d,)`` of one sentence whose unmasked vectors are ``vectors`` ``(L, d)``.

    ``"mean"``: at the embeddings, the mean word embedding over the vocabulary (P1); after ``k``
    blocks, the mean hidden state over the players' sub-tokens in this sentence (P1 App. F.2:
    "the average embedding over different input variables"). ``"mask"``: the embedding of the
    tokenizer's mask token (embedding level only). A vector of size ``d`` is used as given.
    """
    dtype, size = vectors.dtype, vectors.shape[1]
    if isinstance(baseline, str):
        if baseline == "mean" and path.layer is not None:
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
        raise ValueError(f"baseline must be 'mean', 'mask' or a vector of size {size}, got {baseline!r}.")
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


class TextGame(ModelGame):
    """The game of ``n`` words of a sentence for a Hugging Face sequence classifier.

    Args:
        model: a sequence classifier taking ``inputs_embeds`` and ``attention_mask`` (and
            ``token_type_ids`` when the tokenizer makes them) and returning logits (or an object
            with ``.logits``); it must have ``get_input_embeddings()``.
        tokenizer: its **fast** tokenizer (``tokenizer.is_fast``), needed for ``word_ids()``.
        sentence: the text.
        n: the number of players; all content words are players when there are at most ``n``,
            else ``n`` of them are sampled with ``seed`` (kept in sentence order).
        baseline: ``"mean"`` — P1's mean: with ``layer=None`` the mean of the word-embedding
            matrix over the vocabulary, with ``layer=k`` the mean hidden state of the players'
            sub-tokens in the sentence; ``"mask"`` — the embedding of the tokenizer's mask token
            (P2 uses a special token; ``layer=None`` only); or a vector of the hidden size (e.g.
            ``emb.weight[tokenizer.cls_token_id]``).
        target, output: as for :class:`~interprim.games.ImageGame`.
        layer: ``None`` — mask the word embeddings (``inputs_embeds``); ``k`` (``0 ≤ k ≤`` the
            number of blocks) — mask the hidden states after the first ``k`` transformer blocks
            (``0``: the output of the embedding module), running the embeddings and those blocks
            once; ``"low"`` — after the low layers (:func:`interprim.nn.low_layer_count`; ``k = 1``
            for BERT-Tiny, P1 App. F.2). See :class:`TextPath`.
        stop_words: words never chosen as players (compared lower-case); ``None`` for
            :data:`ENGLISH_STOP_WORDS`.
        device, memory_budget, batch_size: as for :class:`~interprim.games.ImageGame`.

    Attributes: ``words`` (the players' text), ``word_tokens`` (each player's token positions),
    ``tokens`` (all tokens of the sentence), ``layer`` (``None`` or ``k``), ``features`` (``(L, d)``,
    the unmasked vectors the players mask), ``baseline`` (``(d,)``).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        sentence: str,
        n: int = 10,
        seed: int = 0,
        baseline: Any = "mean",
        target: int | None = None,
        output: Any = "log_odds",
        layer: int | str | None = None,
        stop_words: Iterable[str] | None = None,
        device: Any = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        batch_size: int | None = None,
    ) -> None:
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "get_input_embeddings"):
            raise TypeError(
                f"model must be a torch.nn.Module with get_input_embeddings() (a Hugging Face model), got "
                f"{type(model).__name__}."
            )
        check_tokenizer(tokenizer)
        players = sentence_players(tokenizer, sentence, check_n_players(n, "n"), seed, stop_word_set(stop_words))
        self.words, self.word_tokens, self.tokens = players.words, players.word_tokens, players.tokens
        self._path = TextPath(model, layer)
        self.layer = self._path.layer
        device = model_device(model, device)
        inputs = {key: value.to(device) for key, value in players.inputs.items()}
        self._inputs = {key: value for key, value in inputs.items() if key != "input_ids"}
        if self.layer is not None:
            self._inputs = {"attention_mask": self._inputs["attention_mask"]}
        with torch.no_grad(), eval_mode(model):
            features, raw = self._path.low(inputs)
            self.features = features[0].detach()
            self.baseline = text_baseline(baseline, self._path, self.features, self.word_tokens, tokenizer)
        super().__init__(model, len(self.words), output, device, memory_budget, batch_size)
        self._resolve_target(raw, target)
        membership = word_membership(self.word_tokens, self.features.shape[0], self.features.dtype)
        self._membership = membership.to(device)

    @property
    def bytes_per_sample(self) -> int:
        """Bytes of one masked matrix of vectors ``(L, d)``."""
        return self.features.numel() * self.features.element_size()

    def masked(self, masks: Any) -> torch.Tensor:
        """The masked vectors (embeddings or hidden states) for a ``(B, n)`` bool batch of masks: ``(B, L, d)``."""
        hidden = self._hidden(masks, self._membership)
        return torch.where(hidden[..., None], self.baseline, self.features)

    def _evaluate(self, masks: torch.Tensor) -> torch.Tensor:
        vectors = self.masked(masks)
        inputs = {key: value.expand(vectors.shape[0], -1) for key, value in self._inputs.items()}
        with eval_mode(self.model):
            raw = self._path.high(vectors, inputs)
        return self._scalars(raw)
