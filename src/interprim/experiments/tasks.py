"""Keyed, resumable tasks: the nodes of an experiment's graph, kept in a :class:`~interprim.store.Store`.

A task is a pure function of its parameters and of the results of the tasks it depends on (train
a model; the value vectors of a model on some samples; an extraction; a metric). Its key is
:func:`task_key` of ``(kind, params, deps)``: a hash of the parameters and of the keys of its
dependencies, so the key of a task changes whenever anything upstream changes, and equal tasks of
different experiments share one record (a donor model is trained once).

An experiment's ``run(config, ctx)`` calls ``ctx.task`` / ``ctx.map`` on its :class:`Context`:

.. code-block:: python

    model = ctx.task("train", train_model, {"arch": "lenet", "seed": 0})
    values = ctx.map("values", model_values, [{"start": s} for s in range(0, 100, 10)],
                     deps={"model": model})            # each task calls model_values(start=..., model=<arrays>)

A task whose record exists is read back (*reused*); the missing ones are computed through the
context's executor (possibly several at once, :mod:`.executor`) and each is written as soon as it
finishes (*computed*), so a run that stops keeps every finished task and its rerun computes only
the rest. The value returned is always the one read back from the
store, so a fresh run and a resumed run see bitwise identical values.

Records live under the store key ``("tasks", kind, key)``:

- a function that returns a dict holding numpy arrays or torch tensors gets an array record
  (:meth:`Store.put`; every entry goes through ``np.asarray``, tensors come back as numpy arrays),
  with ``{"format", "kind", "key", "params", "deps", "seconds"}`` as its info;
- any other result must be JSON-able (numbers, strings, bools, None, lists, dicts; numpy scalars,
  arrays and tuples become plain numbers and lists) and gets a JSON record
  ``{"task": <the same info>, "value": <the result>}``.

Rules for task functions: module-level functions (so that a distributed executor can pickle
them); ``params`` hold only what changes the result; what does not (a device, a batch size for
inference, a progress flag) is bound with ``functools.partial`` and stays out of the key. When a
function's code changes its results, give it a new ``kind`` (e.g. ``"train-v2"``): keys do not
hash code.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm.auto import tqdm

from ..store import Store
from ._json import plain
from .executor import Executor, InProcessExecutor

TASK_FORMAT = "interprim.task/1"
KEY_LENGTH = 16  # hex digits of the sha256 kept in a task key (64 bits)
LOG_NAME = "run.log"

Deps = Mapping[str, "Done"]
T = TypeVar("T")
R = TypeVar("R")


def task_key(kind: str, params: Mapping[str, Any], deps: Sequence[str] = ()) -> str:
    """The key of a task: the first :data:`KEY_LENGTH` hex digits of a sha256 of its canonical JSON.

    The JSON is ``[TASK_FORMAT, kind, params, deps]`` with sorted dict keys and no spaces; numpy
    scalars and arrays and tuples in ``params`` are first turned into plain numbers and lists, so
    ``{"seeds": (0, 1)}`` and ``{"seeds": np.array([0, 1])}`` give the same key. ``1`` and ``1.0``
    (and ``True``) are different values and give different keys. ``deps`` are the keys of the
    tasks this one depends on, in a fixed order. Anything that is not JSON-able raises a
    ``TypeError``; a ``kind`` that cannot be a store key part raises a ``ValueError``.
    """
    Store.key(kind)
    if not isinstance(params, Mapping):
        raise TypeError(f"params of task {kind!r} must be a dict of name -> value, got {type(params).__name__}.")
    deps = tuple(deps)
    for dep in deps:
        if not isinstance(dep, str):
            raise TypeError(f"deps of task {kind!r} must be task keys (strings), got {dep!r} ({type(dep).__name__}).")
    canonical = [TASK_FORMAT, kind, plain(params, where=f"params of task {kind!r}"), list(deps)]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:KEY_LENGTH]


@dataclass(frozen=True)
class Done:
    """A finished task: its ``kind``, its ``key`` (pass the ``Done`` as a dependency of later tasks) and its ``value``."""

    kind: str
    key: str
    value: Any


class _Timed:
    """``fn`` that also returns the seconds it took: ``(fn(**kwargs), seconds)``; picklable when ``fn`` is."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, **kwargs: Any) -> tuple[Any, float]:
        start = time.perf_counter()
        value = self.fn(**kwargs)
        return value, time.perf_counter() - start


_MISSING = object()


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or (hasattr(x, "detach") and hasattr(x, "numpy"))


class Context:
    """What an experiment's ``run(config, ctx)`` receives: where to write, the store, the device and the executor.

    Attributes:
        out: the run's output folder (``run.log`` is written there).
        store: the :class:`~interprim.store.Store` of the task records (default ``<out>/store``).
        device: the torch device the experiment should use (``"cpu"``, ``"cuda"``, ...).
        executor: runs the missing tasks of :meth:`map` (default :class:`InProcessExecutor`).
        computed, reused: how many tasks this context computed and read back from the store.
        seconds_by_kind: seconds spent computing tasks, per kind (reused tasks cost nothing).
    """

    def __init__(
        self,
        out: str | os.PathLike,
        store: Store | None = None,
        *,
        device: str = "cpu",
        executor: Executor | None = None,
        progress: bool = True,
    ) -> None:
        self.out = Path(out)
        self.store = Store(self.out / "store") if store is None else store
        self.device = device
        self.executor: Executor = InProcessExecutor() if executor is None else executor
        self.progress = progress
        self.computed = 0
        self.reused = 0
        self.seconds_by_kind: dict[str, float] = {}
        self._lock = threading.Lock()  # counters and run.log, shared by the threads of each()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Context(out={str(self.out)!r}, store={self.store!r}, device={self.device!r}, executor={self.executor!r})"

    def log(self, message: str) -> None:
        """Append ``<local time> <message>`` as one line to ``<out>/run.log``."""
        self.out.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        with self._lock, open(self.out / LOG_NAME, "a", encoding="utf-8") as f:
            f.write(f"{stamp} {message}\n")

    def task_counts(self) -> dict[str, Any]:
        """``{"computed", "reused", "seconds_by_kind"}``: the ``tasks`` section of ``results.json``."""
        return {"computed": self.computed, "reused": self.reused, "seconds_by_kind": dict(self.seconds_by_kind)}

    def each(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(item) for item in items]``, the calls side by side when the executor runs tasks in parallel.

        For the independent parts of an experiment (e.g. one per seed), each of which runs its own
        tasks: with a parallel executor (``executor.parallel``, e.g. Ray) every call runs in its
        own driver thread, so the tasks of all of them are in flight at once; otherwise the calls
        run one after the other. Either way the results come in the order of ``items`` and the
        tasks, their keys and their values are the same. The first exception is raised once
        every call has ended.
        """
        items = list(items)
        if not getattr(self.executor, "parallel", False) or len(items) < 2:
            return [fn(item) for item in items]
        with (ThreadPoolExecutor(max_workers=len(items), initializer=self._quiet) as pool,
              tqdm(total=len(items), desc="parts in parallel", disable=not self.progress) as bar):
            futures = [pool.submit(fn, item) for item in items]
            for _ in as_completed(futures):
                bar.update(1)
        return [f.result() for f in futures]

    def _quiet(self) -> None:
        """Thread initializer of :meth:`each`: no progress bar per map inside the parallel calls."""
        self._local.quiet = True

    def task(self, kind: str, fn: Callable[..., Any], params: Mapping[str, Any], deps: Deps | None = None) -> Done:
        """Run the task ``fn(**params, **{name: dep.value for name, dep in deps.items()})`` once, keyed.

        ``deps`` maps argument names of ``fn`` to the :class:`Done` of earlier tasks; their keys
        enter this task's key. Returns the :class:`Done` with the value read back from the store.
        """
        return self._run(kind, fn, [params], [{} if deps is None else deps], bar=False)[0]

    def map(
        self,
        kind: str,
        fn: Callable[..., Any],
        params_list: Sequence[Mapping[str, Any]],
        deps: Deps | Sequence[Deps] | None = None,
    ) -> list[Done]:
        """:meth:`task` for each ``params`` of ``params_list``; the missing ones run through the executor.

        ``deps`` is either one mapping shared by every task or a list of mappings, one per task.
        Tasks with equal keys run once. One progress bar counts the tasks, reused ones first.
        Returns the :class:`Done` of every task, in the order of ``params_list``.
        """
        params_list = list(params_list)
        if deps is None or isinstance(deps, Mapping):
            deps_list = [{} if deps is None else deps] * len(params_list)
        else:
            deps_list = list(deps)
            if len(deps_list) != len(params_list):
                raise ValueError(f"ctx.map({kind!r}): deps holds {len(deps_list)} mappings for {len(params_list)} "
                                 f"tasks; pass one mapping per task or a single mapping shared by all.")
        return self._run(kind, fn, params_list, deps_list, bar=True)

    # --- internals ---------------------------------------------------------------------------
    def _key(self, kind: str, params: Mapping[str, Any], deps: Deps) -> str:
        if not isinstance(deps, Mapping):
            raise TypeError(f"deps of task {kind!r} must map argument names to Done, got {type(deps).__name__}.")
        for name, dep in deps.items():
            if not isinstance(name, str) or not isinstance(dep, Done):
                raise TypeError(f"dependency {name!r} of task {kind!r} must be a str name -> the Done returned by "
                                f"ctx.task or ctx.map, got {dep!r}.")
        if not isinstance(params, Mapping):
            raise TypeError(f"params of task {kind!r} must be a dict of name -> value, got {type(params).__name__}.")
        clash = sorted(set(params) & set(deps))
        if clash:
            raise ValueError(f"task {kind!r}: {clash} are both params and deps; rename the dependency.")
        return task_key(kind, params, tuple(f"{name}={deps[name].key}" for name in sorted(deps)))

    def _read(self, kind: str, key: str) -> Any:
        record = ("tasks", kind, key)
        if self.store.has(record):
            return self.store.get(record)[0]
        if self.store.has_json(record):
            return self.store.get_json(record)["value"]
        return _MISSING

    def _write(self, kind: str, key: str, params: Mapping[str, Any], deps: Deps, value: Any, seconds: float) -> None:
        record = ("tasks", kind, key)
        info = {
            "format": TASK_FORMAT,
            "kind": kind,
            "key": key,
            "params": plain(params, where=f"params of task {kind!r}"),
            "deps": {name: dep.key for name, dep in sorted(deps.items())},
            "seconds": seconds,
        }
        if isinstance(value, Mapping) and any(_is_array(x) for x in value.values()):
            self.store.put(record, value, info=info)
        else:
            self.store.put_json(record, {"task": info, "value": plain(value, where=f"result of task {kind!r}")})

    def _run(
        self, kind: str, fn: Callable[..., Any], params_list: list[Mapping[str, Any]], deps_list: list[Deps], bar: bool
    ) -> list[Done]:
        keys = [self._key(kind, params, deps) for params, deps in zip(params_list, deps_list)]
        values: dict[str, Any] = {}
        todo: dict[str, int] = {}  # key -> index of its first task
        for i, key in enumerate(keys):
            if key in values or key in todo:
                continue
            value = self._read(kind, key)
            if value is _MISSING:
                todo[key] = i
            else:
                values[key] = value
                with self._lock:
                    self.reused += 1
                self.log(f"{kind} {key} reused")
        first = list(todo.items())  # (key, index of its first task), in the order of the jobs
        jobs = [{**params_list[i], **{name: dep.value for name, dep in deps_list[i].items()}} for _, i in first]
        quiet = getattr(self._local, "quiet", False)
        with tqdm(total=len(values) + len(todo), initial=len(values), desc=kind,
                  disable=not (bar and self.progress) or quiet) as b:
            for j, (value, seconds) in self.executor.map_unordered(_Timed(fn), jobs):
                key, i = first[j]
                self._write(kind, key, params_list[i], deps_list[i], value, seconds)
                values[key] = self._read(kind, key)
                with self._lock:
                    self.computed += 1
                    self.seconds_by_kind[kind] = self.seconds_by_kind.get(kind, 0.0) + seconds
                self.log(f"{kind} {key} computed in {seconds:.3f} s")
                b.update(1)
        return [Done(kind, key, values[key]) for key in keys]
