"""TextGame with a tiny randomly initialised BERT and a BERT tokenizer built from a vocabulary file."""

import math

import pytest
import torch

transformers = pytest.importorskip("transformers")

from interprim.games import ENGLISH_STOP_WORDS, Game, TextGame  # noqa: E402

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "movie", "is", "un", "##believ", "##able", "and", "not", "good", ",", ".",
    "a", "plot", "##s", "'", "s", "t", "don", "it", "was", "bad", "funny", "of",
]  # fmt: skip
SENTENCE = "The movie is unbelievable, and not good. Plots don't"



@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return transformers.BertTokenizerFast(vocab_file=str(path))


@pytest.fixture(scope="module")
def bert():
    config = transformers.BertConfig(
        vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, num_labels=2,
    )  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return transformers.BertForSequenceClassification(config).double().eval()


class Recorder(torch.nn.Module):
    """Passes calls to the model and records the keyword arguments it was called with."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.calls = []

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def forward(self, **kwargs):
        self.calls.append({k: v.clone() for k, v in kwargs.items()})
        return self.model(**kwargs)


def hand_log_odds(logits, y):
    p = torch.softmax(logits.double(), dim=-1)[..., y]
    return torch.log(p / (1 - p))


def test_words_skip_stop_words_and_punctuation(tokenizer, bert):
    with pytest.warns(UserWarning, match="n=10 but the sentence .* has only 6 words with meaning: the game has 6"):
        game = TextGame(bert, tokenizer, SENTENCE, n=10)
    # 'the', 'is', 'and', 't' are stop words; ',', '.', "'" punctuation; negations stay
    assert game.words == ["movie", "unbelievable", "not", "good", "Plots", "don"]
    assert game.n_players == 6 and isinstance(game, Game)
    tokens = game.tokens
    assert [tuple(tokens[i] for i in w) for w in game.word_tokens][1:2] == [("un", "##believ", "##able")]
    assert "not" not in ENGLISH_STOP_WORDS and "the" in ENGLISH_STOP_WORDS
    with pytest.warns(UserWarning, match="has only 10 words with meaning"):
        everything = TextGame(bert, tokenizer, SENTENCE, n=20, stop_words=())
    assert everything.words == ["The", "movie", "is", "unbelievable", "and", "not", "good", "Plots", "don", "t"]


def test_sampling_n_words_is_seeded_and_keeps_sentence_order(tokenizer, bert):
    a = TextGame(bert, tokenizer, SENTENCE, n=3, seed=0)
    b = TextGame(bert, tokenizer, SENTENCE, n=3, seed=0)
    assert a.words == b.words and len(a.words) == 3
    order = ["movie", "unbelievable", "not", "good", "Plots", "don"]
    assert set(a.words) <= set(order) and a.words == sorted(a.words, key=order.index)
    assert len({tuple(TextGame(bert, tokenizer, SENTENCE, n=3, seed=s).words) for s in range(4)}) > 1


@pytest.mark.parametrize("baseline", ["mean", "mask", "vector"])
def test_every_sub_token_of_a_masked_word_gets_the_baseline(tokenizer, bert, baseline):
    table = bert.get_input_embeddings().weight.detach()
    vector = torch.linspace(-1, 1, 32, dtype=torch.float64)
    want_base = {"mean": table.mean(0), "mask": table[tokenizer.mask_token_id], "vector": vector}[baseline]
    recorder = Recorder(bert)
    game = TextGame(recorder, tokenizer, SENTENCE, baseline=vector if baseline == "vector" else baseline)
    ids = tokenizer(SENTENCE)["input_ids"]
    original = table[ids]
    masks = torch.tensor([[True, False, True, True, False, True], [False] * 6, [True] * 6])
    recorder.calls.clear()
    values = game(masks)
    (call,) = recorder.calls
    embeds = call["inputs_embeds"]
    assert embeds.shape == (3, len(ids), 32)
    assert call["attention_mask"].shape == (3, len(ids)) and bool((call["attention_mask"] == 1).all())
    for b in range(3):
        hidden = {t for i, tokens in enumerate(game.word_tokens) if not masks[b, i] for t in tokens}
        for t in range(len(ids)):
            torch.testing.assert_close(embeds[b, t], want_base if t in hidden else original[t], rtol=0, atol=0)
    assert {t for t in range(len(ids)) if not torch.equal(embeds[0, t], original[t])} == {4, 5, 6, 12, 13}
    # the values are the model's log-odds on those embeddings
    for b in range(3):
        logits = bert(inputs_embeds=embeds[b : b + 1], attention_mask=call["attention_mask"][b : b + 1]).logits[0]
        torch.testing.assert_close(values[b], hand_log_odds(logits, game.target), rtol=1e-10, atol=1e-10)


def test_values_match_the_model_on_hand_built_embeddings(tokenizer, bert):
    game = TextGame(bert, tokenizer, SENTENCE, n=4, seed=2, batch_size=5)
    v = game.values()
    enc = tokenizer(SENTENCE, return_tensors="pt")
    y = int(bert(**enc).logits.argmax())
    assert game.target == y
    table = bert.get_input_embeddings().weight.detach()
    for s in [0, 5, 9, 15]:
        embeds = table[enc["input_ids"][0]].clone()
        for i, tokens in enumerate(game.word_tokens):
            if not s >> i & 1:
                embeds[list(tokens)] = table.mean(0)
        logits = bert(inputs_embeds=embeds[None], attention_mask=enc["attention_mask"]).logits[0]
        torch.testing.assert_close(v[s], hand_log_odds(logits, y), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(v[-1], hand_log_odds(bert(**enc).logits[0], y), rtol=1e-10, atol=1e-10)


def test_text_game_bad_inputs(tokenizer, bert, tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    slow = transformers.BertTokenizer(vocab_file=str(path))
    with pytest.raises(ValueError, match="fast"):
        TextGame(bert, slow, SENTENCE)
    with pytest.raises(ValueError, match="no words with meaning"):
        TextGame(bert, tokenizer, "the , is .")
    with pytest.raises(ValueError, match="embedding size 32"):
        TextGame(bert, tokenizer, SENTENCE, baseline=torch.zeros(8))
    with pytest.raises(ValueError, match="'mean', 'mask'"):
        TextGame(bert, tokenizer, SENTENCE, baseline="cls")
    with pytest.raises(ValueError, match="n=30 is out of range"):
        TextGame(bert, tokenizer, SENTENCE, n=30)
    with pytest.raises(ValueError, match="non-empty string"):
        TextGame(bert, tokenizer, "")
    with pytest.raises(TypeError, match="get_input_embeddings"):
        TextGame(torch.nn.Linear(2, 2), tokenizer, SENTENCE)


# ------------------------------------------------------------------ players after k transformer blocks


@pytest.fixture(scope="module")
def tiny():
    """BERT-Tiny (2 blocks, 128 wide, random weights) on the test vocabulary, in float64."""
    from interprim.nn import bert_tiny

    return bert_tiny(vocab_size=len(VOCAB), seed=0).double().eval()


def hooked_values(model, tokenizer, game, k):
    """The hook path: the whole model on copies of the sentence, block ``k``'s output replaced by the masked states."""
    n = game.n_players
    masks = torch.tensor([[s >> i & 1 for i in range(n)] for s in range(2**n)], dtype=torch.bool)
    states = game.masked(masks)
    block = model.bert.encoder.layer[k - 1]
    handle = block.register_forward_hook(lambda module, args, out: (states,) + tuple(out[1:]))
    try:
        enc = tokenizer(SENTENCE, return_tensors="pt")
        with torch.no_grad():
            logits = model(**{key: value.expand(2**n, -1) for key, value in enc.items()}).logits
    finally:
        handle.remove()
    return logits[:, game.target] - logits[:, 1 - game.target]  # the log-odds of two classes


@pytest.mark.parametrize("k", [1, 2])
def test_text_game_after_k_blocks_runs_the_low_blocks_once_and_equals_the_hook_path(tokenizer, tiny, k):
    low = {"embeddings": tiny.bert.embeddings, **{f"block{i}": tiny.bert.encoder.layer[i] for i in range(2)}}
    calls = dict.fromkeys(low, 0)
    handles = [
        module.register_forward_hook(lambda module, args, out, name=name: calls.__setitem__(name, calls[name] + 1))
        for name, module in low.items()
    ]
    try:
        game = TextGame(tiny, tokenizer, SENTENCE, n=5, layer=k, batch_size=7)
        v = game.values()
    finally:
        for handle in handles:
            handle.remove()
    assert calls["embeddings"] == 1 and all(calls[f"block{i}"] == 1 for i in range(k))
    if k == 1:
        assert calls["block1"] == 1 + math.ceil(32 / 7)  # the unmasked sentence, then the batches
    assert game.layer == k and game.features.shape == (len(game.tokens), 128)
    torch.testing.assert_close(v, hooked_values(tiny, tokenizer, game, k), rtol=1e-10, atol=1e-10)
    # the model is whole again: its blocks and embeddings are back
    assert len(tiny.bert.encoder.layer) == 2 and tiny.bert.embeddings is low["embeddings"]
    enc = tokenizer(SENTENCE, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(tiny(**enc).logits[0], game.logits, rtol=1e-12, atol=1e-12)


def test_low_layer_is_the_first_block_and_mean_baseline_is_the_players_mean_state(tokenizer, tiny):
    game = TextGame(tiny, tokenizer, SENTENCE, n=4, layer="low")
    assert game.layer == 1  # BERT-Tiny's low layers: the embeddings and the first block (P1 App. F.2)
    enc = tokenizer(SENTENCE, return_tensors="pt")
    with torch.no_grad():
        states = tiny(**enc, output_hidden_states=True).hidden_states[1][0]
    torch.testing.assert_close(game.features, states, rtol=1e-12, atol=1e-12)
    tokens = sorted(t for word in game.word_tokens for t in word)
    torch.testing.assert_close(game.baseline, states[tokens].mean(0), rtol=1e-12, atol=1e-12)
    # every sub-token of an absent word carries the baseline; the others keep their states
    masked = game.masked(torch.tensor([[True, False, True, True]]))[0]
    for t in range(len(game.tokens)):
        want = game.baseline if t in game.word_tokens[1] else states[t]
        torch.testing.assert_close(masked[t], want, rtol=0, atol=0)
    vector = torch.linspace(-1, 1, 128, dtype=torch.float64)
    assert torch.equal(TextGame(tiny, tokenizer, SENTENCE, n=4, layer=1, baseline=vector).baseline, vector)


def test_text_game_layer_errors(tokenizer, tiny, bert):
    with pytest.raises(ValueError, match=r"k in 0\.\.2"):
        TextGame(tiny, tokenizer, SENTENCE, layer=3)
    with pytest.raises(ValueError, match=r"k in 0\.\.2"):
        TextGame(tiny, tokenizer, SENTENCE, layer="block1")
    with pytest.raises(ValueError, match="baseline='mask' is the mask token's embedding"):
        TextGame(tiny, tokenizer, SENTENCE, layer=1, baseline="mask")
    with pytest.raises(ValueError, match="needs a Hugging Face model"):
        TextGame(Recorder(bert), tokenizer, SENTENCE, layer=1)
