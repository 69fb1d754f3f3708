"""Tests of the experiment engine (``interprim.experiments``): task keys, the Context, configs, the runner, the CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from interprim.cli import main
from interprim.experiments import (
    SCHEMA,
    Context,
    Done,
    InProcessExecutor,
    dump_toml,
    get,
    load_config,
    names,
    register,
    registry,
    report,
    run_all,
    run_experiment,
    selftest,
    task_key,
)
from interprim.experiments._json import plain
from interprim.experiments.config import tomllib

FAST = ("n_games=2", "n_players=4")
OUTPUTS = ("config.toml", "results.json", "summary.md", "report.html", "run.log", "figures/orders.png",
           "figures/orders.svg")


@pytest.fixture
def only_selftest(monkeypatch):
    """The registry holds the selftest alone (so ``run all`` stays fast whatever else is registered); restored after."""
    monkeypatch.setattr(registry, "BUILTIN", ("interprim.experiments.selftest",))
    monkeypatch.setattr(registry, "_experiments", {})


def strict_json(path: Path) -> dict:
    """``path`` parsed as strict JSON (NaN / Infinity literals rejected)."""
    def reject(name):
        raise ValueError(f"non-standard JSON constant {name} in {path}")

    return json.loads(path.read_text(), parse_constant=reject)


# ---------------------------------------------------------------------------------------------
# task keys
# ---------------------------------------------------------------------------------------------
def test_task_key_is_the_documented_hash():
    canonical = '["interprim.task/1","train",{"arch":"lenet","lr":0.05,"seed":0},["abc"]]'
    expected = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    assert task_key("train", {"seed": 0, "lr": 0.05, "arch": "lenet"}, ("abc",)) == expected


def test_task_key_canonicalises_and_is_sensitive():
    base = task_key("values", {"seeds": [0, 1], "n": 10})
    assert task_key("values", {"n": 10, "seeds": (0, 1)}) == base
    assert task_key("values", {"n": np.int64(10), "seeds": np.array([0, 1])}) == base
    assert len(base) == 16 and int(base, 16) >= 0
    different = [
        task_key("values", {"seeds": [0, 1], "n": 11}),
        task_key("values", {"seeds": [1, 0], "n": 10}),
        task_key("values", {"seeds": [0, 1], "n": 10.0}),
        task_key("values", {"seeds": [0, 1], "n": 10, "extra": None}),
        task_key("extract", {"seeds": [0, 1], "n": 10}),
        task_key("values", {"seeds": [0, 1], "n": 10}, ("a",)),
        task_key("values", {"seeds": [0, 1], "n": 10}, ("b",)),
        task_key("values", {"seeds": [0, 1], "n": 10}, ("a", "b")),
        task_key("values", {"seeds": [0, 1], "n": 10}, ("b", "a")),
    ]
    assert len({base, *different}) == len(different) + 1


def test_task_key_errors():
    with pytest.raises(TypeError, match=r"params of task 'train'\['model'\]"):
        task_key("train", {"model": object()})
    with pytest.raises(TypeError, match="keys must be strings"):
        task_key("train", {"grid": {1: 2}})
    with pytest.raises(TypeError, match="deps of task"):
        task_key("train", {}, (3,))
    with pytest.raises(ValueError, match="invalid key part"):
        task_key("a/b", {})


def test_plain_json():
    value = {"a": (1, np.float32(0.5)), "b": np.array([[1, 2]]), "c": torch.tensor([1.5]), "d": np.bool_(True)}
    assert plain(value) == {"a": [1, 0.5], "b": [[1, 2]], "c": [1.5], "d": True}
    out = plain([float("nan"), np.inf, 1.0], nonfinite_as_none=True)
    assert out == [None, None, 1.0]
    assert math.isnan(plain(float("nan")))


# ---------------------------------------------------------------------------------------------
# Context
# ---------------------------------------------------------------------------------------------
CALLS: list[dict] = []


def square(x: int, scale: float = 1.0) -> dict:
    CALLS.append({"x": x, "scale": scale})
    return {"y": torch.arange(3) * x * scale, "x": np.int64(x)}


def describe(x: int) -> dict:
    CALLS.append({"x": x})
    return {"x": np.int64(x), "pair": (x, 0.5), "nan": float("nan")}


def shifted(y: dict, offset: int) -> float:
    CALLS.append({"offset": offset})
    return float(y["y"].sum() + offset)


def test_context_computes_then_reuses(tmp_path):
    CALLS.clear()
    ctx = Context(tmp_path / "run", progress=False)
    a = ctx.task("square", square, {"x": 2})
    assert isinstance(a, Done) and a.kind == "square" and a.key == task_key("square", {"x": 2})
    assert isinstance(a.value["y"], np.ndarray) and a.value["y"].tolist() == [0.0, 2.0, 4.0] and a.value["x"] == 2
    assert ctx.store.has(("tasks", "square", a.key))
    j = ctx.task("describe", describe, {"x": 3})
    assert j.value["x"] == 3 and j.value["pair"] == [3, 0.5] and math.isnan(j.value["nan"])
    assert (ctx.computed, ctx.reused) == (2, 0) and set(ctx.seconds_by_kind) == {"square", "describe"}

    again = Context(tmp_path / "run", progress=False)
    b = again.task("square", square, {"x": 2})
    j2 = again.task("describe", describe, {"x": 3})
    assert len(CALLS) == 2 and (again.computed, again.reused) == (0, 2) and again.seconds_by_kind == {}
    assert b.key == a.key and np.array_equal(b.value["y"], a.value["y"]) and b.value["y"].dtype == a.value["y"].dtype
    assert j2.value["pair"] == j.value["pair"]
    assert again.task_counts() == {"computed": 0, "reused": 2, "seconds_by_kind": {}}
    log = (tmp_path / "run" / "run.log").read_text().splitlines()
    assert len(log) == 4 and "computed in" in log[0] and log[-2].endswith(f"square {a.key} reused")


def test_context_deps_enter_the_key_and_the_call(tmp_path):
    CALLS.clear()
    ctx = Context(tmp_path, progress=False)
    two, three = ctx.task("square", square, {"x": 2}), ctx.task("square", square, {"x": 3})
    c2 = ctx.task("shifted", shifted, {"offset": 1}, deps={"y": two})
    c3 = ctx.task("shifted", shifted, {"offset": 1}, deps={"y": three})
    assert (c2.value, c3.value) == (7.0, 10.0) and c2.key != c3.key
    assert c2.key == task_key("shifted", {"offset": 1}, (f"y={two.key}",))
    info = ctx.store.get_json(("tasks", "shifted", c2.key))["task"]
    assert info["deps"] == {"y": two.key} and info["params"] == {"offset": 1}
    with pytest.raises(ValueError, match=r"\['offset'\] are both params and deps"):
        ctx.task("shifted", shifted, {"offset": 1}, deps={"offset": two})
    with pytest.raises(TypeError, match="must be a str name -> the Done"):
        ctx.task("shifted", shifted, {"offset": 1}, deps={"y": two.key})


def test_map_runs_missing_tasks_through_the_executor(tmp_path):
    class Recording(InProcessExecutor):
        def __init__(self):
            self.batches = []

        def map_unordered(self, fn, kwargs_list):
            kwargs_list = list(kwargs_list)
            self.batches.append([k.get("x", "dep") for k in kwargs_list])
            return super().map_unordered(fn, kwargs_list)

    CALLS.clear()
    executor = Recording()
    ctx = Context(tmp_path, executor=executor, progress=False)
    ctx.task("square", square, {"x": 1})
    done = ctx.map("square", square, [{"x": x} for x in (3, 1, 2, 3)])
    assert [d.value["x"] for d in done] == [3, 1, 2, 3] and done[0].key == done[3].key
    assert executor.batches == [[1], [3, 2]]  # reused and duplicate tasks are not sent
    assert (ctx.computed, ctx.reused) == (3, 1)
    shared = ctx.map("shifted", shifted, [{"offset": 0}, {"offset": 1}], deps={"y": done[0]})
    each = ctx.map("shifted", shifted, [{"offset": 0}, {"offset": 0}], deps=[{"y": done[0]}, {"y": done[2]}])
    assert [d.value for d in shared] == [9.0, 10.0] and [d.value for d in each] == [9.0, 6.0]
    assert executor.batches[2:] == [["dep", "dep"], ["dep"]]  # the shared (9.0) task is reused
    with pytest.raises(ValueError, match="deps holds 1 mappings for 2 tasks"):
        ctx.map("shifted", shifted, [{"offset": 0}, {"offset": 1}], deps=[{"y": done[0]}])


def test_map_stores_results_in_the_order_they_come(tmp_path):
    class Reversed(InProcessExecutor):
        """Finishes the tasks last to first, then fails: the finished ones must be stored under their own keys."""

        def map_unordered(self, fn, kwargs_list):
            kwargs_list = list(kwargs_list)
            for i in reversed(range(1, len(kwargs_list))):
                yield i, fn(**kwargs_list[i])
            raise RuntimeError("worker lost")

    CALLS.clear()
    params = [{"x": x} for x in (5, 6, 7)]
    with pytest.raises(RuntimeError, match="worker lost"):
        Context(tmp_path, executor=Reversed(), progress=False).map("square", square, params)
    ctx = Context(tmp_path, progress=False)
    done = ctx.map("square", square, params)
    assert [d.value["x"] for d in done] == [5, 6, 7] and [d.value["y"].tolist()[1] for d in done] == [5, 6, 7]
    assert (ctx.computed, ctx.reused) == (1, 2) and CALLS[-1] == {"x": 5, "scale": 1.0}


def test_each_runs_parts_side_by_side_only_with_a_parallel_executor(tmp_path):
    import threading

    class Parallel(InProcessExecutor):
        parallel = True

    def part(ctx, x):
        barrier.wait(timeout=10)  # every part must be running at once to pass
        return threading.get_ident(), ctx.map("square", square, [{"x": x}, {"x": x + 10}])

    for executor, together in ((Parallel(), True), (InProcessExecutor(), False)):
        barrier = threading.Barrier(3 if together else 1)
        ctx = Context(tmp_path / str(together), executor=executor, progress=False)
        out = ctx.each(lambda x: part(ctx, x), [1, 2, 3])
        assert [[d.value["x"] for d in done] for _, done in out] == [[1, 11], [2, 12], [3, 13]]
        assert len({ident for ident, _ in out}) == (3 if together else 1)
        assert ctx.computed == 6 and (tmp_path / str(together) / "run.log").read_text().count("computed in") == 6

    ctx = Context(tmp_path / "fails", executor=Parallel(), progress=False)
    with pytest.raises(ZeroDivisionError):
        ctx.each(lambda x: 1 / x, [1, 0, 2])


# ---------------------------------------------------------------------------------------------
# configs
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Toy:
    arch: str
    seeds: tuple[int, ...]
    lr: float
    epochs: int = 2
    flags: list[bool] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


def toy_file(tmp_path: Path, text: str = 'arch = "lenet"\nseeds = [0, 1]\nlr = 0.05\n') -> str:
    path = tmp_path / "toy.toml"
    path.write_text(text)
    return str(path)


def test_load_config_reads_types_and_overrides(tmp_path):
    source = toy_file(tmp_path)
    assert load_config(Toy, source) == Toy("lenet", (0, 1), 0.05)
    c = load_config(Toy, source, ["seeds=[0,1,2]", "lr=1", "arch=resnet20", "epochs = 5", "flags=[true]"])
    assert c == Toy("resnet20", (0, 1, 2), 1.0, 5, [True]) and isinstance(c.lr, float)
    assert load_config(Toy, source, ['arch="x y"']).arch == "x y"
    assert load_config(Toy, source, ["arch=123"]).arch == "123"  # a str field takes the text
    assert load_config(Toy, source, ["lr=0.1", "lr=0.2"]).lr == 0.2


@pytest.mark.parametrize(
    "text, overrides, match",
    [
        ('arch = "a"\nseeds = [0]\nlr = 0.1\nbatch = 3\n', (), r"unknown keys \['batch'\]; valid keys: arch, seeds"),
        ('arch = "a"\nseeds = [0]\nlr = "fast"\n', (), r"key 'lr' expects float, got 'fast' \(str\)"),
        ('arch = "a"\nseeds = [0, 1.5]\nlr = 0.1\n', (), r"key 'seeds' expects tuple\[int, \.\.\.\], got \[0, 1\.5\]"),
        ('arch = "a"\nseeds = [0]\nlr = 0.1\nepochs = true\n', (), r"key 'epochs' expects int, got True"),
        ('arch = "a"\nlr = 0.1\n', (), r"missing keys \['seeds'\]"),
        ('arch = "a"\nseeds = [0]\nlr = -1\n', (), r"invalid config .*toy.toml: lr must be positive"),
        ('arch = "a"\nseeds = [0\n', (), "is not valid TOML"),
        ('arch = "a"\nseeds = [0]\nlr = 0.1\n', ("epochs",), r"bad --set 'epochs': expected key=value"),
        ('arch = "a"\nseeds = [0]\nlr = 0.1\n', ("=3",), r"bad --set '=3': expected key=value"),
        ('arch = "a"\nseeds = [0]\nlr = 0.1\n', ("batch=3",), r"bad --set 'batch=3': config .*toy.toml has no key 'batch'; valid"),
        ('arch = "a"\nseeds = [0]\nlr = 0.1\n', ("seeds=[0,",), r"bad --set 'seeds=\[0,': '\[0,' is not a TOML value"),
        ('arch = "a"\nseeds = [0]\nlr = 0.1\n', ("epochs=three",), r"key 'epochs' expects int, got 'three'"),
        ('arch = "a"\nseeds = [0]\nlr = 0.1\n', ("epochs=1\nlr=2",), "one value after '=', on one line"),
    ],
)
def test_load_config_errors(tmp_path, text, overrides, match):
    with pytest.raises(ValueError, match=match):
        load_config(Toy, toy_file(tmp_path, text), overrides)


def test_config_sources():
    assert load_config(selftest.Config, "cpu", name="selftest").seeds == (0, 1)
    assert load_config(selftest.Config, "paper", name="selftest").n_players == 8
    with pytest.raises(ValueError, match="neither one of cpu, paper, text-cpu, text-paper, lm-cpu, lm-paper nor an existing TOML file"):
        load_config(selftest.Config, "nope.toml", name="selftest")
    with pytest.raises(ValueError, match="ships no 'cpu' config"):
        load_config(Toy, "cpu", name="toy")
    with pytest.raises(ValueError, match=r"invalid config selftest-cpu: n_players must be between 2 and 12, got 40"):
        load_config(selftest.Config, "cpu", ["n_players=40"], name="selftest")

    @dataclasses.dataclass
    class Nested:
        options: dict

    with pytest.raises(TypeError, match="field 'options' of Nested has the type"):
        load_config(Nested, "x.toml")


def test_dump_toml_round_trips():
    values = {
        "name": 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f unicode é 😀',
        "int": -3,
        "big": 2**62,
        "float": 0.1,
        "tiny": 1e-300,
        "whole": 5.0,
        "inf": float("inf"),
        "minus_inf": float("-inf"),
        "flag": False,
        "seeds": [0, 1, 2],
        "empty": [],
        "mixed": [1.5, 2.0],
        "words": ["a", "b c"],
        "key with space": 1,
    }
    back = tomllib.loads(dump_toml(values))
    assert back == values and type(back["whole"]) is float
    assert math.isnan(tomllib.loads(dump_toml({"x": float("nan")}))["x"])
    assert tomllib.loads(dump_toml({"t": (1, 2)})) == {"t": [1, 2]}
    with pytest.raises(TypeError, match="key 'table' holds"):
        dump_toml({"table": {"a": 1}})
    with pytest.raises(TypeError, match="key 'none' holds None"):
        dump_toml({"none": None})


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------
def fake_experiment(name: str = "fake") -> types.ModuleType:
    module = types.ModuleType(f"fake_{name}")

    @dataclasses.dataclass(frozen=True)
    class Config:
        size: int = 2

    module.NAME, module.DESCRIPTION, module.Config = name, "a fake", Config
    module.run = lambda config, ctx: {"nan": float("nan"), "inf": [np.inf], "arr": np.arange(config.size)}
    module.figures = lambda results, out_dir: []
    module.summary = lambda results: f"arr = {results['arr']}"
    return module


def test_registry(only_selftest):
    assert names() == ["selftest"] and get("selftest") is selftest
    with pytest.raises(ValueError, match=r"unknown experiment 'nope'; known experiments: selftest"):
        get("nope")
    fake = register(fake_experiment())
    assert get("fake") is fake and register(fake) is fake and names() == ["fake", "selftest"]
    with pytest.raises(ValueError, match="is taken by fake_fake"):
        register(fake_experiment())
    with pytest.raises(ValueError, match="NAME 'all'"):
        register(fake_experiment("all"))
    broken = fake_experiment("broken")
    del broken.summary
    with pytest.raises(ValueError, match=r"lacks \['summary'\]"):
        register(broken)


# ---------------------------------------------------------------------------------------------
# runner
# ---------------------------------------------------------------------------------------------
def test_run_experiment_writes_the_output_contract(tmp_path):
    out = tmp_path / "run"
    doc = run_experiment("selftest", overrides=FAST, out=out, progress=False)
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    assert strict_json(out / "results.json") == doc
    assert set(doc) == {"schema", "experiment", "config", "environment", "started", "finished", "seconds", "tasks",
                        "results"}
    assert doc["schema"] == SCHEMA and doc["experiment"] == "selftest"
    assert doc["config"] == {"seeds": [0, 1], "n_games": 2, "n_players": 4, "noise": 0.02, "tol": 0.01}
    assert set(doc["environment"]) == {"executor", "python", "platform", "interprim", "torch", "numpy", "device", "threads"}
    assert doc["tasks"]["computed"] == 4 and doc["tasks"]["reused"] == 0
    assert set(doc["tasks"]["seconds_by_kind"]) == {"selftest-games", "selftest-extract"}
    results = doc["results"]
    assert len(results["average_order"]) == 2 and len(results["average_order"][0]) == 2
    assert max(results["max_matching_error"]) < 1e-9
    assert load_config(selftest.Config, str(out / "config.toml")) == load_config(selftest.Config, "cpu", FAST,
                                                                                   name="selftest")
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# selftest: ") and "| seed |" in summary and "4 tasks computed, 0 reused" in summary
    log = (out / "run.log").read_text()
    assert log.count("computed in") == 4 and "finished selftest" in log


def test_killed_run_resumes_with_only_the_missing_tasks(tmp_path, monkeypatch):
    overrides = (*FAST, "seeds=[0,1,2]")
    clean = run_experiment("selftest", overrides=overrides, out=tmp_path / "clean", progress=False)

    calls = {"n": 0}
    extract = selftest.extract

    def dies_after_one(**kwargs):
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("killed")
        return extract(**kwargs)

    monkeypatch.setattr(selftest, "extract", dies_after_one)
    with pytest.raises(RuntimeError, match="killed"):
        run_experiment("selftest", overrides=overrides, out=tmp_path / "resumed", progress=False)
    assert not (tmp_path / "resumed" / "results.json").exists()
    log = (tmp_path / "resumed" / "run.log").read_text()
    assert "failed after 4 computed and 0 reused tasks: RuntimeError: killed" in log
    monkeypatch.setattr(selftest, "extract", extract)

    resumed = run_experiment("selftest", overrides=overrides, out=tmp_path / "resumed", progress=False)
    assert resumed["tasks"]["computed"] == 2 and resumed["tasks"]["reused"] == 4
    assert list(resumed["tasks"]["seconds_by_kind"]) == ["selftest-extract"]
    assert resumed["results"] == clean["results"]
    assert json.dumps(resumed["results"]) == json.dumps(clean["results"])


def test_results_are_strict_json(tmp_path, only_selftest):
    register(fake_experiment())
    config = tmp_path / "fake.toml"
    config.write_text("size = 3\n")
    doc = run_experiment("fake", str(config), out=tmp_path / "run", progress=False)
    assert doc["results"] == {"nan": None, "inf": [None], "arr": [0, 1, 2]}
    assert strict_json(tmp_path / "run" / "results.json")["results"] == doc["results"]


def test_report_rerenders_without_computing(tmp_path, monkeypatch):
    out = tmp_path / "run"
    run_experiment("selftest", overrides=FAST, out=out, progress=False)
    before = {name: (out / name).read_bytes() for name in ("results.json", "summary.md", "figures/orders.svg")}
    for name in ("summary.md", "figures/orders.png", "figures/orders.svg"):
        (out / name).unlink()

    def fail(*args, **kwargs):
        raise AssertionError("report must not compute")

    monkeypatch.setattr(selftest, "run", fail)
    monkeypatch.setattr(selftest, "extract", fail)
    paths = report(out)
    assert sorted(p.name for p in paths) == ["orders.png", "orders.svg", "report.html", "summary.md"]
    assert all(p.is_file() for p in paths)
    for name, data in before.items():
        assert (out / name).read_bytes() == data, name
    with pytest.raises(FileNotFoundError, match="results.json does not exist"):
        report(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text('{"schema": "other"}')
    with pytest.raises(ValueError, match="is not an interprim.results/1 results file"):
        report(tmp_path / "bad")


def test_run_all_shares_one_store(tmp_path, only_selftest):
    docs = run_all(overrides=FAST, out=tmp_path / "all", progress=False)
    assert list(docs) == ["selftest"] and (tmp_path / "all" / "store" / "tasks").is_dir()
    for name in OUTPUTS:
        assert (tmp_path / "all" / "selftest" / name).is_file(), name
    assert not (tmp_path / "all" / "selftest" / "store").exists()
    again = run_experiment("selftest", overrides=FAST, out=tmp_path / "one", store=tmp_path / "all" / "store",
                           progress=False)
    assert again["tasks"]["computed"] == 0 and again["tasks"]["reused"] == 4
    assert [p.parent.name for p in report(tmp_path / "all") if p.name == "summary.md"] == ["selftest"]
    with pytest.raises(ValueError, match="no experiment has the key 'batch'"):
        run_all(overrides=["batch=3"], out=tmp_path / "x")
    with pytest.raises(ValueError, match="run all takes a shipped config"):
        run_all("my.toml", out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_run_experiment_errors_write_nothing(tmp_path):
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        run_experiment("nope", out=tmp_path / "a")
    with pytest.raises(ValueError, match="use run_all"):
        run_experiment("all", out=tmp_path / "a")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        run_experiment("selftest", out=tmp_path / "a", device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA GPU"):
            run_experiment("selftest", out=tmp_path / "a", device="cuda")
    assert not (tmp_path / "a").exists()


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def test_cli_experiment_list(capsys, only_selftest):
    assert main(["experiment", "list"]) == 0
    out = capsys.readouterr().out
    assert "selftest" in out and selftest.DESCRIPTION in out and "all " in out


def test_cli_experiment_run_and_report(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["experiment", "run", "selftest", "--out", str(out), "--set", "n_games=2", "--set", "n_players=4"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"selftest: {out} (4 tasks computed, 0 reused" in printed
    assert json.loads((out / "results.json").read_text())["config"]["n_games"] == 2
    assert main(args + ["--store", str(out / "store")]) == 0
    assert "0 tasks computed, 4 reused" in capsys.readouterr().out
    assert main(["experiment", "report", str(out)]) == 0
    assert str(out / "summary.md") in capsys.readouterr().out


def test_cli_experiment_run_all(tmp_path, capsys, only_selftest):
    assert main(["experiment", "run", "all", "--out", str(tmp_path), "--set", "n_games=2", "--set", "n_players=4"]) == 0
    assert f"selftest: {tmp_path / 'selftest'} (4 tasks computed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "nope"], "error: unknown experiment 'nope'; known experiments:"),
        (["run", "selftest", "--set", "n_games"], "error: bad --set 'n_games': expected key=value"),
        (["run", "selftest", "--set", "batch=2"], "error: bad --set 'batch=2': config selftest-cpu has no key 'batch'"),
        (["run", "selftest", "--set", "n_games=two"], "error: config selftest-cpu: key 'n_games' expects int"),
        (["run", "selftest", "--config", "missing.toml"], "error: config 'missing.toml' is neither"),
        (["run", "selftest", "--device", "gpu"], "error: unknown device 'gpu'; use cpu, cuda or cuda:<index>."),
        (["report", "DIR"], "error: DIR/results.json does not exist"),
    ],
)
def test_cli_experiment_errors(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["experiment", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists()



def test_every_shipped_config_holds_only_fields_of_its_experiment(tmp_path):
    """Each shipped TOML (cpu, paper and the text variants) names only fields of its experiment's config with
    values of their types; the paper and text configs that read files name their data set and leave the path to
    the user (the error then says to set data_path)."""
    import importlib
    from importlib import resources

    from interprim.experiments import registry
    from interprim.experiments.config import SOURCES, field_types, tomllib

    folder = resources.files("interprim.experiments").joinpath("configs")
    modules = {importlib.import_module(path).NAME: importlib.import_module(path) for path in registry.BUILTIN}
    seen = 0
    for name, module in modules.items():
        for source in SOURCES:
            if not folder.joinpath(f"{name}-{source}.toml").is_file():
                assert not source.startswith("cpu") and source != "paper", f"{name} lacks its {source} config"
                continue
            values = tomllib.loads(folder.joinpath(f"{name}-{source}.toml").read_text(encoding="utf-8"))
            assert set(values) <= set(field_types(module.Config)), (name, source)
            seen += 1
            dataset = values.get("dataset", "mnist10k")
            if source.startswith(("text", "lm")):
                arches = values.get("archs", [values.get("arch")])
                allowed = {"bert-tiny", "bert-mini", "minilm"} if source.startswith("text") else {"gpt2-tiny", "llama-tiny"}
                assert dataset == "sst2", (name, source)
                assert set(arches) <= allowed or source.endswith("paper"), (name, source)
                assert values.get("adversarial", False) is False
            if dataset != "mnist10k":
                assert values["data_path"] == ""
                with pytest.raises(ValueError, match="set data_path"):
                    load_config(module.Config, source, name=name)
            else:
                load_config(module.Config, source, name=name)  # valid as shipped
    assert seen >= 2 * len(modules) + 6  # cpu and paper for each, text-cpu and text-paper for three
