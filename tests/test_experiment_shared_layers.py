"""``shared-layers`` end to end on a micro config: schema, the sharing itself (read back from the
stored models), statistics recomputed from the stored interactions, figures and summary from the
JSON results, and clear errors for bad configs."""

import json

import numpy as np
import pytest

from interprim import metrics
from interprim.experiments import browser, comparison, pipeline, register, run_experiment
from interprim.experiments import shared_layers as sl
from interprim.experiments._json import plain
from interprim.experiments.tasks import Context

MICRO = dict(seeds=[0], shared_layers=[0, 1, 3, 7], donor_epochs=1, donor_subset="first:200", subset_size=200,
             subset_epochs=1, samples=12, n=4, n_boot=50)
PAIRS = {"everything", "init-only", "L=1", "L=3"}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("sl")
    ctx = Context(out, progress=False)
    config = sl.Config(**MICRO)
    return ctx, config, sl.run(config, ctx)


def test_schema_sweep_and_pairs(finished):
    _, _, results = finished
    assert results["layers"] == {"arch": "lenet", "count": 5, "low": 1}
    assert [p["L"] for p in results["sweep"]] == [0, 1, 3]
    assert [p["pair"] for p in results["sweep"]] == ["everything", "L=1", "L=3"]
    # lenet's players at the layer live after conv1: from L = 1 on both models see the same features there
    assert [p["shares_player_features"] for p in results["sweep"]] == [False, True, True]
    assert set(results["dropped"]) == {"7"} and "5 layers" in results["dropped"]["7"]
    assert results["pairs"]["init-only"] == ["L0-half0", "init-only"]
    (seed,) = results["seeds"]
    browser.validate(results["browser"])  # every compared model (not the donor), per choice of players
    assert [sorted(s["models"]) for s in results["browser"]] == [sorted(set(seed["accuracy"]) - {"donor"})] * 2
    assert set(seed["accuracy"]) == {"donor", "L0-half0", "L0-half1", "L1-half0", "L1-half1", "L3-half0",
                                     "L3-half1", "init-only"}
    for players in ("layer", "input"):
        assert set(seed["eta"][players]) == set(seed["accuracy"]) - {"donor"}
        got = seed["comparisons"][players]
        assert set(got) == PAIRS
        assert "vs_reference" not in got["everything"] and "vs_init_only" not in got["init-only"]
        for pair in ("L=1", "L=3", "init-only"):
            assert set(got[pair]["vs_reference"]) == {"pearson", "spearman", "iou"}
        for pair in ("L=1", "L=3", "everything"):
            assert set(got[pair]["vs_init_only"]) == {"pearson", "spearman", "iou"}
        for entry in got.values():
            for stat in ("pearson", "spearman", "iou"):
                value, (lo, hi) = entry["agreement"][stat]["value"], entry["agreement"][stat]["ci"]
                if np.isfinite(value):
                    assert lo <= value + 1e-12 and value <= hi + 1e-12
        table = results["over_seeds"][players]
        assert set(table) == PAIRS
        assert "spearman_minus_init_only" in table["L=1"] and "spearman_minus_reference" in table["L=1"]
        assert "spearman_minus_init_only" not in table["init-only"]


def test_pairs_share_exactly_their_first_L_layers(finished):
    ctx, config, _ = finished
    kept, _ = sl.sweep(config)
    trained = comparison.train(ctx, sl._models(config, 0, kept))  # read back from the store
    assert ctx.computed == len(ctx.store.keys(("tasks",), kind="arrays"))  # nothing was trained twice
    w = {m: d.value for m, d in trained.items()}
    donor = w["donor"]
    for name in ("conv1.weight", "conv1.bias"):
        np.testing.assert_array_equal(w["L1-half0"][name], donor[name])
        np.testing.assert_array_equal(w["L1-half1"][name], donor[name])
    for name in ("conv2.weight", "fc3.weight"):
        np.testing.assert_array_equal(w["L3-half0"][name], donor[name])
        np.testing.assert_array_equal(w["L3-half1"][name], donor[name])
        assert not np.array_equal(w["L1-half0"][name], w["L1-half1"][name])
    assert not np.array_equal(w["L3-half0"]["fc4.weight"], w["L3-half1"]["fc4.weight"])
    # the references share nothing; init-only differs from L0-half0 in its initialisation only
    assert not np.array_equal(w["L0-half0"]["conv1.weight"], w["L0-half1"]["conv1.weight"])
    assert not np.array_equal(w["L0-half0"]["conv1.weight"], w["init-only"]["conv1.weight"])
    specs = sl._models(config, 0, kept)
    a, b = specs["L0-half0"], specs["init-only"]
    assert {k for k in a if a[k] != b[k]} == {"init_seed"}
    a, b = specs["L1-half0"], specs["L1-half1"]
    assert {k for k in a if a[k] != b[k]} == {"init_seed", "data_seed", "subset"}


def test_statistics_equal_a_direct_computation_from_the_stored_interactions(finished):
    ctx, _, results = finished
    (seed,) = results["seeds"]
    records = [ctx.store.get(key)[0] for key in ctx.store.keys(("tasks", "extract"))]
    stored = {tuple(np.round(pipeline.average_orders(r), 12)) for r in records}
    models = results["pairs"]

    def direct(eta, pair, keep=None):
        x, y = (np.asarray(eta[m]) for m in models[pair])
        keep = np.isfinite(x) & np.isfinite(y) if keep is None else keep
        return metrics.confusing_agreement(x[keep], y[keep], top=0.1)

    for players, eta in seed["eta"].items():
        for values in eta.values():
            assert tuple(np.round(values, 12)) in stored
        comparisons = seed["comparisons"][players]
        for pair in PAIRS:
            got = comparisons[pair]["agreement"]
            for stat in ("pearson", "spearman", "iou"):
                assert got[stat]["value"] == pytest.approx(direct(eta, pair)[stat], abs=1e-12, nan_ok=True)
            for key, reference in (("vs_reference", "everything"), ("vs_init_only", "init-only")):
                if key not in comparisons[pair]:
                    continue
                # paired: samples undefined in any of the four models are dropped from both pairs
                keep = np.logical_and.reduce([np.isfinite(eta[m]) for m in (*models[pair], *models[reference])])
                for stat in ("pearson", "spearman", "iou"):
                    diff = direct(eta, pair, keep)[stat] - direct(eta, reference, keep)[stat]
                    assert comparisons[pair][key][stat]["value"] == pytest.approx(diff, abs=1e-12, nan_ok=True)
        for pair, entry in results["over_seeds"][players].items():
            for stat in ("pearson", "spearman", "iou"):
                value = comparisons[pair]["agreement"][stat]["value"]
                if np.isfinite(value):
                    assert entry[stat]["mean"] == pytest.approx(value, abs=1e-12)
                    assert entry[stat]["n"] == 1


def test_figures_and_summary_from_the_json_results(finished, tmp_path):
    _, _, results = finished
    read_back = json.loads(json.dumps(plain(results, nonfinite_as_none=True)))
    paths = sl.figures(read_back, tmp_path)
    names = {p.name for p in paths}
    assert {"shared-layers-agreement-vs-L.png", "shared-layers-agreement-vs-L.svg"} <= names
    assert {"shared-layers-eta-layer.png", "shared-layers-eta-input.png"} <= names
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    text = sl.summary(read_back)
    assert "dropped L = 7" in text and "Caveat (SPEC §7)" in text
    assert text.count("| L=3 |") == 2 and "| init-only |" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(shared_layers=[]), "shared_layers must be"),
        (dict(shared_layers=[0, 0]), "shared_layers must be"),
        (dict(shared_layers=[-1]), "shared_layers must be"),
        (dict(shared_layers=[5, 7]), "lenet has 5 layers"),
        (dict(arch="lenet9"), "arch must be one of"),
        (dict(players=["pixels"]), "players must be"),
        (dict(seeds=[]), "seeds must be"),
        (dict(seeds=[1, 1]), "seeds must be distinct"),
        (dict(samples=2), "samples must be >= 3"),
        (dict(donor_subset="half0"), "donor_subset must be"),
        (dict(top=0.0), "top must be"),
        (dict(lr=0.0), "lr must be"),
        (dict(subset_epochs=0), "subset_epochs must be >= 1"),
    ],
)
def test_bad_configs_raise_clear_errors(change, message):
    with pytest.raises(ValueError, match=message):
        sl.Config(**change)


@pytest.mark.slow
def test_the_cpu_config_runs(tmp_path):
    register(sl)
    results = run_experiment(sl.NAME, "cpu", out=tmp_path, progress=False)["results"]
    assert [p["L"] for p in results["sweep"]] == [0, 1, 3]
    assert len(results["seeds"]) == 3 and set(results["over_seeds"]) == {"layer", "input"}
