"""Training a causal language model on sentences: next-token cross-entropy (P2's Task 2 at a size that trains here)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import TrainConfig
from .trainer import _adamw, _device, _seed_global, _steps

IGNORE = -100  # label of the positions that are not predicted (padding)


@dataclass(frozen=True)
class LanguageScores:
    """``loss``: mean next-token cross-entropy (nats per token); ``accuracy``: fraction of next tokens
    that are the model's most likely token."""

    loss: float
    accuracy: float


def train_causal_lm(
    model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, config: TrainConfig
) -> None:
    """Train ``model`` in place to predict every next token of right-padded sentences.

    The loss of a batch is the mean over its real positions ``t ≥ 1`` of ``−log p(x_t | x_<t)`` (padding
    ignored). Each epoch shuffles
    with a generator seeded by ``config.seed``; every batch is cut to its longest sentence; the
    optimiser is AdamW (``config.optimizer`` must be ``"adamw"``) with ``config.learning_rate`` per
    step. The global random state (dropout) is seeded per epoch from the same generator inside
    ``torch.random.fork_rng``, so a seed and an initial model give the same weights on the CPU.
    """
    if config.optimizer != "adamw":
        raise ValueError(f"train_causal_lm: config.optimizer must be 'adamw', got {config.optimizer!r}.")
    ids, mask = _check(input_ids, attention_mask)
    device = _device(config.device)
    model.to(device)
    optimizer = _adamw([p for p in model.parameters() if p.requires_grad], config)
    generator = torch.Generator().manual_seed(config.seed)
    steps = _steps(len(ids), config.batch_size)
    for epoch in range(config.epochs):
        seed = int(torch.randint(0, 2**63 - 1, (), generator=generator))
        order = torch.randperm(len(ids), generator=generator)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            _seed_global(seed, device)
            model.train()
            for step, index in enumerate(order.split(config.batch_size)):
                for group in optimizer.param_groups:
                    group["lr"] = config.learning_rate(epoch, step, steps)
                x, m = _batch(ids, mask, index, device)
                logits = model(input_ids=x, attention_mask=m).logits[:, :-1].float()
                loss = F.cross_entropy(logits.transpose(1, 2), _targets(x, m), ignore_index=IGNORE)
                if not torch.isfinite(loss):
                    raise ValueError(f"train_causal_lm: the loss is {float(loss)} in epoch {epoch + 1}; lower lr "
                                     f"(now {config.lr}).")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    model.eval()


@torch.no_grad()
def score_causal_lm(
    model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, batch_size: int = 256
) -> LanguageScores:
    """Next-token cross-entropy and top-1 accuracy of ``model`` (eval mode) over all real positions ``t ≥ 1``."""
    ids, mask = _check(input_ids, attention_mask)
    device = next(model.parameters()).device
    model.eval()
    total = correct = count = 0.0
    for index in torch.arange(len(ids)).split(batch_size):
        x, m = _batch(ids, mask, index, device)
        logits = model(input_ids=x, attention_mask=m).logits[:, :-1].float()
        target = _targets(x, m)
        real = target != IGNORE
        total += float(F.cross_entropy(logits.transpose(1, 2), target, ignore_index=IGNORE, reduction="sum"))
        correct += float((logits.argmax(-1) == target)[real].sum())
        count += float(real.sum())
    return LanguageScores(loss=total / max(count, 1.0), accuracy=correct / max(count, 1.0))


def _check(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(input_ids, torch.Tensor) and isinstance(attention_mask, torch.Tensor)):
        raise TypeError("input_ids and attention_mask must be torch tensors (a tokenizer's return_tensors='pt').")
    if input_ids.ndim != 2 or input_ids.shape != attention_mask.shape or len(input_ids) == 0:
        raise ValueError(f"input_ids and attention_mask must have one same shape (N, L) with N >= 1, got "
                         f"{tuple(input_ids.shape)} and {tuple(attention_mask.shape)}.")
    return input_ids.long(), attention_mask.long()


def _batch(ids: torch.Tensor, mask: torch.Tensor, index: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, ...]:
    """The sentences ``index``, cut to the longest of them (right padding), on ``device``."""
    m = mask[index]
    length = int(m.sum(1).max())
    return ids[index, :length].to(device), m[:, :length].to(device)


def _targets(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """The next token of every position but the last, ``IGNORE`` where it is padding."""
    return x[:, 1:].masked_fill(m[:, 1:] == 0, IGNORE)
