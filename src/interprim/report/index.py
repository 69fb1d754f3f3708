"""The index of runs: ``interprim report DIR [DIR ...]``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..experiments.registry import get
from ..experiments.runner import _write_text, read_results, run_folders
from .run import PAGE, config_origin, figure_files, run_facts, write_run_report
from .templates import render


def write_index(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike | None = None) -> Path:
    """Rewrite the ``report.html`` of each run in ``run_dirs`` and write an index linking them; returns its path.

    Each entry of ``run_dirs`` is the output folder of a run, or of ``run all`` (then its runs).
    ``out`` defaults to ``report.html`` in the nearest folder that holds every run. Links and
    thumbnails are relative to the index, so the folders can be moved together.

    Raises ``FileNotFoundError`` for a folder without runs, ``ValueError`` for a results file of
    another schema, an ``out`` that is a folder or a run's own page, and ``OSError`` when writing fails.
    """
    runs = list(dict.fromkeys(run.resolve() for d in run_dirs for run in run_folders(d)))
    if not runs:
        raise ValueError("no run folder given; pass the output folder of `interprim experiment run`.")
    index = _index_path(runs, out)
    rows = []
    for run in runs:
        doc = read_results(run)
        write_run_report(run, doc)
        rows.append(_row(run, doc, index.parent))
    _write_text(index, render("index.html.j2", runs=rows))
    return index


def _index_path(runs: list[Path], out: str | os.PathLike | None) -> Path:
    """Where the index goes: ``out``, checked, or ``report.html`` in the nearest folder holding every run."""
    if out is None:
        return Path(os.path.commonpath([run.parent for run in runs])) / PAGE
    path = Path(out).absolute()
    if path.is_dir():
        raise ValueError(f"--out {out} is a folder; pass a file name, e.g. {Path(out) / PAGE}.")
    if not path.parent.is_dir():
        raise ValueError(f"--out {out}: the folder {path.parent} does not exist.")
    if path.resolve() in {run / PAGE for run in runs}:
        raise ValueError(f"--out {out} is the page of a run; pass another file name.")
    return path


def _row(run: Path, doc: dict[str, Any], base: Path) -> dict[str, Any]:
    """One run in the index: what it is, how it went, and relative links to its page and first figure."""
    module = get(doc.get("experiment"))
    figures = figure_files(run)
    return {
        "name": module.NAME,
        "description": module.DESCRIPTION,
        "folder": Path(os.path.relpath(run, base)).as_posix(),
        "href": _link(run / PAGE, base),
        "thumbnail": _link(figures[0], base) if figures else None,
        "origin": config_origin(module, doc.get("config") or {}),
        "facts": run_facts(doc),
    }


def _link(path: Path, base: Path) -> str:
    """The relative URL of ``path`` from the folder ``base``."""
    return quote(Path(os.path.relpath(path, base)).as_posix())
