"""The :class:`TrainConfig` of a training run: optimiser, adversarial attack, checkpoints, seed (SPEC §6)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

LR_SCHEDULES = ("none", "cosine", "linear")
OPTIMIZERS = ("sgd", "adamw")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`~interprim.train.train`, validated when the object is built.

    - ``epochs``: number of passes over the training data (≥ 1).
    - ``optimizer``: ``"sgd"`` (SGD with ``momentum``, P1 App. F: momentum 0.9, lr 0.01 or 0.001) or
      ``"adamw"`` (AdamW with β = (0.9, 0.999), how transformers are fine-tuned); ``lr`` and
      ``weight_decay`` apply to both.
    - ``batch_size``: mini-batch size for training and for the end-of-epoch evaluations.
    - ``adversarial``, ``epsilon``, ``step``: one-step ℓ∞ PGD adversarial training in pixel units,
      ``ε = α = 4/255`` by default (SPEC §6); see :func:`~interprim.train.pgd_step`.
    - ``checkpoint_epochs``: epochs after which the model weights are kept as ``epoch_{k}.pt``;
      ``0`` keeps the weights before training. Stored as a sorted tuple without repeats.
    - ``lr_schedule``: ``"none"`` (constant ``lr``); ``"cosine"``: epoch ``e = 0 … epochs-1`` uses
      ``lr · ½ (1 + cos(π e / epochs))``; ``"linear"``: per optimiser step, a linear warm-up from 0
      to ``lr`` over the first ``warmup`` fraction of all steps, then a linear decay to 0.
    - ``warmup``: the warm-up fraction of the ``"linear"`` schedule, in ``[0, 1)``.
    - ``seed``: seeds the shuffling and every random draw of the run (dropout included).
    - ``device``: where the model is trained (``"cpu"``, ``"cuda"``, ``"cuda:1"``, …), stored as a string.
    """

    epochs: int
    lr: float
    batch_size: int
    momentum: float = 0.9
    weight_decay: float = 0.0
    adversarial: bool = False
    epsilon: float = 4 / 255
    step: float = 4 / 255
    checkpoint_epochs: tuple[int, ...] = ()
    lr_schedule: str = "none"
    optimizer: str = "sgd"
    warmup: float = 0.0
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        _set = object.__setattr__
        _set(self, "epochs", _integer("epochs", self.epochs, low=1))
        _set(self, "batch_size", _integer("batch_size", self.batch_size, low=1))
        _set(self, "seed", _integer("seed", self.seed, low=0, high=2**63 - 1))
        _set(self, "lr", _real("lr", self.lr, low=0.0, low_open=True))
        _set(self, "momentum", _real("momentum", self.momentum, low=0.0, high=1.0, high_open=True))
        _set(self, "weight_decay", _real("weight_decay", self.weight_decay, low=0.0))
        _set(self, "epsilon", _real("epsilon", self.epsilon, low=0.0, high=1.0))
        _set(self, "step", _real("step", self.step, low=0.0, high=1.0))
        if not isinstance(self.adversarial, bool):
            raise TypeError(f"adversarial must be True or False, got {self.adversarial!r}.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        _set(self, "warmup", _real("warmup", self.warmup, low=0.0, high=1.0, high_open=True))
        if self.warmup and self.lr_schedule != "linear":
            raise ValueError(f"warmup={self.warmup} needs lr_schedule='linear' (got {self.lr_schedule!r}).")
        _set(self, "checkpoint_epochs", _checkpoint_epochs(self.checkpoint_epochs, self.epochs))
        _set(self, "device", _device(self.device))

    def learning_rate(self, epoch: int, step: int = 0, steps_per_epoch: int = 1) -> float:
        """The learning rate of step ``step`` (0-based) of epoch ``epoch`` (0-based) under ``lr_schedule``."""
        if self.lr_schedule == "cosine":
            return self.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / self.epochs))
        if self.lr_schedule == "linear":
            total = self.epochs * steps_per_epoch
            done = epoch * steps_per_epoch + step
            warm = self.warmup * total
            if done < warm:
                return self.lr * min(1.0, (done + 1) / warm)
            return self.lr * max(0.0, (total - done) / max(total - warm, 1.0))
        return self.lr

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field; :meth:`from_dict` reads it back."""
        d = asdict(self)
        d["checkpoint_epochs"] = list(self.checkpoint_epochs)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from :meth:`to_dict` output (e.g. parsed JSON); unknown or missing keys raise ``ValueError``."""
        if not isinstance(d, dict):
            raise TypeError(f"TrainConfig.from_dict expects a dict, got {type(d).__name__}.")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown TrainConfig keys {unknown}; the fields are {sorted(names)}.")
        missing = [name for name in ("epochs", "lr", "batch_size") if name not in d]
        if missing:
            raise ValueError(f"TrainConfig needs the keys {missing}.")
        return cls(**d)


def _integer(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__}).")
    if value < low or (high is not None and value > high):
        bound = f"≥ {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {bound}, got {value}.")
    return int(value)


def _real(
    name: str, value: Any, low: float, high: float | None = None, low_open: bool = False, high_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__}).")
    value = float(value)
    below = value <= low if low_open else value < low
    above = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or below or above:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        interval = f"{left}{low}, {high}{right}" if high is not None else f"{left}{low}, ∞)"
        raise ValueError(f"{name} must be a finite number in {interval}, got {value}.")
    return value


def _checkpoint_epochs(value: Any, epochs: int) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(
            f"checkpoint_epochs must be a list of epoch numbers (e.g. [10, 50]), got {value!r}."
        )
    out = set()
    for k in value:
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"checkpoint_epochs must hold integers, got {k!r} ({type(k).__name__}).")
        if not 0 <= k <= epochs:
            raise ValueError(
                f"checkpoint_epochs holds {k}, outside [0, epochs={epochs}] "
                f"(0 keeps the weights before training, k those after epoch k)."
            )
        out.add(int(k))
    return tuple(sorted(out))


def _device(value: Any) -> str:
    if not isinstance(value, (str, torch.device)):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda', got {value!r}.")
    try:
        return str(torch.device(value))
    except RuntimeError as e:
        raise ValueError(f"device {value!r} is not a valid torch device ({e}).") from None
