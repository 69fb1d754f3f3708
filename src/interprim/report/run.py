"""The page of one run: ``<run>/report.html``."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from ..experiments._json import plain
from ..experiments.config import SOURCES, load_config
from ..experiments.registry import get
from ..experiments.runner import RESULTS, _write_text, read_results
from .samples import browser_view
from .summary import summary_html
from .templates import data_uri, render, value

PAGE = "report.html"
#: the files of a run that the page links to, when they are there
FILES = (RESULTS, "summary.md", "config.toml", "run.log")
#: at most this many changed keys are listed after the shipped config they change; more read "custom"
MAX_CHANGES = 4


def write_run_report(out_dir: str | os.PathLike, doc: dict[str, Any] | None = None) -> Path:
    """Write ``<out_dir>/report.html`` from the run's results (``doc``, default its ``results.json``) and figures.

    Returns the path written. Raises ``FileNotFoundError`` without ``results.json`` and
    ``ValueError`` for a file of another schema, an unknown experiment or a malformed sample browser.
    """
    out = Path(out_dir)
    doc = read_results(out) if doc is None else doc
    module = get(doc.get("experiment"))
    path = out / PAGE
    _write_text(path, render("run.html.j2", **run_context(module, doc, out)))
    return path


def run_context(module: ModuleType, doc: dict[str, Any], out: Path) -> dict[str, Any]:
    """What ``run.html.j2`` shows of the run in ``out``."""
    results = doc.get("results")
    text = module.summary(results).rstrip() + "\n"
    config = doc.get("config") or {}
    return {
        "name": module.NAME,
        "description": module.DESCRIPTION,
        "facts": run_facts(doc),
        "environment": doc.get("environment") or {},
        "config": config,
        "origin": config_origin(module, config),
        "summary_html": summary_html(text),
        "figures": [{"name": p.stem, "src": data_uri(p)} for p in figure_files(out)],
        "browser": browser_view(results.get("browser") if isinstance(results, dict) else None),
        "files": [name for name in FILES if (out / name).is_file()],
    }


def run_facts(doc: dict[str, Any]) -> dict[str, Any]:
    """When the run started and finished, how long it took, and its tasks (computed, reused, seconds by kind)."""
    tasks = doc.get("tasks") or {}
    by_kind = tasks.get("seconds_by_kind") or {}
    return {
        "started": doc.get("started"),
        "finished": doc.get("finished"),
        "seconds": doc.get("seconds"),
        "computed": tasks.get("computed"),
        "reused": tasks.get("reused"),
        "seconds_by_kind": sorted(by_kind.items(), key=lambda item: -(item[1] or 0)),
        "device": (doc.get("environment") or {}).get("device"),
    }


def figure_files(out: Path) -> list[Path]:
    """The PNG figures of the run, by name (each figure's SVG twin is not shown)."""
    return sorted((out / "figures").glob("*.png"))


def config_origin(module: ModuleType, config: dict[str, Any]) -> str:
    """Which shipped config the run used: ``cpu``, ``cpu + n_games=2, n_players=4`` (its changed keys), or ``custom``.

    The run's config is compared with each config the experiment ships; the closest one names it,
    unless more than :data:`MAX_CHANGES` keys differ.
    """
    best: tuple[int, str, list[str]] | None = None
    for source in SOURCES:
        try:
            shipped = plain(dataclasses.asdict(load_config(module.Config, source, name=module.NAME)))
        except ValueError:
            continue  # the experiment ships no such config
        changed = [key for key in sorted(set(config) | set(shipped)) if config.get(key) != shipped.get(key)]
        if best is None or len(changed) < best[0]:
            best = (len(changed), source, changed)
    if best is None or best[0] > MAX_CHANGES:
        return "custom"
    _, source, changed = best
    if not changed:
        return source
    return f"{source} + " + ", ".join(f"{key}={value(config.get(key))}" for key in changed)
