"""The Ray executor on a local 2-worker Ray instance: the same numbers as in this process, and resumable runs."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from interprim.cli import main
from interprim.experiments import Context, run_experiment, task_key
from interprim.experiments import executor as executor_module
from interprim.experiments import selftest
from interprim.experiments.executor import RayExecutor, _device_of

SLOW_SELFTEST = ["seeds=[0,1,2,3,4,5,6,7]", "n_players=9", "n_games=10", "tol=0.001"]  # ~0.7 s per extraction
TRANSFERABILITY = ["seeds=[0,1]", "epochs=1", "samples=5", "n=3", "ks=[1,2]"]  # the seeds side by side (ctx.each)
LOW_LAYER = ["seeds=[0,1]", "donor_epochs=1", 'donor_subset="first:200"', "subset_size=100", "subset_epochs=1",
             "samples=12", "n=4", "n_boot=50"]


@pytest.fixture(scope="module")
def ray_executor():
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'interprim[ray]')")
    with RayExecutor(workers=2) as ex:
        yield ex


@pytest.fixture
def one_thread():
    """In-process runs with one torch thread, as every Ray task (``cpus=1``) runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def same_numbers(a: dict, b: dict) -> bool:
    return json.dumps(a["results"], sort_keys=True) == json.dumps(b["results"], sort_keys=True)


def test_runs_give_the_same_results_json_as_in_process(tmp_path, ray_executor, one_thread):
    for name, overrides in (("selftest", ["seeds=[0,1,2]"]), ("transferability", TRANSFERABILITY),
                            ("low-layer", LOW_LAYER)):
        here = run_experiment(name, overrides=overrides, out=tmp_path / f"{name}-here", progress=False)
        ray = run_experiment(name, overrides=overrides, out=tmp_path / f"{name}-ray", executor=ray_executor,
                             progress=False)
        assert same_numbers(here, ray), name
        assert ray["tasks"]["computed"] == here["tasks"]["computed"] > 0
        assert ray["environment"]["executor"].startswith("RayExecutor(local, 2 CPUs")
        assert here["environment"]["executor"] == "InProcessExecutor()"
        # the arrays of the task records are equal, bit for bit (the header holds each task's seconds)
        records = list((tmp_path / f"{name}-here" / "store").rglob("*.npz"))
        assert records
        for record in records:
            twin = tmp_path / f"{name}-ray" / "store" / record.relative_to(tmp_path / f"{name}-here" / "store")
            with np.load(record) as x, np.load(twin) as y:
                assert set(x.files) == set(y.files)
                assert all(np.array_equal(x[k], y[k]) for k in x.files if k != "__header__"), record


def test_tasks_run_in_parallel_and_every_result_is_stored(tmp_path, ray_executor):
    params = [{"seed": s, "n_games": 10, "n_players": 9} for s in range(4)]
    ctx = Context(tmp_path, executor=ray_executor, progress=False)
    games = ctx.map("selftest-games", selftest.smooth_games, params)
    start = time.perf_counter()
    found = ctx.map("selftest-extract", selftest.extract, [{"noise": 0.02, "tol": 1e-3}] * 4,
                    deps=[{"values": g} for g in games])
    wall = time.perf_counter() - start
    assert ctx.computed == 8 and len(found) == 4
    busy = ctx.seconds_by_kind["selftest-extract"]
    assert wall < 0.9 * busy, f"4 tasks of {busy:.2f} s in all took {wall:.2f} s on 2 workers"
    for done in found:
        assert ctx.store.has(("tasks", "selftest-extract", done.key))


def test_a_failing_task_raises_its_own_error_and_the_finished_ones_are_kept(tmp_path, ray_executor):
    params = [{"seed": s, "n_games": 2, "n_players": 4} for s in (0, 1, -1, 2)]  # seed -1: numpy raises
    ctx = Context(tmp_path, executor=RayExecutor(in_flight=4), progress=False)
    with pytest.raises(ValueError, match="negative"):
        ctx.map("selftest-games", selftest.smooth_games, params)
    stored = [ctx.store.has(("tasks", "selftest-games", task_key("selftest-games", p))) for p in params]
    assert stored == [True, True, False, True]


def test_a_killed_driver_resumes_without_recomputing_finished_tasks(tmp_path, ray_executor, one_thread):
    out = tmp_path / "run"
    args = ["experiment", "run", "selftest", *[f"--set={o}" for o in SLOW_SELFTEST], "--out", str(out),
            "--executor", "ray", "--workers", "2"]
    driver = subprocess.Popen([sys.executable, "-c", "import sys; from interprim.cli import main; "
                               "sys.exit(main(sys.argv[1:]))", *args],
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = out / "run.log"
    deadline = time.monotonic() + 240
    try:
        while not (log.is_file() and log.read_text().count("selftest-extract") >= 2):
            assert driver.poll() is None, f"the driver ended early: {driver.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no extraction finished within 240 s"
            time.sleep(0.02)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local Ray instance it started
        driver.wait()
    finished = [line.split()[2] for line in log.read_text().splitlines() if " computed in " in line]
    assert 8 + 2 <= len(finished) < 16 and not (out / "results.json").exists()

    resumed = run_experiment("selftest", overrides=SLOW_SELFTEST, out=out, executor=ray_executor, progress=False)
    assert resumed["tasks"]["computed"] == 16 - len(finished) and resumed["tasks"]["reused"] == len(finished)
    second = log.read_text().split("start selftest")[-1]
    assert all(f"{key} reused" in second for key in finished)
    clean = run_experiment("selftest", overrides=SLOW_SELFTEST, out=tmp_path / "clean", progress=False)
    assert same_numbers(resumed, clean)


def test_parallel_first_maps_connect_once(monkeypatch):
    """The threads of ctx.each all make their first map at once: Ray must be started once, not per thread."""
    import threading

    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'interprim[ray]')")
    state = {"inits": 0, "up": False}

    def init(**kwargs):
        assert not state["up"], "ray.init called twice"
        time.sleep(0.2)
        state["inits"] += 1
        state["up"] = True

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "is_initialized", lambda: state["up"])
    ex = RayExecutor(workers=2)
    threads = [threading.Thread(target=ex.connect) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state["inits"] == 1 and ex._started


def test_tasks_ask_for_a_gpu_only_when_given_a_cuda_device():
    def task(x, device="cpu"):
        return x

    assert _device_of(functools.partial(task, device="cuda:1")) == "cuda:1"
    assert _device_of(functools.partial(functools.partial(task, x=1), device="cpu")) == "cpu"
    assert _device_of(task) is None and _device_of(functools.partial(task, x=1)) is None
    timed = type("Timed", (), {"fn": functools.partial(task, device="cuda")})()
    assert _device_of(timed) == "cuda"


def test_read_only_arrays_from_the_object_store_are_copied():
    frozen = np.arange(3.0)
    frozen.setflags(write=False)
    out = executor_module._writable({"a": frozen, "b": [frozen], "c": 1})
    assert out["a"].flags.writeable and out["b"][0].flags.writeable and out["c"] == 1
    assert np.array_equal(out["a"], frozen)


def test_executor_errors(monkeypatch, capsys):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        RayExecutor(workers=0)
    with pytest.raises(ValueError, match="cpus per task must be > 0"):
        RayExecutor(cpus=0)
    for argv, message in (
        (["--address", "auto"], "--address only apply to --executor ray"),
        (["--executor", "ray", "--address", "auto", "--workers", "2"], "--workers sizes a local Ray instance"),
    ):
        assert main(["experiment", "run", "selftest", *argv]) == 2
        assert message in capsys.readouterr().err
    for address, message in (("127.0.0.1:1", "nothing answers at the Ray address '127.0.0.1:1'"),
                             ("ray://127.0.0.1:1", "nothing answers"), ("nowhere", "a Ray address is auto")):
        start = time.monotonic()
        assert main(["experiment", "run", "selftest", "--executor", "ray", "--address", address]) == 2
        assert message in capsys.readouterr().err and time.monotonic() - start < 15
    for flag, value, message in (("--task-cpus", "0", "expected a number > 0"), ("--task-cpus", "nan", "> 0"),
                                 ("--task-gpus", "-1", "expected a number >= 0"), ("--task-gpus", "inf", ">= 0")):
        with pytest.raises(SystemExit) as exit_:
            main(["experiment", "run", "selftest", "--executor", "ray", flag, value])
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # as where Ray is not installed
    with pytest.raises(ImportError, match=r"pip install 'interprim\[ray\]'"):
        RayExecutor()
    assert main(["experiment", "run", "selftest", "--executor", "ray"]) == 2
    assert "pip install 'interprim[ray]'" in capsys.readouterr().err
