"""``ip.explain``: from a model and an input to interactions that know their players, and their pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interprim as ip
from interprim.data import load_mnist10k
from interprim.games import (
    FunctionGame,
    ImageGame,
    TabularGame,
    TextGame,
    central_grid_players,
    foreground_patches,
    patch_grid,
)
from interprim.nn import build

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits():
    return load_mnist10k("test").images[:4]  # (4, 1, 28, 28)


@pytest.fixture(scope="module")
def lenet():
    return build("lenet", in_channels=1, input_size=28, seed=0).eval()


@pytest.fixture(scope="module")
def lenet2():
    return build("lenet", in_channels=1, input_size=28, seed=1).eval()


def central(n):
    """``n`` of the 7×7 patches around the centre of a 28×28 digit (bool ``(n, 28, 28)``)."""
    return patch_grid(28, 28, 7)[[5, 6, 9, 10, 1, 2, 13, 14][:n]]


def png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG


# ------------------------------------------------------------------ images


def test_image_equals_the_game_built_by_hand(digits, lenet):
    image, players = digits[0], central(6)
    r = ip.explain(lenet, image, players=players, target=3, solver="lp")
    v = ImageGame(lenet, image, players, 0.0, 3).values().numpy()
    hand = ip.sparse_and_or(v, solver="lp")
    assert r.batch_shape == () and r.n_players == 6
    assert float(r.matching_error(v)) < 1e-9  # universal matching on the game's own values
    np.testing.assert_allclose(r.i_and, hand.i_and, atol=1e-12)
    np.testing.assert_allclose(r.i_or, hand.i_or, atol=1e-12)
    assert r.players == tuple("012345") and r.meta["target"] == 3 and r.meta["method"] == "sparse_and_or"
    described = r.meta["players"]
    assert described["kind"] == "image" and described["layer"] is None and described["shape"] == [28, 28]
    ids = np.asarray(described["feature_mask"])
    for i in range(6):  # player i covers exactly its patch's pixels
        np.testing.assert_array_equal(ids == i, players[i].numpy())
    assert (ids == -1).sum() == 28 * 28 - players.sum()


def test_image_feature_mask_like_captum(digits, lenet):
    image = digits[1]
    mask = torch.full((1, 28, 28), -1)  # Captum's feature_mask: the input's shape, one id per player
    mask[0, 7:14, 7:21] = 4
    mask[0, 14:21, 7:14] = 2
    mask[0, 14:21, 14:21] = 9
    r = ip.explain(lenet, image, players=mask, method="harsanyi")
    assert r.players == ("2", "4", "9")  # labelled by their ids, in increasing order
    masks = torch.stack([mask[0] == i for i in (2, 4, 9)])
    v = ImageGame(lenet, image, masks).values().numpy()
    np.testing.assert_allclose(r.i_and, ip.harsanyi(v).i_and, atol=1e-12)
    expected = np.full((28, 28), -1)
    for i, id_ in enumerate((2, 4, 9)):  # ids 2, 4, 9 are players 0, 1, 2
        expected[(mask[0] == id_).numpy()] = i
    np.testing.assert_array_equal(np.asarray(r.meta["players"]["feature_mask"]), expected)


def test_image_default_players_are_foreground_patches_and_at_a_layer_p1s_grid(digits, lenet):
    image = digits[2]
    r = ip.explain(lenet, image, method="and_or")
    n = r.n_players
    assert 1 <= n <= 10
    expected = foreground_patches(image, patch=4, n=n, seed=0)  # 4×4 patches: a seventh of 28
    ids = np.asarray(r.meta["players"]["feature_mask"])
    for i in range(n):
        np.testing.assert_array_equal(ids == i, expected[i].numpy())
    low = ip.explain(lenet, image, layer="low", players=5, method="harsanyi")
    assert low.meta["players"]["layer"] == "pool1" and low.meta["players"]["shape"] == [14, 14]
    grid = central_grid_players((14, 14), grid=5, n=5, seed=0)
    v = ImageGame(lenet, image, grid, layer="low", target=low.meta["target"]).values().numpy()
    np.testing.assert_allclose(low.i_and, ip.harsanyi(v).i_and, atol=1e-12)


def test_image_batch_equals_each_image_alone(digits, lenet):
    players = central(4)
    r = ip.explain(lenet, digits[:3], players=players, target=[1, 2, 3], method="harsanyi")
    assert r.batch_shape == (3,) and isinstance(r.meta["players"], dict)  # shared players: one description
    for b in range(3):
        alone = ip.explain(lenet, digits[b], players=players, target=b + 1, method="harsanyi")
        np.testing.assert_allclose(r[b].i_and, alone.i_and, atol=1e-12)
        assert int(r[b].meta["target"]) == b + 1
    own = ip.explain(lenet, digits[:2], players=3, method="harsanyi")  # each image's own foreground patches
    assert isinstance(own.meta["players"], list) and len(own.meta["players"]) == 2
    for b in range(2):
        ids = np.asarray(own[b].meta["players"]["feature_mask"])
        expected = foreground_patches(digits[b], patch=4, n=3, seed=0)
        np.testing.assert_array_equal(ids == 1, expected[1].numpy())


# ------------------------------------------------------------------ several models


def test_generalizable_with_two_models_equals_the_joint_extraction_by_hand(digits, lenet, lenet2):
    image, players = digits[0], central(5)
    rs = ip.explain([lenet, lenet2], image, players=players, solver="lp")
    target = rs[0].meta["target"]
    assert target == ImageGame(lenet, image, players).target  # the first model's prediction, for both
    vs = [ImageGame(m, image, players, 0.0, target).values().numpy() for m in (lenet, lenet2)]
    hand = ip.generalizable_and_or(vs, solver="lp")
    assert len(rs) == 2 and [r.meta["model"] for r in rs] == [0, 1]
    for r, h, v in zip(rs, hand, vs):
        assert r.meta["method"] == "generalizable_and_or" and r.meta["target"] == target
        assert float(r.matching_error(v)) < 1e-9
        np.testing.assert_allclose(r.i_and, h.i_and, atol=1e-12)
        np.testing.assert_allclose(r.i_or, h.i_or, atol=1e-12)
    alone = ip.explain([lenet, lenet2], image, players=players, method="sparse", solver="lp")
    assert [r.meta["method"] for r in alone] == ["sparse_and_or"] * 2


def test_shared_plot_separates_shared_and_distinctive(tmp_path, digits, lenet, lenet2):
    rs = ip.explain([lenet, lenet2], digits[:2], players=central(5), solver="lp")
    fig = ip.plot.shared(rs, top=6, sample=1, names=["a", "b"], path=tmp_path / "shared.png")
    assert png(tmp_path / "shared.png")
    keys = [{(kind, p) for kind, p, _ in r[1].top(6)} for r in rs]
    left, right = fig.axes[0], fig.axes[1]
    shown = {t.get_text() for t in left.get_yticklabels()}
    assert shown == {f"{kind} {{{','.join(p)}}}" for kind, p in keys[0] & keys[1]}
    assert len(right.get_yticklabels()) == len(keys[0] ^ keys[1])
    with pytest.raises(ValueError, match="sample"):
        ip.plot.shared(rs)


# ------------------------------------------------------------------ text

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "movie", "is", "un", "##believ", "##able", "and", "not", "good", ",", ".",
    "a", "plot", "##s", "'", "s", "t", "don", "it", "was", "bad", "funny", "of",
]  # fmt: skip
SENTENCE = "The movie is unbelievable, and not good."


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    tf = pytest.importorskip("transformers")
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return tf.BertTokenizerFast(vocab_file=str(path))


@pytest.fixture(scope="module")
def bert():
    tf = pytest.importorskip("transformers")
    config = tf.BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=64, num_labels=2)  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return tf.BertForSequenceClassification(config).double().eval()


@pytest.fixture(scope="module")
def gpt():
    tf = pytest.importorskip("transformers")
    config = tf.GPT2Config(vocab_size=len(VOCAB), n_positions=64, n_embd=32, n_layer=1, n_head=2)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return tf.GPT2LMHeadModel(config).double().eval()


def test_text_equals_the_game_built_by_hand(tmp_path, tokenizer, bert):
    r = ip.explain(bert, SENTENCE, tokenizer=tokenizer, solver="lp")
    game = TextGame(bert, tokenizer, SENTENCE)
    v = game.values().numpy()
    assert r.players == ("movie", "unbelievable", "not", "good") == tuple(game.words)
    assert float(r.matching_error(v)) < 1e-9
    np.testing.assert_allclose(r.i_and, ip.sparse_and_or(v, solver="lp").i_and, atol=1e-12)
    described = r.meta["players"]
    assert described["kind"] == "text" and described["text"] == SENTENCE
    assert [SENTENCE[a:b] for a, b in described["spans"]] == list(r.players)  # each word's characters
    assert r.meta["target"] == game.target
    fig = r.plot(path=tmp_path / "text.png")  # by the players' kind: the sentence and the bars
    assert png(tmp_path / "text.png")
    drawn = [t.get_text() for t in fig.axes[0].texts]
    assert all(word in drawn for word in r.players) and "The" in drawn


def test_text_given_words_batch_and_a_causal_lm(tokenizer, bert, gpt):
    r = ip.explain(bert, SENTENCE, tokenizer=tokenizer, players=["good", "not"], target=0, method="harsanyi")
    v = TextGame(bert, tokenizer, SENTENCE, players=["good", "not"], target=0).values().numpy()
    assert r.players == ("good", "not")
    np.testing.assert_allclose(r.i_and, ip.harsanyi(v).i_and, atol=1e-12)
    sentences = [SENTENCE, "it was a bad plot, not funny"]
    batch = ip.explain(bert, sentences, tokenizer=tokenizer, players=3, method="harsanyi")
    assert batch.batch_shape == (2,) and isinstance(batch.meta["players"], list)
    second = batch[1]  # the sample's own words and spans
    assert second.players == tuple(second.meta["players"]["labels"])
    assert [sentences[1][a:b] for a, b in second.meta["players"]["spans"]] == list(second.players)
    alone = TextGame(bert, tokenizer, sentences[1], n=3).values().numpy()
    np.testing.assert_allclose(second.i_and, ip.harsanyi(alone).i_and, atol=1e-9)
    lm = ip.explain(gpt, SENTENCE, tokenizer=tokenizer, method="harsanyi")  # its most likely next token
    game = TextGame(gpt, tokenizer, SENTENCE)
    assert game.next_token and lm.meta["target"] == game.target
    np.testing.assert_allclose(lm.i_and, ip.harsanyi(game.values().numpy()).i_and, atol=1e-12)


def test_text_errors(tokenizer, bert):
    with pytest.raises(ValueError, match="tokenizer is needed"):
        ip.explain(bert, SENTENCE)
    with pytest.raises(ValueError, match="different numbers of players"):
        ip.explain(bert, [SENTENCE, "a bad plot"], tokenizer=tokenizer, method="harsanyi")
    with pytest.raises(ValueError, match="'great'"):
        ip.explain(bert, SENTENCE, tokenizer=tokenizer, players=["great"])
    with pytest.raises(ValueError, match="tokenizer is for text"):
        ip.explain(torch.nn.Linear(3, 2), np.zeros(3), tokenizer=tokenizer)


# ------------------------------------------------------------------ tables and any callable

NAMES = ["income", "debt", "age", "late"]
W = np.array([0.8, -1.2, 0.3, -0.9])


def predict_proba(x):
    z = 0.2 + x @ W - 1.5 * x[:, 0] * x[:, 1]
    p = 1 / (1 + np.exp(-z))
    return np.stack([1 - p, p], axis=1)


class Estimator:
    """What explain sees of a scikit-learn classifier fitted on a DataFrame."""

    feature_names_in_ = np.array(NAMES)

    def predict_proba(self, x):
        return predict_proba(np.asarray(x, dtype=float))


def hand_table_values(row, baseline, groups, target=1):
    """``v[S]``: the log-odds of ``target`` with the groups outside ``S`` at the baseline, by a loop over subsets."""
    n = len(groups)
    rows = []
    for s in range(2**n):
        x = baseline.copy()
        for i in range(n):
            if s >> i & 1:
                x[groups[i]] = row[groups[i]]
        rows.append(x)
    p = predict_proba(np.array(rows))
    return np.log(p[:, target]) - np.log(p[:, 1 - target])


def test_table_numpy_callable_equals_the_game_by_hand(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(200, 4))
    row = np.array([1.0, 0.5, -0.3, 2.0])
    r = ip.explain(Estimator(), row, baseline=data, target=1, solver="lp")  # background data: its mean row
    v = hand_table_values(row, data.mean(0), [[0], [1], [2], [3]])
    assert r.players == tuple(NAMES)  # the estimator's feature_names_in_
    assert float(r.matching_error(v)) < 1e-9
    np.testing.assert_allclose(r.i_and, ip.sparse_and_or(v, solver="lp").i_and, atol=1e-12)
    h = ip.explain(predict_proba, row, feature_names=NAMES, method="harsanyi", target=1)
    v0 = hand_table_values(row, np.zeros(4), [[0], [1], [2], [3]])
    np.testing.assert_allclose(h.i_and, ip.harsanyi(v0).i_and, atol=1e-12)
    assert h.i_and[0b0011] == pytest.approx(-1.5 * row[0] * row[1])  # the model's one AND term, exactly
    described = h.meta["players"]
    assert described == {"kind": "table", "labels": NAMES, "columns": [[0], [1], [2], [3]], "feature_names": NAMES}
    fig = h.plot(path=tmp_path / "table.png")  # a table: the bars, labelled by the feature names
    assert png(tmp_path / "table.png")
    assert "and {income,debt}" in [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_table_groups_batch_raw_callables_and_torch_models():
    rows = np.array([[1.0, 0.5, -0.3, 2.0], [-1.0, 0.2, 0.4, 0.0], [0.3, -2.0, 1.0, 1.0]])
    groups = {"money": ["income", "debt"], "age": [2], "late": 3}
    r = ip.explain(Estimator(), rows, players=groups, target=1, method="harsanyi")
    assert r.batch_shape == (3,) and r.players == ("money", "age", "late")
    assert r.meta["players"]["columns"] == [[0, 1], [2], [3]]
    for b in range(3):
        v = hand_table_values(rows[b], np.zeros(4), [[0, 1], [2], [3]])
        np.testing.assert_allclose(r[b].i_and, ip.harsanyi(v).i_and, atol=1e-12)
    listed = ip.explain(predict_proba, rows[0], players=[[0, 1], 3], feature_names=NAMES, method="harsanyi")
    assert listed.players == ("income+debt", "late")
    raw = ip.explain(lambda x: x @ W, rows[0], method="harsanyi")  # a plain function: its values as they are
    assert raw.meta["target"] is None and raw.players == ("x0", "x1", "x2", "x3")
    np.testing.assert_allclose(raw.i_and[[1, 2, 4, 8]], W * rows[0], atol=1e-12)
    game = FunctionGame(lambda m: (np.where(m.numpy(), rows[0], 0.0)) @ W, 4)
    np.testing.assert_allclose(raw.i_and, ip.harsanyi(game.values().numpy()).i_and, atol=1e-12)
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).double()
    t = ip.explain(mlp, rows[1], baseline=0.5, method="harsanyi")
    v = TabularGame(mlp, rows[1], [[0], [1], [2], [3]], baseline=0.5).values().numpy()
    np.testing.assert_allclose(t.i_and, ip.harsanyi(v).i_and, atol=1e-12)


# ------------------------------------------------------------------ what the players cover survives saving


def test_player_descriptions_round_trip(tmp_path, digits, lenet):
    own = ip.explain(lenet, digits[:2], players=3, method="harsanyi")  # one description per image
    for r in (own, own[1]):
        for back in (ip.Interactions.from_dict(r.to_dict()), ip.Interactions.load(r.save(tmp_path / "r.npz"))):
            assert back.meta["players"] == r.meta["players"] and back.players == r.players
            np.testing.assert_allclose(back.i_and, r.i_and)
    back = ip.Interactions.load(own.save(tmp_path / "own.npz"))
    assert back[1].meta["players"] == own[1].meta["players"]  # indexing still picks the sample's players


# ------------------------------------------------------------------ pictures


def test_single_image_plot_without_a_batch_axis(tmp_path, digits, lenet):
    r = ip.explain(lenet, digits[0], players=central(4), method="harsanyi")
    fig = r.plot(input=digits[0], path=tmp_path / "image.png")  # (1, 28, 28): no batch axis added
    assert png(tmp_path / "image.png")
    assert [t.get_text() for t in fig.axes[0].texts] == ["0", "1", "2", "3"]
    r.plot(kind="bar", path=tmp_path / "bar.png")
    assert png(tmp_path / "bar.png")
    r.plot(input=digits[0][0].numpy(), path=tmp_path / "grey.png")  # (H, W) works too
    assert png(tmp_path / "grey.png")
    with pytest.raises(ValueError, match="input=image"):
        r.plot()
    with pytest.raises(ValueError, match="kind must be"):
        r.plot(kind="pie")
    with pytest.raises(ValueError, match="text players"):
        r.plot(kind="text")
    batch = ip.explain(lenet, digits[:2], players=central(4), method="harsanyi")
    with pytest.raises(ValueError, match=r"r\[0\]\.plot"):
        batch.plot(input=digits[0])


# ------------------------------------------------------------------ errors name the argument


def test_errors_name_the_argument(digits, lenet):
    with pytest.raises(TypeError, match="model must be"):
        ip.explain(42, digits[0])
    with pytest.raises(ValueError, match="channel axis"):
        ip.explain(lenet, digits[0, 0])  # (28, 28): a grey image without its channel axis
    with pytest.raises(ValueError, match="x has shape"):
        ip.explain(lenet, torch.zeros(1, 1, 1, 28, 28))
    with pytest.raises(TypeError, match="torch models"):
        ip.explain(predict_proba, digits[0])
    with pytest.raises(ValueError, match="at most 24"):
        ip.explain(lenet, digits[0], players=patch_grid(28, 28, 4))  # 49 players
    with pytest.raises(ValueError, match="at most 24"):
        ip.explain(lambda x: x.sum(1), np.zeros(30))
    with pytest.raises(ValueError, match="method must be"):
        ip.explain(lenet, digits[0], method="shapley")
    with pytest.raises(ValueError, match="several models"):
        ip.explain(lenet, digits[0], method="generalizable")
    with pytest.raises(TypeError, match="'alpha'.*method='sparse'"):
        ip.explain(lenet, digits[0], alpha=0.1)
    with pytest.raises(ValueError, match="differs between channels"):
        ip.explain(lenet, digits[0], players=torch.stack([torch.zeros(28, 28), torch.ones(28, 28)]).long())
    with pytest.raises(ValueError, match="target"):
        ip.explain(lambda x: x.sum(1), np.ones(3), target=1)
    with pytest.raises(ValueError, match="feature_names"):
        ip.explain(predict_proba, np.ones(4), feature_names=["a", "b"])
    with pytest.raises(ValueError, match="layer="):
        ip.explain(lenet, digits[0], layer="no_such_module")
