"""The :class:`History` of a training run: per-epoch curves and per-sample training losses (SPEC §6)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

_FORMAT = "interprim.History/1"
CURVES = ("train_loss", "train_acc", "test_loss", "test_acc", "fit_loss", "fit_acc", "lr")


@dataclass(eq=False)
class History:
    """What :func:`~interprim.train.train` records, one entry per epoch (float64 numpy arrays).

    - ``train_loss``, ``train_acc``: mean cross-entropy and accuracy on the clean training set, with the
      model in eval mode at the end of the epoch (``train_loss[e] == sample_loss[e].mean()``);
    - ``test_loss``, ``test_acc``: the same on the test set (NaN when the run had no test data);
    - ``fit_loss``, ``fit_acc``: mean over the epoch's mini-batches of the loss and accuracy that the
      optimiser saw (train mode, on the adversarial inputs when training is adversarial);
    - ``lr``: the learning rate of each epoch;
    - ``sample_loss``: shape ``(epochs, N)``, the cross-entropy of every training sample, clean and in
      eval mode at the end of each epoch. The hard samples of P1 (fn. 9, App. F.4) are those with the
      highest loss averaged over epochs: :meth:`hard_samples`.
    """

    train_loss: Any
    train_acc: Any
    test_loss: Any
    test_acc: Any
    fit_loss: Any
    fit_acc: Any
    lr: Any
    sample_loss: Any

    def __post_init__(self) -> None:
        for name in CURVES:
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.ndim != 1:
                raise ValueError(f"History.{name} must be one value per epoch (1-D), got shape {value.shape}.")
            setattr(self, name, value)
        epochs = len(self.train_loss)
        for name in CURVES:
            if len(getattr(self, name)) != epochs:
                raise ValueError(
                    f"History.{name} has {len(getattr(self, name))} epochs but train_loss has {epochs}."
                )
        sample_loss = np.asarray(self.sample_loss, dtype=np.float64)
        if epochs == 0 and sample_loss.size == 0:
            sample_loss = sample_loss.reshape(0, 0)
        if sample_loss.ndim != 2 or sample_loss.shape[0] != epochs:
            raise ValueError(
                f"History.sample_loss must have shape (epochs={epochs}, N), got {sample_loss.shape}."
            )
        self.sample_loss = sample_loss

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.train_loss)

    @property
    def n_samples(self) -> int:
        """Number of training samples ``N``."""
        return self.sample_loss.shape[1]

    def mean_sample_loss(self) -> np.ndarray:
        """Per-sample training loss averaged over the recorded epochs, shape ``(N,)`` (P1 fn. 9)."""
        if self.epochs == 0:
            raise ValueError("this History records no epoch; there is no loss to average.")
        return self.sample_loss.mean(axis=0)

    def hard_samples(self, k: int) -> np.ndarray:
        """Indices of the ``k`` training samples with the highest mean loss over epochs, hardest first.

        Ties are broken by the lower index. P1 (fn. 9, App. F.4) calls these the hard samples.
        """
        mean = self.mean_sample_loss()
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(mean):
            raise ValueError(f"k must be an integer in [1, N={len(mean)}], got {k!r}.")
        return np.argsort(-mean, kind="stable")[:k]

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON dict (lists of floats; NaN written as ``None``); :meth:`from_dict` reads it back."""
        out: dict[str, Any] = {"format": _FORMAT}
        for name in (*CURVES, "sample_loss"):
            out[name] = _nan_to_none(getattr(self, name).tolist())
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Rebuild from :meth:`to_dict` output."""
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            found = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"not an interprim History record: format is {found!r}, expected {_FORMAT!r}.")
        names = [f.name for f in fields(cls)]
        missing = [name for name in names if name not in d]
        if missing:
            raise ValueError(f"History record lacks the fields {missing}.")
        return cls(**{name: _none_to_nan(d[name]) for name in names})


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, list):
        return [_nan_to_none(v) for v in x]
    return None if math.isnan(x) else x


def _none_to_nan(x: Any) -> Any:
    if isinstance(x, list):
        return [_none_to_nan(v) for v in x]
    return math.nan if x is None else x
