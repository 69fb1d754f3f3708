"""Fixtures shared by the tests: one torch thread (and a thread count a test may set), value vectors of
real games from small CNNs on MNIST, and a small synthetic SST-2 folder for the text experiments."""

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


@pytest.fixture
def threads():
    """Set torch's thread count for a test (``threads(k)``) and restore it after."""
    previous = torch.get_num_threads()
    yield torch.set_num_threads
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


SST2_GOOD = "good great lovely superb charming moving fresh funny wonderful brilliant".split()
SST2_BAD = "bad awful dull boring tedious flat stale clumsy lifeless weak".split()
SST2_NOUNS = "movie film plot acting story cast script music ending direction".split()


def _sst2_rows(rng, count):
    rows = []
    for _ in range(count):
        label = int(rng.integers(2))
        words = list(rng.choice(SST2_GOOD if label else SST2_BAD, size=2))
        words += list(rng.choice(SST2_NOUNS, size=int(rng.integers(1, 4))))
        rng.shuffle(words)
        rows.append((label, "the " + " and ".join(words) + " ."))
    return rows


@pytest.fixture(scope="session")
def sst2(tmp_path_factory):
    """A folder in SST-2's format whose labels follow the sentiment words: train.tsv (``sentence``, ``label``,
    400 rows) and test.tsv (``label``, ``content``, 40 rows plus two without 3 words with meaning, rows 40-41)."""
    import numpy as np

    folder = tmp_path_factory.mktemp("sst2")
    rng = np.random.default_rng(0)
    train = _sst2_rows(rng, 400)
    (folder / "train.tsv").write_text("sentence\tlabel\n" + "".join(f"{s}\t{y}\n" for y, s in train))
    test = _sst2_rows(rng, 40) + [(1, "the film ."), (0, "and the .")]
    (folder / "test.tsv").write_text("label\tcontent\n" + "".join(f"{y}\t{s}\n" for y, s in test))
    return str(folder)
