"""Run an experiment into an output folder, and re-render its report from the results.

:func:`run_experiment` resolves the experiment and its config (every error is raised before
anything is written), then fills the output folder (default ``runs/<name>-<YYYYmmdd-HHMMSS>``):

- ``config.toml`` — the resolved config (it loads back as the same config: ``--config config.toml``);
- ``run.log`` — one line per finished task (``<time> <kind> <key> computed in X s`` or ``... reused``),
  the start and the end of each run, and the traceback of a run that failed; appended to by reruns;
- ``store/`` — the task records (unless ``store=`` names a shared folder);
- ``results.json`` — the results (schema below);
- ``figures/`` — the experiment's figures (PNG and SVG);
- ``summary.md`` — a title, the experiment's markdown summary and how the run went;
- ``report.html`` — all of it in one self-contained page, with the sample browser of results that
  have one (:mod:`interprim.report`).

Rerunning into the same folder (or with the same store) computes only the missing tasks.

``results.json`` (schema ``interprim.results/1``)::

    {
      "schema": "interprim.results/1",
      "experiment": "<name>",
      "config": {<the resolved config>},
      "environment": {"executor", "python", "platform", "interprim", "torch", "numpy", "device", "threads"},
      "started": "<ISO 8601 local time>", "finished": "<ISO 8601 local time>", "seconds": <float>,
      "tasks": {"computed": <int>, "reused": <int>, "seconds_by_kind": {"<kind>": <float>}},
      "results": <the dict returned by the experiment's run>
    }

It is strict JSON: numpy scalars and arrays are written as numbers and lists, tuples as lists, and
non-finite numbers (NaN, ±inf) as ``null``. Figures and the summary are drawn from the file as read
back, so :func:`report` re-renders them identically without computing anything.

:func:`run_all` runs every registered experiment into ``<out>/<name>/`` with one store
``<out>/store`` shared by all, so tasks they have in common (e.g. trained models) run once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import tempfile
import time
import traceback
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .. import __version__
from ..store import Store
from ._json import plain
from .config import SOURCES, dump_toml, field_types, load_config, split_override
from .executor import Executor
from .registry import get, names
from .tasks import Context

SCHEMA = "interprim.results/1"
RESULTS = "results.json"


def default_out(name: str) -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS>`` (local time), relative to the working directory."""
    return Path("runs") / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _check_device(device: str) -> None:
    """Raise ``ValueError`` unless torch knows ``device`` and, for CUDA, sees a GPU."""
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use cpu, cuda or cuda:<index>.") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} is not available: torch {torch.__version__} sees no CUDA GPU; "
                         f"use --device cpu.")


def _environment(device: str, executor: Executor | None) -> dict[str, Any]:
    import torch

    return {
        "executor": repr(executor) if executor is not None else "InProcessExecutor()",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "interprim": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": device,
        "threads": torch.get_num_threads(),
    }


def _write_text(path: Path, text: str) -> None:
    """Write ``path`` atomically (temporary file, then rename), so it is either old or new, never partial."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _as_store(store: str | os.PathLike | Store | None, default: Path) -> Store:
    if isinstance(store, Store):
        return store
    return Store(default if store is None else store)


def run_experiment(
    name: str,
    config_source: str = "cpu",
    overrides: Sequence[str] = (),
    out: str | os.PathLike | None = None,
    device: str = "cpu",
    store: str | os.PathLike | Store | None = None,
    executor: Executor | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the experiment ``name`` and fill its output folder (module docstring); returns ``results.json`` as read back.

    Args:
        name: a registered experiment (:func:`interprim.experiments.names`); for all of them use :func:`run_all`.
        config_source: ``"cpu"``, ``"paper"`` or the path of a TOML config.
        overrides: ``"key=value"`` strings applied to the config (see :func:`load_config`).
        out: the output folder; default :func:`default_out`.
        device: the torch device the experiment uses.
        store: the task store (a folder or a :class:`Store`); default ``<out>/store``.
        executor: where missing tasks run; default in this process.
        progress: show progress bars.
    """
    if name == "all":
        raise ValueError("run_experiment runs one experiment; use run_all() to run every experiment.")
    module = get(name)
    config = load_config(module.Config, config_source, overrides, name=name)
    _check_device(device)
    out = default_out(name) if out is None else Path(out)
    return _execute(module, config, out, device, _as_store(store, out / "store"), executor, progress)


def run_all(
    config_source: str = "cpu",
    overrides: Sequence[str] = (),
    out: str | os.PathLike | None = None,
    device: str = "cpu",
    store: str | os.PathLike | Store | None = None,
    executor: Executor | None = None,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Run every registered experiment, in name order, into ``<out>/<name>/`` with one shared store.

    ``config_source`` is ``"cpu"`` or ``"paper"``. Each override goes to every experiment whose
    config has its key; a key that no experiment has raises ``ValueError``. Every config is
    resolved before the first experiment starts. The store defaults to ``<out>/store``. Returns
    the ``results.json`` of each experiment, by name.
    """
    if config_source not in SOURCES:
        raise ValueError(f"run all takes a shipped config ({', '.join(SOURCES)}), got {config_source!r}; "
                         f"a TOML file configures one experiment.")
    modules = [get(name) for name in names()]
    keys = {module.NAME: field_types(module.Config) for module in modules}
    for override in overrides:
        key = split_override(override)[0]
        if not any(key in types for types in keys.values()):
            raise ValueError(f"bad --set {override!r}: no experiment has the key {key!r}.")
    configs = {
        module.NAME: load_config(module.Config, config_source,
                                 [o for o in overrides if split_override(o)[0] in keys[module.NAME]], name=module.NAME)
        for module in modules
    }
    _check_device(device)
    out = default_out("all") if out is None else Path(out)
    shared = _as_store(store, out / "store")
    return {
        module.NAME: _execute(module, configs[module.NAME], out / module.NAME, device, shared, executor, progress)
        for module in modules
    }


def _execute(
    module: ModuleType, config: Any, out: Path, device: str, store: Store, executor: Executor | None, progress: bool
) -> dict[str, Any]:
    """Run ``module`` with a resolved ``config`` into ``out``: config.toml, run.log, results.json, figures, summary.md."""
    out.mkdir(parents=True, exist_ok=True)
    resolved = plain(dataclasses.asdict(config), where="config")
    _write_text(out / "config.toml", dump_toml(resolved))
    ctx = Context(out, store, device=device, executor=executor, progress=progress)
    started, start = _now(), time.perf_counter()
    ctx.log(f"start {module.NAME} on {device}, store {store.root}")
    try:
        results = module.run(config, ctx)
    except BaseException as e:
        ctx.log(f"failed after {ctx.computed} computed and {ctx.reused} reused tasks: {type(e).__name__}: {e}\n"
                f"{traceback.format_exc()}")
        raise
    doc = {
        "schema": SCHEMA,
        "experiment": module.NAME,
        "config": resolved,
        "environment": _environment(device, executor),
        "started": started,
        "finished": _now(),
        "seconds": time.perf_counter() - start,
        "tasks": ctx.task_counts(),
        "results": plain(results, where=f"results of {module.NAME}", nonfinite_as_none=True),
    }
    text = json.dumps(plain(doc, nonfinite_as_none=True), indent=2, allow_nan=False) + "\n"
    _write_text(out / RESULTS, text)
    doc = json.loads(text)
    _render(module, doc, out)
    ctx.log(f"finished {module.NAME} in {doc['seconds']:.1f} s: {ctx.computed} tasks computed, {ctx.reused} reused")
    return doc


def _summary_markdown(module: ModuleType, doc: dict[str, Any]) -> str:
    tasks = doc["tasks"]
    return (
        f"# {module.NAME}: {module.DESCRIPTION}\n\n"
        f"{module.summary(doc['results']).rstrip()}\n\n"
        f"---\n\n"
        f"Config in `config.toml`, results in `{RESULTS}`, figures in `figures/`. Run from {doc['started']} to "
        f"{doc['finished']} ({doc['seconds']:.1f} s) on {doc['environment']['device']}: {tasks['computed']} tasks "
        f"computed, {tasks['reused']} reused.\n"
    )


def _render(module: ModuleType, doc: dict[str, Any], out: Path) -> list[Path]:
    """Draw the figures into ``<out>/figures``, write ``<out>/summary.md`` and ``<out>/report.html`` from ``doc``.

    Returns the paths written.
    """
    from ..report import write_run_report  # the report package reads runs through this module

    figure_dir = out / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in module.figures(doc["results"], figure_dir)]
    _write_text(out / "summary.md", _summary_markdown(module, doc))
    return [*paths, out / "summary.md", write_run_report(out, doc)]


def run_folders(out_dir: str | os.PathLike) -> list[Path]:
    """The runs in ``out_dir``: itself when it holds ``results.json``, else its subfolders that do (``run all``).

    Raises ``FileNotFoundError`` when there is none.
    """
    out = Path(out_dir)
    if (out / RESULTS).is_file():
        return [out]
    runs = sorted(p.parent for p in out.glob(f"*/{RESULTS}"))
    if not runs:
        raise FileNotFoundError(f"{out / RESULTS} does not exist: pass the output folder of `interprim experiment run`.")
    return runs


def read_results(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``results.json`` of the run in ``out_dir``, checked to be of :data:`SCHEMA`.

    Raises ``FileNotFoundError`` when the file is missing and ``ValueError`` when it is not JSON
    or of another schema.
    """
    path = Path(out_dir) / RESULTS
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: pass the output folder of `interprim experiment run`.")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON ({e}).") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not an {SCHEMA} results file (schema {doc.get('schema') if isinstance(doc, dict) else None!r}).")
    return doc


def report(out_dir: str | os.PathLike) -> list[Path]:
    """Re-render the figures, ``summary.md`` and ``report.html`` of a run from its ``results.json``, computing nothing.

    ``out_dir`` is the output folder of a run, or of ``run all`` (then each experiment's subfolder
    is rendered). Returns the paths written. A folder without ``results.json`` raises
    ``FileNotFoundError``; a file of another schema raises ``ValueError``.
    """
    paths = []
    for run in run_folders(out_dir):
        doc = read_results(run)
        paths += _render(get(doc.get("experiment")), doc, run)
    return paths
