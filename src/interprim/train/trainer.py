"""The trainer: SGD with momentum on the cross-entropy, optional one-step PGD, per-sample losses (SPEC §6)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ._data import TensorData, as_pair, logits_of
from .attack import _pgd_step
from .checkpoint import LAST, check_resumable, load_last, save_epoch, save_history, save_last
from .config import TrainConfig
from .evaluation import evaluate_data
from .history import CURVES, History


def train(
    model: torch.nn.Module,
    train_data: tuple[Any, torch.Tensor],
    test_data: tuple[Any, torch.Tensor] | None,
    config: TrainConfig,
    out_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` in place on ``train_data`` and return its :class:`History`.

    ``train_data`` and ``test_data`` are pairs ``(inputs, labels)``: ``inputs`` a tensor, or a tuple of
    tensors passed as the model's positional arguments (e.g. ``(input_ids, attention_mask)``), and
    ``labels`` int64 class indices; images are in ``[0, 1]`` pixel units. The model returns logits or an
    object with ``.logits``. ``test_data=None`` records NaN test curves. The model is moved to
    ``config.device``; only parameters with ``requires_grad`` are trained (frozen layers stay fixed).

    Each epoch: shuffle with a ``torch.Generator`` seeded by ``config.seed``; for every mini-batch, with
    ``config.adversarial`` replace the inputs by ``pgd_step(model, x, y, ε, step)`` (eval mode, see
    :func:`~interprim.train.pgd_step`); then one step of ``config.optimizer`` (SGD with momentum, or
    AdamW) on the mean cross-entropy with the learning rate ``config.learning_rate(epoch, step, steps)``.
    Right-padded text (a second input that is a 0/1 attention mask) is cut in every batch to the
    longest sentence of the batch (dynamic padding; the outputs on real tokens do not change). At the end of the epoch the
    model is evaluated in eval mode on the **clean** training inputs — giving ``train_loss``,
    ``train_acc`` and the loss of every training sample, ``sample_loss[epoch]`` — and on the test set.

    Randomness: every random draw comes from the run's generator. Each epoch draws a seed from it for
    the global torch RNG (dropout, …) and runs inside ``torch.random.fork_rng``, so the caller's global
    RNG state is left unchanged and the same seed and initial model give identical weights on the CPU.
    On a GPU the result is deterministic only as far as its kernels are.

    With ``out_dir``, every epoch writes ``last.pt``, ``history.json`` and ``epoch_{k}.pt`` for ``k`` in
    ``config.checkpoint_epochs`` (see :mod:`interprim.train.checkpoint`). When ``out_dir/last.pt``
    exists, the run resumes from it: the model's weights are replaced by the saved ones and training
    continues to ``config.epochs``, ending with the same weights as an uninterrupted run. A config or
    data that does not match the saved run raises ``ValueError``.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}; build one with TrainConfig(...).")
    data = as_pair("train_data", train_data)
    test = None if test_data is None else as_pair("test_data", test_data)
    if config.adversarial:
        _check_adversarial(data)
    device = _device(config.device)
    model.to(device)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("model has no parameter with requires_grad=True; there is nothing to train.")
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adamw":
        optimizer: torch.optim.Optimizer = _adamw(params, config)
    else:
        optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    fingerprints = {"train": data.fingerprint(), "test": "" if test is None else test.fingerprint()}
    curves: dict[str, list[float]] = {name: [] for name in CURVES}
    sample_loss: list[np.ndarray] = []
    start = 0
    out = None if out_dir is None else Path(out_dir)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        saved = load_last(out)
        if saved is None:
            if 0 in config.checkpoint_epochs:
                save_epoch(out, 0, model)
        else:
            start = _restore(saved, config, fingerprints, trainable, model, optimizer, generator, out / LAST)
            for name in CURVES:
                curves[name] = getattr(saved["history"], name).tolist()
            sample_loss = list(saved["history"].sample_loss)

    history = _history(curves, sample_loss, data.n)
    bar = tqdm(
        range(start, config.epochs),
        total=config.epochs,
        initial=start,
        desc="train",
        unit="epoch",
        disable=not progress,
    )
    for epoch in bar:
        lr = config.learning_rate(epoch, 0, _steps(data.n, config.batch_size))
        seed = int(torch.randint(0, 2**63 - 1, (), generator=generator))
        order = torch.randperm(data.n, generator=generator)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            _seed_global(seed, device)
            fit_loss, fit_acc = _fit_epoch(model, optimizer, data, order, config, device, epoch)
            clean = evaluate_data(model, data, config.batch_size, device)
            test_loss, test_acc = (
                (math.nan, math.nan) if test is None else evaluate_data(model, test, config.batch_size, device)[:2]
            )
        if not (math.isfinite(fit_loss) and math.isfinite(clean.loss)):
            raise FloatingPointError(
                f"training diverged in epoch {epoch + 1}: the loss is {fit_loss} (mini-batches) / "
                f"{clean.loss} (clean); lower lr (now {config.lr})."
            )
        for name, value in zip(CURVES, (clean.loss, clean.acc, test_loss, test_acc, fit_loss, fit_acc, lr)):
            curves[name].append(value)
        sample_loss.append(clean.per_sample_loss)
        history = _history(curves, sample_loss, data.n)
        if out is not None:
            if epoch + 1 in config.checkpoint_epochs:
                save_epoch(out, epoch + 1, model)
            save_history(out, history)
            save_last(
                out,
                {
                    "config": config.to_dict(),
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                    "history": history,
                    "trainable": trainable,
                    "data": fingerprints,
                },
            )
        bar.set_postfix(
            loss=f"{clean.loss:.4f}", acc=f"{clean.acc:.3f}", test_loss=f"{test_loss:.4f}", test_acc=f"{test_acc:.3f}"
        )
    return history


def _fit_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data: TensorData,
    order: torch.Tensor,
    config: TrainConfig,
    device: torch.device,
    epoch: int,
) -> tuple[float, float]:
    """One pass of the optimiser over the mini-batches of ``order`` (the learning rate of every step from
    ``config.learning_rate``); the mean loss and accuracy of those batches."""
    model.train()
    total = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    steps = _steps(data.n, config.batch_size)
    for step, index in enumerate(order.split(config.batch_size)):
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate(epoch, step, steps)
        x, y = data.take(index, device)
        if config.adversarial:
            x = (_pgd_step(model, x[0], y, config.epsilon, config.step, data.max_label),)
        logits = logits_of(model, x, data.max_label).float()
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(y)
        correct += (logits.detach().argmax(dim=1) == y).sum()
    return float(total) / data.n, int(correct) / data.n


def _restore(
    saved: dict[str, Any],
    config: TrainConfig,
    fingerprints: dict[str, str],
    trainable: list[str],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    path: Path,
) -> int:
    """Load the run saved in ``path`` into model, optimiser and generator; the number of epochs done."""
    done = int(saved["epoch"])
    check_resumable(saved["config"], config, done, path)
    for part in ("train", "test"):
        if saved["data"][part] != fingerprints[part]:
            raise ValueError(
                f"{path} was trained on different {part} data than the {part}_data given now; "
                f"resume with the same data or use another out_dir."
            )
    if saved["trainable"] != trainable:
        raise ValueError(
            f"{path} was trained with the trainable parameters {saved['trainable']}, but the model now has "
            f"{trainable}; freeze the same layers as in the saved run."
        )
    try:
        model.load_state_dict(saved["model"])
    except RuntimeError as e:
        raise ValueError(f"{path} holds the weights of a different model: {e}") from None
    optimizer.load_state_dict(saved["optimizer"])
    generator.set_state(saved["generator"])
    return done


def _adamw(params: list[torch.nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW, fused where this torch build has the fused kernel for the device (about 7x faster on a CPU)."""
    try:
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError):  # torch < 2.4 has no fused AdamW on the CPU
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def _steps(n: int, batch_size: int) -> int:
    """Optimiser steps per epoch: mini-batches of ``batch_size`` over ``n`` samples."""
    return -(-n // batch_size)


def _history(curves: dict[str, list[float]], sample_loss: list[np.ndarray], n: int) -> History:
    rows = np.stack(sample_loss) if sample_loss else np.zeros((0, n))
    return History(**curves, sample_loss=rows)


def _check_adversarial(data: TensorData) -> None:
    if not data.is_float_image:
        kinds = ", ".join(str(t.dtype) for t in data.inputs)
        raise ValueError(
            f"adversarial=True needs a single floating-point input tensor of images in [0, 1], but train_data "
            f"has {len(data.inputs)} input tensor(s) of dtype {kinds}; for text or other integer inputs train "
            f"with adversarial=False."
        )
    x = data.inputs[0]
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 1:
        raise ValueError(
            f"adversarial training works in [0, 1] pixel units, but train_data inputs lie in [{low:.4g}, {high:.4g}]; "
            f"pass unnormalised images and put the normalisation inside the model."
        )


def _device(name: str) -> torch.device:
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"config.device is {name!r} but CUDA is not available here; use device='cpu'.")
    return device


def _seed_global(seed: int, device: torch.device) -> None:
    """Seed the global CPU RNG, and that of ``device`` when it is a CUDA device (inside ``fork_rng``)."""
    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":
        with torch.cuda.device(device):
            torch.cuda.manual_seed(seed)
