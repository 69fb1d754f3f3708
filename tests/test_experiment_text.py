"""P1's text experiments (``low-layer``, ``high-layer``, ``jaccard-by-order`` on SST-2 with BERT-Tiny) end to end
on a micro config over a small synthetic SST-2 folder: the low layers shared, the games equal to text games
built one sentence at a time, the statistics equal to a direct computation, and clear errors for bad text configs.
"""

import numpy as np
import pytest
from scipy.stats import pearsonr

pytest.importorskip("transformers")

from interprim.experiments import browser, comparison, datasets, pipeline  # noqa: E402
from interprim.experiments import architecture as ar  # noqa: E402
from interprim.experiments import high_layer as hl  # noqa: E402
from interprim.experiments import jaccard_by_order as jb  # noqa: E402
from interprim.experiments import low_layer as ll  # noqa: E402
from interprim.experiments.models import load_model  # noqa: E402
from interprim.experiments.tasks import Context, task_key  # noqa: E402
from interprim.games import TextGame  # noqa: E402

def micro(sst2):
    return dict(seeds=[0], arch="bert-tiny", dataset="sst2", data_path=sst2, adversarial=False, optimizer="adamw",
                lr=1e-3, batch_size=16, donor_epochs=1, donor_subset="first:200", subset_size=100, subset_epochs=1,
                samples=6, n=3, n_boot=30)


@pytest.fixture(scope="module")
def low(tmp_path_factory, sst2):
    ctx = Context(tmp_path_factory.mktemp("low"), progress=False)
    return ctx, ll.run(ll.Config(**micro(sst2)), ctx)


def test_low_layer_on_text_shares_the_embeddings_and_the_first_block(low, sst2):
    ctx, results = low
    config = ll.Config(**micro(sst2))
    assert results["shared_layers"] == 2 and results["player_layer"] == {"bert-tiny": "bert.encoder.layer.0"}
    trained = {m: d.value for m, d in comparison.train(ctx, ll._models(config, 0), sst2).items()}
    low_names = [k for k in trained["donor-A"] if k.startswith(("bert.embeddings.", "bert.encoder.layer.0."))]
    high_names = [k for k in trained["donor-A"] if k.startswith("bert.encoder.layer.1.")]
    assert low_names and high_names
    for model in ("dA-half0", "dA-half1"):
        assert all(np.array_equal(trained[model][k], trained["donor-A"][k]) for k in low_names)
        assert not all(np.array_equal(trained[model][k], trained["donor-A"][k]) for k in high_names)
    assert not np.array_equal(trained["dB-half0"]["bert.embeddings.word_embeddings.weight"],
                              trained["donor-A"]["bert.embeddings.word_embeddings.weight"])
    (seed,) = results["seeds"]
    for players in ("layer", "input"):
        assert set(seed["comparisons"][players]) == set(ll.PAIRS)
        assert all(len(eta) == config.samples for eta in seed["eta"][players].values())


def test_text_games_are_those_of_one_sentence_at_a_time(low, sst2):
    """Stored games equal ``TextGame``s built one by one: the same words (``player_seed``), the hidden states
    after the first block (``layer``) or the word embeddings (``input``), the mean vector as baseline."""
    ctx, results = low
    test = datasets.load("sst2", "test", sst2)
    tokenizer = datasets.tokenizer(sst2)
    assert results["samples"] == [int(i) for i in datasets.eligible("sst2", "test", 3, sst2)[:6]]
    assert 40 not in results["samples"] and 41 not in results["samples"]  # too few words with meaning
    checked = 0
    for key in ctx.store.keys(("tasks", "values")):
        record, info = ctx.store.get(key)
        p = info["params"]
        model = load_model("bert-tiny", ctx.store.get(("tasks", "train", info["deps"]["model"]))[0], dataset="sst2")
        for row, i in zip(record["values"], p["samples"]):
            game = TextGame(model, tokenizer, test.sentences[i], n=3, seed=0, target=int(test.labels[i]),
                            layer=1 if p["players"] == "layer" else None)
            np.testing.assert_allclose(row, game.values(), rtol=0, atol=1e-5)
            checked += 1
    assert checked == 2 * 6 * 6  # two choices of players, six compared models, six sentences
    browser.validate(results["browser"])  # the browser marks the same words in the same sentences
    assert ["after bert.encoder.layer.0" in s["title"] for s in results["browser"]] == [True, False]
    for section in results["browser"]:
        for sample, i in zip(section["samples"], results["samples"], strict=True):
            text, spans = sample["input"]["text"], sample["input"]["players"]
            assert text == test.sentences[i] and sample["label"] == test.classes[int(test.labels[i])]
            assert [text[a:b] for a, b in spans] == TextGame(model, tokenizer, text, n=3, seed=0).words


def test_text_statistics_equal_a_direct_computation(low):
    ctx, results = low
    (seed,) = results["seeds"]
    by_values = {}
    for key in ctx.store.keys(("tasks", "extract")):
        record, info = ctx.store.get(key)
        by_values[info["deps"]["values"]] = record
    for key in ctx.store.keys(("tasks", "values")):
        _, info = ctx.store.get(key)
        eta = pipeline.average_orders(by_values[info["key"]])
        assert any(np.allclose(eta, got, equal_nan=True) for got in seed["eta"][info["params"]["players"]].values())
    for players, by_pair in seed["comparisons"].items():
        a, b = by_pair["same-low-different-data"]["models"]
        x, y = np.asarray(seed["eta"][players][a], float), np.asarray(seed["eta"][players][b], float)
        ok = np.isfinite(x) & np.isfinite(y)
        value = by_pair["same-low-different-data"]["agreement"]["pearson"]["value"]
        if ok.sum() >= 3 and np.ptp(x[ok]) > 0 and np.ptp(y[ok]) > 0:
            assert value == pytest.approx(pearsonr(x[ok], y[ok])[0], abs=1e-12)


def test_high_layer_on_text_differs_only_above_the_shared_layers(tmp_path, sst2):
    ctx = Context(tmp_path, progress=False)
    results = hl.run(hl.Config(**micro(sst2)), ctx)
    assert set(results["seeds"][0]["comparisons"]["layer"]) == set(hl.PAIRS)
    trained = {m: d.value for m, d in comparison.train(ctx, hl._models(hl.Config(**micro(sst2)), 0), sst2).items()}
    a, b = trained["dA-half0"], trained["dA-init"]
    assert np.array_equal(a["bert.encoder.layer.0.attention.self.query.weight"],
                          b["bert.encoder.layer.0.attention.self.query.weight"])
    assert not np.array_equal(a["classifier.weight"], b["classifier.weight"])


def test_jaccard_by_order_on_text(tmp_path, sst2):
    config = jb.Config(seeds=[0], arch="bert-tiny", dataset="sst2", data_path=sst2, adversarial=False,
                       optimizer="adamw", lr=1e-3, epochs=1, subset="first:300", samples=5, n=3, n_boot=20)
    ctx = Context(tmp_path, progress=False)
    results = jb.run(config, ctx)
    usable = {"train": set(datasets.eligible("sst2", "train", 3, sst2).tolist()),
              "test": set(datasets.eligible("sst2", "test", 3, sst2).tolist())}
    for name, samples in results["samples"].items():
        assert len(samples) == 5 and set(samples) <= usable[jb.SET_SPLIT[name]]
    for entry in results["seeds"][0]["players"].values():
        assert entry["orders"] == [1, 2, 3]
        assert all(0 <= s <= 1 for s in entry["sim"]["value"] if np.isfinite(s))
    model = task_key("train", jb.model_spec(config, 0))
    assert ctx.store.get(("tasks", "train", model))[0]["accuracy"].shape == (2,)


def test_bad_text_configs_raise_clear_errors(sst2):
    good = micro(sst2)
    with pytest.raises(ValueError, match="adversarial = true trains on perturbed images"):
        ll.Config(**(good | dict(adversarial=True)))
    with pytest.raises(ValueError, match="arch must be one of .*bert-tiny"):
        ll.Config(**(good | dict(arch="lenet")))
    with pytest.raises(ValueError, match="set data_path"):
        ll.Config(**(good | dict(data_path="")))
    with pytest.raises(ValueError, match="data_path = .* is not a folder"):
        ll.Config(**(good | dict(data_path=sst2 + "/missing")))
    with pytest.raises(ValueError, match="runs on images only"):
        ar.Config(**(good | dict(other_arch="bert-tiny")))
    with pytest.raises(ValueError, match="n must be 2 .. 16"):
        ll.Config(**(good | dict(n=17)))
    with pytest.raises(ValueError, match="test samples of sst2 with 3 players"):
        ll.Config(**(good | dict(samples=41)))
    with pytest.raises(ValueError, match="dataset must be one of"):
        ll.Config(dataset="imdb")
