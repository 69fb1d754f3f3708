"""What the experiments of P2 share (SPEC §3.4, §5, §7; P2 §4): the task, its models, their games on the same
samples with the same players, and the three ways of extracting interactions from them.

**Task** ``mnist3`` (P2 §4, Task 3): several different architectures (``archs``; P2: ResNet-20 and
VGG-16) trained normally to tell the digit ``positive`` (3) from the rest; each positive test image
is explained with ``n`` of its foreground ``patch × patch`` input patches as players (drawn with
``player_seed`` among the patches whose mean intensity stands out, SPEC §5,
:func:`~interprim.games.foreground_patches`), baseline 0, and ``v`` = the logit of the positive
class (the scalar output before the softmax). Every model explains the same images with the same
patches. Only positive test images with at least ``n`` foreground patches are analysed, the first
``samples`` of them.

**Task** ``sst2`` (P2 §4, Task 1): several transformer classifiers trained on SST-2 (``data_path``;
``train_subset`` of its training sentences, AdamW with ``optimizer = "adamw"``): ``bert-tiny`` and
``bert-mini`` (:func:`~interprim.nn.bert_tiny`) from scratch, ``minilm`` fine-tuned from the packaged
all-MiniLM-L6-v2 (:func:`~interprim.nn.minilm`), or models fine-tuned from the local folders
``model_paths`` (P2: BERT-base and BERT-large; ``archs`` then names them). An architecture listed
twice is two models that differ in every seed (:func:`model_specs`), labelled ``arch#1``, ``arch#2``.
They explain the same test sentences with the same ``n`` words with meaning as
players (drawn with ``player_seed`` among :func:`~interprim.games.content_words`, so every model
gets the same words whatever its tokenizer), masked at the word embeddings by the mean vector, and
``v`` = the log-odds of the true label. Only test sentences with at least ``n`` such words are
analysed, the first ``samples`` of them.

**Task** ``lm`` (P2 §4, Task 2): several causal language models predict the next word of the same
texts. A text is an SST-2 test sentence cut before its last word with meaning, which is the
**target** word (P2 App. P takes the first words of a SQuAD document and the next word with
meaning; SST-2's sentences play the documents here). Its players are ``n`` of the text's words with
meaning (drawn with ``player_seed``, the same words for every model whatever its tokenizer; a word
covers all its tokens), masked at the token embeddings by the mean vector, and ``v`` = the log-odds
of the target word's first token (``target = "text"``) or of the model's own most likely next token
on the whole text (``target = "predicted"``). The models are two architectures trained here on
SST-2's training sentences (``archs`` among :data:`~interprim.nn.CAUSAL_LMS`: a GPT-2 and a LLaMA of
2 blocks, width 128, with a word vocabulary), or pretrained models read from the local folders
``model_paths`` (P2: LLaMA-7B and OPT-1.3B; ``archs`` then only names them in the store; nothing is
trained or downloaded). Only texts with at least ``n`` words with meaning are analysed, the first
``samples`` of them.

**Methods**, per model on the same games:

- ``generalizable``: AND-OR interactions shared by the models, extracted jointly (P2 Eq. 6, SPEC
  §3.4; :func:`~interprim.generalizable_and_or` with ``alpha``) by ``solver``: the exact LP
  (``"lp"``, fast up to ``n = 8`` for a pair) or the certified ADMM to the gap ``tol``;
- ``traditional-lp`` and ``traditional-admm``: each model's own sparse AND-OR interactions (P2 Eq. 4,
  SPEC §3.3; :func:`~interprim.sparse_and_or`), solved exactly by the LP and by the certified ADMM.
  The traditional objective often has many optimal solutions with different interactions; its
  transferability depends on which one a solver returns, so both are reported (a control P2 lacks);
- ``harsanyi``: AND interactions only, in closed form (no OR part, no noise).

**Chance floor** (another control P2 lacks): a statistic of sharing computed between model ``a`` on
sample ``i`` and model ``b`` on sample ``i + 1`` (:func:`mismatched`), whose player ``j`` is then a
different patch. ``κ = (s − s_floor) / (1 − s_floor)`` is the sharing beyond chance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import functools
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..extract import generalizable_and_or, harsanyi
from ..games import foreground_patches, image_values, text_values
from ..games.text import ENGLISH_STOP_WORDS, content_spans, word_spans
from ..interactions import Interactions
from ..nn import CAUSAL_LMS, minilm_path, names
from . import datasets, pipeline
from .checks import check_counts, check_data, check_seeds
from .models import (accuracy, load_language_model, load_model, subset_indices, task_data, train_language_model,
                     train_model)

TASKS = ("mnist3", "sst2", "lm")
TARGETS = ("text", "predicted")  # the next word a language model is explained at (task lm)
MAX_TEXT_WORDS = 40  # longest text (in words) of task lm: its tokens stay within the small models' positions
METHODS = ("generalizable", "traditional-lp", "traditional-admm", "harsanyi")
TRADITIONAL = "traditional-lp"  # the traditional method the experiments compare with by default
SOLVERS = ("lp", "admm")
STYLE = {"generalizable": ("C0", "-o"), "traditional-lp": ("C1", "-s"), "traditional-admm": ("C2", "-^"),
         "harsanyi": ("C3", "-d")}  # colour and line of each method in every P2 figure
OTHER_SEED = 1000  # offset of the initial weights of the j-th architecture: init_seed = seed + j·OTHER_SEED
LP_MAX_PLAYERS = 10  # the exact LP per game stays under a second up to here


@dataclass
class Config:
    """Settings shared by P2's experiments (module docstring); each experiment adds its own."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    task: str = "mnist3"
    archs: list[str] = field(default_factory=lambda: ["lenet", "mlp"])
    positive: int = 3
    epochs: int = 2
    lr: float = 0.01
    batch_size: int = 64
    samples: int = 100
    n: int = 8
    patch: int = 4
    player_seed: int = 0
    alpha: float = 0.1
    noise: float = 0.02
    solver: str = "lp"
    tol: float = 0.001
    optimizer: str = "sgd"
    train_subset: str = "all"
    lrs: list[float] = field(default_factory=list)
    dataset: str = "mnist10k"
    data_path: str = ""
    target: str = "text"
    model_paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_seeds(self.seeds, OTHER_SEED, f" (the architectures' initial weights use s + j·{OTHER_SEED})")
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}.")
        if not isinstance(self.archs, list) or len(self.archs) < 2:
            raise ValueError(f"archs must list at least two models (architectures, repeated for another seed of "
                             f"the same one), got {self.archs!r}.")
        text = self.task != "mnist3"
        if text != datasets.is_text(self.dataset):
            raise ValueError(f"task {self.task!r} needs dataset = {'sst2' if text else 'mnist10k or cifar10'}, "
                             f"got {self.dataset!r}.")
        check_data(self, text=text, arches=())
        self._check_models()
        subset_indices(self.train_subset, datasets.size(self.dataset, "train", self.data_path or None), 1)
        check_counts(self, ("epochs", "batch_size", "samples", "patch"))
        if isinstance(self.n, bool) or not 2 <= self.n <= LP_MAX_PLAYERS:
            raise ValueError(f"n must be 2 .. {LP_MAX_PLAYERS} (the exact LP solves the traditional games too), "
                             f"got {self.n!r}.")
        if self.lrs and (len(self.lrs) != len(self.archs) or not all(lr > 0 for lr in self.lrs)):
            raise ValueError(f"lrs must be empty (lr for every architecture) or one learning rate > 0 per "
                             f"architecture ({len(self.archs)}), got {self.lrs!r}.")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}.")
        if self.solver == "lp" and len(self.archs) * 3**self.n > 3**12:
            raise ValueError(f"solver = 'lp' takes m·3**n <= 3**12 for the joint problem ({len(self.archs)} models, "
                             f"n = {self.n}); use solver = 'admm'.")
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha!r}.")
        if not (0 < self.tol < 1 and self.lr > 0 and self.noise >= 0):
            raise ValueError(f"tol must be in (0, 1), lr > 0 and noise >= 0; got tol={self.tol}, lr={self.lr}, "
                             f"noise={self.noise}.")
        usable = len(analysed_samples(self, limit=False))
        if not 3 <= self.samples <= usable:
            what = (f"sentences with {self.n} words with meaning" if text else
                    f"images of class {self.positive} with {self.n} foreground {self.patch}x{self.patch} patches")
            raise ValueError(f"samples must be >= 3 and at most the {usable} test {what}, got {self.samples}.")

    def _check_models(self) -> None:
        """``archs``, ``model_paths`` and ``target`` against the task (module docstring)."""
        if self.task == "lm" and self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}.")
        if self.model_paths:
            if self.task == "mnist3":
                raise ValueError("model_paths is for the text tasks (pretrained models in local folders), not 'mnist3'.")
            distinct = self.task != "lm" or len(set(self.archs)) == len(self.archs)  # pretrained LMs are not trained
            if len(self.model_paths) != len(self.archs) or not distinct:
                raise ValueError(f"model_paths must give one local folder per model ({len(self.archs)}), and archs "
                                 f"{'one distinct name each' if self.task == 'lm' else 'their names'}; got archs "
                                 f"{self.archs!r}, model_paths {self.model_paths!r}.")
            missing = [path for path in self.model_paths if not (Path(path) / "config.json").is_file()]
            if missing:
                raise ValueError(f"model_paths: {missing} hold no Hugging Face model (no config.json); give the local "
                                 f"folders of pretrained models (nothing is downloaded).")
            return
        if self.task == "lm":
            allowed: Sequence[str] = CAUSAL_LMS
        else:
            allowed = datasets.TEXT_ARCHES if self.task == "sst2" else names()
        if "minilm" in self.archs and self.task == "sst2":
            try:
                minilm_path()
            except (ImportError, FileNotFoundError) as err:
                raise ValueError(f"archs: 'minilm' needs the packaged all-MiniLM-L6-v2 weights: {err}") from None
        bad = [arch for arch in self.archs if arch not in allowed]
        if bad:
            pretrained = {"lm": " (trained here), or name pretrained causal LMs whose local folders model_paths "
                                "gives (e.g. --set 'model_paths=[\"/models/llama-7b\", \"/models/opt-1.3b\"]')",
                          "sst2": ", or name pretrained BERT-family models whose local folders model_paths gives "
                                  "(e.g. --set 'model_paths=[\"/models/bert-base\", \"/models/bert-large\"]')"
                          }.get(self.task, "")
            raise ValueError(f"archs must be among {', '.join(allowed)}{pretrained} for task {self.task!r}, "
                             f"got {bad}.")


def test_samples(dataset: str, positive: int, n: int, patch: int, player_seed: int,
                 data_path: str | None = None) -> list[int]:
    """The test images of class ``positive`` that have ``n`` foreground patches, in file order."""
    data = datasets.load(dataset, "test", data_path)
    out = []
    for i in np.flatnonzero(data.labels.numpy() == positive):
        try:
            foreground_patches(data.images[i], patch=patch, n=n, seed=player_seed)
        except ValueError:
            continue
        out.append(int(i))
    return out


def analysed_samples(config: Config, limit: bool = True) -> list[int]:
    """The analysed test samples (module docstring): the first ``samples`` (all with ``limit=False``)."""
    data_path = config.data_path or None
    if config.task == "lm":
        texts = next_word_texts(config.dataset, config.n, data_path)
        usable = list(texts)
        if not config.model_paths and config.target == "text":  # targets the small models know (not [UNK])
            tok = datasets.lm_tokenizer(datasets.folder(config.dataset, data_path))
            sentences = datasets.load(config.dataset, "test", data_path).sentences
            usable = [i for i in usable if next_token(tok, sentences[i], texts[i][1]) != tok.unk_token_id]
    elif config.task == "sst2":
        usable = [int(i) for i in datasets.eligible(config.dataset, "test", config.n, data_path)]
    else:
        usable = test_samples(config.dataset, config.positive, config.n, config.patch, config.player_seed, data_path)
    return usable[: config.samples] if limit else usable


def model_names(archs: Sequence[str]) -> list[str]:
    """The label of each model: its architecture, numbered ``arch#1``, ``arch#2``, … when it is repeated."""
    count = {arch: archs.count(arch) for arch in archs}
    seen: dict[str, int] = {}
    names_ = []
    for arch in archs:
        seen[arch] = seen.get(arch, 0) + 1
        names_.append(arch if count[arch] == 1 else f"{arch}#{seen[arch]}")
    return names_


def model_specs(config: Config, seed: int) -> dict[str, dict[str, Any]]:
    """The :func:`~interprim.experiments.models.train_model` parameters of every model of ``seed``, by
    :func:`model_names`: normal training (P2), initial weights ``seed + j·OTHER_SEED`` (``j``: the model's
    position in ``archs``), data order ``seed`` (``seed + k·OTHER_SEED`` for the ``k``-th repeat of an
    architecture, so two models of one architecture differ in every seed), learning rate ``lrs[j]`` (or
    ``lr``); MNIST-3 on all of the training split, SST-2 on ``train_subset`` with ``optimizer``."""
    common = dict(epochs=config.epochs, batch_size=config.batch_size, adversarial=False, dataset=config.dataset)
    if config.task == "sst2":
        common |= dict(subset=config.train_subset, optimizer=config.optimizer)
    else:
        common |= dict(subset="all", positive=config.positive)
    lrs = config.lrs or [config.lr] * len(config.archs)
    return {name: dict(arch=arch, init_seed=seed + j * OTHER_SEED, lr=lrs[j],
                       data_seed=seed + config.archs[:j].count(arch) * OTHER_SEED, **common)
            for j, (arch, name) in enumerate(zip(config.archs, model_names(config.archs)))}


# ---------------------------------------------------------------------------------------------
# task functions
# ---------------------------------------------------------------------------------------------


def values(
    *,
    arch: str,
    samples: Sequence[int],
    n: int,
    patch: int,
    player_seed: int,
    positive: int,
    model: Mapping[str, np.ndarray],
    dataset: str = "mnist10k",
    device: str = "cpu",
    data_path: str | None = None,
) -> dict[str, np.ndarray]:
    """``{"values": (B, 2**n)}``: the games of a binary model on the test images ``samples`` (module docstring)."""
    data = task_data(dataset, "test", positive, data_path)
    index = [int(i) for i in samples]
    images = data.images[index]
    players = [foreground_patches(image, patch=patch, n=n, seed=player_seed) for image in images]
    net = load_model(arch, model, device=device, dataset=dataset, binary=True)
    v = image_values(net, images, players, targets=[1] * len(index), output="logit", device=device)
    return {"values": v.numpy()}


def sentence_values(
    *,
    arch: str,
    samples: Sequence[int],
    n: int,
    player_seed: int,
    model: Mapping[str, np.ndarray],
    dataset: str = "sst2",
    device: str = "cpu",
    data_path: str | None = None,
    model_path: str | None = None,
) -> dict[str, np.ndarray]:
    """``{"values": (B, 2**n)}``: the games of a text model (fine-tuned from ``model_path`` where given) on the
    test sentences ``samples`` (module docstring)."""
    data = datasets.load(dataset, "test", data_path)
    index = [int(i) for i in samples]
    net = load_model(arch, model, device=device, dataset=dataset, model_path=model_path)
    v, _ = text_values(net, datasets.tokenizer(data_path, arch, model_path), [data.sentences[i] for i in index], n, seed=player_seed,
                       targets=data.labels[index], device=device)
    return {"values": v.numpy()}


@functools.lru_cache(maxsize=4)
def _next_word_texts(dataset: str, n: int, data_path: str | None) -> dict[int, tuple[str, int]]:
    found = {}
    for i, sentence in enumerate(datasets.load(dataset, "test", data_path).sentences):
        spans = content_spans(sentence, ENGLISH_STOP_WORDS)
        if len(spans) <= n or len(word_spans(sentence[: spans[-1][0]])) > MAX_TEXT_WORDS:
            continue
        text = sentence[: spans[-1][0]].rstrip()
        if len(content_spans(text, ENGLISH_STOP_WORDS)) >= n:
            found[i] = (text, spans[-1][0])
    return found


def next_word_texts(dataset: str, n: int, data_path: str | None = None) -> dict[int, tuple[str, int]]:
    """Task ``lm``'s texts: ``{test sentence: (text, start)}`` for the test sentences whose text before
    their last word with meaning (the target, at character ``start``) has ``n`` words with meaning and
    at most :data:`MAX_TEXT_WORDS` words, in file order."""
    return _next_word_texts(dataset, int(n), None if data_path is None else str(data_path))


def next_token(tokenizer: Any, sentence: str, start: int) -> int:
    """The id of the first token of the word at character ``start`` of ``sentence`` (as the tokenizer
    splits the sentence up to and including that word)."""
    end = next((b for a, b in word_spans(sentence) if a == start), None)
    if end is None:
        raise ValueError(f"no word starts at character {start} of {sentence!r}.")
    encoding = tokenizer(sentence[:end], return_offsets_mapping=True, add_special_tokens=False)
    for token, (a, b) in zip(encoding["input_ids"], encoding["offset_mapping"]):
        if b > start and a < end:
            return int(token)
    raise ValueError(f"the tokenizer gives no token for the word {sentence[start:end]!r} of {sentence!r}.")


def language_model(arch: str, model: Mapping[str, np.ndarray] | None, model_path: str | None, device: str,
                   dataset: str, data_path: str | None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of task ``lm``: one trained here (its arrays ``model``) or a pretrained one read
    from the local folder ``model_path``."""
    if model_path:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        net = AutoModelForCausalLM.from_pretrained(model_path, local_files_only=True).to(device).eval()
        return net, AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    if model is None:
        raise ValueError(f"the language model {arch!r} needs its trained arrays or a model_path.")
    return load_language_model(arch, model, device=device), datasets.lm_tokenizer(datasets.folder(dataset, data_path))


def next_word_values(
    *,
    arch: str,
    samples: Sequence[int],
    n: int,
    player_seed: int,
    target: str,
    model: Mapping[str, np.ndarray] | None = None,
    dataset: str = "sst2",
    device: str = "cpu",
    data_path: str | None = None,
    model_path: str | None = None,
) -> dict[str, np.ndarray]:
    """``{"values": (B, 2**n), "targets": (B,)}``: the games of a causal language model on the texts of the
    test sentences ``samples`` (module docstring, task ``lm``) and the token each explains."""
    texts = next_word_texts(dataset, n, data_path)
    sentences = datasets.load(dataset, "test", data_path).sentences
    chosen = [texts[int(i)] for i in samples]
    net, tok = language_model(arch, model, model_path, device, dataset, data_path)
    targets = ([next_token(tok, sentences[int(i)], start) for i, (_, start) in zip(samples, chosen)]
               if target == "text" else None)
    v, _ = text_values(net, tok, [text for text, _ in chosen], n, seed=player_seed, targets=targets, device=device)
    if targets is None:
        targets = [int(t) for t in predicted_tokens(net, tok, [text for text, _ in chosen], device)]
    return {"values": v.numpy(), "targets": np.asarray(targets, dtype=np.int64)}


@torch.no_grad()
def predicted_tokens(net: Any, tok: Any, texts: Sequence[str], device: str) -> list[int]:
    """Each text's most likely next token under ``net``."""
    out = []
    for text in texts:
        ids = tok(text, return_tensors="pt")["input_ids"].to(device)
        out.append(int(net(input_ids=ids).logits[0, -1].argmax()))
    return out


def extract_joint(
    *, alpha: float, noise: float, solver: str, tol: float, **games: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The generalizable interactions of the games ``values0, values1, …`` (one record per model, in order),
    stacked on a first model axis, with their certified gap (SPEC §3.4)."""
    order = sorted(games, key=lambda name: int(name.removeprefix("values")))
    found = generalizable_and_or([games[name]["values"] for name in order], alpha=alpha, noise=noise, solver=solver,
                                 tol=tol)
    out = {key: np.stack([getattr(r, key) for r in found]) for key in ("i_and", "i_or", "gamma", "noise")}
    out["gap"] = np.asarray(found[0].meta["gap"])
    return out


# ---------------------------------------------------------------------------------------------
# the interactions of one seed
# ---------------------------------------------------------------------------------------------


@dataclass
class Extracted:
    """The games and interactions of one seed: ``values[j]`` ``(B, 2**n)`` and ``methods[method][j]`` of
    model ``j`` (``archs[j]``); ``records[j]``, the finished task of ``values[j]`` (a dependency for further
    extractions); ``accuracy`` per architecture; ``gaps``, the largest certified relative gap per method."""

    archs: list[str]
    samples: list[int]
    values: list[np.ndarray]
    records: list[Any]
    methods: dict[str, list[Interactions]]
    accuracy: dict[str, dict[str, float]]
    gaps: dict[str, float]


def extract(ctx: Any, config: Config, seed: int, methods: Sequence[str] = METHODS) -> Extracted:
    """Train the models of ``seed``, build their games on the analysed samples, extract them by ``methods``."""
    samples = analysed_samples(config)
    specs = model_specs(config, seed)
    if config.task == "lm":
        trained, found = _language_values(ctx, config, specs, samples)
    else:
        trained, found = _classifier_values(ctx, config, specs, samples)
    v = [np.asarray(r.value["values"], dtype=np.float64) for r in found]
    out: dict[str, list[Interactions]] = {}
    gaps: dict[str, float] = {}
    if "generalizable" in methods:
        joint = ctx.task("extract-joint", extract_joint,
                         dict(alpha=config.alpha, noise=config.noise, solver=config.solver, tol=config.tol),
                         deps={f"values{j}": r for j, r in enumerate(found)}).value
        out["generalizable"] = [Interactions(i_and=joint["i_and"][j], i_or=joint["i_or"][j], gamma=joint["gamma"][j],
                                             noise=joint["noise"][j]) for j in range(len(v))]
        gaps["generalizable"] = float(np.max(joint["gap"]))
    for method, solver in (("traditional-lp", "lp"), ("traditional-admm", "admm")):
        if method in methods:
            params = [dict(solver=solver, tol=config.tol, noise=config.noise)] * len(v)
            records = ctx.map("extract", pipeline.extract, params, deps=[{"values": r} for r in found])
            out[method] = [pipeline.interactions(r.value) for r in records]
            gaps[method] = float(max(np.max(r.value["gap"]) for r in records))
    if "harsanyi" in methods:
        out["harsanyi"] = [harsanyi(x) for x in v]
    scores = {a: accuracy(t.value) if t is not None else {"train": float("nan"), "test": float("nan")}
              for a, t in zip(specs, trained)}
    return Extracted(archs=list(specs), samples=samples, values=v, records=list(found), methods=out,
                     accuracy=scores, gaps=gaps)


def extract_seeds(ctx: Any, config: Config, methods: Sequence[str] = METHODS) -> list[Extracted]:
    """:func:`extract` for every seed of ``config``, the seeds side by side on a parallel executor (``ctx.each``)."""
    return ctx.each(lambda seed: extract(ctx, config, seed, methods), config.seeds)


def _classifier_values(ctx: Any, config: Config, specs: Mapping[str, dict[str, Any]],
                       samples: list[int]) -> tuple[list[Any], list[Any]]:
    """Tasks ``mnist3`` and ``sst2``: train every classifier of ``specs``, then its games on ``samples``."""
    data_path = config.data_path or None
    if config.model_paths:  # fine-tuned from local folders: each model's own path beside its key
        trained, found = [], []
        for (name, spec), path in zip(specs.items(), config.model_paths):
            trained.append(ctx.task("train", partial(train_model, device=ctx.device, data_path=data_path,
                                                     model_path=path), spec))
            params = dict(arch=spec["arch"], samples=samples, n=config.n, player_seed=config.player_seed,
                          dataset=config.dataset)
            found.append(ctx.task("p2-values", partial(sentence_values, device=ctx.device, data_path=data_path,
                                                       model_path=path), params, deps={"model": trained[-1]}))
        return trained, found
    trained = ctx.map("train", partial(train_model, device=ctx.device, data_path=data_path), list(specs.values()))
    if config.task == "sst2":
        games = partial(sentence_values, device=ctx.device, data_path=data_path)
        params = [dict(arch=spec["arch"], samples=samples, n=config.n, player_seed=config.player_seed,
                       dataset=config.dataset) for spec in specs.values()]
    else:
        games = partial(values, device=ctx.device, data_path=data_path)
        params = [dict(arch=spec["arch"], samples=samples, n=config.n, patch=config.patch,
                       player_seed=config.player_seed, positive=config.positive, dataset=config.dataset)
                  for spec in specs.values()]
    return trained, ctx.map("p2-values", games, params, deps=[{"model": t} for t in trained])


def _language_values(ctx: Any, config: Config, specs: Mapping[str, dict[str, Any]],
                     samples: list[int]) -> tuple[list[Any], list[Any]]:
    """Task ``lm``: train every language model of ``specs`` (or read the pretrained ``model_paths``), then
    its games on ``samples``."""
    data_path = config.data_path or None
    common = dict(samples=samples, n=config.n, player_seed=config.player_seed, target=config.target,
                  dataset=config.dataset)
    if config.model_paths:  # pretrained: nothing to train; the name (not the path) keys the store
        found = [ctx.task("lm-values", partial(next_word_values, device=ctx.device, data_path=data_path,
                                               model_path=path), dict(arch=name, **common))
                 for name, path in zip(config.archs, config.model_paths)]
        return [None] * len(found), found
    lm_specs = [{key: spec[key] for key in ("arch", "init_seed", "data_seed", "epochs", "lr", "batch_size")}
                | dict(subset=config.train_subset, dataset=config.dataset) for spec in specs.values()]
    trained = ctx.map("train-lm", partial(train_language_model, device=ctx.device, data_path=data_path), lm_specs)
    games = partial(next_word_values, device=ctx.device, data_path=data_path)
    params = [dict(arch=spec["arch"], **common) for spec in specs.values()]
    return trained, ctx.map("lm-values", games, params, deps=[{"model": t} for t in trained])


def describe(config: Mapping[str, Any], archs: Sequence[str], count: int) -> str:
    """One line for the summaries: the task, its models, the analysed samples and the players."""
    if config["task"] == "sst2":
        what = f"{count} test sentences, n = {config['n']} words with meaning"
    elif config["task"] == "lm":
        what = (f"{count} texts (SST-2 test sentences before their last word with meaning), n = {config['n']} "
                f"words with meaning, next word: {config.get('target', 'text')}")
    else:
        what = f"{count} test images of class {config['positive']}, n = {config['n']} foreground patches"
    return f"Task {config['task']}: {', '.join(archs)} on {what}"


def mismatched(results: Sequence[Interactions], shift: int = 1) -> list[Interactions]:
    """The chance floor's pairing: model ``j`` on sample ``i + j·shift`` (cyclically), so that no two models
    explain the same sample and player ``k`` of one is a different patch than player ``k`` of another."""
    return [Interactions(i_and=np.roll(r.i_and, -j * shift, axis=0), i_or=np.roll(r.i_or, -j * shift, axis=0),
                         gamma=np.roll(r.gamma, -j * shift, axis=0), noise=np.roll(r.noise, -j * shift, axis=0))
            for j, r in enumerate(results)]


def kappa(s: Any, floor: Any) -> np.ndarray:
    """Sharing beyond chance: ``κ = (s − s_floor) / (1 − s_floor)`` (``NaN`` where the floor is 1 or undefined)."""
    s, floor = np.asarray(s, dtype=np.float64), np.asarray(floor, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(floor < 1, (s - floor) / (1 - floor), np.nan)


def spread(x: Any, axis: int = -1) -> dict[str, Any]:
    """Mean, sd and count of the finite values of ``x`` along ``axis`` (lists, for JSON)."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    count = ok.sum(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, x, 0).sum(axis) / count
        var = np.where(ok, (x - np.expand_dims(mean, axis)) ** 2, 0).sum(axis) / (count - 1)
    return {"mean": np.where(count > 0, mean, np.nan).tolist(), "sd": np.sqrt(np.where(count > 1, var, np.nan)).tolist(),
            "n": count.tolist()}
