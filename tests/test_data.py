"""Tests of :mod:`interprim.data`: IDX/MNIST/CIFAR-10/SST-2 readers, the embedded MNIST-10k, subsets.

Fake files are written here byte by byte from the format descriptions (struct, explicit loops),
independently of the readers. Tests on the real files in the shared data folder skip when it is
absent.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import struct
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch

from interprim.data import (
    CIFAR10_CLASSES,
    ImageData,
    TextData,
    binary_task,
    corrupt_labels,
    disjoint_subsets,
    load_cifar10,
    load_mnist,
    load_mnist10k,
    load_sst2,
    mnist10k_info,
    read_idx,
    stratified_split,
)

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("INTERPRIM_SHARED_DATA", REPO.parent / "shared" / "data"))
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # from the data README


def shared(sub: str) -> Path:
    path = SHARED / sub
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} is absent (set INTERPRIM_SHARED_DATA to the data folder)")
    return path


# --- IDX ------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray, code: int, big_endian_format: str) -> bytes:
    """IDX file content written from the format description with struct."""
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    body = b"".join(struct.pack(big_endian_format, x) for x in array.reshape(-1).tolist())
    return header + body


@pytest.mark.parametrize(
    "code, dtype, fmt",
    [(0x08, np.uint8, ">B"), (0x09, np.int8, ">b"), (0x0B, np.int16, ">h"), (0x0C, np.int32, ">i"),
     (0x0D, np.float32, ">f"), (0x0E, np.float64, ">d")],
)
@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_all_types(tmp_path, code, dtype, fmt, compressed):
    rng = np.random.default_rng(code)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=(3, 4, 5), endpoint=True).astype(dtype)
    else:
        array = rng.normal(size=(3, 4, 5)).astype(dtype)
    content = idx_bytes(array, code, fmt)
    path = tmp_path / ("a.idx.gz" if compressed else "a.idx")
    path.write_bytes(gzip.compress(content) if compressed else content)
    got = read_idx(path)
    assert got.shape == (3, 4, 5) and got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, array)
    got[0, 0, 0] = 0  # a writable array of its own


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x00\x00", "shorter than the 4-byte magic"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "does not start with two zero bytes"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x02" + struct.pack(">I", 2), "shorter than its 12-byte header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 4) + b"\x01\x02\x03", "truncated"),
        (b"\x00\x00\x0c\x01" + struct.pack(">I", 1) + b"\x00" * 5, "longer than its header says"),
    ],
)
def test_read_idx_rejects_bad_files(tmp_path, content, message):
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as raised:
        read_idx(path)
    assert str(path) in str(raised.value)


def test_read_idx_damaged_gzip_and_missing(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 100) + bytes(100))[:-10])
    with pytest.raises(ValueError, match="damaged gzip"):
        read_idx(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_idx(tmp_path / "nothing")


# --- MNIST ----------------------------------------------------------------------------------


def write_fake_mnist(directory: Path, prefix: str, images: np.ndarray, labels: np.ndarray, gz: bool) -> None:
    for kind, array, code in (("images-idx3-ubyte", images, 0x08), ("labels-idx1-ubyte", labels, 0x08)):
        content = idx_bytes(array, code, ">B")
        name = f"{prefix}-{kind}" + (".gz" if gz else "")
        (directory / name).write_bytes(gzip.compress(content) if gz else content)


def test_load_mnist_fake_files(tmp_path):
    rng = np.random.default_rng(0)
    test_images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    test_labels = np.array([3, 0, 9, 3, 1], dtype=np.uint8)
    train_images = rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    train_labels = np.array([7, 7, 2, 5], dtype=np.uint8)
    write_fake_mnist(tmp_path, "t10k", test_images, test_labels, gz=True)
    write_fake_mnist(tmp_path, "train", train_images, train_labels, gz=False)
    for split, images, labels in (("test", test_images, test_labels), ("train", train_images, train_labels)):
        data = load_mnist(tmp_path, split)
        assert isinstance(data, ImageData) and len(data) == len(labels)
        assert data.images.dtype == torch.float32 and data.images.shape == (len(labels), 1, 28, 28)
        assert data.labels.dtype == torch.int64 and data.labels.tolist() == labels.tolist()
        assert data.classes == tuple("0123456789")
        for n, r, c in ((0, 0, 0), (len(labels) - 1, 27, 27), (1, 13, 5)):
            assert data.images[n, 0, r, c].item() == pytest.approx(images[n, r, c] / 255.0, abs=1e-7)


def test_load_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz"):
        load_mnist(tmp_path, "test")
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, "validation")
    write_fake_mnist(tmp_path, "t10k", np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.uint8), gz=False)
    with pytest.raises(ValueError, match="3 images but .* 2 labels"):
        load_mnist(tmp_path, "test")
    write_fake_mnist(tmp_path, "train", np.zeros((2, 28, 28), np.uint8), np.array([1, 12], np.uint8), gz=False)
    with pytest.raises(ValueError, match="label 12"):
        load_mnist(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        (tmp_path / "train-labels-idx1-ubyte").unlink()
        load_mnist(tmp_path, "train")


def test_load_mnist_real_test_split():
    data = load_mnist(shared("mnist"), "test")
    assert len(data) == 10000 and data.images.shape == (10000, 1, 28, 28)
    assert np.bincount(data.labels.numpy(), minlength=10).tolist() == MNIST_TEST_COUNTS
    assert float(data.images.min()) == 0.0 and float(data.images.max()) == 1.0


# --- embedded MNIST-10k -----------------------------------------------------------------------


def embedded_npz() -> dict[str, np.ndarray]:
    with resources.files("interprim.data").joinpath("mnist10k.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}


def test_embedded_file_size_and_split():
    path = resources.files("interprim.data").joinpath("mnist10k.npz")
    assert 1.0e6 < len(path.read_bytes()) < 2.5e6
    raw = embedded_npz()
    labels = raw["labels"]
    assert raw["images"].shape == (10000, 28, 28) and raw["images"].dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == MNIST_TEST_COUNTS
    train, test = raw["train_indices"], raw["test_indices"]
    assert len(train) == 8000 and len(test) == 2000
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert np.array_equal(np.union1d(train, test), np.arange(10000))
    per_class = np.bincount(labels[test], minlength=10)
    quota = 0.2 * np.array(MNIST_TEST_COUNTS)
    assert np.all(np.abs(per_class - quota) < 1)  # stratified: each class within rounding of 20 %
    info = mnist10k_info()
    assert info["split"] == {"rule": "interprim.data.stratified_split", "test_size": 2000, "seed": 0}


def test_load_mnist10k_splits():
    raw = embedded_npz()
    every = load_mnist10k("all")
    assert len(every) == 10000 and every.labels.tolist() == raw["labels"].tolist()
    for split, size in (("train", 8000), ("test", 2000)):
        data = load_mnist10k(split)
        index = raw[f"{split}_indices"]
        assert len(data) == size and data.images.shape == (size, 1, 28, 28)
        assert torch.equal(data.images, every.images[torch.from_numpy(index)])
        assert torch.equal(data.labels, every.labels[torch.from_numpy(index)])
    with pytest.raises(ValueError, match="split"):
        load_mnist10k("dev")


def test_embedded_mnist10k_equals_idx_files():
    data = load_mnist(shared("mnist"), "test")
    every = load_mnist10k("all")
    assert torch.equal(every.images, data.images) and torch.equal(every.labels, data.labels)


def test_make_mnist10k_is_reproducible(tmp_path):
    source = shared("mnist")
    spec = importlib.util.spec_from_file_location("make_mnist10k", REPO / "scripts" / "make_mnist10k.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    script.main(["--source", str(source), "--output", str(first)])
    script.main(["--source", str(source), "--output", str(second)])
    assert first.read_bytes() == second.read_bytes()  # byte-identical reruns
    with np.load(first, allow_pickle=False) as npz:
        rebuilt = {name: npz[name] for name in npz.files}
    embedded = embedded_npz()
    assert sorted(rebuilt) == sorted(embedded)
    for name in rebuilt:
        np.testing.assert_array_equal(rebuilt[name], embedded[name], err_msg=name)


# --- CIFAR-10 ---------------------------------------------------------------------------------


def cifar_pixel(record: int, channel: int, row: int, col: int) -> int:
    return (31 * record + 7 * channel + 3 * row + 11 * col) % 256


def write_fake_cifar(directory: Path, name: str, labels: list[int], first: int) -> None:
    """Records of 1 label byte + 1024 red, 1024 green, 1024 blue bytes (rows of 32), from the format text."""
    out = bytearray()
    for k, label in enumerate(labels):
        out.append(label)
        for channel in range(3):
            for row in range(32):
                for col in range(32):
                    out.append(cifar_pixel(first + k, channel, row, col))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(bytes(out))


@pytest.fixture
def fake_cifar(tmp_path) -> Path:
    batches = tmp_path / "cifar-10-batches-bin"
    for i in range(1, 6):
        write_fake_cifar(batches, f"data_batch_{i}.bin", [i, (i * 3) % 10], first=2 * (i - 1))
    write_fake_cifar(batches, "test_batch.bin", [9, 0, 4], first=100)
    return tmp_path


def test_load_cifar10_fake_binary(fake_cifar):
    for directory in (fake_cifar, fake_cifar / "cifar-10-batches-bin"):
        train = load_cifar10(directory, "train")
        assert train.images.shape == (10, 3, 32, 32) and train.classes == CIFAR10_CLASSES
        assert train.labels.tolist() == [1, 3, 2, 6, 3, 9, 4, 2, 5, 5]
        test = load_cifar10(directory, "test")
        assert test.labels.tolist() == [9, 0, 4] and test.classes[9] == "truck"
        for data, first in ((train, 0), (test, 100)):
            for n, ch, r, c in ((0, 0, 0, 0), (1, 2, 31, 31), (2, 1, 5, 30), (len(data) - 1, 1, 17, 3)):
                expected = cifar_pixel(first + n, ch, r, c) / 255.0
                assert data.images[n, ch, r, c].item() == pytest.approx(expected, abs=1e-7)


def test_load_cifar10_errors(fake_cifar, tmp_path):
    batches = fake_cifar / "cifar-10-batches-bin"
    (batches / "data_batch_3.bin").unlink()
    with pytest.raises(FileNotFoundError, match="missing data_batch_3.bin"):
        load_cifar10(fake_cifar, "train")
    (batches / "test_batch.bin").write_bytes(bytes(3073 + 5))
    with pytest.raises(ValueError, match="3073-byte"):
        load_cifar10(fake_cifar, "test")
    write_fake_cifar(batches, "test_batch.bin", [10], first=0)
    with pytest.raises(ValueError, match="label 10"):
        load_cifar10(fake_cifar, "test")
    with pytest.raises(ValueError, match="split"):
        load_cifar10(fake_cifar, "valid")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cifar10(tmp_path / "nowhere")


def test_load_cifar10_refuses_python_version(tmp_path):
    pickled = tmp_path / "cifar-10-batches-py"
    pickled.mkdir()
    for name in ("data_batch_1", "test_batch", "batches.meta"):
        (pickled / name).write_bytes(b"\x80\x04not to be unpickled")
    for directory in (tmp_path, pickled):
        with pytest.raises(ValueError, match="python .pickle. version.*binary version"):
            load_cifar10(directory, "test")


# --- SST-2 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("split, rows", [("train", 67349), ("dev", 872), ("test", 1821)])
def test_load_sst2_real(split, rows):
    directory = shared("sst2")
    data = load_sst2(directory, split)
    assert isinstance(data, TextData) and len(data) == rows and data.labels.shape == (rows,)
    assert set(data.labels.tolist()) == {0, 1} and data.classes == ("negative", "positive")
    lines = (directory / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(lines) == rows
    expected = [line.split("\t") for line in lines]
    assert data.sentences == [text for _, text in expected]
    assert data.labels.tolist() == [int(label) for label, _ in expected]


def test_load_sst2_fake_files(tmp_path):
    (tmp_path / "dev.tsv").write_text(
        'label\tcontent\n1\the said " wow\n0\t"quoted at the start\n1\tends with a quote "\n', encoding="utf-8"
    )
    data = load_sst2(tmp_path, "dev")
    assert data.sentences == ['he said " wow', '"quoted at the start', 'ends with a quote "']
    assert data.labels.tolist() == [1, 0, 1]
    # the original GLUE column order (sentence first) is found by name
    (tmp_path / "train.tsv").write_text("sentence\tlabel\ngood film\t1\nbad film\t0\n", encoding="utf-8")
    train = load_sst2(tmp_path, "train")
    assert train.sentences == ["good film", "bad film"] and train.labels.tolist() == [1, 0]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty"),
        ("index\tsentence\n0\tx\n", "'label' column"),
        ("label\tcontent\n1\ta\tb\n", "line 2: 3 tab-separated fields"),
        ("label\tcontent\n1\tok\n2\tbad\n", "line 3: label '2'"),
    ],
)
def test_load_sst2_errors(tmp_path, content, message):
    (tmp_path / "test.tsv").write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_sst2(tmp_path, "test")


def test_load_sst2_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="dev.tsv"):
        load_sst2(tmp_path, "dev")
    with pytest.raises(ValueError, match="split"):
        load_sst2(tmp_path, "validation")


# --- containers -------------------------------------------------------------------------------


def test_image_data_subset_and_checks():
    images = torch.rand(6, 1, 4, 4)
    data = ImageData(images, torch.tensor([0, 1, 2, 0, 1, 2]), ("a", "b", "c"))
    part = data.subset([4, 0, 4])
    assert len(part) == 3 and part.labels.tolist() == [1, 0, 1] and part.classes == ("a", "b", "c")
    assert torch.equal(part.images[0], images[4]) and torch.equal(part.images[1], images[0])
    assert torch.equal(data.subset(np.array([5])).tensors()[0], images[5:6])
    assert len(data.subset(torch.tensor([], dtype=torch.int64))) == 0
    with pytest.raises(ValueError, match="holds 6, outside"):
        data.subset([0, 6])
    with pytest.raises(ValueError, match="holds -1"):
        data.subset([-1])
    with pytest.raises(TypeError, match="not a mask"):
        data.subset([True, False, True, False, True, False])
    with pytest.raises(TypeError, match="divide 8-bit pixels by 255"):
        ImageData(torch.zeros(2, 1, 3, 3, dtype=torch.uint8), torch.zeros(2), ("a",))
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        ImageData(torch.full((2, 1, 3, 3), 2.0), torch.zeros(2, dtype=torch.int64), ("a",))
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        ImageData(torch.zeros(3, 1, 2, 2), torch.zeros(2, dtype=torch.int64), ("a",))
    with pytest.raises(ValueError, match="2 classes"):
        ImageData(torch.zeros(1, 1, 2, 2), torch.tensor([2]), ("a", "b"))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ImageData(torch.zeros(3, 2, 2), torch.zeros(3, dtype=torch.int64), ("a",))


def test_text_data_subset_and_checks():
    data = TextData(["a b", "c", "d e f"], torch.tensor([1, 0, 1]), ("neg", "pos"))
    part = data.subset([2, 1])
    assert part.sentences == ["d e f", "c"] and part.labels.tolist() == [1, 0] and len(part) == 2
    with pytest.raises(ValueError, match="3 sentences but 2 labels"):
        TextData(["a", "b", "c"], torch.tensor([0, 1]), ("neg", "pos"))
    with pytest.raises(TypeError, match="list of strings"):
        TextData("abc", torch.tensor([0, 1, 0]), ("neg", "pos"))


# --- subsets ----------------------------------------------------------------------------------


def test_disjoint_subsets():
    parts = disjoint_subsets(100, 30, count=3, seed=5)
    assert len(parts) == 3 and all(len(p) == 30 and p.dtype == np.int64 for p in parts)
    assert all(np.all(np.diff(p) > 0) and p.min() >= 0 and p.max() < 100 for p in parts)
    assert len(set(np.concatenate(parts).tolist())) == 90
    again = disjoint_subsets(100, 30, count=3, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    assert not np.array_equal(parts[0], disjoint_subsets(100, 30, count=3, seed=6)[0])
    assert len(np.concatenate(disjoint_subsets(10, 5, count=2))) == 10
    with pytest.raises(ValueError, match="need 22 items but there are only 21"):
        disjoint_subsets(21, 11)
    with pytest.raises(ValueError, match="size must be at least 1"):
        disjoint_subsets(10, 0)
    with pytest.raises(TypeError, match="count must be an integer"):
        disjoint_subsets(10, 2, count=2.0)


def test_stratified_split():
    labels = np.repeat(np.arange(4), [10, 20, 30, 41])  # 101 samples
    train, test = stratified_split(labels, test_size=25, seed=1)
    assert len(test) == 25 and len(train) == 76
    assert np.array_equal(np.union1d(train, test), np.arange(101))
    counts = np.bincount(labels[test], minlength=4)
    quota = 25 * np.array([10, 20, 30, 41]) / 101
    assert np.all(np.abs(counts - quota) < 1)
    again = stratified_split(torch.from_numpy(labels), test_size=25, seed=1)
    assert np.array_equal(again[1], test)
    assert not np.array_equal(stratified_split(labels, test_size=25, seed=2)[1], test)
    with pytest.raises(ValueError, match="larger than the 101 samples"):
        stratified_split(labels, test_size=102)


def test_corrupt_labels():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=500)
    new, indices = corrupt_labels(labels, per_class=3, seed=4)
    assert isinstance(new, np.ndarray) and new.dtype == labels.dtype
    assert indices.dtype == np.int64 and np.all(np.diff(indices) > 0) and len(indices) == 27
    assert Counter(labels[indices].tolist()) == {c: 3 for c in range(1, 10)}
    assert np.all(new[indices] == 0)
    unchanged = np.setdiff1d(np.arange(500), indices)
    assert np.array_equal(new[unchanged], labels[unchanged])
    assert np.flatnonzero(new != labels).tolist() == indices.tolist()
    # torch in, torch out; same seed, same choice
    new_t, indices_t = corrupt_labels(torch.from_numpy(labels), per_class=3, seed=4)
    assert isinstance(new_t, torch.Tensor) and new_t.dtype == torch.int64
    assert np.array_equal(new_t.numpy(), new) and np.array_equal(indices_t, indices)
    new2, indices2 = corrupt_labels(labels, per_class=2, classes=[7, 2], target=5, seed=0)
    assert Counter(labels[indices2].tolist()) == {7: 2, 2: 2} and np.all(new2[indices2] == 5)
    with pytest.raises(ValueError, match="target=0 is one of classes"):
        corrupt_labels(labels, classes=[0, 1])
    with pytest.raises(ValueError, match="class 3 has 1 samples"):
        corrupt_labels(np.array([3, 1, 1, 0]), per_class=2, classes=[1, 3])
    with pytest.raises(TypeError, match="labels must be integers"):
        corrupt_labels(np.array([0.0, 1.0]))


def test_binary_task():
    labels = [3, 1, 3, 0, 9, 3]
    expected = [1 if y == 3 else 0 for y in labels]
    assert binary_task(np.array(labels)).tolist() == expected
    result = binary_task(torch.tensor(labels), positive=3)
    assert isinstance(result, torch.Tensor) and result.dtype == torch.int64 and result.tolist() == expected
    assert binary_task(np.array(labels), positive=9).tolist() == [0, 0, 0, 0, 1, 0]
    with pytest.raises(ValueError, match="1-D"):
        binary_task(np.zeros((2, 2), dtype=np.int64))
