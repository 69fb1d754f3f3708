"""The ``runtime`` experiment (P2 Table 1) end to end on a micro config: the schema, the LP as the optimum nothing
beats, the objectives against a direct recomputation from the stored interactions, reused timings, the runner."""

import dataclasses
import json
import warnings

import numpy as np
import pytest

from interprim import ConvergenceWarning, sparse_and_or
from interprim.experiments import browser, p2, register, run_experiment
from interprim.experiments import runtime as rt
from interprim.experiments import transferability as tr
from interprim.experiments.config import load_config
from interprim.experiments.tasks import Context
from interprim.extract.generalizable import joint_objective

MICRO = dict(seeds=[0], epochs=1, samples=6, n=4, sgd_samples=3, max_iter_sgd=500)
MICRO_TOL = rt.Config(**MICRO).tol
OVERRIDES = ["seeds=[0]", "epochs=1", "samples=6", "n=4", "sgd_samples=3", "max_iter_sgd=500"]
LABELS = [(method, model, solver)
          for method, models in (("traditional", ("lenet", "mlp")), ("generalizable", ("pair",)))
          for model in models for solver in rt.SOLVERS]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    """One store for the module: the models, games and timed extractions are computed once."""
    return Context(tmp_path_factory.mktemp("p2rt"), progress=False)


@pytest.fixture(scope="module")
def finished(ctx):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the short SGD and the ADMM may stop at their limits
        return rt.run(rt.Config(**MICRO), ctx)


def _tasks(ctx):
    """The finished timed tasks of the micro config (read back from the store) and the games' records."""
    config = rt.Config(**MICRO)
    found = p2.extract(ctx, config, 0, methods=())
    before = ctx.computed
    done = rt.timed(ctx, config, found.records)
    assert ctx.computed == before  # every (method, solver) was a keyed task of the run
    return config, found, done


def test_schema_rows_and_counts(finished):
    read = json.loads(json.dumps(finished, default=float))
    assert read["solvers"] == ["lp", "ipm", "admm", "sgd"] and read["sgd_samples"] == 3 and read["max_iter_sgd"] == 500
    assert read["published"]["MNIST, ResNet-20 and VGG-16"] == 27.15
    browser.validate(read["browser"])  # the exact LP's generalizable and traditional interactions
    assert [("generalizable" in s["title"], "exact LP" in s["title"], len(s["samples"])) for s in read["browser"]] == \
        [(True, True, 6), (False, True, 6)]
    rows = read["seeds"][0]["rows"]
    assert [(r["method"], r["model"], r["solver"]) for r in rows] == LABELS
    assert [(r["method"], r["model"], r["solver"]) for r in read["over_seeds"]] == LABELS
    for row in rows:
        count = 3 if row["solver"] == "sgd" else 6
        assert row["count"] == count and row["samples"] == read["samples"][:count]
        assert row["seconds"] > 0 and row["seconds_per_sample"] == pytest.approx(row["seconds"] / count)
        assert set(row["within"]) == {"0.01", "0.001"} and row["gap"]["n"] == count
        assert row["threads"] == 1 and row["device"] == "cpu"  # conftest: one torch thread
        base = next(r for r in rows if (r["method"], r["model"], r["solver"]) == (row["method"], row["model"], "sgd"))
        assert row["speedup"] == pytest.approx(base["seconds_per_sample"] / row["seconds_per_sample"])
    for row in read["over_seeds"]:
        assert set(row) >= {"seconds_per_sample", "speedup", "gap", "gap_max", "within", "objective", "certified"}
        assert row["seconds_per_sample"]["n"] == 1


def test_the_lp_is_the_optimum_nothing_beats(ctx, finished):
    rows = finished["seeds"][0]["rows"]
    for row in rows:
        assert row["gap"]["max"] >= -1e-9
        if row["solver"] == "lp":
            assert abs(row["gap"]["mean"]) <= 1e-12 and abs(row["gap"]["max"]) <= 1e-12
            assert row["within"] == {"0.01": 1.0, "0.001": 1.0} and row["certified"] <= 1e-9
        if row["solver"] in ("admm", "ipm"):  # the true gap is within the certified one: (obj − lp)/obj <= (obj − lower)/obj
            assert row["gap"]["max"] / (1 + row["gap"]["max"]) <= row["certified"] + 1e-9
            assert row["certified"] <= MICRO_TOL + 1e-12
    _, _, done = _tasks(ctx)
    for method in rt.METHODS:
        optimum = done[method, "lp"].value["objective"]
        for solver in rt.SOLVERS:  # every solver times both methods (the ipm the pair jointly too)
            objective = done[method, solver].value["objective"]
            assert np.all(rt.relative_gap(objective, optimum[:, : objective.shape[1]]) >= -1e-9)
        lower = done[method, "admm"].value["lower_bound"]
        assert np.all(lower <= optimum * (1 + 1e-9))  # the ADMM's certificate bounds the LP optimum from below
    assert max(r["gap"]["mean"] for r in rows if r["solver"] == "sgd") > 1e-3  # 500 steps stop above the optimum


def test_objectives_equal_a_direct_recomputation(ctx, finished):
    config, found, done = _tasks(ctx)
    for (method, solver), task in done.items():
        value = task.value
        count = 3 if solver == "sgd" else 6
        i_and, i_or = value["i_and"], value["i_or"]
        timed_rows = 2 if method == "traditional" else 1  # a row per model, or one for the pair
        assert i_and.shape == (2, count, 16) and value["objective"].shape == (timed_rows, count)
        if method == "traditional":
            by_hand = [[sum(abs(i_and[j, b, t]) + abs(i_or[j, b, t]) for t in range(1, 16)) for b in range(count)]
                       for j in range(2)]
        else:
            by_hand = [joint_objective(i_and, i_or, config.alpha)]
        np.testing.assert_allclose(value["objective"], by_hand, rtol=1e-12, atol=1e-12)
    # the LP's optimum is the one a direct solve reaches, and the rows hold the tasks' numbers
    direct = sparse_and_or(found.values[1], solver="lp", noise=config.noise)
    np.testing.assert_allclose(done["traditional", "lp"].value["objective"][1], direct.objective, rtol=1e-9)
    rows = {(r["method"], r["model"], r["solver"]): r for r in finished["seeds"][0]["rows"]}
    sgd = done["generalizable", "sgd"].value
    gap = (sgd["objective"][0] - done["generalizable", "lp"].value["objective"][0, :3]) \
        / done["generalizable", "lp"].value["objective"][0, :3]
    row = rows["generalizable", "pair", "sgd"]
    assert row["gap"]["mean"] == pytest.approx(gap.mean()) and row["gap"]["max"] == pytest.approx(gap.max())
    assert row["within"]["0.01"] == pytest.approx(np.mean(gap <= 0.01))
    assert row["seconds"] == float(sgd["seconds"][0])
    assert rows["traditional", "mlp", "admm"]["objective"]["mean"] == pytest.approx(
        done["traditional", "admm"].value["objective"][1].mean())


def test_figures_and_summary_render_after_a_json_round_trip(finished, tmp_path):
    read = json.loads(json.dumps(finished, default=float))
    paths = rt.figures(read, tmp_path)
    assert sorted(p.name for p in paths) == ["runtime.png", "runtime.svg"]
    text = rt.summary(read)
    assert not text.startswith("# ") and "| traditional | lenet | lp | 6 |" in text
    assert "| generalizable | pair | sgd | 3 |" in text
    assert "P2 Table 1" in text and "27.15" in text


def test_runner_writes_results_summary_figures_and_a_rerun_reuses_every_task(ctx, finished, tmp_path):
    register(rt)
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # another SGD length: only its two timed tasks (traditional, generalizable) are new; the models and games come from the store
        done = run_experiment(rt.NAME, "cpu", [*OVERRIDES[:-1], "max_iter_sgd=400"], out=out, store=ctx.store,
                              progress=False)
        again = run_experiment(rt.NAME, "cpu", [*OVERRIDES[:-1], "max_iter_sgd=400"], out=out, store=ctx.store,
                               progress=False)
    assert done["tasks"]["computed"] == 2 and again["tasks"]["computed"] == 0
    assert done["results"]["config"]["n"] == 4 and done["results"]["max_iter_sgd"] == 400
    assert json.loads((out / "results.json").read_text())["results"]["archs"] == ["lenet", "mlp"]
    assert (out / "summary.md").is_file()
    assert (out / "figures" / "runtime.png").is_file() and (out / "figures" / "runtime.svg").is_file()
    # a reused task reports the seconds measured when it was computed; the LP and ADMM tasks are the module's
    first = {(r["method"], r["model"], r["solver"]): r for r in finished["seeds"][0]["rows"]}
    for row in again["results"]["seeds"][0]["rows"]:
        if row["solver"] != "sgd":
            assert row["seconds"] == first[row["method"], row["model"], row["solver"]]["seconds"]
    assert again["results"]["seeds"] == done["results"]["seeds"]


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="solvers must be a non-empty list"):
        rt.Config(solvers=["lp", "newton"])
    with pytest.raises(ValueError, match="solvers must be a non-empty list"):
        rt.Config(solvers=["lp", "lp"])
    with pytest.raises(ValueError, match="solvers must include 'lp'"):
        rt.Config(solvers=["admm", "sgd"])
    with pytest.raises(ValueError, match="sgd_samples must be an integer in 1 .. samples"):
        rt.Config(samples=10, sgd_samples=11)
    with pytest.raises(ValueError, match="sgd_samples must be an integer in 1 .. samples"):
        rt.Config(sgd_samples=0)
    with pytest.raises(ValueError, match="max_iter_sgd must be an integer >= 1"):
        rt.Config(max_iter_sgd=0)
    assert rt.Config(solvers=["sgd", "lp"]).solvers == ["lp", "sgd"]  # kept in the order of rt.SOLVERS


@pytest.mark.parametrize("source", ["cpu", "paper"])
def test_shipped_configs_share_the_models_and_games_of_transferability(source):
    reference = dataclasses.asdict(load_config(tr.Config, source, name=tr.NAME))
    del reference["ks"]
    config = dataclasses.asdict(load_config(rt.Config, source, name=rt.NAME))
    own = {key: config.pop(key) for key in ("solvers", "sgd_samples", "max_iter_sgd")}
    assert config == reference
    assert own["solvers"] == ["lp", "ipm", "admm", "sgd"] and own["max_iter_sgd"] == 20000  # the published steps
    assert own["sgd_samples"] == (3 if source == "cpu" else 20)


@pytest.mark.slow
def test_the_cpu_config_runs_end_to_end(tmp_path):
    register(rt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        out = run_experiment(rt.NAME, "cpu", out=tmp_path / "run", progress=False)
    results = out["results"]
    assert len(results["seeds"]) == 3 and results["config"]["samples"] == 100
    for row in results["over_seeds"]:
        assert row["count"] == (results["sgd_samples"] if row["solver"] == "sgd" else 100)
        assert row["gap_max"] >= -1e-9
        if row["solver"] == "lp":
            assert row["gap_max"] == pytest.approx(0, abs=1e-12)
        if row["solver"] == "admm":  # certified to tol, or a little above it where a game stopped at max_iter
            assert row["gap_max"] / (1 + row["gap_max"]) <= row["certified"] + 1e-9 and row["certified"] < 0.01
    assert (tmp_path / "run" / "summary.md").is_file() and (tmp_path / "run" / "figures" / "runtime.png").is_file()
