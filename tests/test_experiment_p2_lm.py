"""P2's Task 2 (``lm``): causal language models explain the next word of the same texts with the same words.

Small GPT-2 and LLaMA models are trained on the synthetic SST-2 folder (``conftest.sst2``); pretrained
models are tiny random ones saved with ``save_pretrained`` into a folder (nothing is downloaded)."""

import json
import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from interprim.experiments import browser, datasets, p2  # noqa: E402
from interprim.experiments import transferability as tr  # noqa: E402
from interprim.experiments.models import load_language_model, train_language_model  # noqa: E402
from interprim.experiments.tasks import Context, task_key  # noqa: E402
from interprim.games import TextGame, content_words  # noqa: E402
from interprim.nn import CAUSAL_LMS, causal_lm, word_tokenizer  # noqa: E402
from interprim.train import TrainConfig, score_causal_lm, train_causal_lm  # noqa: E402


def _config(sst2, **kw):
    base = dict(seeds=[0], task="lm", dataset="sst2", data_path=sst2, archs=list(CAUSAL_LMS), optimizer="adamw",
                lr=3e-3, epochs=2, batch_size=16, samples=4, n=3, ks=[1, 2, 5])
    return tr.Config(**(base | kw))


def test_causal_word_tokenizer_starts_with_cls_and_never_ends_with_sep():
    tok = word_tokenizer(["a great movie .", "a bad film"], causal=True)
    plain = word_tokenizer(["a great movie .", "a bad film"])
    enc = tok(["a great movie", "bad"], padding=True)
    assert set(enc) == {"input_ids", "attention_mask"}  # no token_type_ids: LLaMA takes none
    assert tok.convert_ids_to_tokens(enc["input_ids"][0]) == ["[CLS]", "a", "great", "movie"]
    assert enc["input_ids"][1] == [plain.cls_token_id, plain.convert_tokens_to_ids("bad"), 0, 0]
    assert enc["attention_mask"][1] == [1, 1, 0, 0]
    assert tok.get_vocab() == plain.get_vocab()


def test_causal_lms_are_two_architectures_seeded_without_touching_the_global_rng():
    state = torch.random.get_rng_state()
    a, b, c = causal_lm("gpt2-tiny", 50, seed=1), causal_lm("gpt2-tiny", 50, seed=1), causal_lm("gpt2-tiny", 50, seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (name, x), (_, y), (_, z) in zip(a.state_dict().items(), b.state_dict().items(), c.state_dict().items()):
        assert torch.equal(x, y), name
    assert any(not torch.equal(x, z) for x, z in zip(a.state_dict().values(), c.state_dict().values()))
    llama = causal_lm("llama-tiny", 50, seed=1)
    assert type(llama).__name__ == "LlamaForCausalLM" and type(a).__name__ == "GPT2LMHeadModel"
    with pytest.raises(ValueError, match="arch must be one of"):
        causal_lm("gpt5", 50)


def test_train_causal_lm_learns_a_deterministic_next_word(sst2):
    """On sentences where 'and' always follows a sentiment word, training lowers the next-token loss well below
    chance, and two runs with one seed give the same weights."""
    tok = datasets.lm_tokenizer(sst2)
    sentences = list(datasets.load("sst2", "train", sst2).sentences[:200])
    enc = tok(sentences, padding=True, return_tensors="pt")
    config = TrainConfig(epochs=3, lr=3e-3, batch_size=16, seed=0, optimizer="adamw", lr_schedule="linear",
                         warmup=0.1)
    models = []
    for _ in range(2):
        model = causal_lm("llama-tiny", len(tok), seed=0)
        before = score_causal_lm(model, enc["input_ids"], enc["attention_mask"])
        train_causal_lm(model, enc["input_ids"], enc["attention_mask"], config)
        models.append(model)
    after = score_causal_lm(models[0], enc["input_ids"], enc["attention_mask"])
    assert before.loss > np.log(len(tok)) - 1  # random: about uniform
    assert after.loss < 0.6 * before.loss and after.accuracy > 0.4
    for x, y in zip(models[0].state_dict().values(), models[1].state_dict().values()):
        assert torch.equal(x, y)
    with pytest.raises(ValueError, match="optimizer must be 'adamw'"):
        train_causal_lm(models[0], enc["input_ids"], enc["attention_mask"], TrainConfig(epochs=1, lr=0.1, batch_size=4))


def test_score_causal_lm_equals_a_direct_computation(sst2):
    tok = datasets.lm_tokenizer(sst2)
    sentences = list(datasets.load("sst2", "test", sst2).sentences[:6])
    enc = tok(sentences, padding=True, return_tensors="pt")
    model = causal_lm("gpt2-tiny", len(tok), seed=3).eval()
    scores = score_causal_lm(model, enc["input_ids"], enc["attention_mask"], batch_size=4)
    losses, hits = [], []
    with torch.no_grad():
        for text in sentences:
            ids = tok(text, return_tensors="pt")["input_ids"]
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].double(), -1)
            target = ids[0, 1:]
            losses += (-logp[torch.arange(len(target)), target]).tolist()
            hits += (logp.argmax(-1) == target).tolist()
    assert scores.loss == pytest.approx(np.mean(losses), rel=1e-5)
    assert scores.accuracy == pytest.approx(np.mean(hits))


def test_next_word_texts_cut_each_sentence_before_its_last_word_with_meaning(sst2):
    texts = p2.next_word_texts("sst2", 3, sst2)
    sentences = datasets.load("sst2", "test", sst2).sentences
    assert texts and 40 not in texts and 41 not in texts  # rows 40-41 have too few words with meaning
    for i, (text, start) in texts.items():
        words = content_words(sentences[i])
        assert sentences[i][start:].split()[0] == words[-1]
        assert sentences[i].startswith(text) and sentences[i][len(text):start].strip() == ""
        assert len(content_words(text)) >= 3 and content_words(text) == words[:-1]
    tok = datasets.lm_tokenizer(sst2)
    i, (text, start) = next(iter(texts.items()))
    target = content_words(sentences[i])[-1]
    assert p2.next_token(tok, sentences[i], start) == tok.convert_tokens_to_ids(target.lower())
    with pytest.raises(ValueError, match="no word starts at character"):
        p2.next_token(tok, sentences[i], start + 1)


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory, sst2):
    config = _config(sst2)
    ctx = Context(tmp_path_factory.mktemp("lm"), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = tr.run(config, ctx)
    return config, ctx, results


def test_lm_games_equal_text_games_of_each_model_at_the_target_word(lm_run, sst2):
    """The stored games are TextGames of the causal LM on the text, with the same words as players for both
    models and v = the log-odds of the target word's token; the models learned the synthetic language."""
    config, ctx, results = lm_run
    found = p2.extract(ctx, config, 0)
    assert found.archs == list(CAUSAL_LMS) and found.samples == results["samples"]
    sentences = datasets.load("sst2", "test", sst2).sentences
    texts = p2.next_word_texts("sst2", 3, sst2)
    tok = datasets.lm_tokenizer(sst2)
    words = None
    for spec, values in zip(p2.model_specs(config, 0).values(), found.values):
        key = task_key("train-lm", {k: spec[k] for k in ("arch", "init_seed", "data_seed", "epochs", "lr",
                                                         "batch_size")} | dict(subset="all", dataset="sst2"))
        state = ctx.store.get(("tasks", "train-lm", key))[0]
        assert np.asarray(state["accuracy"])[1] > 0.3  # next-word accuracy on the test sentences
        model = load_language_model(spec["arch"], state)
        played = []
        for row, i in zip(values, found.samples):
            text, start = texts[i]
            target = tok.convert_tokens_to_ids(sentences[i][start:].split()[0].lower())
            game = TextGame(model, tok, text, n=3, seed=0, target=target)
            played.append(game.words)
            np.testing.assert_allclose(row, game.values(), rtol=0, atol=1e-5)
        assert words is None or played == words  # both models explain the same words
        words = played
    browser.validate(results["browser"])  # the texts before the target words, the words played, the target word
    for section in results["browser"]:
        assert [[t[a:b] for a, b in x["input"]["players"]] for x, t in
                ((x, x["input"]["text"]) for x in section["samples"])] == words
        assert [x["label"] for x in section["samples"]] == \
            [sentences[i][texts[i][1]:].split()[0] for i in found.samples]
    assert "texts (SST-2 test sentences before their last word with meaning)" in tr.summary(
        json.loads(json.dumps(results, default=float)))


def test_pretrained_language_models_are_read_from_local_folders(tmp_path, sst2):
    """model_paths: two pretrained causal LMs are read from their folders (model and tokenizer), nothing is
    trained, and with target = "predicted" each is explained at its own most likely next token."""
    base = datasets.lm_tokenizer(sst2)
    folders = []
    for j, arch in enumerate(CAUSAL_LMS):
        folder = tmp_path / arch
        causal_lm(arch, len(base), seed=j).save_pretrained(folder)
        base.save_pretrained(folder)
        folders.append(str(folder))
    config = _config(sst2, archs=["first", "second"], model_paths=folders, target="predicted")
    ctx = Context(tmp_path / "store", progress=False)
    found = p2.extract(ctx, config, 0, methods=("harsanyi",))
    assert np.isnan(found.accuracy["first"]["test"])
    texts = p2.next_word_texts("sst2", 3, sst2)
    for folder, values, record in zip(folders, found.values, found.records):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(folder).eval()
        tok = AutoTokenizer.from_pretrained(folder)
        for row, i, token in zip(values, found.samples, record.value["targets"]):
            game = TextGame(model, tok, texts[i][0], n=3, seed=0)  # target None: the most likely next token
            with torch.no_grad():
                assert int(token) == int(model(**tok(texts[i][0], return_tensors="pt")).logits[0, -1].argmax())
            np.testing.assert_allclose(row, game.values(), rtol=0, atol=1e-5)


def test_lm_configs_raise_clear_errors(tmp_path, sst2):
    with pytest.raises(ValueError, match="target must be one of"):
        _config(sst2, target="next")
    with pytest.raises(ValueError, match="archs must be among gpt2-tiny, llama-tiny .trained here., or name pretrained"):
        _config(sst2, archs=["llama-7b", "opt-1.3b"])
    with pytest.raises(ValueError, match="model_paths must give one local folder per model"):
        _config(sst2, archs=["a", "b"], model_paths=[str(tmp_path)])
    with pytest.raises(ValueError, match="hold no Hugging Face model"):
        _config(sst2, archs=["a", "b"], model_paths=[str(tmp_path), str(tmp_path)])
    with pytest.raises(ValueError, match="model_paths is for the text tasks"):
        tr.Config(model_paths=["x", "y"])
    with pytest.raises(ValueError, match="task 'lm' needs dataset = sst2"):
        tr.Config(task="lm", archs=list(CAUSAL_LMS))
    with pytest.raises(ValueError, match="arch must be one of"):
        train_language_model(arch="bert-tiny", init_seed=0, data_seed=0, epochs=1, lr=1e-3, data_path=sst2)


def test_shipped_lm_configs_load(sst2):
    from interprim.experiments import shared_by_order as sb
    from interprim.experiments import sparsity as sp
    from interprim.experiments.config import load_config

    small = [f"data_path={sst2}", "samples=3", "n=3", "train_subset=first:100"]
    for name, module in (("transferability", tr), ("shared-by-order", sb), ("sparsity", sp)):
        config = load_config(module.Config, "lm-cpu", small + (["ks=[1,2]"] if module is tr else []), name=name)
        assert config.task == "lm" and config.archs == list(CAUSAL_LMS) and config.seeds == [0, 1]
    with pytest.raises(ValueError, match="model_paths"):
        load_config(tr.Config, "lm-paper", small + ["ks=[1,2]"], name="transferability")
