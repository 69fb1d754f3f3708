"""Tests of :func:`interprim.nn.word_tokenizer`: a fast BERT tokenizer with one token per word of its
training sentences (BERT uncased pre-tokenisation), special tokens first.

The expected words are written out by hand for each sentence (lower case, punctuation split off)."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("transformers", reason="word_tokenizer needs the optional dependency transformers")

from interprim.nn import word_tokenizer

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

SENTENCES = [
    "Hello, World! It's a Café test.",
    "the film is GREAT ... really great",
    "a gob of drivel so sickly sweet",
    "not bad (at all); not-bad?",
]
# BERT uncased pre-tokenisation of SENTENCES: lower case, accents stripped, every punctuation mark a word
WORDS = [
    ["hello", ",", "world", "!", "it", "'", "s", "a", "cafe", "test", "."],
    ["the", "film", "is", "great", ".", ".", ".", "really", "great"],
    ["a", "gob", "of", "drivel", "so", "sickly", "sweet"],
    ["not", "bad", "(", "at", "all", ")", ";", "not", "-", "bad", "?"],
]


@pytest.fixture(scope="module")
def tok():
    return word_tokenizer(SENTENCES)


def test_vocabulary_is_the_special_tokens_then_the_sorted_words(tok):
    vocab = tok.get_vocab()
    words = sorted({w for ws in WORDS for w in ws})
    assert len(vocab) == len(tok) == len(SPECIAL) + len(words)
    assert [tok.convert_ids_to_tokens(i) for i in range(len(vocab))] == SPECIAL + words
    ids = (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id)
    assert ids == (0, 1, 2, 3, 4)
    assert tok.is_fast


def test_every_training_word_is_one_token_that_decodes_back(tok):
    for sentence, words in zip(SENTENCES, WORDS):
        encoding = tok(sentence)
        ids = encoding["input_ids"]
        assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
        assert tok.convert_ids_to_tokens(ids[1:-1]) == words
        assert tok.unk_token_id not in ids
        for word, token_id in zip(words, ids[1:-1]):
            assert tok.decode([token_id]) == word
            assert tok(word, add_special_tokens=False)["input_ids"] == [token_id]


def test_word_ids_give_one_token_per_word(tok):
    for sentence, words in zip(SENTENCES, WORDS):
        encoding = tok(sentence)
        assert encoding.word_ids() == [None, *range(len(words)), None]
        # and each word's characters in the sentence are that word (lower-cased, accents stripped)
        for k, word in enumerate(words):
            span = encoding.word_to_chars(k)
            text = sentence[span.start : span.end].lower()
            assert text == word or (word == "cafe" and text == "café")


def test_unknown_words_become_unk(tok):
    ids = tok("Hello unseen WORLD zebra", add_special_tokens=False)["input_ids"]
    unk = tok.unk_token_id
    assert ids == [tok.convert_tokens_to_ids("hello"), unk, tok.convert_tokens_to_ids("world"), unk]
    assert tok("greatly", add_special_tokens=False)["input_ids"] == [unk]  # no word pieces: a whole word or [UNK]
    assert tok.convert_ids_to_tokens(tok("[PAD]", add_special_tokens=False)["input_ids"]) == ["[PAD]"]


def test_min_count_drops_rare_words():
    sentences = ["good film", "good acting , bad film", "bad plot ."]
    twice = word_tokenizer(sentences, min_count=2)
    assert [twice.convert_ids_to_tokens(i) for i in range(len(twice))] == SPECIAL + ["bad", "film", "good"]
    ids = twice("good acting , bad plot", add_special_tokens=False)["input_ids"]
    assert twice.convert_ids_to_tokens(ids) == ["good", "[UNK]", "[UNK]", "bad", "[UNK]"]
    once = word_tokenizer(sentences)
    assert len(once) == len(SPECIAL) + 7  # good film acting , bad plot .
    assert len(word_tokenizer(sentences, min_count=3)) == len(SPECIAL)


def test_same_sentences_in_another_order_give_the_same_ids():
    shuffled = list(SENTENCES)
    random.Random(0).shuffle(shuffled)
    assert shuffled != SENTENCES
    a, b = word_tokenizer(SENTENCES), word_tokenizer(shuffled)
    assert a.get_vocab() == b.get_vocab()
    assert word_tokenizer(tuple(reversed(SENTENCES))).get_vocab() == a.get_vocab()
    assert a(SENTENCES[1])["input_ids"] == b(SENTENCES[1])["input_ids"]


def test_padding_uses_id_zero():
    tok = word_tokenizer(["short one", "a much longer sentence here"])
    batch = tok(["short one", "a much longer sentence here"], padding=True, return_tensors="pt")
    assert batch["input_ids"].shape == (2, 7)
    assert batch["input_ids"][0, 4:].tolist() == [0, 0, 0]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 0, 0, 0], [1] * 7]


@pytest.mark.parametrize(
    "sentences, min_count, error",
    [
        ("a single string", 1, TypeError),
        (["fine", 3], 1, TypeError),
        ([b"bytes"], 1, TypeError),
        (["fine"], 0, ValueError),
        (["fine"], 1.0, TypeError),
    ],
)
def test_bad_arguments_raise(sentences, min_count, error):
    with pytest.raises(error, match="sentences|min_count"):
        word_tokenizer(sentences, min_count=min_count)
