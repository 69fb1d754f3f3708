"""``low-layer``, ``high-layer`` and ``architecture`` (P1 Fig. 8a-c) end to end on micro configs: schema,
the donors' layers really shared and frozen, the statistics recomputed from the stored interactions,
the report rendered from ``results.json`` as read back, and bad configs."""

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from interprim import metrics
from interprim.data import load_mnist10k
from interprim.experiments import architecture as ar
from interprim.experiments import browser, comparison, datasets, pipeline, register, run_experiment
from interprim.experiments import high_layer as hl
from interprim.experiments import low_layer as ll
from interprim.experiments.tasks import Context

MICRO = dict(seeds=[0], donor_epochs=1, donor_subset="first:200", subset_size=100, subset_epochs=1, samples=12, n=4,
             n_boot=50)
STATS = ("pearson", "spearman", "iou")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Context(tmp_path_factory.mktemp("store"), progress=False).store


@pytest.fixture(scope="module")
def low(tmp_path_factory, store):
    ctx = Context(tmp_path_factory.mktemp("low"), store=store, progress=False)
    return ctx, ll.run(ll.Config(**MICRO), ctx)


@pytest.fixture(scope="module")
def high(tmp_path_factory, store, low):
    ctx = Context(tmp_path_factory.mktemp("high"), store=store, progress=False)
    return ctx, hl.run(hl.Config(**MICRO), ctx)


def _conv1(state):
    return state["conv1.weight"], state["conv1.bias"]


def _shared(a, b):
    return all(np.array_equal(x, y) for x, y in zip(_conv1(a), _conv1(b)))


def test_low_layer_schema_and_pairs(low):
    _, results = low
    (seed,) = results["seeds"]
    assert results["shared_layers"] == 1 and results["player_layer"] == {"lenet": "pool1"}
    assert results["references"] == ["everything", "init-only", "different-low-same-data"]
    assert set(seed["eta"]) == {"layer", "input"}
    browser.validate(results["browser"])  # one section per choice of players, every compared model
    assert [("pool1" in s["title"], sorted(s["models"]), len(s["samples"])) for s in results["browser"]] == \
        [(True, sorted(seed["eta"]["layer"]), 12), (False, sorted(seed["eta"]["input"]), 12)]
    for players in ("layer", "input"):
        by_pair = seed["comparisons"][players]
        assert set(by_pair) == set(ll.PAIRS)
        assert set(seed["eta"][players]) == {m for pair in ll.PAIRS.values() for m in pair}
        for pair, entry in by_pair.items():
            assert entry["models"] == list(ll.PAIRS[pair])
            for stat in STATS:
                value, (lo, hi) = entry["agreement"][stat]["value"], entry["agreement"][stat]["ci"]
                assert lo <= value + 1e-12 and value <= hi + 1e-12
            assert ("vs_reference" in entry) == (pair != "everything")
            assert set(entry["vs"]) == {"init-only", "different-low-same-data"} - {pair}
        over = results["over_seeds"][players]["same-low-different-data"]
        for key in ("spearman_minus_reference", "spearman_minus_init-only", "iou_minus_different-low-same-data"):
            assert over[key]["n"] == 1
    assert set(seed["accuracy"]) == {"donor-A", "donor-B", *seed["eta"]["layer"]}


def test_donors_low_layers_are_copied_and_stay_frozen(low, high):
    ctx, _ = low
    computed = ctx.computed
    trained = {m: d.value for m, d in comparison.train(ctx, ll._models(ll.Config(**MICRO), 0)).items()}
    assert ctx.computed == computed  # read back, not retrained
    assert _shared(trained["dA-half0"], trained["donor-A"]) and _shared(trained["dA-half1"], trained["donor-A"])
    assert _shared(trained["dB-half0"], trained["donor-B"]) and not _shared(trained["dB-half0"], trained["donor-A"])
    assert not _shared(trained["r-half0"], trained["donor-A"]) and not _shared(trained["r-half0"], trained["r-init"])
    assert not np.array_equal(trained["dA-half0"]["fc5.weight"], trained["dA-half1"]["fc5.weight"])
    ctx, results = high
    browser.validate(results["browser"])
    assert [sorted(s["models"]) for s in results["browser"]] == [["dA-half0", "dA-init", "r-half0", "r-half1",
                                                                  "r-init"]] * 2
    trained = {m: d.value for m, d in comparison.train(ctx, hl._models(hl.Config(**MICRO), 0)).items()}
    assert _shared(trained["dA-init"], trained["donor-A"]) and _shared(trained["dA-half0"], trained["donor-A"])
    assert not np.array_equal(trained["dA-half0"]["fc3.weight"], trained["dA-init"]["fc3.weight"])


def test_statistics_equal_a_direct_computation_from_the_stored_interactions(low):
    ctx, results = low
    (seed,) = results["seeds"]
    records = [ctx.store.get(key)[0] for key in ctx.store.keys(("tasks", "extract"))]
    stored = {tuple(np.round(pipeline.average_orders(r), 12)) for r in records}
    for players, eta in seed["eta"].items():
        eta = {m: np.array([np.nan if x is None else x for x in e], dtype=float) for m, e in eta.items()}
        for e in eta.values():
            assert tuple(np.round(e, 12)) in stored
        for pair, (a, b) in ll.PAIRS.items():
            keep = np.isfinite(eta[a]) & np.isfinite(eta[b])
            direct = metrics.confusing_agreement(eta[a][keep], eta[b][keep], top=0.1)
            got = seed["comparisons"][players][pair]
            for stat in STATS:
                assert got["agreement"][stat]["value"] == pytest.approx(direct[stat], abs=1e-12, nan_ok=True)
            # the difference to every reference: Spearman of the pair minus Spearman of the reference,
            # both on the samples where all four η are defined
            refs = {"everything": got.get("vs_reference"), **got["vs"]}
            for ref, diff in refs.items():
                if diff is None:
                    continue
                c, d = ll.PAIRS[ref]
                both = keep & np.isfinite(eta[c]) & np.isfinite(eta[d])
                expected = spearmanr(eta[a][both], eta[b][both])[0] - spearmanr(eta[c][both], eta[d][both])[0]
                assert diff["spearman"]["value"] == pytest.approx(expected, abs=1e-12, nan_ok=True)


def test_players_after_the_low_layers_are_those_of_the_pipeline(low):
    ctx, _ = low
    state = comparison.train(ctx, ll._models(ll.Config(**MICRO), 0))["dA-half0"].value
    kw = dict(arch="lenet", n=4, player_seed=0, samples=[0, 5, 7], model=state)
    for players in ("layer", "input"):
        ours = pipeline.model_values(shared_layers=1, players=players, **kw)["values"]
        np.testing.assert_array_equal(ours, pipeline.model_values(players=players, **kw)["values"])
    assert pipeline.player_layer("resnet32", 9, "layer") == pipeline.player_layer("resnet56", 9, "layer") == (
        "stage1_block3", (16, 28, 28))


def test_over_seeds_of_every_reference_is_the_mean_and_sd_of_the_seeds():
    def seed(d_ref, d_init):
        diff = {s: {"value": d_init} for s in STATS}
        agreement = {s: {"value": 0.5} for s in STATS} | {"chance_iou": 0.05}
        return {"comparisons": {"layer": {
            "p": {"agreement": agreement, "vs_reference": {s: {"value": d_ref} for s in STATS},
                  "vs": {"init-only": diff}},
            "everything": {"agreement": agreement, "vs": {"init-only": diff}},
        }}}

    out = ll.over_seeds([seed(0.1, 0.3), seed(0.2, 0.5), seed(0.6, 0.4)], ["layer"], ["p", "everything"],
                        ["init-only"])
    p = out["layer"]["p"]
    assert p["spearman_minus_reference"]["mean"] == pytest.approx(0.3)
    assert p["iou_minus_init-only"]["mean"] == pytest.approx(0.4)
    assert p["iou_minus_init-only"]["sd"] == pytest.approx(0.1)
    assert "spearman_minus_reference" not in out["layer"]["everything"]
    assert out["layer"]["everything"]["spearman_minus_init-only"]["mean"] == pytest.approx(0.4)


def test_report_renders_from_results_json_as_read_back(tmp_path, store, high):
    register(hl)
    overrides = [f"{k}={json.dumps(v)}" for k, v in MICRO.items()]
    read = run_experiment("high-layer", "cpu", overrides, out=tmp_path / "run", store=store, progress=False)
    assert read["tasks"]["computed"] == 0  # every task reused from the fixtures' store
    (seed,) = read["results"]["seeds"]
    assert set(seed["comparisons"]["layer"]) == set(hl.PAIRS)
    summary = (tmp_path / "run" / "summary.md").read_text()
    assert "same-low-different-high-init" in summary and "Spearman − init-only" in summary
    assert sorted(p.name for p in (tmp_path / "run" / "figures").iterdir()) == sorted(
        f"high-layer-eta-{w}.{s}" for w in ("layer", "input") for s in ("png", "svg"))


def test_architecture_shares_the_first_layer_of_two_resnets(tmp_path, monkeypatch):
    # ResNets are slow on a CPU: evaluate the accuracies on 100 test images instead of 2000
    full = datasets.load
    monkeypatch.setattr(datasets, "load", lambda dataset, split, data_path=None: (
        full(dataset, split, data_path).subset(np.arange(100)) if split == "test" else full(dataset, split, data_path)))
    config = ar.Config(**(MICRO | dict(donor_subset="first:50", subset_size=50, samples=6, n=3)))
    ctx = Context(tmp_path, progress=False)
    results = ar.run(config, ctx)
    (seed,) = results["seeds"]
    assert results["player_layer"] == {"resnet20": "relu1", "resnet32": "relu1"}
    assert results["pairs"]["same-low-different-architecture"] == ["dA-resnet20", "dA-resnet32"]
    browser.validate(results["browser"])  # both architectures' players on relu1: one section per choice of players
    assert [("relu1" in s["title"], s["models"][:2], len(s["samples"])) for s in results["browser"]] == \
        [(True, ["dA-resnet20", "dA-resnet32"], 6), (False, ["dA-resnet20", "dA-resnet32"], 6)]
    assert set(seed["comparisons"]["input"]) == {"same-low-different-architecture", "everything", "init-only"}
    trained = {m: d.value for m, d in comparison.train(ctx, ar._models(config, 0)).items()}
    for name in ("conv1.weight", "bn1.weight", "bn1.running_mean", "bn1.running_var"):
        assert np.array_equal(trained["dA-resnet20"][name], trained["donor-A"][name])
        assert np.array_equal(trained["dA-resnet32"][name], trained["donor-A"][name])
    assert not np.array_equal(trained["r-half0"]["conv1.weight"], trained["donor-A"]["conv1.weight"])


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="players must be"):
        ll.Config(players=["pixels"])
    with pytest.raises(ValueError, match="seeds must be"):
        hl.Config(seeds=[0, 1000])
    with pytest.raises(ValueError, match="seeds must be distinct"):
        ll.Config(seeds=[1, 1])
    with pytest.raises(ValueError, match="samples must be >= 3"):
        ll.Config(samples=2)
    with pytest.raises(ValueError, match="no spatial feature map"):
        ll.Config(arch="mlp")
    with pytest.raises(ValueError, match="shared low layers must be"):
        ll.Config(shared_layers=5)
    with pytest.raises(ValueError, match="donor_subset must be"):
        hl.Config(donor_subset="half1")
    with pytest.raises(ValueError, match="two disjoint subsets"):
        ll.Config(subset_size=4001)
    with pytest.raises(ValueError, match="other_arch must be"):
        ar.Config(other_arch="resnet20")
    with pytest.raises(ValueError, match="do not share their first 1"):
        ar.Config(other_arch="vgg11")
    with pytest.raises(ValueError, match="not the same map"):
        ar.Config(arch="vgg11", other_arch="vgg13")
    assert ar.Config(arch="vgg11", other_arch="vgg13", players=["input"]).layers_shared() == 1
    assert ar.Config(arch="resnet56", other_arch="resnet32", shared_layers=9).layers_shared() == 9


@pytest.mark.slow
@pytest.mark.parametrize("module", [ll, hl, ar])
def test_cpu_config_runs(tmp_path, module):
    register(module)
    read = run_experiment(module.NAME, "cpu", out=tmp_path, progress=False)
    assert len(read["results"]["seeds"]) >= 3
    assert read["results"]["config"]["samples"] >= 200
