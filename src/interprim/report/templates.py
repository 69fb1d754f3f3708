"""The Jinja2 environment of the report pages: the packaged templates, their filters, and embedded images."""

from __future__ import annotations

import base64
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import jinja2


def data_uri(data: bytes | Path, mime: str = "image/png") -> str:
    """``data:<mime>;base64,...`` of ``data`` (bytes, or the contents of a file)."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def number(x: Any) -> str:
    """A number for a table: 3 decimals, scientific notation when tiny or huge, ``—`` for ``None`` or non-finite."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if x != 0 and not 1e-3 <= abs(x) < 1e5:
        return f"{x:.2e}"
    return f"{x:.3f}"


def duration(seconds: Any) -> str:
    """``12.3 s``, ``4 min 05 s`` or ``2 h 07 min``; ``—`` when unknown."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def when(stamp: Any) -> str:
    """An ISO 8601 time as ``YYYY-MM-DD HH:MM:SS±HH:MM``; ``—`` when unknown."""
    return str(stamp).replace("T", " ") if stamp else "—"


def value(x: Any) -> str:
    """A config or environment value: strings as they are, anything else as JSON (``[0, 1]``, ``true``)."""
    return x if isinstance(x, str) else json.dumps(x)


@cache
def environment() -> jinja2.Environment:
    """The templates of ``interprim/report/templates``, autoescaped, with the filters of this module."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("interprim.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(number=number, duration=duration, when=when, value=value)
    return env


def render(template: str, **context: Any) -> str:
    """The page ``template`` rendered with ``context``."""
    return environment().get_template(template).render(**context)
