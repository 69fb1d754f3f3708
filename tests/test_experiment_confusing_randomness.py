"""``confusing-randomness`` end to end on a micro config: schema, statistics recomputed from the
stored interactions, and a run killed halfway that resumes to identical results."""

import numpy as np
import pytest

from interprim import metrics
from interprim.experiments import confusing_randomness as cr
from interprim.experiments import browser, pipeline
from interprim.experiments.tasks import Context

MICRO = dict(seeds=[0], epochs=1, subset_size=200, subset_epochs=1, samples=12, n=4, n_boot=50)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("cr")
    ctx = Context(out, progress=False)
    return ctx, cr.run(cr.Config(**MICRO), ctx)


def test_schema_and_pairs(finished):
    _, results = finished
    (seed,) = results["seeds"]
    assert set(seed["eta"]) == {"layer", "input"}
    # the MLP has no feature map after its low layers: its pair is compared at the input only
    assert set(seed["comparisons"]["layer"]) == {"init", "everything"}
    assert set(seed["comparisons"]["input"]) == {"init", "architecture", "everything"}
    assert any("mlp has no spatial feature map" in why for why in seed["skipped"].values())
    browser.validate(results["browser"])  # the MLP is in the browser of the input players only
    assert [s["models"] for s in results["browser"]] == [["a", "a_init", "half0", "half1"],
                                                         ["a", "a_init", "b", "half0", "half1"]]
    for entry in seed["comparisons"]["input"].values():
        for stat in ("pearson", "spearman", "iou"):
            value, (lo, hi) = entry["agreement"][stat]["value"], entry["agreement"][stat]["ci"]
            assert lo <= value + 1e-12 and value <= hi + 1e-12
    assert "vs_reference" in seed["comparisons"]["input"]["init"]
    assert "vs_reference" not in seed["comparisons"]["input"]["everything"]
    assert all(0 <= a["test"] <= 1 for a in seed["accuracy"].values())
    assert set(results["over_seeds"]["input"]) == {"init", "architecture", "everything"}


def test_statistics_equal_a_direct_computation_from_the_stored_interactions(finished):
    ctx, results = finished
    (seed,) = results["seeds"]
    records = [ctx.store.get(key)[0] for key in ctx.store.keys(("tasks", "extract"))]
    etas = {tuple(np.round(pipeline.average_orders(r), 12)) for r in records}
    for players, by_model in seed["eta"].items():
        for model, eta in by_model.items():
            assert tuple(np.round(eta, 12)) in etas
        for pair, (a, b) in cr.PAIR_MODELS.items():
            if pair not in seed["comparisons"][players]:
                continue
            x, y = np.asarray(by_model[a]), np.asarray(by_model[b])
            keep = np.isfinite(x) & np.isfinite(y)
            direct = metrics.confusing_agreement(x[keep], y[keep], top=0.1)
            got = seed["comparisons"][players][pair]["agreement"]
            for stat in ("pearson", "spearman", "iou"):
                assert got[stat]["value"] == pytest.approx(direct[stat], abs=1e-12, nan_ok=True)
    # η is the strength-weighted mean order of the salient interactions (SPEC §4), τ over all samples
    r = pipeline.interactions(records[0])
    tau = 0.02 * np.mean(np.abs(r.output_change()))
    i_and, i_or = r.i_and.copy(), r.i_or.copy()
    singles = [1 << i for i in range(4)]
    i_and[:, singles] += i_or[:, singles]
    i_or[:, singles] = 0
    order = np.array([bin(s).count("1") for s in range(16)])
    strength = np.where(np.abs(i_and) > tau, np.abs(i_and), 0) + np.where(np.abs(i_or) > tau, np.abs(i_or), 0)
    strength[:, 0] = 0
    with np.errstate(invalid="ignore"):
        eta = (strength * order).sum(1) / strength.sum(1)
    np.testing.assert_allclose(pipeline.average_orders(records[0]), eta, atol=1e-12)


def test_a_killed_run_resumes_to_identical_results(tmp_path, monkeypatch, finished):
    _, expected = finished
    calls = {"n": 0}
    real = pipeline.extract

    def dies_on_the_third(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(**kwargs)

    monkeypatch.setattr(pipeline, "extract", dies_on_the_third)
    first = Context(tmp_path, progress=False)
    with pytest.raises(KeyboardInterrupt):
        cr.run(cr.Config(**MICRO), first)
    assert first.computed > 0
    monkeypatch.setattr(pipeline, "extract", real)
    second = Context(tmp_path, progress=False)
    assert cr.run(cr.Config(**MICRO), second) == expected
    assert second.reused == first.computed
    total = len(Context(tmp_path, progress=False).store.keys(("tasks",), kind="arrays"))
    assert second.computed == total - first.computed


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="players must be"):
        cr.Config(players=["pixels"])
    with pytest.raises(ValueError, match="seeds must be"):
        cr.Config(seeds=[])
    with pytest.raises(ValueError, match="samples must be >= 3"):
        cr.Config(samples=2)


@pytest.mark.slow
def test_the_cpu_config_runs_end_to_end(tmp_path):
    from interprim.experiments import run_experiment

    out = run_experiment("confusing-randomness", "cpu", out=tmp_path / "run", progress=False)
    results = out["results"]
    assert len(results["seeds"]) == 3
    assert results["config"]["samples"] >= 200
    for players in ("layer", "input"):
        assert results["over_seeds"][players]["init"]["spearman"]["n"] == 3
    assert (tmp_path / "run" / "summary.md").is_file()
