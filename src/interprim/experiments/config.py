"""Experiment configs: flat dataclasses read from TOML, with ``key=value`` overrides, written back as TOML.

Every experiment ships two configs in ``interprim/experiments/configs/``: ``<name>-cpu.toml``
(minutes on a laptop CPU) and ``<name>-paper.toml`` (the papers' scale, for a GPU); those that P1
also runs on text ship ``<name>-text-cpu.toml`` and ``<name>-text-paper.toml`` (SST-2 with
BERT-Tiny or MiniLM; the data path is set with ``--set data_path=DIR``), and those of P2 that explain
language models' next word ship ``<name>-lm-cpu.toml`` and ``<name>-lm-paper.toml``. A config is a
dataclass whose fields are ``str``, ``int``, ``float``, ``bool``, ``list[...]`` or
``tuple[..., ...]`` of those; TOML has no null, so "none" is a sentinel value (``0``, ``""``) that
the experiment documents. An ``int`` is accepted for a ``float`` field; ``tuple`` fields are read
from TOML arrays. The dataclass's ``__post_init__`` validates values and raises ``ValueError``.

:func:`load_config` reads a config and applies overrides such as ``seeds=[0,1,2]``, ``lr=0.01``,
``arch="lenet"`` or ``arch=lenet`` (the value is a TOML value; a bare word is a string);
:func:`dump_toml` writes the resolved config (``config.toml`` of a run), which reads back equal.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
import typing
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

SOURCES = ("cpu", "paper", "text-cpu", "text-paper", "lm-cpu", "lm-paper")
_SCALARS = (str, int, float, bool)
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


# --- reading ---------------------------------------------------------------------------------
def config_file(name: str, source: str | os.PathLike) -> Any:
    """The TOML file of ``source``: the shipped ``<name>-<source>.toml`` for a name of :data:`SOURCES`, else a path.

    Returns a path-like (an ``importlib.resources`` traversable for shipped configs) with ``read_text``.
    """
    if source in SOURCES:
        shipped = resources.files("interprim.experiments").joinpath("configs", f"{name}-{source}.toml")
        if not shipped.is_file():
            raise ValueError(f"experiment {name!r} ships no {source!r} config (configs/{name}-{source}.toml); "
                             f"pass the path of a TOML file instead.")
        return shipped
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"config {source!r} is neither one of {', '.join(SOURCES)} nor an existing TOML file.")
    return path


def split_override(text: str) -> tuple[str, str]:
    """``"key=value"`` as ``(key, value)``, both stripped; anything without a key raises ``ValueError``."""
    key, sep, raw = str(text).partition("=")
    if not sep or not key.strip():
        raise ValueError(f"bad --set {text!r}: expected key=value, e.g. seeds=[0,1,2], lr=0.01 or arch=lenet.")
    return key.strip(), raw.strip()


def load_config(
    cls: type, source: str | os.PathLike = "cpu", overrides: Sequence[str] = (), *, name: str | None = None
) -> Any:
    """The config ``cls(**values)`` read from ``source`` with ``overrides`` applied in order.

    Args:
        cls: a dataclass whose fields have the types the module docstring lists.
        source: one of :data:`SOURCES` (``"cpu"``, ``"paper"``, ``"text-cpu"``, …: the config shipped for
            experiment ``name``) or a TOML file.
        overrides: ``"key=value"`` strings; the value is parsed as a TOML value, and a bare word
            (``arch=lenet``) or any value for a ``str`` field that is not a TOML string is the text itself.
        name: the experiment, needed for ``"cpu"``/``"paper"`` and named in error messages.

    Raises:
        ValueError: unreadable TOML, an unknown or missing key (the message lists the valid
            ones), a value of the wrong type (the message names the key, the type and the value),
            a malformed override, or a value that the dataclass's ``__post_init__`` rejects.
    """
    if not dataclasses.is_dataclass(cls) or not isinstance(cls, type):
        raise TypeError(f"load_config needs a dataclass type, got {cls!r}.")
    if source in SOURCES and name is None:
        raise ValueError(f"the {source!r} config is shipped per experiment: pass name=<experiment>.")
    types = field_types(cls)
    label = f"{name}-{source}" if source in SOURCES else str(source)
    text = config_file(name or "", source).read_text(encoding="utf-8")
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"config {label} is not valid TOML ({e}).") from None
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise ValueError(f"config {label}: unknown keys {unknown}; valid keys: {', '.join(types)}.")
    for override in overrides:
        key, raw = split_override(override)
        if key not in types:
            raise ValueError(f"bad --set {override!r}: config {label} has no key {key!r}; valid keys: {', '.join(types)}.")
        values[key] = _parse_value(override, raw, types[key])
    typed = {key: _coerce(label, key, value, types[key]) for key, value in values.items()}
    required = [f.name for f in dataclasses.fields(cls) if f.init and f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]
    missing = [key for key in required if key not in typed]
    if missing:
        raise ValueError(f"config {label}: missing keys {missing}; add them to the TOML file or pass --set KEY=VALUE.")
    try:
        return cls(**typed)
    except ValueError as e:
        raise ValueError(f"invalid config {label}: {e}") from None


def field_types(cls: type) -> dict[str, Any]:
    """The type of each init field of the config dataclass ``cls``, checked to be one configs support."""
    hints = typing.get_type_hints(cls)
    types = {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}
    for key, hint in types.items():
        _type_name(hint, f"field {key!r} of {cls.__name__}")
    return types


def _type_name(hint: Any, where: str = "a config field") -> str:
    """``int``, ``list[int]``, ``tuple[str, ...]``: the name of a supported type; others raise ``TypeError``."""
    if hint in _SCALARS:
        return hint.__name__
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and len(args) == 1 and args[0] in _SCALARS:
        return f"list[{args[0].__name__}]"
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and args[0] in _SCALARS:
        return f"tuple[{args[0].__name__}, ...]"
    raise TypeError(f"{where} has the type {hint!r}, which configs do not support; use str, int, float, bool, "
                    f"list[T] or tuple[T, ...] of those.")


def _parse_value(override: str, raw: str, hint: Any) -> Any:
    """The TOML value of ``raw``; the text itself for a bare word or for a ``str`` field."""
    try:
        doc = tomllib.loads(f"value = {raw}")
    except tomllib.TOMLDecodeError as e:
        if raw[:1] in ("[", "{", '"', "'"):
            raise ValueError(f"bad --set {override!r}: {raw!r} is not a TOML value ({e}); e.g. 3, 0.1, true, "
                             f'"text", [0, 1].') from None
        return raw
    if set(doc) != {"value"}:
        raise ValueError(f"bad --set {override!r}: give one value after '=', on one line.")
    value = doc["value"]
    return raw if hint is str and not isinstance(value, str) else value


def _scalar(value: Any, kind: type) -> Any:
    """``value`` as a ``kind`` (an int becomes a float for a float field), or ``None`` when it is not one."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    return None


def _coerce(label: str, key: str, value: Any, hint: Any) -> Any:
    """``value`` checked against (and converted to) the field type ``hint``; a mismatch raises ``ValueError``."""
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        kind = typing.get_args(hint)[0]
        items = [_scalar(x, kind) for x in value] if isinstance(value, list) else None
        if items is not None and all(x is not None for x in items):
            return tuple(items) if origin is tuple else items
    else:
        converted = _scalar(value, hint)
        if converted is not None:
            return converted
    raise ValueError(f"config {label}: key {key!r} expects {_type_name(hint)}, got {value!r} "
                     f"({type(value).__name__}).")


# --- writing ---------------------------------------------------------------------------------
def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(x, key) for x in value) + "]"
    raise TypeError(f"dump_toml: key {key!r} holds {value!r} ({type(value).__name__}); flat configs hold only "
                    f"str, int, float, bool and lists of those.")


def dump_toml(values: Mapping[str, Any]) -> str:
    """A flat TOML document ``key = value`` per line: str, int, float (exact, nan/inf included), bool, lists of those.

    ``tomllib.loads(dump_toml(d)) == d`` for such a ``d`` (tuples read back as lists).
    """
    lines = []
    for key, value in values.items():
        if not isinstance(key, str):
            raise TypeError(f"dump_toml: keys must be strings, got {key!r}.")
        name = key if _BARE_KEY.fullmatch(key) else _toml_string(key)
        lines.append(f"{name} = {_toml_value(value, key)}")
    return "\n".join(lines) + "\n"
