"""The experiment engine: keyed resumable tasks, executors, configs, the registry and the runner.

An experiment is a config → a graph of keyed tasks (:mod:`.tasks`) run by an executor
(:mod:`.executor`) and kept in a :class:`~interprim.store.Store` → ``results.json``, figures and a
summary (:mod:`.runner`). Experiments are modules listed in :mod:`.registry`; their configs are
flat dataclasses read from TOML (:mod:`.config`). From the shell: ``interprim experiment list |
run NAME | report DIR``.
"""

from .config import dump_toml, load_config
from .executor import Executor, InProcessExecutor
from .registry import get, names, register
from .runner import SCHEMA, report, run_all, run_experiment
from .tasks import Context, Done, task_key

__all__ = [
    "SCHEMA",
    "Context",
    "Done",
    "Executor",
    "InProcessExecutor",
    "dump_toml",
    "get",
    "load_config",
    "names",
    "register",
    "report",
    "run_all",
    "run_experiment",
    "task_key",
]
