"""The sample browser's data (``results["browser"]``, :mod:`interprim.experiments.browser`): its functions against
direct computations on hand-made inputs, and its sections of real micro runs (P1 ``low-layer`` and
``hard-vs-confusing`` on MNIST-10k, P2 ``transferability`` on a synthetic SST-2) recomputed from the stored games."""

import copy
import inspect
import json
import math
import warnings

import numpy as np
import pytest
import torch

from interprim import metrics
from interprim.data import load_mnist10k
from interprim.experiments import (
    browser,
    comparison,
    datasets,
    p2,
    pipeline,
    register,
    registry,
    run_experiment,
)
from interprim.experiments import hard_vs_confusing as hvc
from interprim.experiments import low_layer as ll
from interprim.experiments import transferability as tr
from interprim.experiments._json import plain
from interprim.experiments.tasks import Context
from interprim.games import central_grid_players
from interprim.store import Store

# ---------------------------------------------------------------------------------------------
# by hand
# ---------------------------------------------------------------------------------------------


def _merged(i_and, i_or):
    """OR singletons added to the AND singletons (SPEC §4), by hand."""
    a, o = np.array(i_and, dtype=float), np.array(i_or, dtype=float)
    n = a.shape[-1].bit_length() - 1
    for i in range(n):
        a[..., 1 << i] += o[..., 1 << i]
        o[..., 1 << i] = 0
    return a, o


def _tau(values):
    return 0.02 * np.mean(np.abs(values[:, -1] - values[:, 0]))


def _salient(a, o, tau):
    """``{(type, mask): value}`` of the salient interactions of one sample (merged arrays ``(2**n,)``)."""
    return {**{("and", s): a[s] for s in range(1, a.size) if abs(a[s]) > tau},
            **{("or", s): o[s] for s in range(1, o.size) if abs(o[s]) > tau}}


def _expected(games, b, top=browser.TOP):
    """The top items of every model on sample ``b``, by hand: ``games`` = [(i_and, i_or, values)] per model."""
    sets = []
    for i_and, i_or, values in games:
        a, o = _merged(i_and[b], i_or[b])
        sets.append(_salient(a, o, _tau(values)))
    out = []
    for own in sets:
        ranked = sorted(own, key=lambda key: (-abs(own[key]), key[0] != "and", key[1]))[:top]
        items = []
        for t, s in ranked:
            item = {"type": t, "players": [k for k in range(s.bit_length()) if s >> k & 1], "value": own[t, s]}
            if len(games) > 1:
                item["shared"] = all((t, s) in other for other in sets)
            items.append(item)
        out.append(items)
    return out


def _eta_by_hand(i_and, i_or, values, b):
    """P1 §3.1: ``Σ |S|·|I(S)| / Σ |I(S)|`` over the salient interactions of sample ``b``."""
    a, o = _merged(i_and[b], i_or[b])
    found = _salient(a, o, _tau(values))
    total = sum(abs(x) for x in found.values())
    return sum(s.bit_count() * abs(x) for (_, s), x in found.items()) / total if total else None


def _assert_items(got, expected):
    assert [(x["type"], x["players"], x.get("shared")) for x in got] == \
        [(x["type"], x["players"], x.get("shared")) for x in expected]
    np.testing.assert_allclose([x["value"] for x in got], [x["value"] for x in expected], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# the functions on hand-made inputs
# ---------------------------------------------------------------------------------------------


def _hand_games():
    """Two models, one sample, ``n = 3``; ``τ = 0.02·10 = 0.2`` for both."""
    values = np.zeros((1, 8))
    values[0, -1] = 10.0
    a1, o1 = np.zeros((1, 8)), np.zeros((1, 8))
    a1[0, [1, 2, 3, 7]] = [0.5, -0.7, 0.7, 0.05]  # AND {0} 0.5 (+ OR {0} 0.2 = 0.7), {1}, {0,1}; {0,1,2} below τ
    o1[0, [1, 3, 5]] = [0.2, -0.7, 0.9]  # OR {0} merges into AND {0}; OR {0,1}; OR {0,2} the strongest
    a2, o2 = a1.copy(), o1.copy()
    a2[0, 2] = 0.1  # AND {1} not salient in model 2
    o2[0, 5] = -0.9  # OR {0,2} salient with the other sign: still shared
    return [(a1, o1, values), (a2, o2, values)]


def test_top_ranks_by_strength_then_and_before_or_then_smaller_bitmask():
    games = _hand_games()
    sec = browser.section("t", {"m1": (games[0][:2], games[0][2]), "m2": (games[1][:2], games[1][2])},
                          [browser.text_input("a b c", [[0, 1], [2, 3], [4, 5]])], ["test #0"], ["x"])
    got = sec["samples"][0]["models"]["m1"]["top"]
    assert [(x["type"], x["players"]) for x in got] == [("or", [0, 2]), ("and", [0]), ("and", [1]), ("and", [0, 1]),
                                                        ("or", [0, 1])]
    np.testing.assert_allclose([x["value"] for x in got], [0.9, 0.7, -0.7, 0.7, -0.7], atol=1e-12)
    assert [x["shared"] for x in got] == [True, True, False, True, True]  # AND {1} is not salient in m2
    _assert_items(got, _expected(games, 0)[0])
    _assert_items(sec["samples"][0]["models"]["m2"]["top"], _expected(games, 0)[1])
    short = browser.section("t", {"m1": (games[0][:2], games[0][2])},
                            [browser.text_input("a b c", [[0, 1], [2, 3], [4, 5]])], ["test #0"], ["x"], top=2)
    assert [("shared" in x) for x in short["samples"][0]["models"]["m1"]["top"]] == [False, False]  # one model
    assert len(short["samples"][0]["models"]["m1"]["top"]) == 2


def test_shared_eta_v_and_loss_on_random_games():
    rng = np.random.default_rng(3)
    n, count = 4, 30
    games = []
    for _ in range(3):
        values = rng.normal(size=(count, 2**n)) * 2
        i_and, i_or = rng.normal(size=(count, 2**n)) * rng.random((count, 2**n)) ** 4, np.zeros((count, 2**n))
        i_or[:, 1:] = rng.normal(size=(count, 2**n - 1)) * rng.random((count, 2**n - 1)) ** 4
        games.append((i_and, i_or, values))
    rows = [0, 5, 29]
    inputs = [browser.text_input("w x y z", [[0, 1], [2, 3], [4, 5], [6, 7]])] * len(rows)
    sec = browser.section("t", {f"m{j}": ((a, o), v) for j, (a, o, v) in enumerate(games)}, inputs,
                          [f"#{r}" for r in rows], ["l"] * len(rows), rows=rows)
    browser.validate([sec])
    assert sec["models"] == ["m0", "m1", "m2"]
    shared_seen = 0
    for sample, b in zip(sec["samples"], rows):
        expected = _expected(games, b)
        for j, (a, o, v) in enumerate(games):
            entry = sample["models"][f"m{j}"]
            _assert_items(entry["top"], expected[j])
            shared_seen += sum(x["shared"] for x in entry["top"])
            eta = float(metrics.average_order(a[b], o[b], threshold=_tau(v)))
            assert entry["eta"] == (pytest.approx(eta, abs=1e-12) if np.isfinite(eta) else None)
            hand = _eta_by_hand(a, o, v, b)
            assert entry["eta"] == (None if hand is None else pytest.approx(hand, abs=1e-12))
            assert entry["v"] == v[b, -1]
            bce = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(v[b, -1]),
                                                                     torch.tensor(1.0, dtype=torch.float64))
            assert entry["loss"] == pytest.approx(float(bce), rel=1e-12)
    assert shared_seen > 0


def test_loss_is_the_cross_entropy_of_the_target_and_stable():
    v = np.array([-800.0, -30.0, -2.0, 0.0, 3.0, 40.0, 800.0])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(v), torch.ones(v.size, dtype=torch.float64),
                                                             reduction="none")
    np.testing.assert_allclose(browser.loss(v), bce.numpy(), rtol=1e-12, atol=1e-300)
    assert browser.loss(-800.0) == 800.0 and np.isfinite(browser.loss(-1e6))


def test_eta_is_null_and_top_empty_without_a_salient_interaction():
    values = np.zeros((2, 4))
    values[:, -1] = [1.0, 1.0]  # τ = 0.02
    i_and = np.array([[0.0, 0.01, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0]])
    sec = browser.section("t", {"m": ((i_and, np.zeros_like(i_and)), values)},
                          [browser.text_input("a b", [[0, 1], [2, 3]])] * 2, ["#0", "#1"], ["l", "l"])
    first, second = (s["models"]["m"] for s in sec["samples"])
    assert first["eta"] is None and first["top"] == []
    assert second["eta"] == 1.0 and [x["players"] for x in second["top"]] == [[0], [1]]
    assert json.loads(json.dumps(plain(sec, nonfinite_as_none=True), allow_nan=False))["samples"][0]["models"]["m"][
        "eta"] is None


def test_section_keeps_at_most_limit_samples_and_checks_its_arguments():
    values = np.tile(np.arange(4.0), (40, 1))
    found = (np.tile([0.0, 1.0, 1.0, 1.0], (40, 1)), np.zeros((40, 4)))
    inputs = [browser.text_input("a b", [[0, 1], [2, 3]])] * 30
    sec = browser.section("t", {"m": (found, values)}, inputs, [f"#{i}" for i in range(30)], ["l"] * 30)
    assert len(sec["samples"]) == browser.BROWSE == 24 and sec["samples"][-1]["id"] == "#23"
    with pytest.raises(ValueError, match="same shown samples"):
        browser.section("t", {"m": (found, values)}, inputs, ["#0"], ["l"] * 30)
    with pytest.raises(ValueError, match="differ in shape"):
        browser.section("t", {"m": (found, values[:, :2])}, inputs, ["#0"] * 30, ["l"] * 30)


def test_pixels_are_denormalised_or_min_max_scaled_uint8():
    rng = np.random.default_rng(0)
    grey = rng.random((1, 5, 4))
    np.testing.assert_array_equal(browser.pixels(torch.tensor(grey)), np.rint(255 * grey[0]).astype(np.uint8))
    rgb = rng.random((3, 2, 6))
    shown = browser.pixels(rgb)
    assert shown.shape == (2, 6, 3) and shown.dtype == np.uint8
    np.testing.assert_array_equal(shown[..., 1], np.rint(255 * rgb[1]).astype(np.uint8))
    wide = np.array([[-1.0, 0.0], [1.0, 3.0]])  # outside [0, 1]: min-max scaled
    np.testing.assert_array_equal(browser.pixels(wide), [[0, 64], [128, 255]])
    np.testing.assert_array_equal(browser.pixels(np.full((2, 2), 7.0)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="outside the 5x4 image"):
        browser.image_input(grey, [[0, 0, 6, 1]])
    with pytest.raises(ValueError, match="outside the text"):
        browser.text_input("abc", [[1, 4]])


@pytest.mark.parametrize("feature, image, n, seed", [((14, 14), (28, 28), 8, 0), ((7, 7), (32, 32), 10, 3),
                                                     ((8, 10), (32, 32), 5, 1), ((28, 28), (28, 28), 8, 0)])
def test_grid_boxes_are_the_central_grid_players_scaled_to_the_image(feature, image, n, seed):
    masks = central_grid_players(feature, grid=5, n=n, seed=seed).numpy()
    expected = []
    for mask in masks:
        ys, xs = np.nonzero(mask)
        r0, r1, c0, c1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        expected.append([math.floor(r0 * image[0] / feature[0]), math.floor(c0 * image[1] / feature[1]),
                         math.ceil(r1 * image[0] / feature[0]), math.ceil(c1 * image[1] / feature[1])])
    boxes = browser.grid_boxes(feature, image, n, seed)
    assert boxes == expected
    if feature == image:  # players on the image: the boxes are exactly the players' pixels
        for mask, (y0, x0, y1, x1) in zip(masks, boxes):
            drawn = np.zeros_like(mask)
            drawn[y0:y1, x0:x1] = True
            np.testing.assert_array_equal(drawn, mask)
    assert browser.mask_boxes(masks) == [[int(m.nonzero()[0].min()), int(m.nonzero()[1].min()),
                                          int(m.nonzero()[0].max()) + 1, int(m.nonzero()[1].max()) + 1] for m in masks]


def test_text_spans_are_the_player_words_of_a_text_game():
    transformers = pytest.importorskip("transformers")
    from interprim.games import TextGame
    from interprim.nn import word_tokenizer

    sentences = ["The movie is unbelievable, and not good. Plots don't work!",
                 "it was not a good movie of the plots, it was bad and funny; good acting though"]
    tok = word_tokenizer(sentences)
    config = transformers.BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=16, max_position_embeddings=64, num_labels=2)
    model = transformers.BertForSequenceClassification(config).eval()
    for sentence in sentences:
        for seed in range(4):
            spans = browser.player_spans(sentence, 3, seed)
            shown = browser.text_input(sentence, spans)
            assert [sentence[a:b] for a, b in shown["players"]] == TextGame(model, tok, sentence, n=3, seed=seed).words


def test_validate_refuses_what_breaks_the_schema():
    games = _hand_games()
    image = browser.image_input(np.zeros((1, 8, 8)), [[0, 0, 2, 2], [2, 2, 4, 4], [4, 4, 8, 8]])
    good = [browser.section("t", {"m1": (games[0][:2], games[0][2]), "m2": (games[1][:2], games[1][2])}, [image],
                            ["test #0"], ["x"])]
    browser.validate(good)
    browser.validate(json.loads(json.dumps(plain(good, nonfinite_as_none=True))))

    def broken(change):
        bad = copy.deepcopy(json.loads(json.dumps(plain(good))))
        change(bad[0]["samples"][0])
        return bad

    cases = {
        "sorted by": lambda s: s["models"]["m1"]["top"].reverse(),
        "shared is a bool": lambda s: s["models"]["m1"]["top"][0].pop("shared"),
        "0 … 255": lambda s: s["input"]["pixels"][0].__setitem__(0, 256),
        "not inside the image": lambda s: s["input"]["players"].__setitem__(0, [0, 0, 9, 2]),
        "players < 3": lambda s: s["models"]["m2"]["top"][0].__setitem__("players", [0, 3]),
        "softplus": lambda s: s["models"]["m1"].__setitem__("loss", 0.5),
        "in order": lambda s: s["models"].pop("m2"),
        "OR singletons": lambda s: s["models"]["m1"]["top"][0].__setitem__("players", [2]),
    }
    for message, change in cases.items():
        with pytest.raises(ValueError, match=message):
            browser.validate(broken(change))
    with pytest.raises(ValueError, match="at most 0"):
        browser.validate(good, limit=0)


def test_every_experiment_with_real_samples_builds_a_browser():
    """Every registered experiment but ``selftest`` (random games, no input) calls a builder of :mod:`.browser`
    in ``run`` and returns its sections; the micro runs of the experiments' own tests check the sections."""
    modules = [registry.get(name) for name in registry.names()]
    assert {m.NAME for m in modules} >= {"transferability", "low-layer", "hard-vs-confusing", "runtime", "selftest"}
    missing = [m.NAME for m in modules if m.NAME != "selftest" and "browser=" not in inspect.getsource(m.run)
               and "run_pairs(" not in inspect.getsource(m.run)]  # run_pairs (low-layer) returns the browser
    assert not missing
    assert "browser=" in inspect.getsource(ll.run_pairs)


# ---------------------------------------------------------------------------------------------
# real micro runs
# ---------------------------------------------------------------------------------------------


LOW = {"seeds": [0], "donor_epochs": 1, "donor_subset": "first:200", "subset_size": 100, "subset_epochs": 1,
       "samples": 12, "n": 4, "n_boot": 20}


@pytest.fixture(scope="module")
def low(tmp_path_factory):
    ctx = Context(tmp_path_factory.mktemp("low"), progress=False)
    return ctx, ll.run(ll.Config(**LOW), ctx)


def test_low_layer_sections_show_the_pairs_models_on_their_grid_players(low):
    ctx, low = low
    config = ll.Config(**LOW)
    specs = ll._models(config, 0)
    trained = comparison.train(ctx, specs)  # every task is reused from the store
    compared = {m: specs[m] for pair in ll.PAIRS.values() for m in pair}
    sections = json.loads(json.dumps(plain(low["browser"], nonfinite_as_none=True)))
    browser.validate(sections)
    assert len(sections) == 2  # players at the layer and at the input
    test = load_mnist10k("test")
    models = sorted({m for pair in ll.PAIRS.values() for m in pair})
    for sec, players in zip(sections, ("layer", "input")):
        assert sorted(sec["models"]) == models and len(sec["samples"]) == 12
        _, shape = pipeline.player_layer("lenet", 1, players)
        assert ("pool1" in sec["title"] and "scaled to the image" in sec["title"]) == (players == "layer")
        assert "seed 0" in sec["title"] and "certified ADMM" in sec["title"]
        _, _, stored = comparison.average_orders(ctx, compared, trained, players, n=4, player_seed=0,
                                                 samples=low["samples"], tol=config.tol)
        games = [(r["i_and"], r["i_or"], v) for r, v in (stored[m] for m in sec["models"])]
        for b, sample in enumerate(sec["samples"]):
            i = low["samples"][b]
            assert sample["id"] == f"test #{i}" and sample["label"] == str(int(test.labels[i]))
            pixels = np.asarray(sample["input"]["pixels"])
            assert pixels.shape == (28, 28) and pixels.min() >= 0 and pixels.max() <= 255
            np.testing.assert_array_equal(pixels, np.rint(255 * test.images[i, 0].numpy()))
            assert sample["input"]["players"] == browser.grid_boxes(shape[-2:], (28, 28), 4, 0)
            expected = _expected(games, b)
            for j, m in enumerate(sec["models"]):  # η as the experiment computed it (τ from the output change)
                eta = low["seeds"][0]["eta"][players][m][b]
                assert sample["models"][m]["eta"] == (None if eta is None or not np.isfinite(eta)
                                                      else pytest.approx(eta, abs=1e-9))
                _assert_items(sample["models"][m]["top"], expected[j])
                assert sample["models"][m]["v"] == pytest.approx(games[j][2][b, -1], abs=1e-12)


def test_hard_vs_confusing_section_shows_the_trained_labels_and_training_losses(tmp_path):
    register(hvc)
    micro = {"seeds": [0], "epochs": 1, "train_size": 300, "per_class": 1, "ordinary": 11, "n": 4, "hard_top": 0.3,
             "confusing_top": 0.3}
    doc = run_experiment(hvc.NAME, "cpu", overrides=[f"{k}={v}" for k, v in micro.items()], out=tmp_path,
                         progress=False)
    results = doc["results"]
    browser.validate(results["browser"])
    (sec,) = results["browser"]
    assert sec["models"] == ["lenet"] and "training samples" in sec["title"]
    store = Store(tmp_path / "store")
    trained, values, found = (store.get(store.keys(("tasks", kind))[0])[0]
                              for kind in ("train-planted", "train-values", "extract"))
    values = values["values"]
    seed = results["seeds"][0]
    train = load_mnist10k("train")
    assert len(sec["samples"]) == len(seed["samples"]) == 20
    games = [(found["i_and"], found["i_or"], values)]
    for b, (sample, i) in enumerate(zip(sec["samples"], seed["samples"])):
        entry = sample["models"]["lenet"]
        label = int(trained["labels"][i])
        assert sample["id"] == f"train #{i}"
        assert sample["label"].startswith(str(label)) and ("planted" in sample["label"]) == seed["planted"][b]
        assert entry["v"] == pytest.approx(values[b, -1], abs=1e-12)
        # the loss at the unmasked input is the trained label's cross-entropy after the (one) epoch
        assert entry["loss"] == pytest.approx(float(trained["sample_loss"][-1, i]), rel=1e-4, abs=1e-5)
        assert entry["train_loss"] == pytest.approx(float(trained["sample_loss"][:, i].mean()), rel=1e-6)
        assert entry["eta"] == (None if seed["eta"][b] is None else pytest.approx(seed["eta"][b], abs=1e-9))
        _assert_items(entry["top"], _expected(games, b)[0])
        np.testing.assert_array_equal(sample["input"]["pixels"], np.rint(255 * train.images[i, 0].numpy()))


def test_p2_text_sections_recompute_from_the_stored_games(tmp_path, sst2):
    """Task sst2 (two BERT-Tiny): a section per method, its spans the player words of the sentence's text game,
    its top interactions, ``shared`` and ``η`` recomputed from the stored games and extractions."""
    pytest.importorskip("transformers")
    from interprim.games import TextGame
    from interprim.nn import bert_tiny

    config = tr.Config(seeds=[0], task="sst2", dataset="sst2", data_path=sst2, archs=["bert-tiny", "bert-tiny"],
                       optimizer="adamw", lr=1e-3, epochs=1, batch_size=16, samples=4, n=3, ks=[1, 2])
    ctx = Context(tmp_path, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = tr.run(config, ctx)
    sections = json.loads(json.dumps(plain(results["browser"], nonfinite_as_none=True)))
    browser.validate(sections)
    assert [("generalizable" in s["title"], "traditional" in s["title"]) for s in sections] == [(1, 0), (0, 1)]
    found = p2.extract(ctx, config, 0)  # reused from the store
    test = datasets.load("sst2", "test", sst2)
    tok = datasets.tokenizer(sst2)
    model = bert_tiny(vocab_size=len(tok))
    for sec, method in zip(sections, ("generalizable", "traditional-lp")):
        assert sec["models"] == ["bert-tiny#1", "bert-tiny#2"] and len(sec["samples"]) == 4
        games = [(r.i_and, r.i_or, v) for r, v in zip(found.methods[method], found.values)]
        for b, (sample, i) in enumerate(zip(sec["samples"], results["samples"])):
            text = sample["input"]["text"]
            assert sample["input"]["kind"] == "text" and text == test.sentences[i]
            assert [text[a:c] for a, c in sample["input"]["players"]] == TextGame(model, tok, text, n=3, seed=0).words
            assert sample["label"] == test.classes[int(test.labels[i])]
            expected = _expected(games, b)
            for j, name in enumerate(sec["models"]):
                entry = sample["models"][name]
                _assert_items(entry["top"], expected[j])
                hand = _eta_by_hand(*games[j], b)
                assert entry["eta"] == (None if hand is None else pytest.approx(hand, abs=1e-9))
                assert entry["v"] == pytest.approx(found.values[j][b, -1], abs=1e-12)
