"""The trained models of P1's experiments as pure task functions (SPEC §6, P1 App. F.1, F.4-F.5).

A model is described by JSON-able parameters with **one seed per role**, so that two models can
differ in exactly one of them: ``init_seed`` (the initial weights of every layer that is not copied
from a donor), ``data_seed`` (the order of the training samples and every random draw of training),
``subset`` (which training samples) and the donor of the first ``shared_layers`` layers.
:func:`train_model` trains such a model on a data set of :mod:`~interprim.experiments.datasets`
(the embedded MNIST-10k by default; CIFAR-10 or SST-2 from ``data_path``) and returns its weights
and accuracies as arrays, the form the experiment store keeps; :func:`load_model` rebuilds it.
Images train zoo models with SGD (P1 App. F.1); SST-2 trains :func:`~interprim.nn.bert_tiny` from
scratch or fine-tunes the pretrained :func:`~interprim.nn.minilm` (``arch = "minilm"``, its head
initialised with ``init_seed``), with AdamW and a linear warm-up (10 % of the steps) and decay
(``optimizer = "adamw"``): with SGD at P1's learning rates a randomly initialised BERT-Tiny does not
learn at all here.

Training subsets: ``"all"`` (the whole MNIST-10k train split), ``"half0"`` / ``"half1"`` (two disjoint
random subsets of ``subset_size`` images, P1's "different data", SPEC §6), or ``"first:K"`` (the first
``K`` images).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..data import ImageData, binary_task, disjoint_subsets
from ..nn import (CAUSAL_LMS, bert_tiny, build, causal_lm, classifier_architecture, copy_layers, freeze_layers,
                  load_pretrained_classifier)
from ..train import TrainConfig, evaluate, score_causal_lm, train, train_causal_lm
from . import datasets

#: the seed of the split of the training data into the two disjoint halves (fixed, so both halves
#: are the same sets in every experiment)
SUBSET_SEED = 12345
_ACCURACY = "accuracy"
_LM_LOSS = "lm_loss"
OPTIMIZERS = ("sgd", "adamw")
WARMUP = 0.1  # warm-up fraction of the AdamW runs' linear schedule
_WORDS = "bert.embeddings.word_embeddings.weight"


def subset_indices(subset: str, total: int, subset_size: int) -> np.ndarray:
    """The indices of the training samples named by ``subset`` (module doc) among ``total``."""
    if subset == "all":
        return np.arange(total)
    if subset in ("half0", "half1"):
        if 2 * subset_size > total:
            raise ValueError(f"subset_size={subset_size}: two disjoint subsets need at most {total // 2} each.")
        return np.sort(disjoint_subsets(total, subset_size, 2, seed=SUBSET_SEED)[int(subset[-1])])
    if subset.startswith("first:") and subset[6:].isdigit() and 0 < int(subset[6:]) <= total:
        return np.arange(int(subset[6:]))
    raise ValueError(f"subset must be 'all', 'half0', 'half1' or 'first:K' with 1 <= K <= {total}, got {subset!r}.")


def train_model(
    *,
    arch: str,
    init_seed: int,
    data_seed: int,
    epochs: int,
    lr: float,
    batch_size: int = 64,
    adversarial: bool = True,
    subset: str = "all",
    subset_size: int = 1000,
    shared_layers: int = 0,
    freeze: bool = True,
    donor_arch: str | None = None,
    donor: Mapping[str, np.ndarray] | None = None,
    dataset: str = "mnist10k",
    optimizer: str = "sgd",
    positive: int | None = None,
    device: str = "cpu",
    data_path: str | None = None,
    model_path: str | None = None,
) -> dict[str, np.ndarray]:
    """Train a model on ``dataset`` and return its ``state_dict`` as numpy arrays plus ``accuracy``.

    Text models with a pretrained folder (``model_path``, any local Hugging Face BERT-family model, or
    the packaged MiniLM for ``arch = "minilm"``) are fine-tuned from its weights with a classification
    head initialised with ``init_seed``, reading the sentences with its own tokenizer; ``arch`` then only
    names the model (the path, like ``data_path`` and ``device``, is not part of what identifies a task).

    With ``donor`` (the arrays of a model of architecture ``donor_arch``, e.g. an earlier task's
    result) the first ``shared_layers`` layers
    (:func:`interprim.nn.layers`) are copied from it before training (P1 App. F.5, "same low-layer
    parameters") and, with ``freeze``, kept fixed while the upper layers train (P1 §3.2).
    Adversarial training is one-step ℓ∞ PGD with ``ε = α = 4/255`` (SPEC §6; images only).
    ``optimizer``: ``"sgd"`` (momentum 0.9, constant ``lr``) or ``"adamw"`` (linear warm-up over
    :data:`WARMUP` of the steps, then linear decay). ``positive``: train the one-against-the-rest task
    of that class (P2's MNIST-3: 3; :func:`task_data`) instead of all classes. ``accuracy`` holds
    ``[train accuracy, test accuracy]`` on the clean samples after training.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}.")
    train_data, test_data = (task_data(dataset, split, positive, data_path) for split in datasets.SPLITS)
    train_data = train_data.subset(subset_indices(subset, len(train_data), subset_size))
    model = build_model(arch, seed=init_seed, dataset=dataset, vocab_size=_vocab_size(dataset, data_path),
                        binary=positive is not None, pretrained=True, model_path=model_path)
    if shared_layers:
        if donor is None or donor_arch is None:
            raise ValueError(f"shared_layers={shared_layers} needs a donor model and its donor_arch to copy from.")
        copy_layers(model, load_model(donor_arch, donor, dataset=dataset, binary=positive is not None), shared_layers)
        if freeze:
            freeze_layers(model, shared_layers)
    schedule = dict(lr_schedule="linear", warmup=WARMUP) if optimizer == "adamw" else {}
    config = TrainConfig(epochs=epochs, lr=lr, batch_size=batch_size, adversarial=adversarial, seed=data_seed,
                         device=device, optimizer=optimizer, **schedule)
    train_tensors, test_tensors = (datasets.tensors(dataset, d, data_path, arch, model_path)
                                   for d in (train_data, test_data))
    train(model, train_tensors, None, config, progress=False)
    model.eval()
    accuracy = [evaluate(model, *data, batch_size=256).acc for data in (train_tensors, test_tensors)]
    state = {name: tensor.detach().cpu().numpy() for name, tensor in model.state_dict().items()}
    state[_ACCURACY] = np.asarray(accuracy, dtype=np.float64)
    return state


def task_data(dataset: str, split: str, positive: int | None = None, data_path: str | None = None) -> Any:
    """The ``split`` of ``dataset`` with all its classes, or (``positive``) labelled 1 for that class and
    0 for the rest (:func:`interprim.data.binary_task`; images only)."""
    data = datasets.load(dataset, split, data_path)
    if positive is None:
        return data
    if not isinstance(data, ImageData) or not 0 <= positive < len(data.classes):
        raise ValueError(f"positive={positive!r}: the one-against-the-rest task needs an image data set and one of its "
                         f"classes 0 .. {len(data.classes) - 1}.")
    return ImageData(data.images, binary_task(data.labels, positive), ("rest", data.classes[positive]))


def _vocab_size(dataset: str, data_path: str | None) -> int | None:
    return len(datasets.tokenizer(data_path)) if datasets.is_text(dataset) else None


def accuracy(state: Mapping[str, np.ndarray]) -> dict[str, float]:
    """``{"train": ..., "test": ...}``: the accuracies stored by :func:`train_model`."""
    train_acc, test_acc = np.asarray(state[_ACCURACY], dtype=np.float64).tolist()
    return {"train": train_acc, "test": test_acc}


def build_model(
    arch: str, seed: int = 0, device: str = "cpu", dataset: str = "mnist10k", vocab_size: int | None = None,
    binary: bool = False,
    pretrained: bool = False,
    model_path: str | None = None,
) -> torch.nn.Module:
    """A model for ``dataset`` with initial weights from ``seed``: a zoo model for its images (MNIST-10k:
    ``1 × 28 × 28``, CIFAR-10: ``3 × 32 × 32``, 10 classes, or 2 with ``binary``), or for SST-2
    ``bert-tiny`` / ``bert-mini`` with ``vocab_size`` words (BERT's 30 522 when not given: enough to ask
    about the layers), or a pretrained classifier (``minilm`` or any ``arch`` with ``model_path``,
    :func:`~interprim.experiments.datasets.pretrained_folder`): its weights with a fresh head with
    ``pretrained``, else its architecture with random weights that a ``state_dict`` replaces."""
    if datasets.is_text(dataset):
        folder = datasets.pretrained_folder(arch, model_path)
        if folder:
            return pretrained_classifier(folder, seed=seed, device=device, pretrained=pretrained)
        if arch not in datasets.TEXT_ARCHES:
            raise ValueError(f"dataset {dataset!r} takes arch in {datasets.TEXT_ARCHES}, got {arch!r}.")
        return bert_tiny(num_labels=2, vocab_size=vocab_size or 30522, seed=seed, device=device,
                         size=arch.removeprefix("bert-"))
    if dataset not in datasets.IMAGES:
        raise ValueError(f"dataset must be one of {datasets.DATASETS}, got {dataset!r}.")
    channels, side = datasets.IMAGES[dataset]
    return build(arch, in_channels=channels, input_size=side, num_classes=2 if binary else 10, seed=seed, device=device)


def load_model(
    arch: str, state: Mapping[str, np.ndarray], device: str = "cpu", dataset: str = "mnist10k", binary: bool = False,
    model_path: str | None = None,
) -> torch.nn.Module:
    """Rebuild a model of :func:`train_model` from its arrays, in eval mode (``binary``: trained with ``positive``;
    ``model_path``: fine-tuned from that folder)."""
    vocab = np.asarray(state[_WORDS]).shape[0] if datasets.is_text(dataset) and _WORDS in state else None
    model = build_model(arch, device=device, dataset=dataset, vocab_size=vocab, binary=binary, model_path=model_path)
    weights = {name: torch.as_tensor(np.asarray(value)) for name, value in state.items() if name != _ACCURACY}
    model.load_state_dict(weights)
    return model.eval()


def train_language_model(
    *,
    arch: str,
    init_seed: int,
    data_seed: int,
    epochs: int,
    lr: float,
    batch_size: int = 64,
    subset: str = "all",
    dataset: str = "sst2",
    device: str = "cpu",
    data_path: str | None = None,
) -> dict[str, np.ndarray]:
    """Train a causal language model (:data:`~interprim.nn.CAUSAL_LMS`, initial weights ``init_seed``) to
    predict every next word of SST-2's training sentences (``subset``), with AdamW, a linear warm-up over
    :data:`WARMUP` of the steps and linear decay (:func:`~interprim.train.train_causal_lm`); return its
    ``state_dict`` as numpy arrays plus ``accuracy`` (next-word top-1 accuracy, ``[train, test]``) and
    ``lm_loss`` (next-word cross-entropy in nats, ``[train, test]``)."""
    if arch not in CAUSAL_LMS:
        raise ValueError(f"arch must be one of {CAUSAL_LMS} for a language model, got {arch!r}.")
    if not datasets.is_text(dataset):
        raise ValueError(f"a language model trains on sentences: dataset must be one of {datasets.TEXT}, got {dataset!r}.")
    tok = datasets.lm_tokenizer(datasets.folder(dataset, data_path))
    splits = [datasets.load(dataset, split, data_path) for split in datasets.SPLITS]
    splits[0] = splits[0].subset(subset_indices(subset, len(splits[0]), 1))
    encoded = [tok(list(d.sentences), padding=True, truncation=True, max_length=datasets.MAX_LENGTH,
                   return_tensors="pt") for d in splits]
    model = causal_lm(arch, len(tok), seed=init_seed, device=device, max_position_embeddings=datasets.MAX_LENGTH)
    config = TrainConfig(epochs=epochs, lr=lr, batch_size=batch_size, seed=data_seed, device=device,
                         optimizer="adamw", lr_schedule="linear", warmup=WARMUP)
    train_causal_lm(model, encoded[0]["input_ids"], encoded[0]["attention_mask"], config)
    scores = [score_causal_lm(model, e["input_ids"], e["attention_mask"]) for e in encoded]
    state = {name: tensor.detach().cpu().numpy() for name, tensor in model.state_dict().items()}
    state[_ACCURACY] = np.asarray([sc.accuracy for sc in scores], dtype=np.float64)
    state[_LM_LOSS] = np.asarray([sc.loss for sc in scores], dtype=np.float64)
    return state


def load_language_model(arch: str, state: Mapping[str, np.ndarray], device: str = "cpu") -> torch.nn.Module:
    """Rebuild a model of :func:`train_language_model` from its arrays, in eval mode."""
    weights = {name: torch.as_tensor(np.asarray(value)) for name, value in state.items()
               if name not in (_ACCURACY, _LM_LOSS)}
    vocab = next(w.shape[0] for name, w in weights.items() if name.endswith("embed_tokens.weight") or name.endswith("wte.weight"))
    model = causal_lm(arch, vocab, device=device, max_position_embeddings=datasets.MAX_LENGTH)
    model.load_state_dict(weights)
    return model.eval()


def pretrained_classifier(folder: str, seed: int = 0, device: str = "cpu", pretrained: bool = True) -> torch.nn.Module:
    """A two-class ``AutoModelForSequenceClassification`` of the local folder: its weights with a head
    initialised with ``seed`` (:func:`~interprim.nn.load_pretrained_classifier`), or with ``pretrained=False``
    its architecture alone (``config.json``; random weights, no checkpoint read and no loading warning)."""
    if pretrained:
        return load_pretrained_classifier(folder, num_labels=2, seed=seed, device=device)[0]
    return classifier_architecture(folder, num_labels=2, device=device)
