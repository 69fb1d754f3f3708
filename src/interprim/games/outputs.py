"""Scalar outputs of a classifier: the ``v(x)`` a game reports for each masked sample (SPEC §1).

An output is a callable ``output(logits, target) -> values``: ``logits`` a ``(B, C)`` float tensor
(``C = 1`` for a binary classifier with a single logit), ``target`` a class index, ``values`` a
``(B,)`` tensor. Games accept ``output="log_odds"`` (the default of both papers), ``"logit"`` or
such a callable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

Output = Callable[[torch.Tensor, int], torch.Tensor]


def check_target(target: Any, n_columns: int) -> int:
    """Return ``target`` as an ``int`` when it is a class of a ``C = n_columns`` output (0 or 1 when ``C = 1``)."""
    classes = max(2, n_columns)
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, (int, np.integer)) or not 0 <= target < classes:
        raise ValueError(
            f"target must be a class index in 0..{classes - 1} for a model output with {n_columns} "
            f"column(s), got {target!r}."
        )
    return int(target)


def _check_logits(logits: torch.Tensor, target: int) -> None:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a (B, C) tensor, got {shape}.")
    check_target(target, logits.shape[1])


def log_odds(logits: torch.Tensor, target: int) -> torch.Tensor:
    """Log-odds of the target class, ``log p(y|x) / (1 − p(y|x)) = z_y − logsumexp_{c≠y} z_c`` (SPEC §1).

    Computed from the logits directly (never through ``softmax`` and a difference of
    probabilities), so it stays finite for logits of any size. With a single logit ``z`` (a
    sigmoid classifier, ``C = 1``) the log-odds are ``z`` for ``target = 1`` and ``−z`` for ``0``.
    """
    _check_logits(logits, target)
    if logits.shape[1] == 1:
        return logits[:, 0] if target == 1 else -logits[:, 0]
    others = torch.ones(logits.shape[1], dtype=torch.bool, device=logits.device)
    others[target] = False
    return logits[:, target] - torch.logsumexp(logits[:, others], dim=1)


def target_logit(logits: torch.Tensor, target: int) -> torch.Tensor:
    """The target class's logit ``z_y`` (SPEC §1); with a single logit ``z``: ``z`` for target 1, ``−z`` for 0."""
    _check_logits(logits, target)
    if logits.shape[1] == 1:
        return logits[:, 0] if target == 1 else -logits[:, 0]
    return logits[:, target]


def select(index: int) -> Output:
    """An output that reports column ``index`` of the model's output whatever the target (a raw scalar output)."""
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
        raise ValueError(f"index must be an integer column of the model's output, got {index!r}.")

    def column(logits: torch.Tensor, target: int) -> torch.Tensor:
        if not -logits.shape[1] <= index < logits.shape[1]:
            raise ValueError(f"select({index}): the model's output has only {logits.shape[1]} columns.")
        return logits[:, index]

    column.__name__ = f"select({index})"
    return column


_NAMED: dict[str, Output] = {"log_odds": log_odds, "logit": target_logit}


def resolve_output(output: Any) -> Output:
    """The output callable for ``"log_odds"``, ``"logit"`` or a callable ``(logits, target) -> (B,)``."""
    if callable(output):
        return output
    if isinstance(output, str) and output in _NAMED:
        return _NAMED[output]
    raise ValueError(
        f"output must be 'log_odds', 'logit' or a callable (logits, target) -> values, got {output!r}; "
        f"use interprim.games.select(i) for a raw output column."
    )


def predicted_class(logits: torch.Tensor) -> int:
    """The predicted class of one sample's logits ``(1, C)``: the argmax, or ``z > 0`` for a single logit."""
    if logits.shape[1] == 1:
        return int(logits[0, 0] > 0)
    return int(torch.argmax(logits[0]))
