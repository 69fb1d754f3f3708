"""The files of a training run in ``out_dir``, written atomically, and the rules for resuming one.

- ``last.pt``: the state after the last finished epoch — model and optimiser state dicts, the epoch,
  the history, the run's ``torch.Generator`` state, the config, the trainable parameter names and a
  fingerprint of the data; plain tensors, dicts and strings, read with ``torch.load(weights_only=True)``.
- ``history.json``: :meth:`History.to_dict` after every epoch.
- ``epoch_{k}.pt``: the model state dict after epoch ``k`` (``k = 0``: before training) for every ``k``
  in ``TrainConfig.checkpoint_epochs``.

Every file is written to a temporary file in ``out_dir`` and moved into place with ``os.replace``,
``last.pt`` last: an interrupted run resumes from the last epoch whose ``last.pt`` was complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from .config import TrainConfig
from .history import CURVES, History

LAST = "last.pt"
HISTORY = "history.json"
_FORMAT = "interprim.train.last/1"


def epoch_path(out_dir: str | os.PathLike, epoch: int) -> Path:
    """Path of the model state dict kept after ``epoch`` (see ``TrainConfig.checkpoint_epochs``)."""
    return Path(out_dir) / f"epoch_{epoch}.pt"


def load_model_state(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a model state dict written by the trainer (``epoch_{k}.pt``), with ``weights_only=True``."""
    return torch.load(Path(path), map_location=device, weights_only=True)


def save_epoch(out_dir: Path, epoch: int, model: torch.nn.Module) -> None:
    """Write ``out_dir/epoch_{epoch}.pt`` (the model state dict) atomically."""
    _atomic(epoch_path(out_dir, epoch), lambda f: torch.save(model.state_dict(), f))


def save_history(out_dir: Path, history: History) -> None:
    """Write ``out_dir/history.json`` atomically (strict JSON)."""
    text = json.dumps(history.to_dict(), allow_nan=False)
    _atomic(out_dir / HISTORY, lambda f: f.write(text.encode()))


def save_last(out_dir: Path, state: dict[str, Any]) -> None:
    """Write ``out_dir/last.pt`` atomically; ``state`` as built by the trainer (see the module docstring)."""
    state = {**state, "format": _FORMAT, "history": _history_tensors(state["history"])}
    _atomic(out_dir / LAST, lambda f: torch.save(state, f))


def load_last(out_dir: Path) -> dict[str, Any] | None:
    """The state saved in ``out_dir/last.pt`` (tensors on the CPU), or ``None`` when there is none."""
    path = out_dir / LAST
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a foreign or corrupt file: say which and why
        raise ValueError(f"{path} cannot be read as a training checkpoint ({type(e).__name__}: {e}).") from None
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a checkpoint written by interprim.train (format {_FORMAT!r} expected).")
    state["config"] = TrainConfig.from_dict(state["config"])
    state["history"] = History(**{k: v.numpy() for k, v in state["history"].items()})
    return state


def check_resumable(saved: TrainConfig, config: TrainConfig, done: int, path: Path) -> None:
    """Raise ``ValueError`` unless ``config`` continues the run saved in ``path`` after ``done`` epochs.

    Every field that shapes the trajectory must match. ``device`` may differ. ``epochs`` may differ
    only under ``lr_schedule="none"`` (the cosine schedule depends on it) and not below ``done``.
    ``checkpoint_epochs`` may differ only after ``done``: epochs already trained cannot be kept anew.
    """
    a, b = saved.to_dict(), config.to_dict()
    free = {"device", "epochs", "checkpoint_epochs"}
    diff = [f"{k}: saved {a[k]!r}, now {b[k]!r}" for k in a if k not in free and a[k] != b[k]]
    if saved.epochs != config.epochs and config.lr_schedule != "none":
        diff.append(
            f"epochs: saved {saved.epochs}, now {config.epochs} (the {config.lr_schedule} schedule depends on it)"
        )
    if config.epochs < done:
        diff.append(f"epochs: {done} already trained, now {config.epochs}")
    if [k for k in saved.checkpoint_epochs if k <= done] != [k for k in config.checkpoint_epochs if k <= done]:
        diff.append(
            f"checkpoint_epochs up to the {done} trained epochs: saved {list(saved.checkpoint_epochs)}, "
            f"now {list(config.checkpoint_epochs)}"
        )
    if diff:
        raise ValueError(
            f"{path} holds a run with a different config; use another out_dir or the saved config. "
            f"Differences: {'; '.join(diff)}."
        )


def _history_tensors(history: History) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(getattr(history, k))) for k in (*CURVES, "sample_loss")}


def _atomic(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
