"""Executors: where the tasks of an experiment run.

An executor takes a function and a list of keyword-argument dicts and yields ``(i, fn(**kwargs_list[i]))``
for each ``i``, **as the results come** (in any order); its ``parallel`` attribute tells
:meth:`Context.each <interprim.experiments.tasks.Context.each>` whether independent parts of an
experiment should submit their tasks side by side. The driver (:class:`~interprim.experiments.tasks.Context`)
writes every result to the store as soon as it arrives, so workers need no shared disk and a run
that stops keeps every task that finished, whichever order they finished in. No experiment knows
which executor runs its tasks.

- :class:`InProcessExecutor` (the default) runs the calls one after the other in this process.
- :class:`RayExecutor` (optional extra ``interprim[ray]``) runs them as Ray tasks, many at once, on a
  local Ray instance it starts or on a cluster (``address``). Each task declares what it needs:
  ``cpus`` CPUs, and ``gpus`` GPUs when it was given a CUDA device (a task function bound with
  ``functools.partial(fn, device="cuda")``); other tasks (extractions, metrics) ask for no GPU.
  Workers run each task with ``torch.set_num_threads(cpus)``, so a task computes the same numbers
  as in a process with that many threads.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

import numpy as np

R = TypeVar("R")


class Executor(Protocol):
    """Runs ``fn(**kwargs)`` for every ``kwargs`` of ``kwargs_list``; yields ``(index, result)`` as each finishes."""

    def map_unordered(self, fn: Callable[..., R], kwargs_list: Iterable[Mapping[str, Any]]) -> Iterator[tuple[int, R]]:
        """Yield ``(i, fn(**kwargs_list[i]))`` for every ``i``, in the order the results come."""
        ...


class InProcessExecutor:
    """The default executor: each call in this process, one after the other, lazily (one result per ``next``)."""

    parallel = False  # Context.each runs its calls one after the other

    def __repr__(self) -> str:
        return "InProcessExecutor()"

    def map_unordered(self, fn: Callable[..., R], kwargs_list: Iterable[Mapping[str, Any]]) -> Iterator[tuple[int, R]]:
        """Yield ``(i, fn(**kwargs))`` in the order of ``kwargs_list``, computing each only when it is asked for."""
        for i, kwargs in enumerate(kwargs_list):
            yield i, fn(**kwargs)


def _device_of(fn: Callable[..., Any]) -> str | None:
    """The ``device`` keyword bound to ``fn`` (through ``functools.partial`` and ``.fn`` wrappers), if any."""
    while True:
        if isinstance(fn, functools.partial):
            if "device" in fn.keywords:
                return str(fn.keywords["device"])
            fn = fn.func
        elif callable(getattr(fn, "fn", None)):
            fn = fn.fn
        else:
            return None


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Raise ``ValueError`` at once when nothing listens at a ``HOST:PORT`` (or ``ray://HOST:PORT``) address.

    Ray itself retries a dead address for minutes. ``auto`` (the cluster started on this machine)
    is left to Ray, which fails fast when there is none.
    """
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"a Ray address is auto, HOST:PORT or ray://HOST:PORT, got {address!r}.")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ValueError(f"nothing answers at the Ray address {address!r} ({e}); start the cluster with "
                         f"`ray start --head` and pass the address it prints.") from None


def _writable(x: Any) -> Any:
    """``x`` with every read-only numpy array (Ray hands arrays out of its object store read-only) copied."""
    if isinstance(x, np.ndarray) and not x.flags.writeable:
        return x.copy()
    if isinstance(x, dict):
        return {k: _writable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_writable(v) for v in x]
    return x


def _call(_task_fn: Callable[..., R], _task_threads: int, **kwargs: Any) -> R:
    """What a Ray worker runs: ``_task_fn(**kwargs)`` with ``_task_threads`` torch threads and writable arrays."""
    import torch

    torch.set_num_threads(_task_threads)
    return _task_fn(**{name: _writable(value) for name, value in kwargs.items()})


class RayExecutor:
    """Runs the tasks as Ray tasks, at most ``in_flight`` at once, and yields each result as it comes.

    Args:
        address: a running Ray cluster (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``); ``None``
            starts a local Ray instance in :meth:`__enter__` and stops it in :meth:`__exit__`.
        workers: the CPUs of that local instance (default: every core); ignored with ``address``.
        cpus: CPUs each task asks for, and the torch threads it runs with.
        gpus: GPUs each task that was given a CUDA device asks for (fractions share a GPU).
        in_flight: tasks submitted at once (default twice the cluster's CPUs divided by ``cpus``).

    Use it as a context manager (``with RayExecutor() as ex: ...``); :meth:`map_unordered` also
    connects on first use. A task that raises stops the map: the tasks still running are waited for
    and their results yielded (so they are stored), those not started are never submitted, and the
    task's own exception is raised.
    """

    parallel = True  # Context.each runs its calls side by side, so that their tasks are in flight together

    def __init__(self, address: str | None = None, *, workers: int | None = None, cpus: float = 1,
                 gpus: float = 1, in_flight: int | None = None) -> None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ImportError("the Ray executor needs Ray: pip install 'interprim[ray]'.") from None
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be a positive integer, got {workers!r}.")
        if not cpus > 0:
            raise ValueError(f"cpus per task must be > 0, got {cpus!r}.")
        if not gpus >= 0:
            raise ValueError(f"gpus per task must be >= 0, got {gpus!r}.")
        if in_flight is not None and (not isinstance(in_flight, int) or in_flight < 1):
            raise ValueError(f"in_flight must be a positive integer, got {in_flight!r}.")
        if address is not None:
            _check_reachable(address)
        self.address, self.workers, self.cpus, self.gpus, self.in_flight = address, workers, cpus, gpus, in_flight
        self._started = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = self.address or f"local, {self.workers or os.cpu_count()} CPUs"
        return f"RayExecutor({where}, cpus={self.cpus}, gpus={self.gpus})"

    def __enter__(self) -> RayExecutor:
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def connect(self) -> None:
        """Join the cluster at ``address``, or start a local instance (no dashboard, workers' output kept out of ours)."""
        import ray

        with self._lock:  # the threads of Context.each may all make their first map at once
            if not ray.is_initialized():
                self._init(ray)

    def _init(self, ray: Any) -> None:
        options: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                                       configure_logging=True)
        if self.address is None:
            ray.init(num_cpus=self.workers or os.cpu_count(), **options)
        else:
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ValueError(
                    f"cannot connect to the Ray cluster at {self.address!r}: {e}. A cluster with token "
                    f"authentication (Ray's default since 2.59) needs RAY_AUTH_MODE=token here, and the token of "
                    f"`ray get-auth-token` on its head in RAY_AUTH_TOKEN (or ~/.ray/auth_token).") from None
        self._started = True

    def close(self) -> None:
        """Disconnect from Ray (and stop the local instance) if :meth:`connect` started the connection."""
        import ray

        if self._started:
            ray.shutdown()
            self._started = False

    def _window(self) -> int:
        import ray

        if self.in_flight is not None:
            return self.in_flight
        return max(1, int(2 * ray.cluster_resources().get("CPU", 1) / self.cpus))

    def map_unordered(self, fn: Callable[..., R], kwargs_list: Iterable[Mapping[str, Any]]) -> Iterator[tuple[int, R]]:
        """Submit ``fn(**kwargs)`` for every ``kwargs`` as Ray tasks and yield ``(i, result)`` as each finishes.

        An argument value shared by several tasks (e.g. the weights of the model every task
        explains) is put into Ray's object store once.
        """
        import ray

        self.connect()
        device = _device_of(fn)
        gpus = self.gpus if device is not None and device.startswith("cuda") else 0
        remote = ray.remote(_call).options(num_cpus=self.cpus, num_gpus=gpus, max_retries=0)
        threads = max(1, int(self.cpus))
        fn_ref = ray.put(fn)
        shared: dict[int, Any] = {}  # id(value) -> ObjectRef of that value, for values passed more than once

        def submit(kwargs: Mapping[str, Any]) -> Any:
            args = {}
            for name, value in kwargs.items():
                if isinstance(value, (dict, np.ndarray)):
                    if id(value) not in shared:
                        shared[id(value)] = (ray.put(value), value)  # keep value alive so its id stays unique
                    args[name] = shared[id(value)][0]
                else:
                    args[name] = value
            return remote.remote(fn_ref, threads, **args)

        pending = iter(enumerate(kwargs_list))
        running: dict[Any, int] = {}
        window, error = self._window(), None
        for i, kwargs in pending:
            running[submit(kwargs)] = i
            if len(running) >= window:
                break
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            i = running.pop(done[0])
            try:
                value = ray.get(done[0])
            except ray.exceptions.RayError as e:  # the task raised, or its worker died
                error = error or e
                continue
            if error is None:
                for j, kwargs in pending:
                    running[submit(kwargs)] = j
                    break
            yield i, value
        if isinstance(error, ray.exceptions.RayTaskError):
            raise error.as_instanceof_cause()
        if error is not None:
            raise error
