"""Executors: where the tasks of an experiment run.

An executor takes a function and a list of keyword-argument dicts and yields ``fn(**kwargs)`` for
each, **in order**, as the results come. The driver (:class:`~interprim.experiments.tasks.Context`)
writes every result to the store as soon as it arrives, so workers need no shared disk and a run
that stops keeps what was finished. :class:`InProcessExecutor` (the default) runs the calls one
after the other in this process; a distributed executor (e.g. Ray) only has to implement ``map``,
with functions and arguments that pickle. No experiment knows which executor runs its tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

R = TypeVar("R")


class Executor(Protocol):
    """Runs ``fn(**kwargs)`` for every ``kwargs`` of ``kwargs_list`` and yields the results in that order."""

    def map(self, fn: Callable[..., R], kwargs_list: Iterable[Mapping[str, Any]]) -> Iterator[R]:
        """Yield ``fn(**kwargs)`` for each ``kwargs``, in the order of ``kwargs_list``."""
        ...


class InProcessExecutor:
    """The default executor: each call in this process, one after the other, lazily (one result per ``next``)."""

    def __repr__(self) -> str:
        return "InProcessExecutor()"

    def map(self, fn: Callable[..., R], kwargs_list: Iterable[Mapping[str, Any]]) -> Iterator[R]:
        """Yield ``fn(**kwargs)`` for each ``kwargs``, computing each only when it is asked for."""
        for kwargs in kwargs_list:
            yield fn(**kwargs)
