"""Text games: players are words of a sentence, masked at the embedding level (SPEC §5, P1 App. F.2, P2 App. P.2).

The sentence is tokenised; sub-tokens are grouped into words with the fast tokenizer's
``word_ids()``; stop words and punctuation are skipped; ``n`` of the remaining words are the
players. ``v(x_S)`` is the model's output on ``inputs_embeds`` where every sub-token of each word
outside ``S`` carries the baseline embedding; unselected tokens keep their own embeddings.

Works with Hugging Face sequence classifiers (``model.get_input_embeddings()``, ``model(inputs_embeds=...,
attention_mask=...)``) and their fast tokenizers, without importing ``transformers`` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

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
        baseline: ``"mean"`` — the mean of the word-embedding matrix over the vocabulary (P1);
            ``"mask"`` — the embedding of the tokenizer's mask token (P2 uses a special token);
            or a vector of the embedding size (e.g. ``emb.weight[tokenizer.cls_token_id]``).
        target, output: as for :class:`~interprim.games.ImageGame`.
        stop_words: words never chosen as players (compared lower-case); ``None`` for
            :data:`ENGLISH_STOP_WORDS`.
        device, memory_budget, batch_size: as for :class:`~interprim.games.ImageGame`.

    Attributes: ``words`` (the players' text), ``word_tokens`` (each player's token positions),
    ``tokens`` (all tokens of the sentence), ``embeddings`` (``(L, d)``, unmasked), ``baseline`` (``(d,)``).
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
        if not callable(tokenizer) or not getattr(tokenizer, "is_fast", False):
            raise ValueError(
                f"tokenizer must be a fast Hugging Face tokenizer (tokenizer.is_fast is True) to group sub-tokens "
                f"into words, got {type(tokenizer).__name__}; load it with "
                f"AutoTokenizer.from_pretrained(name, use_fast=True)."
            )
        if not isinstance(sentence, str) or not sentence.strip():
            raise ValueError(f"sentence must be a non-empty string, got {sentence!r}.")
        n = check_n_players(n, "n")
        if stop_words is None:
            stops = ENGLISH_STOP_WORDS
        else:
            words = list(stop_words) if isinstance(stop_words, Iterable) and not isinstance(stop_words, str) else [None]
            if not all(isinstance(w, str) for w in words):
                raise ValueError(f"stop_words must be an iterable of words (strings) or None, got {stop_words!r}.")
            stops = frozenset(w.lower() for w in words)

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
        chosen = (
            candidates if len(candidates) <= n else [candidates[k] for k in sample_indices(len(candidates), n, seed)]
        )
        self.words = [texts[word] for word in chosen]
        self.word_tokens = [tuple(positions[word]) for word in chosen]
        self.tokens = list(tokenizer.convert_ids_to_tokens(encoding["input_ids"][0].tolist()))

        device = model_device(model, device)
        layer = model.get_input_embeddings()
        self._inputs = {
            key: encoding[key].to(device) for key in ("attention_mask", "token_type_ids") if key in encoding
        }
        with torch.no_grad():
            self.embeddings = layer(encoding["input_ids"].to(device))[0].detach()
            self.baseline = self._baseline(baseline, layer, tokenizer, device)
            with eval_mode(model):
                raw = model(inputs_embeds=self.embeddings[None], **self._inputs)
        super().__init__(model, len(chosen), output, device, memory_budget, batch_size)
        self._resolve_target(raw, target)
        membership = torch.zeros(self.n_players, self.embeddings.shape[0], dtype=self.embeddings.dtype)
        for i, tokens in enumerate(self.word_tokens):
            membership[i, list(tokens)] = 1
        self._membership = membership.to(device)

    def _baseline(self, baseline: Any, layer: torch.nn.Module, tokenizer: Any, device: torch.device) -> torch.Tensor:
        dtype, size = self.embeddings.dtype, self.embeddings.shape[1]
        if isinstance(baseline, str):
            if baseline == "mean":
                weight = getattr(layer, "weight", None)
                if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
                    raise ValueError(
                        "baseline='mean' needs an embedding layer with a (vocabulary, d) weight; pass a vector."
                    )
                return weight.detach().mean(0).to(dtype)
            if baseline == "mask":
                mask_id = getattr(tokenizer, "mask_token_id", None)
                if mask_id is None:
                    raise ValueError("baseline='mask': the tokenizer has no mask token; use 'mean' or pass a vector.")
                return layer(torch.tensor([mask_id], device=device))[0].detach()
            raise ValueError(f"baseline must be 'mean', 'mask' or a vector of size {size}, got {baseline!r}.")
        vector = as_float_tensor(baseline, "baseline", dtype, device)
        if vector.ndim > 1 or (vector.ndim == 1 and vector.shape[0] != size):
            raise ValueError(
                f"baseline must be a vector of the embedding size {size} (or a scalar), got shape "
                f"{tuple(vector.shape)}."
            )
        return vector.expand(size)

    @property
    def bytes_per_sample(self) -> int:
        """Bytes of one masked ``inputs_embeds`` matrix ``(L, d)``."""
        return self.embeddings.numel() * self.embeddings.element_size()

    def masked(self, masks: Any) -> torch.Tensor:
        """The masked ``inputs_embeds`` for a ``(B, n)`` bool batch of masks, ``(B, L, d)``."""
        hidden = self._hidden(masks, self._membership)
        return torch.where(hidden[..., None], self.baseline, self.embeddings)

    def _evaluate(self, masks: torch.Tensor) -> torch.Tensor:
        embeds = self.masked(masks)
        inputs = {key: value.expand(embeds.shape[0], -1) for key, value in self._inputs.items()}
        with eval_mode(self.model):
            raw = self.model(inputs_embeds=embeds, **inputs)
        return self._scalars(raw)
