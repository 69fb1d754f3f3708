"""Tests of :mod:`interprim.experiments.datasets`: checks of ``dataset`` / ``data_path``, CIFAR-10 and
SST-2 read from small fake folders written here, the sentences eligible for ``n`` players, and the
tensors given to the trainer. The real SST-2 files are checked when ``../shared/data/sst2`` exists.

Expected values are written out by hand: the pixels and labels of the fake records, the number of
words with meaning of each fake sentence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from interprim.experiments import datasets
from interprim.experiments.models import build_model
from interprim.train._data import as_tensor_data

REAL_SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"


@pytest.fixture(autouse=True)
def clear_caches():
    """``load``, ``tokenizer`` and ``_eligible`` are cached per process: start and end every test afresh."""
    caches = (datasets.load, datasets.tokenizer, datasets._eligible)
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


# --- dataset and data_path checks -------------------------------------------------------------------


def test_unknown_dataset_raises_naming_dataset(tmp_path):
    for bad in ("imagenet", "CIFAR10", "mnist"):
        with pytest.raises(ValueError, match="dataset"):
            datasets.check(bad, str(tmp_path))
        with pytest.raises(ValueError, match="dataset"):
            datasets.load(bad, "train", str(tmp_path))
    with pytest.raises(ValueError, match="split"):
        datasets.load("mnist10k", "validation")


@pytest.mark.parametrize("dataset", ["cifar10", "sst2"])
def test_missing_or_empty_data_path_raises_naming_data_path(tmp_path, dataset):
    for path in (None, ""):
        with pytest.raises(ValueError, match="data_path"):
            datasets.check(dataset, path)
        with pytest.raises(ValueError, match="data_path"):
            datasets.load(dataset, "train", path)
    with pytest.raises(ValueError, match="data_path.*not a folder"):
        datasets.check(dataset, str(tmp_path / "absent"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="data_path"):
        datasets.check(dataset, str(empty))
    a_file = tmp_path / "file.bin"
    a_file.write_bytes(b"x")
    with pytest.raises(ValueError, match="data_path"):
        datasets.check(dataset, str(a_file))


def test_mnist10k_needs_no_path():
    datasets.check("mnist10k", None)
    assert datasets.size("mnist10k", "train") == 8000 and datasets.size("mnist10k", "test") == 2000
    assert datasets.eligible("mnist10k", "test", 6).tolist() == list(range(2000))


# --- CIFAR-10 ------------------------------------------------------------------------------------


def write_cifar(folder: Path, per_batch: int = 2, test: int = 3) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Fake CIFAR-10 binary files; returns the ``(labels, pixels (N, 3072))`` written for each split."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    written: dict[str, list] = {"train": [], "test": []}
    names = [(f"data_batch_{i}.bin", "train", per_batch) for i in range(1, 6)] + [("test_batch.bin", "test", test)]
    for name, split, count in names:
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        pixels = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        (folder / name).write_bytes(np.concatenate([labels[:, None], pixels], axis=1).tobytes())
        written[split].append((labels, pixels))
    return {s: (np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v])) for s, v in written.items()}


def test_fake_cifar10_loads_and_feeds_a_cifar_model(tmp_path):
    folder = tmp_path / "cifar"
    written = write_cifar(folder)
    datasets.check("cifar10", str(folder))
    for split, count in (("train", 10), ("test", 3)):
        data = datasets.load("cifar10", split, str(folder))
        labels, pixels = written[split]
        assert data.images.shape == (count, 3, 32, 32) and data.images.dtype == torch.float32
        np.testing.assert_array_equal(data.labels.numpy(), labels.astype(np.int64))
        # red plane first, then green and blue, each row by row, in [0, 1]
        np.testing.assert_allclose(data.images.reshape(count, -1).numpy(), pixels / 255.0, rtol=0, atol=1e-7)
        assert datasets.size("cifar10", split, str(folder)) == count
    assert datasets.load("cifar10", "train", str(folder)) is datasets.load("cifar10", "train", str(folder))  # cached

    x, y = datasets.tensors("cifar10", datasets.load("cifar10", "test", str(folder)))
    assert torch.equal(y, torch.from_numpy(written["test"][0].astype(np.int64)))
    model = build_model("lenet", seed=0, dataset="cifar10").eval()
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()
    assert datasets.eligible("cifar10", "test", 10, str(folder)).tolist() == [0, 1, 2]  # every image

    with pytest.raises((ValueError, RuntimeError)):  # a model for MNIST's 1 × 28 × 28 images does not fit
        build_model("lenet", seed=0, dataset="mnist10k")(x)


def test_incomplete_or_damaged_cifar10_is_refused_naming_data_path(tmp_path):
    folder = tmp_path / "cifar"
    write_cifar(folder)
    (folder / "data_batch_3.bin").unlink()
    with pytest.raises(ValueError, match=r"data_path.*data_batch_3\.bin"):
        datasets.check("cifar10", str(folder))
    write_cifar(folder)
    (folder / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="data_path.*3073"):
        datasets.check("cifar10", str(folder))


# --- SST-2 -----------------------------------------------------------------------------------------

TRAIN = [
    (1, "a great movie ."),
    (0, "the plot is dull and the acting is wooden ."),
    (1, "an absolute triumph of style and substance"),
    (0, "boring , slow , and far too long"),
    (1, "i loved it"),
    (0, "not good"),
]
# (label, sentence, words with meaning: not a stop word, not only punctuation)
TEST = [
    (1, "a great movie .", 2),
    (0, "the plot is dull and the acting is wooden .", 4),
    (1, "It was fine", 1),
    (0, "not bad at all", 2),
    (1, "an absolute triumph of style and substance", 4),
    (1, "I loved it , truly loved it !", 3),
    (0, "the the THE .", 0),
    (0, "boring , slow , and far too long", 4),
    (1, "xylophone quartets perform brilliantly", 4),  # words unseen in training still count
    (1, "superb .", 1),
    (1, " ".join(["great"] * 70), 70),  # longer than MAX_LENGTH tokens
]


def write_sst2(folder: Path, train_header: str = "label\tsentence") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if train_header == "label\tsentence":
        rows = [f"{label}\t{text}" for label, text in TRAIN]
    else:
        rows = [f"{text}\t{label}" for label, text in TRAIN]
    (folder / "train.tsv").write_text("\n".join([train_header, *rows]) + "\n", encoding="utf-8")
    rows = [f"{label}\t{text}" for label, text, _ in TEST]
    (folder / "test.tsv").write_text("\n".join(["label\tcontent", *rows]) + "\n", encoding="utf-8")


@pytest.fixture
def sst2(tmp_path) -> str:
    pytest.importorskip("transformers", reason="the SST-2 tokenizer needs the optional dependency transformers")
    folder = tmp_path / "sst2"
    write_sst2(folder)
    return str(folder)


def test_fake_sst2_loads_both_column_orders(tmp_path):
    for header in ("label\tsentence", "sentence\tlabel"):
        folder = tmp_path / header.replace("\t", "_")
        write_sst2(folder, header)
        datasets.check("sst2", str(folder))
        train = datasets.load("sst2", "train", str(folder))
        assert train.sentences == [text for _, text in TRAIN]
        assert train.labels.tolist() == [label for label, _ in TRAIN]
        test = datasets.load("sst2", "test", str(folder))
        assert test.sentences == [text for _, text, _ in TEST] and len(test) == len(TEST)
        assert test.labels.tolist() == [label for label, _, _ in TEST]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_eligible_sentences_have_at_least_n_words_with_meaning(sst2, n):
    expected = [i for i, (_, _, words) in enumerate(TEST) if words >= n]
    got = datasets.eligible("sst2", "test", n, sst2)
    assert got.dtype == np.int64
    assert got.tolist() == expected
    assert datasets.eligible("sst2", "test", n, Path(sst2)).tolist() == expected  # a Path works too


def test_eligible_counts_words_against_the_stop_word_list(sst2):
    from interprim.games.text import ENGLISH_STOP_WORDS

    assert {"the", "it", "was", "at", "all", "and", "too", "an", "of", "i", "a"} <= ENGLISH_STOP_WORDS
    assert not {"not", "great", "loved", "far", "fine"} & ENGLISH_STOP_WORDS
    assert 6 not in datasets.eligible("sst2", "test", 1, sst2).tolist()  # only stop words and punctuation
    assert datasets.eligible("sst2", "train", 2, sst2).tolist() == [0, 1, 2, 3, 5]  # "i loved it": 1 word


def test_tensors_are_right_padded_token_ids_of_the_training_vocabulary(sst2):
    test = datasets.load("sst2", "test", sst2)
    (ids, mask), labels = datasets.tensors("sst2", test, sst2)
    tok = datasets.tokenizer(sst2)
    assert torch.equal(labels, test.labels)
    assert ids.dtype == mask.dtype == torch.long
    assert ids.shape == mask.shape == (len(TEST), datasets.MAX_LENGTH)  # the 70-word sentence is cut
    assert as_tensor_data((ids, mask), labels).padded  # right padding: the trainer cuts every batch
    lengths = mask.sum(1)
    short = [len(tok(text)["input_ids"]) for _, text, _ in TEST]
    assert lengths.tolist() == [min(k, datasets.MAX_LENGTH) for k in short]
    for row, k in zip(range(len(TEST)), lengths.tolist()):
        assert ids[row, 0] == tok.cls_token_id and ids[row, k - 1] == tok.sep_token_id
        assert (ids[row, k:] == tok.pad_token_id).all() and tok.pad_token_id == 0
    # the vocabulary is that of the training sentences: test words never seen become [UNK]
    words = tok.convert_ids_to_tokens(ids[8, 1 : lengths[8] - 1].tolist())
    assert words == ["[UNK]", "[UNK]", "[UNK]", "[UNK]"]
    assert tok.convert_ids_to_tokens(ids[0, : lengths[0]].tolist()) == ["[CLS]", "a", "great", "movie", ".", "[SEP]"]
    assert len(tok) == 5 + len({w for _, text in TRAIN for w in text.lower().split()})
    # a batch of only short sentences is padded to its own longest one
    (few, few_mask), _ = datasets.tensors("sst2", test.subset(np.array([0, 9])), sst2)
    assert few.shape == few_mask.shape == (2, 6)


def test_text_model_takes_the_tensors(sst2):
    test = datasets.load("sst2", "test", sst2)
    (ids, mask), _ = datasets.tensors("sst2", test, sst2)
    vocab = len(datasets.tokenizer(sst2))
    model = build_model("bert-tiny", seed=0, dataset="sst2", vocab_size=vocab).eval()
    with torch.no_grad():
        logits = model(ids[:3], mask[:3]).logits
    assert logits.shape == (3, 2) and torch.isfinite(logits).all()
    with pytest.raises(ValueError, match="arch"):
        build_model("lenet", dataset="sst2")


# --- the real SST-2 ---------------------------------------------------------------------------------


@pytest.mark.skipif(not REAL_SST2.is_dir(), reason=f"the SST-2 folder {REAL_SST2} is absent")
def test_real_sst2_test_split_and_eligible_sentences():
    pytest.importorskip("transformers", reason="the SST-2 tokenizer needs the optional dependency transformers")
    path = str(REAL_SST2)
    test = datasets.load("sst2", "test", path)
    assert len(test) == 1821
    assert set(test.labels.tolist()) == {0, 1}
    eligible = datasets.eligible("sst2", "test", 8, path)
    assert 0 < len(eligible) < len(test)
    assert (np.diff(eligible) > 0).all() and eligible[-1] < len(test)
    # the first test sentence has 7 words with meaning ("of" and the commas are skipped): not eligible
    from interprim.games.text import ENGLISH_STOP_WORDS, sentence_players

    assert test.sentences[0] == "no movement , no yuks , not much of anything ."
    words = sentence_players(datasets.tokenizer(path), test.sentences[0], 8, 0, ENGLISH_STOP_WORDS).words
    assert words == ["no", "movement", "no", "yuks", "not", "much", "anything"]
    assert 0 not in eligible
