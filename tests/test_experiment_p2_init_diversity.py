"""``init-diversity`` (P2 Table 2) end to end on a micro config: the starts, the overlaps of P2 Def. 1 against a
direct computation, the LP as the optimum nothing beats, figures and summary, the runner."""

import json
import warnings

import numpy as np
import pytest

from interprim import metrics, sparse_and_or
from interprim.experiments import init_diversity as idv
from interprim.experiments import browser, p2, run_experiment
from interprim.experiments.tasks import Context

MICRO = dict(seeds=[0], epochs=1, samples=8, n=4, diversity_samples=5, max_iter_sgd=300)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    ctx = Context(tmp_path_factory.mktemp("idv"), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SGD and ADMM stop at their step limits here
        return ctx, idv.run(idv.Config(**MICRO), ctx)


def test_the_starts_are_random_gamma_scaled_by_the_output_change():
    v = np.random.default_rng(0).normal(size=(3, 16))
    a, b = idv.initial_gamma(v, 1, 0.5), idv.initial_gamma(v, 2, 0.5)
    assert a.shape == v.shape and not np.allclose(a, b)
    np.testing.assert_allclose(idv.initial_gamma(v, 1, 0.5), a)
    z = np.random.default_rng(1).standard_normal(v.shape)
    np.testing.assert_allclose(a, 0.5 * np.abs(v[:, -1:] - v[:, :1]) * z)


def test_overlaps_and_objectives_equal_a_direct_computation(finished):
    ctx, results = finished
    found = p2.extract(ctx, idv.Config(**MICRO), 0, methods=())
    assert results["samples"] == found.samples[:5]
    for arch, v in zip(found.archs, found.values):
        v = v[:5]
        lp = sparse_and_or(v, solver="lp", noise=0.02)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            admm = sparse_and_or(v, solver="admm", noise=0.02, tol=0.001)
        stats = results["seeds"][0]["statistics"][arch]
        s_and, s_or = metrics.transferability([lp, admm])
        got = stats["pairs"]["lp-vs-admm"]
        np.testing.assert_allclose(np.asarray(got["s_and"]["per_sample"], dtype=float), s_and[0], equal_nan=True)
        np.testing.assert_allclose(np.asarray(got["s_or"]["per_sample"], dtype=float), s_or[0], equal_nan=True)
        # nothing beats the exact LP; the certified ADMM is within its gap; SGD stops above
        gaps = stats["objective_vs_lp"]
        assert gaps["lp"]["mean"] == pytest.approx(0.0, abs=1e-12)
        for name in ("admm", "admm-a", "admm-b", "sgd-a", "sgd-b"):
            assert gaps[name]["mean"] >= -1e-9
        assert gaps["sgd-a"]["mean"] > gaps["admm-a"]["mean"]


def test_schema_figures_and_summary_after_a_json_round_trip(finished, tmp_path):
    _, results = finished
    read = json.loads(json.dumps(results, default=float))
    for arch in read["archs"]:
        assert set(read["over_seeds"][arch]["pairs"]) == set(idv.PAIRS)
        for pair in idv.PAIRS:
            entry = read["over_seeds"][arch]["pairs"][pair]
            assert set(entry) == {"s_and", "s_or", "top10_s_and", "top10_s_or"}
            assert entry["s_and"]["mean"] is None or 0 <= entry["s_and"]["mean"] <= 1
    assert sorted(p.name for p in idv.figures(read, tmp_path)) == ["init-diversity.png", "init-diversity.svg"]
    browser.validate(read["browser"])  # the exact LP's extraction of the diversity samples
    (section,) = read["browser"]
    assert "exact LP" in section["title"] and [x["id"] for x in section["samples"]] == \
        [f"test #{i}" for i in read["samples"]]
    text = idv.summary(read)
    assert "| sgd |" in text and "| lp-vs-admm |" in text and "21 %" in text


def test_runner_and_bad_configs(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = run_experiment("init-diversity", "cpu", ["seeds=[0]", "epochs=1", "samples=5", "n=3",
                                                       "diversity_samples=3", "max_iter_sgd=100"], out=tmp_path / "r")
    assert run["tasks"]["computed"] > 0 and (tmp_path / "r" / "summary.md").is_file()
    with pytest.raises(ValueError, match="diversity_samples must be"):
        idv.Config(samples=10, diversity_samples=11)
    with pytest.raises(ValueError, match="init_seeds must be two different"):
        idv.Config(init_seeds=[1, 1])
    with pytest.raises(ValueError, match="init_scale must be > 0"):
        idv.Config(init_scale=0)


@pytest.mark.slow
def test_init_diversity_cpu_config_runs(tmp_path):
    run = run_experiment("init-diversity", "cpu", out=tmp_path / "run")
    assert set(run["results"]["over_seeds"]) == {"lenet", "mlp"}
