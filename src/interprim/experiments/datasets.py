"""The data sets of the experiments (SPEC §6-7): the embedded MNIST-10k, and CIFAR-10 / SST-2 from a path.

An experiment names its data set in its config (``dataset``, with ``data_path`` for those read from
files). Only the name enters the task keys, so a data set moved to another folder is not computed
again; the path is passed beside the keys, like the device.

- ``"mnist10k"``: the 10 000 MNIST test images shipped with interprim, split into 8000 train and
  2000 test images (:func:`interprim.data.load_mnist10k`); no path;
- ``"cifar10"``: CIFAR-10's binary files in ``data_path`` (:func:`interprim.data.load_cifar10`);
- ``"sst2"``: SST-2's ``train.tsv`` and ``test.tsv`` in ``data_path``
  (:func:`interprim.data.load_sst2`); the models are :func:`~interprim.nn.bert_tiny` trained from
  scratch with a word vocabulary built from the training sentences, or the pretrained
  :func:`~interprim.nn.minilm` with its own WordPiece tokenizer (:func:`tokenizer`); the players of a sentence
  are its words with meaning (SPEC §5), so only sentences with at least ``n`` of them are analysed
  (:func:`eligible`).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import ImageData, TextData, load_cifar10, load_mnist10k, load_sst2
from ..games.text import ENGLISH_STOP_WORDS, sentence_players

IMAGES = {"mnist10k": (1, 28), "cifar10": (3, 32)}  # channels, side
TEXT = ("sst2",)
DATASETS = (*IMAGES, *TEXT)
SPLITS = ("train", "test")
TEXT_ARCHES = ("bert-tiny", "bert-mini", "minilm")  # interprim.nn.bert_tiny "tiny" / "mini"; interprim.nn.minilm
PRETRAINED = ("minilm",)  # text architectures fine-tuned from packaged weights, with their own tokenizer
MAX_LENGTH = 64  # tokens kept of a training sentence ([CLS] and [SEP] included)


def is_text(dataset: str) -> bool:
    """Whether ``dataset`` holds sentences (else images)."""
    return dataset in TEXT


def check(dataset: str, data_path: str | None) -> None:
    """Raise ``ValueError`` naming the setting unless ``dataset`` is known and, where it needs one,
    ``data_path`` holds its files."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}.")
    if dataset == "mnist10k":
        return
    if not data_path:
        raise ValueError(f"dataset = {dataset!r} is read from files: set data_path to the folder that holds them "
                         f"(e.g. --set data_path=/data/{dataset}).")
    if not Path(data_path).is_dir():
        raise ValueError(f"data_path = {data_path!r} is not a folder.")
    try:
        for split in SPLITS:
            load(dataset, split, str(data_path))
    except (FileNotFoundError, ValueError) as err:
        raise ValueError(f"data_path = {data_path!r}: {err}") from None


@functools.lru_cache(maxsize=8)
def load(dataset: str, split: str, data_path: str | None = None) -> ImageData | TextData:
    """The ``split`` (``"train"`` or ``"test"``) of ``dataset`` (read once per process)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    if dataset == "mnist10k":
        return load_mnist10k(split)
    if dataset == "cifar10":
        return load_cifar10(folder(dataset, data_path), split)
    if dataset == "sst2":
        return load_sst2(folder(dataset, data_path), split)
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}.")


def folder(dataset: str, data_path: str | os.PathLike | None) -> str:
    """``data_path`` as a string; ``ValueError`` when ``dataset`` needs one and it is missing."""
    if not data_path:
        raise ValueError(f"dataset {dataset!r} needs data_path, the folder of its files.")
    return str(data_path)


def size(dataset: str, split: str, data_path: str | None = None) -> int:
    """The number of samples of ``split``."""
    return len(load(dataset, split, data_path))


def pretrained_folder(arch: str, model_path: str | None = None) -> str | None:
    """The local folder of a pretrained text model: ``model_path`` when given (any Hugging Face BERT-family
    model), the packaged all-MiniLM-L6-v2 for ``arch = "minilm"``, else ``None`` (trained from scratch)."""
    if model_path:
        return str(model_path)
    if arch in PRETRAINED:
        from ..nn import minilm_path

        return str(minilm_path())
    return None


@functools.lru_cache(maxsize=4)
def tokenizer(data_path: str, arch: str = "bert-tiny", model_path: str | None = None) -> Any:
    """The tokenizer of a text model: the word tokenizer of SST-2's training sentences
    (:func:`interprim.nn.word_tokenizer`) for the models trained from scratch, the pretrained model's own
    (:func:`pretrained_folder`) otherwise."""
    from ..nn import word_tokenizer

    folder = pretrained_folder(arch, model_path)
    if folder:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return word_tokenizer(load("sst2", "train", data_path).sentences)


LM_MIN_COUNT = 10  # a word enters the language models' vocabulary when SST-2's training phrases hold it this often


@functools.lru_cache(maxsize=2)
def lm_tokenizer(data_path: str) -> Any:
    """The tokenizer of the causal language models trained here: the words that SST-2's training phrases
    hold at least :data:`LM_MIN_COUNT` times (6534 words, 95 % of the running words; the output layer over
    the vocabulary is most of a small model's cost), ``[CLS]`` as the begin-of-text token
    (:func:`interprim.nn.word_tokenizer` with ``causal=True``)."""
    from ..nn import word_tokenizer

    return word_tokenizer(load("sst2", "train", data_path).sentences, min_count=LM_MIN_COUNT, causal=True)


def tensors(
    dataset: str, data: ImageData | TextData, data_path: str | None = None, arch: str = "bert-tiny",
    model_path: str | None = None,
) -> tuple[Any, torch.Tensor]:
    """``(inputs, labels)`` as the trainer takes them: images, or ``(input_ids, attention_mask)`` by the
    tokenizer of the model (:func:`tokenizer`), right-padded (the trainer cuts every batch to its longest
    sentence), at most :data:`MAX_LENGTH` tokens."""
    if not is_text(dataset):
        return data.tensors()
    encoded = tokenizer(folder(dataset, data_path), arch, model_path)(
        data.sentences, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt"
    )
    return (encoded["input_ids"], encoded["attention_mask"]), data.labels


@functools.lru_cache(maxsize=8)
def _eligible(dataset: str, split: str, n: int, data_path: str | None) -> tuple[int, ...]:
    count = size(dataset, split, data_path)
    if not is_text(dataset):
        return tuple(range(count))
    tok, sentences = tokenizer(folder(dataset, data_path)), load(dataset, split, data_path).sentences
    ok = []
    for i, text in enumerate(sentences):
        try:
            if len(sentence_players(tok, text, n, 0, ENGLISH_STOP_WORDS).words) >= n:
                ok.append(i)
        except ValueError:  # no word with meaning at all
            pass
    return tuple(ok)


def eligible(dataset: str, split: str, n: int, data_path: str | None = None) -> np.ndarray:
    """The samples of ``split`` that have ``n`` players: every image; the sentences with at least ``n``
    words with meaning (stop words and punctuation skipped, SPEC §5)."""
    return np.asarray(_eligible(dataset, split, int(n), None if data_path is None else str(data_path)), dtype=np.int64)
