"""Tests of :class:`interprim.store.Store`: records round-trip, keys, resumable loops, crash safety.

The crash test runs a writer in a subprocess, kills it with SIGKILL while it writes, and checks
that every record on disk is complete and that a rerun writes exactly the missing ones.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import torch

import interprim.store
from interprim.store import Store


def test_put_get_round_trip(tmp_path):
    store = Store(tmp_path / "results")
    arrays = {
        "v": np.linspace(-1.0, 1.0, 1024),
        "mask": np.array([True, False, True]),
        "counts": np.arange(12, dtype=np.int32).reshape(3, 4),
        "names": np.array(["a", "bé", "c"]),
        "scalar": np.float32(2.5),
    }
    info = {"model": "lenet", "seed": 3, "eta": 1.25, "players": [1, 5, 7], "nested": {"ok": True}}
    path = store.put(("jaccard", "model0", 17), arrays, info)
    assert path == tmp_path / "results" / "jaccard" / "model0" / "17.npz"
    got, got_info = store.get(("jaccard", "model0", 17))
    assert got_info == info
    assert sorted(got) == sorted(arrays)
    for name, value in arrays.items():
        assert got[name].dtype == np.asarray(value).dtype, name
        np.testing.assert_array_equal(got[name], value)
    # the file is a plain npz readable without pickle; the header is JSON in a string entry
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(str(npz["__header__"]))
    assert header["key"] == ["jaccard", "model0", "17"] and header["info"] == info


def test_put_accepts_torch_and_compresses(tmp_path):
    plain, packed = Store(tmp_path / "p"), Store(tmp_path / "c", compress=True)
    value = torch.zeros(20000, dtype=torch.float64, requires_grad=True)
    for store in (plain, packed):
        store.put("x", {"v": value})
        got, info = store.get("x")
        assert info == {} and got["v"].dtype == np.float64
        np.testing.assert_array_equal(got["v"], np.zeros(20000))
    assert (tmp_path / "c" / "x.npz").stat().st_size < (tmp_path / "p" / "x.npz").stat().st_size / 10


def test_overwrite_replaces_record(tmp_path):
    store = Store(tmp_path)
    store.put(("a", 1), {"v": np.ones(3)}, {"run": 1})
    store.put(("a", 1), {"w": np.zeros(2)}, {"run": 2})
    arrays, info = store.get(("a", 1))
    assert list(arrays) == ["w"] and info == {"run": 2}


def test_keys_prefix_natural_order_and_kinds(tmp_path):
    store = Store(tmp_path)
    for i in (10, 2, 1):
        store.put(("exp", "m0", i), {"v": np.array([i])})
    store.put(("exp", "m1", 0), {"v": np.array([0])})
    store.put(("other", "x"), {"v": np.array([0])})
    store.put_json(("exp", "config"), {"lr": 0.01})
    assert store.keys(("exp", "m0")) == [("exp", "m0", "1"), ("exp", "m0", "2"), ("exp", "m0", "10")]
    assert store.keys("exp") == [("exp", "m0", "1"), ("exp", "m0", "2"), ("exp", "m0", "10"), ("exp", "m1", "0")]
    assert len(store.keys()) == 5
    assert store.keys(kind="json") == [("exp", "config")]
    assert store.keys("missing") == [] and Store(tmp_path / "absent").keys() == []
    assert store.has(("exp", "m0", 10)) and store.has(["exp", "m0", "10"]) and not store.has(("exp", "m0", 3))
    assert store.has_json(("exp", "config")) and not store.has(("exp", "config"))
    with pytest.raises(ValueError, match="kind"):
        store.keys(kind="pickle")


def test_json_records(tmp_path):
    store = Store(tmp_path)
    record = {"sim": [0.5, 0.25], "name": "jaccard", "n": 3, "none": None}
    store.put_json(("exp", "results"), record)
    assert store.get_json(("exp", "results")) == record
    assert json.loads((tmp_path / "exp" / "results.json").read_text()) == record
    with pytest.raises(KeyError, match="results2"):
        store.get_json(("exp", "results2"))
    with pytest.raises(ValueError, match="JSON-serialisable"):
        store.put_json("bad", {"x": object()})
    assert not store.has_json("bad")


@pytest.mark.parametrize("bad", ["..", ".", "", "a/b", "a\\b", ".hidden", "x.npz", "x.JSON", "y.tmp", "a b", "é",
                                 "x" * 201])
def test_key_parts_are_path_safe(tmp_path, bad):
    store = Store(tmp_path)
    with pytest.raises(ValueError, match="invalid key part"):
        store.put(("exp", bad, 1), {"v": np.zeros(1)})
    with pytest.raises(ValueError, match="invalid key part"):
        store.has(bad)
    assert list(tmp_path.iterdir()) == []  # rejected before anything is written


def test_key_helper_and_part_types(tmp_path):
    assert Store.key("jaccard", "model0", 17) == ("jaccard", "model0", "17")
    assert Store.key("lr0.01", np.int64(3), -1) == ("lr0.01", "3", "-1")
    with pytest.raises(TypeError, match="strings or ints"):
        Store.key("a", True)
    with pytest.raises(TypeError, match="strings or ints"):
        Store.key("a", 1.5)
    with pytest.raises(ValueError, match="at least one part"):
        Store.key()
    with pytest.raises(ValueError, match="not a directory"):
        (tmp_path / "file").write_text("x")
        Store(tmp_path / "file")


def test_put_rejects_bad_input(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(ValueError, match="dtype object"):
        store.put("a", {"v": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        store.put("a", {"v": np.zeros(1)}, {"f": {1, 2}})
    with pytest.raises(ValueError, match="invalid array name"):
        store.put("a", {"__header__": np.zeros(1)})
    with pytest.raises(TypeError, match="dict"):
        store.put("a", [np.zeros(1)])
    with pytest.raises(TypeError, match="info"):
        store.put("a", {"v": np.zeros(1)}, info=[1])
    assert not store.has("a") and list(tmp_path.rglob("*.tmp")) == []


def test_get_missing_and_foreign_files(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(KeyError, match="no record"):
        store.get(("exp", 1))
    np.savez(tmp_path / "foreign.npz", v=np.zeros(2))  # an npz without our header
    with pytest.raises(ValueError, match="not a readable"):
        store.get("foreign")
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="delete it"):
        store.get("garbage")


def test_todo_and_missing_skip_finished_records(tmp_path):
    store = Store(tmp_path)
    keys = [("exp", "m", i) for i in range(6)]
    for i in (1, 4):
        store.put(keys[i], {"v": np.array([i])})
    assert store.missing(keys) == [keys[0], keys[2], keys[3], keys[5]]
    seen = []
    for key in store.todo(keys, progress=False):
        seen.append(key)
        store.put(key, {"v": np.array([key[2]])})
        if key[2] == 2:
            store.put(keys[3], {"v": np.array([3])})  # written meanwhile (e.g. by another worker): skipped
    assert seen == [keys[0], keys[2], keys[5]]
    assert store.missing(keys) == []
    with pytest.raises(ValueError, match="invalid key part"):
        store.missing([("exp", "..")])


def _half_written(tmp_path, store: Store, key) -> bytes:
    """The first half of the bytes of a complete record of ``key`` (written elsewhere)."""
    store.put(key, {"v": np.arange(1000.0)}, {"i": 1})
    path = store.root.joinpath(*map(str, key[:-1]), f"{key[-1]}.npz")
    data = path.read_bytes()
    path.unlink()
    return data[: len(data) // 2]


def test_left_over_temporary_file_is_never_a_record(tmp_path):
    store = Store(tmp_path)
    key = ("exp", "m0", 7)
    torn = _half_written(tmp_path, store, key)
    tmp_file = tmp_path / "exp" / "m0" / ".7.npz.k3j_x9.tmp"  # what a writer killed mid-write leaves behind
    tmp_file.write_bytes(torn)
    with pytest.raises(zipfile.BadZipFile):  # it really is a torn file
        np.load(tmp_file, allow_pickle=False)["v"]
    assert not store.has(key) and store.keys() == [] and store.missing([key]) == [key]
    with pytest.raises(KeyError):
        store.get(key)
    # young temporary files may belong to a live writer: kept; old ones are removed
    assert store.remove_temporary() == [] and tmp_file.exists()
    old = time.time() - 7200
    os.utime(tmp_file, (old, old))
    assert store.remove_temporary() == [tmp_file] and not tmp_file.exists()
    store.put(key, {"v": np.arange(3.0)})
    assert np.array_equal(store.get(key)[0]["v"], np.arange(3.0))


# The writer loads store.py by its path: the module needs only numpy and tqdm, and skipping the
# package __init__ (which imports torch) keeps the two interpreter starts fast.
_WRITER = r"""
import importlib.util
import sys
import numpy as np

spec = importlib.util.spec_from_file_location("store_under_test", sys.argv[3])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
store = module.Store(sys.argv[1])
keys = [("crash", "model0", i) for i in range(int(sys.argv[2]))]
for key in store.todo(keys):
    i = key[2]
    store.put(key, {"v": np.arange(250_000, dtype=np.float64) * i, "i": np.array(i)}, {"i": i})
    print(i, flush=True)
"""


def _check_record(store: Store, key) -> None:
    arrays, info = store.get(key)
    i = int(key[2])
    assert info == {"i": i}
    assert int(arrays["i"]) == i
    np.testing.assert_array_equal(arrays["v"], np.arange(250_000, dtype=np.float64) * i)


def _temporary_bytes(root) -> int:
    """Bytes in the temporary files under ``root`` (files may vanish while they are listed)."""
    total = 0
    for path in root.rglob("*.tmp"):
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            pass
    return total


def test_killed_writer_leaves_only_complete_records_and_rerun_completes(tmp_path):
    n = 64  # enough that a loaded machine cannot finish them all before the kill
    root = tmp_path / "store"
    command = [sys.executable, "-c", _WRITER, str(root), str(n), interprim.store.__file__]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    finished = []
    try:
        for line in child.stdout:
            finished.append(int(line))
            if len(finished) == 8:
                break
        # kill it while it writes record 8: as soon as its temporary file has some bytes
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _temporary_bytes(root):
            time.sleep(0.0005)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    store = Store(root)
    present = [int(k[2]) for k in store.keys()]
    assert finished == list(range(8))
    assert present[:8] == finished and len(present) < n  # killed mid-way
    for key in store.keys():
        _check_record(store, key)
    missing = [i for i in range(n) if i not in present]
    torn = list(root.rglob("*.tmp"))  # the write cut by the kill: cut short, or complete but never renamed
    for path in torn:
        try:
            with np.load(path, allow_pickle=False) as npz:
                npz["v"]
        except (zipfile.BadZipFile, ValueError, EOFError, OSError):
            continue  # cut short
        assert len(present) < n  # complete but not renamed: still not a record

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert [int(line) for line in rerun.stdout.split()] == missing  # finished records were skipped
    assert [int(k[2]) for k in store.keys()] == list(range(n))
    for key in store.keys():
        _check_record(store, key)
    # the torn temporary file is never a record and is removed by remove_temporary
    assert sorted(store.remove_temporary(min_age_s=0)) == sorted(torn)
    assert list(root.rglob("*.tmp")) == []
