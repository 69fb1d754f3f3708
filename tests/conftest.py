"""Fixtures shared by the solver tests: value vectors of real games from small CNNs on MNIST."""

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("INTERPRIM_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """Every test runs torch on one thread: the tensors are small, and two intra-op threads on a shared
    2-core CPU wait for each other (10× slower here); restored at the end."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def mnist_games():
    """``(2, 4, 2**6)`` log-odds games of two LeNets (seeds 0 and 1) on 4 MNIST test digits, 6 foreground patches.

    Each LeNet is trained for one epoch on 2000 images of ``../shared/data/mnist``; the games use
    later images, so they are test samples. Skips when the data folder is absent.
    """
    from interprim.data import load_mnist
    from interprim.games import foreground_values
    from interprim.nn import build
    from interprim.train import TrainConfig, train

    if not (SHARED / "mnist").is_dir():
        pytest.skip(f"shared MNIST folder {SHARED / 'mnist'} is absent (set INTERPRIM_SHARED_DATA to the data folder)")
    data = load_mnist(SHARED / "mnist", split="test")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        models = []
        for seed in (0, 1):
            model = build("lenet", in_channels=1, input_size=28, seed=seed)
            config = TrainConfig(epochs=1, lr=0.05, batch_size=64, seed=seed)
            train(model, (data.images[:2000], data.labels[:2000]), None, config, progress=False)
            models.append(model.eval())
        values, _ = foreground_values(models, data.images[5000:], data.labels[5000:], n=6, count=4)
    finally:
        torch.set_num_threads(threads)
    return values.numpy()
