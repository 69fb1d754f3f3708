"""The ``primitives`` experiment (P2 Fig. 5, 10) end to end on a micro config: the salient, shared and distinctive
interactions and their counts against a direct computation by hand, the stored inputs, figures, summary, runner."""

import dataclasses
import json
import warnings

import numpy as np
import pytest

from interprim.data import load_mnist10k
from interprim.experiments import browser, load_config, p2, register, run_experiment
from interprim.experiments import primitives as pr
from interprim.experiments import transferability as tr
from interprim.experiments.tasks import Context
from interprim.games import foreground_patches

MICRO = dict(seeds=[0], epochs=1, samples=6, n=4)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    ctx = Context(tmp_path_factory.mktemp("pr"), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ctx, pr.run(pr.Config(**MICRO), ctx)


def _by_hand(results, values, n):
    """Per model: τ_i, and per sample the salient sets {(type, T)} (OR singletons merged into AND), with the
    merged values ``(m, B, 2**n)`` per type."""
    singles = [1 << i for i in range(n)]
    tau = [0.02 * np.mean(np.abs(v[:, -1] - v[:, 0])) for v in values]
    merged = []
    for r in results:
        a, o = np.array(r.i_and, dtype=float), np.array(r.i_or, dtype=float)
        a[:, singles] += o[:, singles]
        o[:, singles] = 0.0
        merged.append((a, o))
    salient = [[{(kind, t) for kind, x in enumerate(merged[j]) for t in range(1, 2**n)
                 if abs(x[b, t]) > tau[j] and not (kind == 1 and t in singles)}
                for b in range(values[0].shape[0])] for j in range(len(results))]
    return tau, merged, salient


def test_labels_counts_and_shares_equal_a_direct_computation(finished):
    ctx, results = finished
    found = p2.extract(ctx, pr.Config(**MICRO), 0, methods=pr.METHODS)  # every task is reused from the store
    assert results["samples"] == found.samples and results["shown"] == found.samples[:3]
    n, top, samples = 4, 5, len(found.samples)
    for method in pr.METHODS:
        stats = results["seeds"][0]["statistics"][method]
        tau, merged, salient = _by_hand(found.methods[method], found.values, n)
        np.testing.assert_allclose(stats["tau"], tau, rtol=1e-12)
        shared = [salient[0][b] & salient[1][b] for b in range(samples)]
        counts = np.array([[len(salient[j][b]) for b in range(samples)] for j in range(2)])
        np.testing.assert_allclose(stats["salient"]["mean"], counts.mean(1))
        np.testing.assert_allclose(stats["salient"]["sd"], counts.std(1, ddof=1))
        assert stats["shared"]["mean"] == pytest.approx(np.mean([len(s) for s in shared]))
        for j in range(2):
            for kind, t in enumerate(pr.TYPES):
                s = []
                for b in range(samples):
                    x = merged[j][kind][b]
                    own = sum(abs(x[u]) for c, u in salient[j][b] if c == kind)
                    s.append(sum(abs(x[u]) for c, u in shared[b] if c == kind) / own if own else np.nan)
                assert stats[f"s_{t}"]["mean"][j] == pytest.approx(np.nanmean(s), abs=1e-12)
        for b in range(3):
            row = stats["shown"][b]
            assert row["salient"] == [len(salient[0][b]), len(salient[1][b])]
            assert row["shared"] == len(shared[b])
            for j in range(2):
                ranked = sorted(salient[j][b], key=lambda e: (-abs(merged[j][e[0]][b, e[1]]), e[0], e[1]))[:top]
                got = row["top"][j]
                assert [(pr.TYPES.index(item["type"]), item["mask"]) for item in got] == ranked
                for item, (kind, t) in zip(got, ranked):
                    assert item["label"] == ("shared" if (kind, t) in shared[b] else "distinctive")
                    assert item["values"] == pytest.approx([merged[i][kind][b, t] for i in range(2)], abs=1e-12)
                    assert item["salient"] == [(kind, t) in salient[i][b] for i in range(2)]
                    assert item["players"] == [i for i in range(n) if t >> i & 1]
                    assert item["order"] == len(item["players"])
                if len(salient[j][b]) >= top:
                    assert len(got) == top


def test_stored_inputs_are_the_test_images_and_their_players(finished):
    _, results = finished
    test = load_mnist10k("test")
    for image, boxes, i in zip(results["images"], results["players"], results["shown"]):
        assert int(test.labels[i]) == 3
        np.testing.assert_allclose(image, test.images[i][0].numpy(), atol=5e-5)
        masks = foreground_patches(test.images[i], patch=4, n=4, seed=0).numpy()
        drawn = np.zeros_like(masks)
        for k, (y0, x0, y1, x1) in enumerate(boxes):
            drawn[k, y0:y1, x0:x1] = True
        np.testing.assert_array_equal(drawn, masks)


def test_schema_figures_and_summary_after_a_json_round_trip(finished, tmp_path):
    _, results = finished
    read = json.loads(json.dumps(results, default=float))
    assert set(read["over_seeds"]) == set(pr.METHODS) == set(read["seeds"][0]["statistics"])
    assert read["top"] == 5 and read["n"] == 4 and len(read["images"]) == len(read["players"]) == 3
    browser.validate(read["browser"])  # the browser's top interactions are those the figures draw, one more
    for section, method in zip(read["browser"], pr.METHODS, strict=True):
        for b, sample in enumerate(section["samples"][:3]):
            assert sample["input"]["players"] == read["players"][b]
            for j, arch in enumerate(read["archs"]):
                shown = read["seeds"][0]["statistics"][method]["shown"][b]["top"][j]
                assert [(x["type"], x["players"], x["shared"]) for x in sample["models"][arch]["top"][:5]] == \
                    [(x["type"], x["players"], x["label"] == "shared") for x in shown]
    for method in pr.METHODS:
        stats = read["seeds"][0]["statistics"][method]
        assert np.shape(stats["tau"]) == (2,) and np.shape(stats["salient"]["mean"]) == (2,)
        assert np.shape(stats["s_and"]["mean"]) == (2,) and np.ndim(stats["shared"]["mean"]) == 0
        assert len(stats["shown"]) == 3 and all(len(row["top"]) == 2 for row in stats["shown"])
        assert np.shape(read["over_seeds"][method]["salient"]["mean"]) == (2,)
    assert read["seeds"][0]["gaps"]["traditional-lp"] < 1e-6
    text = pr.summary(read)
    drawn = dict(read, shown=read["shown"][:1])  # draw one of the three shown samples, to keep the test short
    paths = pr.figures(drawn, tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"primitives-test{i}.{ext}" for i in read["shown"][:1]
                                                   for ext in ("png", "svg"))
    assert all(p.stat().st_size > 0 for p in paths)
    assert not text.startswith("#") and "## Salient and shared interactions" in text and "## Shown samples" in text
    assert f"- test {read['shown'][0]}, generalizable, lenet:" in text


def test_runner_writes_results_summary_and_figures(finished, tmp_path):
    ctx, _ = finished
    register(pr)
    overrides = ["seeds=[0]", "epochs=1", "samples=6", "n=4", "shown=1", "top=3"]
    done = run_experiment("primitives", "cpu", overrides, out=tmp_path / "run", store=ctx.store, progress=False)
    assert done["tasks"]["computed"] == 0  # the fixture's models, games and extractions are reused
    assert done["results"]["top"] == 3 and len(done["results"]["shown"]) == 1
    run = tmp_path / "run"
    assert (run / "results.json").is_file() and (run / "summary.md").read_text().startswith("# primitives: ")
    assert sorted(p.name for p in (run / "figures").iterdir()) == sorted(
        f"primitives-test{i}.{ext}" for i in done["results"]["shown"] for ext in ("png", "svg"))


@pytest.mark.parametrize("source", ["cpu", "paper"])
def test_shipped_configs_share_the_models_and_extractions_of_transferability(source):
    reference = dataclasses.asdict(load_config(tr.Config, source, name=tr.NAME))
    del reference["ks"]
    config = dataclasses.asdict(load_config(pr.Config, source, name=pr.NAME))
    assert (config.pop("shown"), config.pop("top")) == (3, 5) and config == reference


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="shown must be an integer in 1 .. samples"):
        pr.Config(samples=5, shown=6)
    with pytest.raises(ValueError, match="shown must be an integer"):
        pr.Config(samples=5, shown=0)
    with pytest.raises(ValueError, match="shown must be an integer"):
        pr.Config(samples=5, shown=True)
    with pytest.raises(ValueError, match=r"top must be an integer in 1 .. 11"):
        pr.Config(samples=5, n=3, top=12)
    with pytest.raises(ValueError, match="top must be an integer"):
        pr.Config(samples=5, top=0)
    with pytest.raises(ValueError, match="at least two models"):
        pr.Config(archs=["lenet"])
    with pytest.raises(ValueError, match="test images of class 3"):
        pr.Config(samples=5000)


@pytest.mark.parametrize("task", ["sst2", "lm"])
def test_text_primitives_are_words_of_the_sentence(tmp_path, sst2, task):
    """Text tasks: the shown inputs are the sentences (task lm: the text before the target word) and the players
    the words of their text games; the figures draw them and the summary names the words."""
    pytest.importorskip("transformers")
    from interprim.experiments import datasets
    from interprim.games import TextGame
    from interprim.nn import CAUSAL_LMS, bert_tiny

    archs = list(CAUSAL_LMS) if task == "lm" else ["bert-tiny", "bert-mini"]
    config = pr.Config(seeds=[0], task=task, dataset="sst2", data_path=sst2, archs=archs, optimizer="adamw",
                       lr=3e-3, epochs=1, batch_size=16, samples=4, n=3, shown=2, top=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = pr.run(config, Context(tmp_path / "store", progress=False))
    read = json.loads(json.dumps(results, default=float))
    sentences = datasets.load("sst2", "test", sst2).sentences
    tok = datasets.tokenizer(sst2)
    model = bert_tiny(vocab_size=len(tok))
    for text, spans, i in zip(read["images"], read["players"], read["shown"]):
        expected = p2.next_word_texts("sst2", 3, sst2)[i][0] if task == "lm" else sentences[i]
        assert text == expected
        assert [text[a:b] for a, b in spans] == TextGame(model, tok, text, n=3, seed=0).words
    browser.validate(read["browser"])  # the browser's texts and player words, and the target word of task lm
    for section in read["browser"]:
        assert [x["id"] for x in section["samples"]] == [f"test #{i}" for i in read["samples"]]
        for sample, i in zip(section["samples"], read["samples"]):
            text, spans = sample["input"]["text"], sample["input"]["players"]
            assert [text[a:b] for a, b in spans] == TextGame(model, tok, text, n=3, seed=0).words
            if task == "lm":
                start = p2.next_word_texts("sst2", 3, sst2)[i][1]
                assert text == sentences[i][:start].rstrip() and sentences[i][start:].startswith(sample["label"])
            else:
                assert text == sentences[i] and sample["label"] in ("negative", "positive")
    paths = pr.figures(dict(read, shown=read["shown"][:1]), tmp_path)
    assert [p.name for p in paths] == [f"primitives-test{read['shown'][0]}.png", f"primitives-test{read['shown'][0]}.svg"]
    summary = pr.summary(read)
    assert "| test sentence | method |" in summary
    first = read["seeds"][0]["statistics"]["generalizable"]["shown"][0]["top"][0]
    if first:
        words = ",".join(read["images"][0][slice(*read["players"][0][k])] for k in first[0]["players"])
        assert f"{first[0]['type'].upper()}{{{words}}}" in summary


@pytest.mark.slow
def test_the_cpu_config_runs_end_to_end(tmp_path):
    register(pr)
    out = run_experiment("primitives", "cpu", out=tmp_path / "run", progress=False)
    results = out["results"]
    assert len(results["seeds"]) == 3 and results["config"]["samples"] == 100 and len(results["shown"]) == 3
    for method in pr.METHODS:
        assert results["over_seeds"][method]["shared"]["n"] == 3
    assert len(list((tmp_path / "run" / "figures").glob("primitives-test*.png"))) == 3
    assert (tmp_path / "run" / "summary.md").is_file()
