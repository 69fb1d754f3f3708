"""The trained models of P1's experiments as pure task functions (SPEC §6, P1 App. F.1, F.4-F.5).

A model is described by JSON-able parameters with **one seed per role**, so that two models can
differ in exactly one of them: ``init_seed`` (the initial weights of every layer that is not copied
from a donor), ``data_seed`` (the order of the training samples and every random draw of training),
``subset`` (which training samples) and the donor of the first ``shared_layers`` layers.
:func:`train_model` trains such a model on the embedded MNIST-10k and returns its weights and
accuracies as arrays, the form the experiment store keeps; :func:`load_model` rebuilds it.

Training subsets: ``"all"`` (the whole MNIST-10k train split), ``"half0"`` / ``"half1"`` (two disjoint
random subsets of ``subset_size`` images, P1's "different data", SPEC §6), or ``"first:K"`` (the first
``K`` images).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ..data import disjoint_subsets, load_mnist10k
from ..nn import build, copy_layers, freeze_layers
from ..train import TrainConfig, evaluate, train

#: the seed of the split of the training data into the two disjoint halves (fixed, so both halves
#: are the same sets in every experiment)
SUBSET_SEED = 12345
_ACCURACY = "accuracy"


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
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """Train a zoo model on MNIST-10k and return its ``state_dict`` as numpy arrays plus ``accuracy``.

    With ``donor`` (the arrays of a model of architecture ``donor_arch``, e.g. an earlier task's
    result) the first ``shared_layers`` layers
    (:func:`interprim.nn.layers`) are copied from it before training (P1 App. F.5, "same low-layer
    parameters") and, with ``freeze``, kept fixed while the upper layers train (P1 §3.2).
    Adversarial training is one-step ℓ∞ PGD with ``ε = α = 4/255`` (SPEC §6). ``accuracy``
    holds ``[train accuracy, test accuracy]`` on the clean images after training.
    """
    train_data, test_data = load_mnist10k("train"), load_mnist10k("test")
    train_data = train_data.subset(subset_indices(subset, len(train_data), subset_size))
    model = build_model(arch, seed=init_seed)
    if shared_layers:
        if donor is None or donor_arch is None:
            raise ValueError(f"shared_layers={shared_layers} needs a donor model and its donor_arch to copy from.")
        copy_layers(model, load_model(donor_arch, donor), shared_layers)
        if freeze:
            freeze_layers(model, shared_layers)
    config = TrainConfig(
        epochs=epochs, lr=lr, batch_size=batch_size, adversarial=adversarial, seed=data_seed, device=device
    )
    train(model, train_data.tensors(), None, config, progress=False)
    model.eval()
    accuracy = [evaluate(model, *data.tensors(), batch_size=256).acc for data in (train_data, test_data)]
    state = {name: tensor.detach().cpu().numpy() for name, tensor in model.state_dict().items()}
    state[_ACCURACY] = np.asarray(accuracy, dtype=np.float64)
    return state


def accuracy(state: Mapping[str, np.ndarray]) -> dict[str, float]:
    """``{"train": ..., "test": ...}``: the accuracies stored by :func:`train_model`."""
    train_acc, test_acc = np.asarray(state[_ACCURACY], dtype=np.float64).tolist()
    return {"train": train_acc, "test": test_acc}


def build_model(arch: str, seed: int = 0, device: str = "cpu") -> torch.nn.Module:
    """A zoo model for MNIST-10k images (``1 × 28 × 28``, 10 classes) with initial weights from ``seed``."""
    return build(arch, in_channels=1, input_size=28, seed=seed, device=device)


def load_model(arch: str, state: Mapping[str, np.ndarray], device: str = "cpu") -> torch.nn.Module:
    """Rebuild a model of :func:`train_model` from its arrays, in eval mode."""
    model = build_model(arch, device=device)
    weights = {name: torch.as_tensor(np.asarray(value)) for name, value in state.items() if name != _ACCURACY}
    model.load_state_dict(weights)
    return model.eval()
