"""P2's shared pipeline (``p2``) and the ``transferability`` experiment end to end on a micro config: the samples,
games and joint extraction against direct computations, ``s`` by hand from P2 Def. 1, the chance floor, the runner."""

import json
import warnings

import numpy as np
import pytest

from interprim import generalizable_and_or
from interprim.data import load_mnist10k
from interprim.experiments import browser, p2, register, run_experiment
from interprim.experiments import transferability as tr
from interprim.experiments.models import load_model
from interprim.experiments.tasks import Context, task_key
from interprim.games import ImageGame, foreground_patches

MICRO = dict(seeds=[0], epochs=1, samples=6, n=4, ks=[1, 2, 5])


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    ctx = Context(tmp_path_factory.mktemp("tr"), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ADMM optimum may stop at max_iter on a few games
        return ctx, tr.run(tr.Config(**MICRO), ctx)


def test_samples_are_threes_with_enough_foreground_patches():
    found = p2.test_samples("mnist10k", 3, 4, 4, 0)[:20]
    test = load_mnist10k("test")
    assert all(int(test.labels[i]) == 3 for i in found)
    for i in found:
        assert foreground_patches(test.images[i], patch=4, n=4, seed=0).shape == (4, 28, 28)
    assert found == sorted(found) and len(set(found)) == len(found)


def test_games_and_joint_extraction_equal_direct_computations(finished):
    ctx, results = finished
    config = tr.Config(**MICRO)
    specs = p2.model_specs(config, 0)
    test = load_mnist10k("test")
    stored = []
    for arch, spec in specs.items():
        model = load_model(arch, ctx.store.get(("tasks", "train", task_key("train", spec)))[0], binary=True)
        (values,) = [record["values"] for record, info in map(ctx.store.get, ctx.store.keys(("tasks", "p2-values")))
                     if info["params"]["arch"] == arch and info["deps"]["model"] == task_key("train", spec)]
        for row, i in zip(values, results["samples"]):
            players = foreground_patches(test.images[i], patch=4, n=4, seed=0)
            game = ImageGame(model, test.images[i], players, target=1, output="logit")
            np.testing.assert_allclose(row, game.values(), rtol=0, atol=1e-5)
        stored.append(values)
    found = p2.extract(ctx, config, 0)  # every task is reused from the store
    direct = generalizable_and_or(stored, alpha=0.1, solver="lp")
    for j in range(2):
        np.testing.assert_allclose(found.methods["generalizable"][j].i_and, direct[j].i_and, atol=1e-7)
        np.testing.assert_allclose(found.methods["generalizable"][j].i_or, direct[j].i_or, atol=1e-7)


def _by_hand(a_and, a_or, b_and, b_or, k, n):
    """s_and, s_or of model a (P2 Def. 1) with the top-k of each model, OR singletons merged into AND."""
    singles = [1 << i for i in range(n)]

    def merged(i_and, i_or):
        i_and, i_or = i_and.copy(), i_or.copy()
        i_and[singles] += i_or[singles]
        i_or[singles] = 0
        return i_and, i_or

    def top(i_and, i_or):
        ranked = sorted([(abs(i_and[t]), 0, t) for t in range(1, 2**n)]
                        + [(abs(i_or[t]), 1, t) for t in range(1, 2**n) if t not in singles], reverse=True)
        return {(kind, t) for _, kind, t in ranked[:k]}

    (aa, ao), (ba, bo) = merged(a_and, a_or), merged(b_and, b_or)
    mine, theirs = top(aa, ao), top(ba, bo)
    out = []
    for kind, x in ((0, aa), (1, ao)):
        own = [t for c, t in mine if c == kind]
        shared = [t for c, t in mine & theirs if c == kind]
        total = sum(abs(x[t]) for t in own)
        out.append(sum(abs(x[t]) for t in shared) / total if total else np.nan)
    return out


def test_transferability_equals_p2_definition_by_hand(finished):
    ctx, results = finished
    found = p2.extract(ctx, tr.Config(**MICRO), 0)
    stats = results["seeds"][0]["statistics"]
    for method in ("generalizable", "traditional-lp"):
        (a, b) = found.methods[method]
        for ki, k in enumerate(MICRO["ks"]):
            per_sample = np.array([_by_hand(a.i_and[s], a.i_or[s], b.i_and[s], b.i_or[s], k, 4)
                                   for s in range(len(results["samples"]))])
            floor = np.array([_by_hand(a.i_and[s], a.i_or[s], b.i_and[(s + 1) % 6], b.i_or[(s + 1) % 6], k, 4)
                              for s in range(len(results["samples"]))])
            for ti, t in enumerate(tr.TYPES):
                expected = np.nanmean(per_sample[:, ti]) if np.isfinite(per_sample[:, ti]).any() else np.nan
                got = stats[method][t]["s"]["mean"][ki][0]
                assert got == pytest.approx(expected, abs=1e-12, nan_ok=True)
                expected_floor = np.nanmean(floor[:, ti]) if np.isfinite(floor[:, ti]).any() else np.nan
                assert stats[method][t]["floor"]["mean"][ki][0] == pytest.approx(expected_floor, abs=1e-12,
                                                                                  nan_ok=True)


def test_mismatched_pairs_every_model_with_another_sample():
    rng = np.random.default_rng(0)
    from interprim import Interactions

    results = [Interactions(i_and=rng.normal(size=(5, 8)), i_or=rng.normal(size=(5, 8)), gamma=np.zeros((5, 8)),
                            noise=np.zeros((5, 8))) for _ in range(3)]
    rolled = p2.mismatched(results)
    np.testing.assert_array_equal(rolled[0].i_and, results[0].i_and)
    np.testing.assert_array_equal(rolled[1].i_and[0], results[1].i_and[1])
    np.testing.assert_array_equal(rolled[2].i_or[4], results[2].i_or[(4 + 2) % 5])
    assert p2.kappa(0.6, 0.2) == pytest.approx(0.5) and np.isnan(p2.kappa(0.6, 1.0))


def test_schema_figures_and_summary_after_a_json_round_trip(finished, tmp_path):
    _, results = finished
    read = json.loads(json.dumps(results, default=float))
    assert set(read["over_seeds"]) == {*p2.METHODS, "generalizable-minus-traditional-lp",
                                       "generalizable-minus-traditional-admm"}
    for method in p2.METHODS:
        for t in tr.TYPES:
            assert np.shape(read["over_seeds"][method][t]["s"]["mean"]) == (3, 2)
    assert read["seeds"][0]["gaps"]["traditional-lp"] < 1e-6
    browser.validate(read["browser"])  # the sample browser: generalizable, then traditional (exact LP)
    assert [s["models"] for s in read["browser"]] == [["lenet", "mlp"]] * 2
    assert ["generalizable" in s["title"] for s in read["browser"]] == [True, False]
    assert [x["id"] for x in read["browser"][0]["samples"]] == [f"test #{i}" for i in read["samples"]]
    paths = tr.figures(read, tmp_path)
    assert sorted(p.name for p in paths) == ["transferability.png", "transferability.svg"]
    text = tr.summary(read)
    assert "## lenet, s_and" in text and "generalizable − traditional" in text


def test_runner_writes_a_run_that_resumes(tmp_path):
    register(tr)
    overrides = ["seeds=[0]", "epochs=1", "samples=5", "n=3", "ks=[1,2]"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = run_experiment("transferability", "cpu", overrides, out=tmp_path / "run")
        again = run_experiment("transferability", "cpu", overrides, out=tmp_path / "run")
    assert first["results"]["over_seeds"] == again["results"]["over_seeds"]
    assert again["tasks"]["computed"] == 0
    assert (tmp_path / "run" / "figures" / "transferability.png").is_file()


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="at least two models"):
        tr.Config(archs=["lenet"])
    with pytest.raises(ValueError, match="at least two models"):
        tr.Config(archs="lenet")
    with pytest.raises(ValueError, match="archs must be among vgg11.* for task .mnist3."):
        tr.Config(archs=["lenet", "bert"])
    with pytest.raises(ValueError, match="alpha must be in"):
        tr.Config(alpha=1.5)
    with pytest.raises(ValueError, match="n must be 2 .. 10"):
        tr.Config(n=11)
    with pytest.raises(ValueError, match="ks must be increasing"):
        tr.Config(n=3, ks=[1, 20])
    with pytest.raises(ValueError, match="solver must be one of"):
        tr.Config(solver="simplex")
    with pytest.raises(ValueError, match="task must be one of"):
        tr.Config(task="imagenet")
    with pytest.raises(ValueError, match="test images of class 3"):
        tr.Config(samples=5000)
    with pytest.raises(ValueError, match="task .mnist3. needs dataset = mnist10k or cifar10"):
        tr.Config(dataset="sst2", data_path="/nonexistent")


def test_sst2_task_explains_the_same_words_with_two_bert_sizes(tmp_path, sst2):
    """Task sst2: BERT-Tiny and BERT-Mini trained from scratch explain the same sentences with the same words;
    the stored games equal TextGames built one sentence at a time with those words as explicit players."""
    pytest.importorskip("transformers")
    from interprim.experiments import datasets
    from interprim.games import TextGame, content_words

    config = tr.Config(seeds=[0], task="sst2", dataset="sst2", data_path=sst2, archs=["bert-tiny", "bert-mini"],
                       optimizer="adamw", lr=1e-3, epochs=1, batch_size=16, samples=5, n=3, ks=[1, 2, 5])
    ctx = Context(tmp_path, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = tr.run(config, ctx)
    test = datasets.load("sst2", "test", sst2)
    assert results["samples"] == [int(i) for i in datasets.eligible("sst2", "test", 3, sst2)[:5]]
    found = p2.extract(ctx, config, 0)
    for arch, spec, values in zip(found.archs, p2.model_specs(config, 0).values(), found.values):
        model = load_model(arch, ctx.store.get(("tasks", "train", task_key("train", spec)))[0], dataset="sst2")
        for row, i in zip(values, results["samples"]):
            drawn = TextGame(model, datasets.tokenizer(sst2), test.sentences[i], n=3, seed=0)
            assert drawn.words == [content_words(test.sentences[i])[k] for k in drawn.word_indices]
            game = TextGame(model, datasets.tokenizer(sst2), test.sentences[i], players=list(drawn.word_indices),
                            target=int(test.labels[i]))
            np.testing.assert_allclose(row, game.values(), rtol=0, atol=1e-5)
    assert set(results["over_seeds"]) >= set(p2.METHODS)
    assert "test sentences, n = 3 words with meaning" in tr.summary(json.loads(json.dumps(results, default=float)))
    with pytest.raises(ValueError, match="task 'sst2' needs dataset = sst2"):
        tr.Config(task="sst2")
    with pytest.raises(ValueError, match="archs must be among bert-tiny, bert-mini"):
        tr.Config(task="sst2", dataset="sst2", data_path=sst2, archs=["lenet", "bert-tiny"], optimizer="adamw",
                  samples=5, n=3, ks=[1])


def test_one_learning_rate_per_architecture():
    config = tr.Config(lrs=[0.02, 0.005])
    specs = p2.model_specs(config, 0)
    assert [s["lr"] for s in specs.values()] == [0.02, 0.005]
    assert [s["lr"] for s in p2.model_specs(tr.Config(lr=0.03), 0).values()] == [0.03, 0.03]
    with pytest.raises(ValueError, match="lrs must be empty"):
        tr.Config(lrs=[0.1])
    with pytest.raises(ValueError, match="lrs must be empty"):
        tr.Config(lrs=[0.1, 0.0])
