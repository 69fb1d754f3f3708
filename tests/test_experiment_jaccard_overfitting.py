"""``jaccard-by-order`` and ``overfitting-dynamics`` end to end on a micro config: schema, Sim^(k) recomputed from the stored
interactions (through the metric and by hand from P1 Def. 2.2), the trend, and bad configs."""

import json
import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from interprim import metrics
from interprim.experiments import jaccard_by_order as jb
from interprim.experiments import overfitting_dynamics as od
from interprim.experiments import browser, pipeline
from interprim.experiments.models import load_model
from interprim.experiments._json import plain
from interprim.experiments.tasks import Context, task_key

MICRO = dict(seeds=[0, 1], epochs=1, subset_size=200, samples=6, n=4, n_boot=40)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("jaccard")
    ctx = Context(out, progress=False)
    return ctx, jb.run(jb.Config(**MICRO), ctx)


def _stored(ctx):
    """The stored interactions of every set, keyed by the sample indices and split of their games."""
    by_values = {}
    for key in ctx.store.keys(("tasks", "extract")):
        record, info = ctx.store.get(key)
        by_values[info["deps"]["values"]] = record
    out = {}
    for key in ctx.store.keys(("tasks", "values")):
        _, info = ctx.store.get(key)
        p = info["params"]
        out[(info["deps"]["model"], p["players"], p["split"], tuple(p["samples"]))] = by_values[info["key"]]
    return out


def test_schema(finished):
    _, results = finished
    sets = results["samples"]
    assert set(sets) == {"train", "test", "control"}
    assert all(len(v) == MICRO["samples"] for v in sets.values())
    assert not set(sets["train"]) & set(sets["control"])  # two disjoint sets of training samples
    assert [s["seed"] for s in results["seeds"]] == [0, 1]
    for seed in results["seeds"]:
        assert set(seed["players"]) == {"layer", "input"}
        for entry in seed["players"].values():
            assert entry["orders"] == [1, 2, 3, 4]
            for name in ("sim", "control", "difference"):
                assert len(entry[name]["value"]) == len(entry[name]["ci"]) == 4
            for k, (lo, hi) in zip(entry["sim"]["value"], entry["sim"]["ci"]):
                assert 0 <= k <= 1 and lo <= hi
            assert set(entry["trend"]) == {"value", "ci", "n_undefined"}
    for entry in results["over_seeds"].values():
        assert len(entry["sim"]) == 4
        assert entry["trend"] is None or entry["trend"]["n"] <= 2
    # the results survive the trip through JSON that the runner makes
    json.dumps(results, default=float)
    browser.validate(results["browser"])  # the first seed's model on its train, test and control samples
    ids = [f"train #{i}" for i in sets["train"]] + [f"test #{i}" for i in sets["test"]] + \
        [f"control (train) #{i}" for i in sets["control"]]
    assert [([x["id"] for x in s["samples"]], s["models"]) for s in results["browser"]] == [(ids, ["lenet"])] * 2


def test_sim_equals_a_direct_computation_from_the_stored_interactions(finished):
    ctx, results = finished
    stored = _stored(ctx)
    sets = results["samples"]
    config = jb.Config(**MICRO)
    for seed in results["seeds"]:
        model = task_key("train", jb.model_spec(config, seed["seed"]))
        for players, entry in seed["players"].items():
            r = {name: pipeline.interactions(stored[(model, players, jb.SET_SPLIT[name], tuple(sets[name]))])
                 for name in jb.SETS}
            # one SPEC τ per model over all its analysed samples
            tau = 0.02 * np.concatenate([np.abs(r[name].output_change()) for name in jb.SETS]).mean()
            assert entry["tau"] == pytest.approx(tau, rel=1e-12)
            sim = metrics.jaccard_by_order(r["train"], r["test"], threshold=tau)[1:]
            ctrl = metrics.jaccard_by_order(r["train"], r["control"], threshold=tau)[1:]
            np.testing.assert_allclose(entry["sim"]["value"], sim, atol=1e-12)
            np.testing.assert_allclose(entry["control"]["value"], ctrl, atol=1e-12)
            np.testing.assert_allclose(entry["difference"]["value"], sim - ctrl, atol=1e-12)
            # P1 Def. 2.2 by hand: merge OR singletons, zero the non-salient, average, split signs, Jaccard per order
            np.testing.assert_allclose(sim, _by_hand(r["train"], r["test"], tau, MICRO["n"]), atol=1e-12)
            ok = np.isfinite(sim)
            expected = spearmanr(np.arange(1, 5)[ok], sim[ok]).statistic if ok.sum() >= 3 else math.nan
            assert entry["trend"]["value"] == pytest.approx(expected, abs=1e-12, nan_ok=True)


def test_stored_games_are_games_built_one_by_one(finished):
    """The stored games of every set are ``ImageGame``s of the trained LeNet, built one image at a time:
    the same grid cells after pool1 (or on the image), baseline 0, the log-odds of the true label."""
    from interprim.data import load_mnist10k
    from interprim.games import ImageGame, central_grid_players

    ctx, results = finished
    state = ctx.store.get(("tasks", "train", task_key("train", jb.model_spec(jb.Config(**MICRO), 0))))[0]
    model = load_model("lenet", state)
    checked = 0
    for key in ctx.store.keys(("tasks", "values")):
        record, info = ctx.store.get(key)
        p = info["params"]
        if info["deps"]["model"] != task_key("train", jb.model_spec(jb.Config(**MICRO), 0)):
            continue
        layer, shape = ("pool1", (6, 14, 14)) if p["players"] == "layer" else (None, (1, 28, 28))
        assert pipeline.player_layer("lenet", 0, p["players"]) == (layer, shape)
        cells = central_grid_players(shape[-2:], grid=5, n=4, seed=0)
        data = load_mnist10k(p["split"])
        for row, i in zip(record["values"], p["samples"]):
            game = ImageGame(model, data.images[i], cells, target=int(data.labels[i]), layer=layer)
            np.testing.assert_allclose(row, game.values(), rtol=0, atol=1e-5)
            checked += 1
    assert checked == 2 * 3 * MICRO["samples"]  # two choices of players, three sets


def _by_hand(train, test, tau, n):
    def d(r):
        a, o = np.array(r.i_and, dtype=float), np.array(r.i_or, dtype=float)
        singles = [1 << i for i in range(n)]
        a[:, singles] += o[:, singles]
        o[:, singles] = 0
        a[np.abs(a) <= tau] = 0
        o[np.abs(o) <= tau] = 0
        a, o = a.mean(0), o.mean(0)
        return np.stack([np.maximum(a, 0), np.maximum(o, 0), np.maximum(-a, 0), np.maximum(-o, 0)])

    dt, ds = d(train), d(test)
    order = np.array([bin(s).count("1") for s in range(2**n)])
    out = []
    for k in range(1, n + 1):
        lo, hi = np.minimum(dt, ds)[:, order == k].sum(), np.maximum(dt, ds)[:, order == k].sum()
        out.append(lo / hi if hi > 0 else math.nan)
    return np.array(out)


def _as_read_back(results):
    """The results as the runner writes and reads them back (strict JSON, NaN as null)."""
    return json.loads(json.dumps(plain(results, nonfinite_as_none=True), allow_nan=False))


def test_figures_and_summary_render_from_the_results_read_back(finished, tmp_path):
    _, results = finished
    paths = jb.figures(_as_read_back(results), tmp_path)
    assert sorted(p.suffix for p in paths) == [".png", ".svg"] and all(p.stat().st_size > 0 for p in paths)
    text = jb.summary(_as_read_back(results))
    assert "players at the layer" in text and "Trend (Spearman" in text


def test_a_rerun_reuses_every_task_and_gives_identical_results(finished):
    ctx, results = finished
    again = Context(ctx.out, progress=False)
    assert jb.run(jb.Config(**MICRO), again) == results
    assert again.computed == 0 and again.reused > 0


def test_over_seeds_is_the_mean_and_sd_of_the_seeds(finished):
    _, results = finished
    for where, entry in results["over_seeds"].items():
        for j in range(4):
            values = [s["players"][where]["sim"]["value"][j] for s in results["seeds"]]
            values = [v for v in values if np.isfinite(v)]
            if values:
                assert entry["sim"][j]["mean"] == pytest.approx(np.mean(values))
                assert entry["sim"][j]["n"] == len(values)


def test_trend_and_bootstrap_on_synthetic_interactions():
    """A planted decline of Sim^(k) with k gives ρ = −1 and a CI below 0; the control of identical sets gives 1."""
    from interprim.interactions import Interactions

    rng = np.random.default_rng(0)
    n, count = 5, 40
    order = np.array([bin(s).count("1") for s in range(2**n)])

    def make():
        # the same positive AND interactions in every sample, plus noise that grows with the order
        a = np.where(order > 0, 3.0, 0.0) + 0.05 * 3.0 ** order[None] * rng.normal(size=(count, 2**n))
        o = np.zeros_like(a)
        return Interactions(i_and=a, i_or=o, gamma=np.zeros_like(a), noise=np.zeros_like(a))

    train = make()
    result = jb.order_similarity(train, make(), train, n_boot=200, seed=0)
    assert result["trend"]["value"] == pytest.approx(-1.0)
    assert result["trend"]["ci"][1] < 0
    np.testing.assert_allclose(result["control"]["value"], 1.0)  # a set against itself
    assert all(x < 0 for x in result["difference"]["value"])


def test_spearman_trend_needs_three_defined_orders():
    assert math.isnan(jb.spearman_trend([0.5, math.nan, math.nan, 0.2]))
    assert jb.spearman_trend([0.9, math.nan, 0.5, 0.1]) == pytest.approx(-1.0)


def test_sample_sets_are_disjoint_and_inside_the_training_subset():
    from interprim.experiments.models import subset_indices

    sets = jb.sample_sets("half0", 1000, 50, True, seed=3)
    pool = set(subset_indices("half0", 8000, 1000).tolist())
    assert set(sets["train"]) <= pool and set(sets["control"]) <= pool
    assert not set(sets["train"]) & set(sets["control"])
    assert len(set(sets["test"])) == 50 and max(sets["test"]) < 2000
    assert sets == jb.sample_sets("half0", 1000, 50, True, seed=3)


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="players must be"):
        jb.Config(players=["pixels"])
    with pytest.raises(ValueError, match="seeds must be"):
        jb.Config(seeds=[])
    with pytest.raises(ValueError, match="samples must be >= 3"):
        jb.Config(samples=2)
    with pytest.raises(ValueError, match="solver must be"):
        jb.Config(solver="simplex")
    with pytest.raises(ValueError, match="do not fit"):
        jb.Config(subset="first:60", samples=50)
    with pytest.raises(ValueError, match="subset must be"):
        jb.Config(subset="most")
    with pytest.raises(ValueError, match="n must be"):
        jb.Config(n=1)
    with pytest.raises(ValueError, match="arch must be one of"):
        jb.Config(arch="lenet7")
    with pytest.raises(ValueError, match="no spatial feature map"):
        jb.Config(arch="mlp", players=["layer"])
    with pytest.raises(ValueError, match="solver='lp' takes at most"):
        jb.Config(n=13)


@pytest.mark.slow
def test_jaccard_cpu_config_runs(tmp_path):
    from interprim.experiments import register, run_experiment

    register(jb)
    doc = run_experiment(jb.NAME, "cpu", out=tmp_path, progress=False)
    assert set(doc["results"]["over_seeds"]) == {"layer", "input"}


# ---------------------------------------------------------------------------------------------
# overfitting-dynamics
# ---------------------------------------------------------------------------------------------

# patience 1 with a min_delta no loss change reaches: epoch 1 improves on +inf, epoch 2 does not,
# so the learning phase ends at epoch 1 (a deterministic boundary for a 3-epoch micro run)
OF_MICRO = dict(seeds=[0], epochs=3, subset_size=200, patience=1, min_delta=10.0, samples=6, n=4, n_boot=40,
                players=["layer", "input"])


@pytest.fixture(scope="module")
def overfit(tmp_path_factory):
    out = tmp_path_factory.mktemp("overfitting")
    ctx = Context(out, progress=False)
    return ctx, od.run(od.Config(**OF_MICRO), ctx)


@pytest.mark.parametrize(
    "curve, patience, min_delta, expected",
    [
        ([2.0, 1.0, 0.5, 0.4, 0.45, 0.5, 0.6, 0.7], 3, 0.0, 4),  # U-shape: the minimum
        ([2.0, 1.5, 1.2, 1.1, 1.0, 0.9], 2, 0.0, None),  # still learning: no boundary
        ([2.0, 1.0, 1.1, 1.2, 0.8, 0.9, 1.0, 1.1], 3, 0.0, 5),  # a bump shorter than patience is ignored
        ([2.0, 1.0, 1.1, 1.2, 0.8, 0.9, 1.0, 1.1], 2, 0.0, 2),  # ... and ends the phase when patience is short
        ([2.0, 1.0, 0.99, 0.98, 0.97, 1.2], 3, 0.05, 2),  # improvements below min_delta do not count
        ([1.0, 1.0, 1.0, 1.0], 3, 0.0, 1),  # a plateau does not improve
        ([float("nan"), 1.0, 2.0, 3.0], 2, 0.0, 2),  # a non-finite loss never improves
    ],
)
def test_learning_phase_end_on_synthetic_curves(curve, patience, min_delta, expected):
    assert od.learning_phase_end(curve, patience, min_delta) == expected


def test_learning_phase_end_rejects_bad_arguments():
    with pytest.raises(ValueError, match="patience"):
        od.learning_phase_end([1.0, 2.0], 0)


def test_analysed_epochs():
    assert od.analysed_epochs(10, 40, 1) == [10, 25, 40]
    assert od.analysed_epochs(10, 40, 0) == [10, 40]
    assert od.analysed_epochs(3, 4, 2) == [3, 4]


def test_overfitting_schema(overfit):
    _, results = overfit
    (seed,) = results["seeds"]
    assert seed["boundary"] == 1 and seed["late"] == 3 and seed["epochs_analysed"] == [1, 2, 3]
    assert seed["skipped"] is None
    assert seed["rerun_max_abs_diff"] == 0.0  # the second run (keeping weights) repeats the first on a CPU
    curves = seed["curves"]
    assert all(len(curves[k]) == 3 for k in ("train_loss", "test_loss", "gap", "train_acc", "test_acc"))
    np.testing.assert_allclose(curves["gap"], np.subtract(curves["test_loss"], curves["train_loss"]))
    for where in ("layer", "input"):
        entry = seed["players"][where]
        assert [e["epoch"] for e in entry["by_epoch"]] == [1, 2, 3]
        for split in ("train", "test"):
            assert len(entry["by_role"]["late"][split]["j_pos"]) == 4
            for name in od.CHANGES:
                c = entry["change"][split][name]
                assert c["ci"][0] <= c["value"] + 1e-12 or not np.isfinite(c["value"])
    assert results["over_seeds"]["seeds_analysed"] == [0]
    json.dumps(results, default=float)
    browser.validate(results["browser"])  # the models are the end of the learning phase and the late epoch
    assert [s["models"] for s in results["browser"]] == [["epoch 1 (end of the learning phase)", "epoch 3 (late)"]] * 2
    ids = [f"{split} #{i}" for split in ("train", "test") for i in results["samples"][split]]
    assert [[x["id"] for x in s["samples"]] for s in results["browser"]] == [ids] * 2


def test_overfitting_statistics_equal_a_direct_computation(overfit):
    ctx, results = overfit
    by_values = {}
    for key in ctx.store.keys(("tasks", "extract")):
        record, info = ctx.store.get(key)
        by_values[info["deps"]["values"]] = record
    found = {}
    for key in ctx.store.keys(("tasks", "epoch-values")):
        _, info = ctx.store.get(key)
        p = info["params"]
        found[(p["players"], p["epoch"], p["split"])] = pipeline.interactions(by_values[info["key"]])
    (seed,) = results["seeds"]
    for where, entry in seed["players"].items():
        samples = {}
        for got in entry["by_epoch"]:
            e = got["epoch"]
            tau = 0.02 * np.concatenate([np.abs(found[(where, e, s)].output_change()) for s in ("train", "test")]).mean()
            assert got["tau"] == pytest.approx(tau, rel=1e-12)
            for split in ("train", "test"):
                r = found[(where, e, split)]
                j_pos, j_neg = metrics.order_strengths(r, threshold=tau)
                eta = metrics.average_order(r, threshold=tau)
                summary = got["splits"][split]
                np.testing.assert_allclose(summary["j_pos"], j_pos[:, 1:].mean(0), atol=1e-12)
                np.testing.assert_allclose(summary["j_neg"], j_neg[:, 1:].mean(0), atol=1e-12)
                assert summary["eta"] == pytest.approx(np.nanmean(eta), abs=1e-12)
                total = (j_pos + j_neg)[:, 1:].mean(0)
                assert summary["high_share"] == pytest.approx(total[2:].sum() / total.sum(), abs=1e-12)  # k > n/2 = 2
                assert summary["neg_share"] == pytest.approx(j_neg[:, 1:].mean(0).sum() / total.sum(), abs=1e-12)
                samples[(e, split)] = (total, eta)
        for split in ("train", "test"):
            (t1, eta1), (t3, eta3) = samples[(1, split)], samples[(3, split)]
            change = entry["change"][split]
            assert change["high_share"]["value"] == pytest.approx(t3[2:].sum() / t3.sum() - t1[2:].sum() / t1.sum(),
                                                                  abs=1e-12)
            assert change["high_strength"]["value"] == pytest.approx(t3[2:].sum() - t1[2:].sum(), abs=1e-12)
            assert change["eta"]["value"] == pytest.approx(np.nanmean(eta3 - eta1), abs=1e-12)


def test_overfitting_figures_and_summary_render_from_the_results_read_back(overfit, tmp_path):
    _, results = overfit
    paths = od.figures(_as_read_back(results), tmp_path)
    assert sorted(p.name for p in paths) == sorted(
        f"{od.NAME}-{stem}{suffix}" for stem in ("loss", "orders") for suffix in (".png", ".svg"))
    assert "end of learning phase" in od.summary(_as_read_back(results))


def test_change_detects_a_planted_shift_to_high_orders():
    rng = np.random.default_rng(1)
    count, n = 40, 4
    low = {"j_pos": np.tile([1.0, 0.5, 0.1, 0.0], (count, 1)) + 0.05 * rng.random((count, n)),
           "j_neg": np.zeros((count, n)), "eta": np.full(count, 1.5) + 0.1 * rng.random(count)}
    high = {"j_pos": np.tile([1.0, 0.5, 0.5, 0.5], (count, 1)) + 0.05 * rng.random((count, n)),
            "j_neg": np.tile([0.0, 0.0, 0.4, 0.4], (count, 1)), "eta": np.full(count, 2.5) + 0.1 * rng.random(count)}
    got = od.change(low, high, n_boot=200, seed=0)
    for name in ("eta", "high_share", "high_strength", "neg_share"):
        assert got[name]["value"] > 0 and got[name]["ci"][0] > 0


def test_a_seed_without_learning_phase_before_the_late_epoch_is_skipped(overfit):
    ctx, _ = overfit
    results = od.run(od.Config(**{**OF_MICRO, "late_epoch": 1}), ctx)
    (seed,) = results["seeds"]
    assert seed["skipped"] is not None and "not before the late epoch" in seed["skipped"]
    assert seed["players"] == {} and results["over_seeds"]["seeds_analysed"] == []
    assert results["browser"] == []  # no seed analysed: nothing to browse
    assert "not before the late epoch" in od.summary(json.loads(json.dumps(results, default=float)))


def test_overfitting_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="patience=5 must be < epochs=5"):
        od.Config(epochs=5, patience=5)
    with pytest.raises(ValueError, match="late_epoch must be"):
        od.Config(epochs=10, late_epoch=11)
    with pytest.raises(ValueError, match="splits must be"):
        od.Config(splits=["validation"])
    with pytest.raises(ValueError, match="players must be"):
        od.Config(players=[])
    with pytest.raises(ValueError, match="min_delta must be"):
        od.Config(min_delta=-1.0)
    with pytest.raises(ValueError, match="does not fit"):
        od.Config(subset="first:20", samples=50)


@pytest.mark.slow
def test_overfitting_cpu_config_runs(tmp_path):
    from interprim.experiments import register, run_experiment

    register(od)
    doc = run_experiment(od.NAME, "cpu", out=tmp_path, progress=False)
    assert doc["results"]["over_seeds"]["seeds_analysed"]
