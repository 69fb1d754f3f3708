"""Word players independent of the tokenizer: content_words, explicit players, and causal LMs (P2 Task 2).

Two tiny random models with different tokenizers explain the same words: a BERT sequence
classifier with a word-level BERT tokenizer (one token per word) and a GPT-2 causal LM with a
byte-level BPE tokenizer trained here (a word splits into several tokens).
"""

import pytest
import torch

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from interprim.games import ENGLISH_STOP_WORDS, TextGame, content_words, text_values  # noqa: E402
from interprim.nn import word_tokenizer  # noqa: E402

SENTENCES = [
    "The movie is unbelievable, and not good. Plots don't work!",
    "funny plot, bad movie",
    "it was not a good movie of the plots, it was bad and funny; good acting though",
]
CORPUS = SENTENCES + ["an unbelievable twist, really good work", "bad acting and a dull plot"]


def hand_log_odds(logits, y):
    p = torch.softmax(logits.double(), dim=-1)[..., y]
    return torch.log(p / (1 - p))


@pytest.fixture(scope="module")
def bert():
    """A word-level BERT tokenizer and a random 2-class BERT classifier on its vocabulary (float64)."""
    tok = word_tokenizer(CORPUS)
    config = transformers.BertConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=64, num_labels=2,
    )  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return transformers.BertForSequenceClassification(config).double().eval(), tok


@pytest.fixture(scope="module")
def gpt2():
    """A byte-level BPE tokenizer trained on the corpus and a random GPT-2 causal LM on it (float64)."""
    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=300, min_frequency=1, show_progress=False)
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, model_input_names=["input_ids", "attention_mask"])
    config = transformers.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=len(tok), n_positions=64)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        return transformers.GPT2LMHeadModel(config).double().eval(), tok


# ------------------------------------------------------------------------------------ content_words


@pytest.mark.parametrize(
    ("sentence", "words"),
    [
        (SENTENCES[0], ["movie", "unbelievable", "not", "good", "Plots", "don", "work"]),
        ("I do n't like it", ["n", "like"]),  # 'do', 't', 'it' are stop words; SST-2's "n't" leaves 'n'
        ("I don't like it", ["don", "like"]),
        ("good, good movie... GOOD!", ["good", "good", "movie", "GOOD"]),
        ("It cost $1,000.50 in 2023 for the 3rd B52", ["cost", "1", "000", "50", "2023", "3rd", "B52"]),
        ("café—naïve “quotes” 東京\tend\nline", ["café", "naïve", "quotes", "東", "京", "end", "line"]),
        ("state-of-the-art (really)", ["state", "art", "really"]),
        ("the , is .", []),
        ("", []),
    ],
)
def test_content_words_on_tricky_sentences(sentence, words):
    assert content_words(sentence) == words


def test_content_words_stop_words_and_the_bert_word_grouping():
    assert content_words("I do n't like it", stop_words=()) == ["I", "do", "n", "t", "like", "it"]
    assert content_words("The plot", stop_words=["PLOT"]) == ["The"]
    assert "n" not in ENGLISH_STOP_WORDS
    with pytest.raises(TypeError, match="string"):
        content_words(["a sentence"])
    # the words are those of a BERT tokenizer's word_ids() (the games' former notion of word)
    tok = word_tokenizer(CORPUS)
    for sentence in [*SENTENCES, "It cost $1,000.50 in 2023", "I do n't like it -- really?!"]:
        enc = tok(sentence)
        ids = sorted({w for w in enc.word_ids() if w is not None})
        spans = [enc.word_to_chars(w) for w in ids]
        assert content_words(sentence, stop_words=()) == [
            sentence[s.start : s.end] for s in spans if any(c.isalnum() for c in sentence[s.start : s.end])
        ]


# ---------------------------------------------------------------------------------- explicit players


def test_players_by_word_and_by_index_give_the_same_game(bert):
    model, tok = bert
    by_word = TextGame(model, tok, SENTENCES[0], players=["good", "movie", "don"])
    by_index = TextGame(model, tok, SENTENCES[0], players=[3, 0, 5], n=3)
    mixed = TextGame(model, tok, SENTENCES[0], players=["good", 0, "don"])
    assert by_word.words == by_index.words == mixed.words == ["good", "movie", "don"]  # the given order
    assert by_word.word_indices == [3, 0, 5] and by_word.word_tokens == by_index.word_tokens
    torch.testing.assert_close(by_word.values(), by_index.values(), rtol=0, atol=0)
    torch.testing.assert_close(by_word.values(), mixed.values(), rtol=0, atol=0)
    # the same players in another order: the value vector permuted accordingly
    sorted_game = TextGame(model, tok, SENTENCES[0], players=["movie", "good", "don"])
    perm = [(s & 4) | (s & 1) << 1 | (s & 2) >> 1 for s in range(8)]  # swap bits 0 and 1
    torch.testing.assert_close(sorted_game.values()[perm], by_word.values(), rtol=1e-12, atol=1e-12)
    # without players: sampling among the same content words, as before
    with pytest.warns(UserWarning, match="has only 7 words with meaning"):
        assert TextGame(model, tok, SENTENCES[0], n=20).words == content_words(SENTENCES[0])


def test_the_kth_occurrence_of_a_repeated_word(bert):
    model, tok = bert
    sentence = SENTENCES[2]  # 'good' occurs twice, 'bad' once
    game = TextGame(model, tok, sentence, players=["good", "bad", "good"])
    first, second = (i for i, w in enumerate(content_words(sentence)) if w == "good")
    assert game.word_indices == [first, content_words(sentence).index("bad"), second]
    assert game.word_tokens[0] < game.word_tokens[2]
    assert [game.tokens[t] for (t,) in (game.word_tokens[0], game.word_tokens[2])] == ["good", "good"]


def test_the_same_words_cover_their_own_tokens_in_each_tokenisation(bert, gpt2):
    sentence, words = SENTENCES[0], ["unbelievable", "Plots", "work", "don"]
    for (model, tok), strip in [(bert, "##"), (gpt2, "Ġ")]:
        game = TextGame(model, tok, sentence, players=words)
        assert game.words == words
        for word, positions in zip(words, game.word_tokens):
            assert positions == tuple(range(positions[0], positions[-1] + 1))  # contiguous
            text = "".join(game.tokens[t].replace(strip, "") for t in positions)
            assert text == (word.lower() if tok is bert[1] else word)
    bert_game = TextGame(*bert, sentence, players=words)
    gpt_game = TextGame(*gpt2, sentence, players=words)
    assert [len(t) for t in bert_game.word_tokens] == [1, 1, 1, 1]  # [CLS] first: positions shift by one
    assert bert_game.word_tokens == [(4,), (10,), (14,), (11,)]
    assert max(len(t) for t in gpt_game.word_tokens) > 1  # a word split into several BPE tokens
    enc = gpt2[1](sentence, return_offsets_mapping=True)
    for (start, end), positions in zip([(13, 25), (41, 46), (53, 57), (47, 50)], gpt_game.word_tokens):
        assert sentence[start:end] in words
        assert positions == tuple(t for t, (a, b) in enumerate(enc["offset_mapping"]) if a < end and b > start)
    # the default sampling picks the same words for both tokenizers
    assert TextGame(*bert, sentence, n=3, seed=4).words == TextGame(*gpt2, sentence, n=3, seed=4).words


@pytest.mark.parametrize("which", ["bert", "gpt2"])
def test_full_and_empty_coalitions_are_the_model_on_the_text_and_on_the_baseline(bert, gpt2, which):
    model, tok = {"bert": bert, "gpt2": gpt2}[which]
    game = TextGame(model, tok, SENTENCES[0], players=["unbelievable", "good", "Plots"], baseline="players_mean")
    v = game.values()
    enc = tok(SENTENCES[0], return_tensors="pt")
    table = model.get_input_embeddings().weight.detach()
    embeds = table[enc["input_ids"][0]].clone()
    tokens = sorted(t for w in game.word_tokens for t in w)
    baseline = embeds[tokens].mean(0)
    torch.testing.assert_close(game.baseline, baseline, rtol=1e-12, atol=1e-12)
    embeds[tokens] = baseline
    with torch.no_grad():
        full = model(**enc).logits[0]
        empty = model(inputs_embeds=embeds[None], attention_mask=enc["attention_mask"]).logits[0]
    if which == "gpt2":
        full, empty = full[-1], empty[-1]  # the next token after the text
    assert game.next_token == (which == "gpt2") and game.target == int(full.argmax())
    torch.testing.assert_close(v[-1], hand_log_odds(full, game.target), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(v[0], hand_log_odds(empty, game.target), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("which", ["bert", "gpt2"])
def test_per_sentence_players_in_text_values_equal_one_by_one_games(bert, gpt2, which):
    model, tok = {"bert": bert, "gpt2": gpt2}[which]
    players = [["good", "don", "movie"], [2, "funny", "plot"], ["bad", "good", "good"]]
    values, words = text_values(model, tok, SENTENCES, players=players, batch_size=5)
    assert values.shape == (3, 8)
    for b, sentence in enumerate(SENTENCES):
        game = TextGame(model, tok, sentence, players=players[b])
        assert words[b] == game.words
        torch.testing.assert_close(values[b], game.values(), rtol=1e-9, atol=1e-9)
    assert words == [["good", "don", "movie"], ["bad", "funny", "plot"], ["bad", "good", "good"]]
    # one list of indices shared by every sentence
    shared, shared_words = text_values(model, tok, SENTENCES, players=[1, 0], n=2)
    assert shared_words == [content_words(s)[1::-1] for s in SENTENCES] and shared.shape == (3, 4)


# ------------------------------------------------------------------------------------------ causal LMs


def test_causal_lm_next_token_log_odds_by_hand(gpt2):
    model, tok = gpt2
    sentence = SENTENCES[1]
    game = TextGame(model, tok, sentence, n=3)
    ids = tok(sentence, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        last = model(ids).logits[0, -1]
    assert game.next_token and game.target == int(last.argmax()) and game.logits.shape == (len(tok),)
    v = game.values()
    torch.testing.assert_close(v[-1], hand_log_odds(last, game.target), rtol=1e-10, atol=1e-10)
    # the value for one coalition by hand: the absent words' tokens carry the vocabulary's mean embedding
    table = model.get_input_embeddings().weight.detach()
    embeds = table[ids[0]].clone()
    for i, tokens in enumerate(game.word_tokens):
        if i != 1:
            embeds[list(tokens)] = table.mean(0)
    with torch.no_grad():
        logits = model(inputs_embeds=embeds[None]).logits[0, -1]
    torch.testing.assert_close(v[2], hand_log_odds(logits, game.target), rtol=1e-10, atol=1e-10)
    # a given target token id, and the target logit
    other = TextGame(model, tok, sentence, n=3, target=7, output="logit")
    torch.testing.assert_close(other.values()[-1], last[7].double(), rtol=1e-10, atol=1e-10)


def test_causal_lm_batched_values_with_padding_equal_one_by_one_games(gpt2):
    model, tok = gpt2
    lengths = [len(tok(s)["input_ids"]) for s in SENTENCES]
    assert len(set(lengths)) == 3  # padding in every shared pass
    seen = []
    handle = model.lm_head.register_forward_hook(lambda module, args, out: seen.append(tuple(out.shape)))
    try:
        values, words = text_values(model, tok, SENTENCES, n=3, seed=2, batch_size=6)
    finally:
        handle.remove()
    assert all(shape[1] == 1 for shape in seen)  # the head only ever sees the last real position
    targets = []
    for b, sentence in enumerate(SENTENCES):
        game = TextGame(model, tok, sentence, n=3, seed=2)
        assert words[b] == game.words
        targets.append(game.target)
        torch.testing.assert_close(values[b], game.values(), rtol=1e-5, atol=1e-5)
    given, _ = text_values(model, tok, SENTENCES, n=3, seed=2, targets=[5, 6, 7])
    for b, sentence in enumerate(SENTENCES):
        game = TextGame(model, tok, sentence, n=3, seed=2, target=5 + b)
        torch.testing.assert_close(given[b], game.values(), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------ bad inputs


def test_bad_players_raise_clear_errors(bert, gpt2):
    model, tok = bert
    s = SENTENCES[0]
    cases = [
        (["good", "great"], r"'great' does not occur in the sentence .The movie"),
        (["The"], r"'The' is a stop word .*stop_words=\(\)"),
        (["plots"], r"'plots' does not occur with this case .*\['Plots'\]"),
        ([","], r"',' is punctuation"),
        (["believ"], r"'believ' is not a whole word"),
        (["don't"], r"\"don't\" is not a whole word"),
        (["good", "good"], r"'good' is listed 2 times in players but occurs 1 time"),
        (["good", 3], r"duplicate players: 3 is the word 'good'"),
        ([0, 0], r"duplicate players: 0"),
        ([7], r"index 7 is out of range 0\.\.6 .*.The movie"),
        ([-1], r"index -1 is out of range"),
        ([True], r"got True"),
        ([], r"players is empty"),
        ("good", r"must be a list of words"),
    ]
    for players, message in cases:
        with pytest.raises(ValueError, match=message):
            TextGame(model, tok, s, players=players)
    with pytest.raises(ValueError, match=r"n=2 but 3 players were given"):
        TextGame(model, tok, s, players=[0, 1, 2], n=2)
    with pytest.raises(ValueError, match=r"sentences\[1\]: the word 'good' does not occur"):
        text_values(model, tok, SENTENCES, players=[["good"], ["good"], ["good"]])
    with pytest.raises(ValueError, match=r"same number of players .*\[2, 1, 2\]"):
        text_values(model, tok, SENTENCES, players=[["good", "movie"], ["movie"], ["good", "bad"]])
    with pytest.raises(ValueError, match="2 lists but there are 3 sentences"):
        text_values(model, tok, SENTENCES, players=[["movie"], ["movie"]])
    with pytest.raises(ValueError, match="mixes lists"):
        text_values(model, tok, SENTENCES, players=[["movie"], 0, 1])
    with pytest.raises(ValueError, match="'mean', 'mask', 'players_mean'"):
        TextGame(model, tok, s, players=[0], baseline="zero")
    gpt, bpe = gpt2
    with pytest.raises(ValueError, match="layer=1: the model returns per-position logits .*use layer=None"):
        TextGame(gpt, bpe, s, n=3, layer=1)
    with pytest.raises(ValueError, match="target must be a class index in 0..299"):
        TextGame(gpt, bpe, s, n=3, target=300)
    with pytest.raises(ValueError, match="no mask token"):
        TextGame(gpt, bpe, s, n=3, baseline="mask")
