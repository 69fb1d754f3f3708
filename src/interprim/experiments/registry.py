"""The registry of experiments, by name.

An experiment is a module that defines:

- ``NAME`` — its name (letters, digits, ``_``, ``-``; not ``all``), used on the command line;
- ``DESCRIPTION`` — one line;
- ``Config`` — a dataclass of its settings (see :mod:`interprim.experiments.config`), with the
  shipped ``configs/<NAME>-cpu.toml`` and ``configs/<NAME>-paper.toml``;
- ``run(config, ctx) -> dict`` — the results, computed with ``ctx.task`` / ``ctx.map``
  (:class:`~interprim.experiments.tasks.Context`); plain JSON-able values, numpy allowed;
- ``figures(results, out_dir) -> list[Path]`` — figures (PNG and SVG) drawn from the results as
  read back from ``results.json`` alone, written into ``out_dir``;
- ``summary(results) -> str`` — a markdown summary of the results.

The experiments of this package are listed in :data:`BUILTIN` and registered when the registry is
first asked; others call :func:`register` with their module.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from types import ModuleType

BUILTIN = (
    "interprim.experiments.architecture",
    "interprim.experiments.confusing_randomness",
    "interprim.experiments.hard_vs_confusing",
    "interprim.experiments.high_layer",
    "interprim.experiments.jaccard_by_order",
    "interprim.experiments.low_layer",
    "interprim.experiments.overfitting_dynamics",
    "interprim.experiments.shared_layers",
    "interprim.experiments.transferability",
    "interprim.experiments.sparsity",
    "interprim.experiments.shared_by_order",
    "interprim.experiments.matching",
    "interprim.experiments.alpha",
    "interprim.experiments.init_diversity",
    "interprim.experiments.primitives",
    "interprim.experiments.runtime",
    "interprim.experiments.selftest",
)
REQUIRED = ("NAME", "DESCRIPTION", "Config", "run", "figures", "summary")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

_experiments: dict[str, ModuleType] = {}


def register(module: ModuleType) -> ModuleType:
    """Add the experiment ``module`` (see the module docstring for what it defines); returns it.

    Registering the same module again is a no-op; another module with a taken name raises ``ValueError``.
    """
    missing = [attr for attr in REQUIRED if not hasattr(module, attr)]
    if missing:
        raise ValueError(f"experiment module {module.__name__} lacks {missing}; an experiment defines "
                         f"{', '.join(REQUIRED)}.")
    name = module.NAME
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name == "all":
        raise ValueError(f"experiment module {module.__name__} has NAME {name!r}; use letters, digits, '_' and '-' "
                         f"(not 'all', which runs every experiment).")
    if not dataclasses.is_dataclass(module.Config):
        raise ValueError(f"experiment {name!r}: Config must be a dataclass, got {module.Config!r}.")
    for attr in ("run", "figures", "summary"):
        if not callable(getattr(module, attr)):
            raise ValueError(f"experiment {name!r}: {attr} must be a function.")
    taken = _experiments.get(name)
    if taken is not None and taken is not module:
        raise ValueError(f"experiment name {name!r} is taken by {taken.__name__}; rename {module.__name__}.NAME.")
    _experiments[name] = module
    return module


def _load_builtin() -> None:
    for module_name in BUILTIN:
        register(importlib.import_module(module_name))


def names() -> list[str]:
    """The names of the registered experiments, sorted."""
    _load_builtin()
    return sorted(_experiments)


def get(name: str) -> ModuleType:
    """The experiment module called ``name``; an unknown name raises ``ValueError`` listing the known ones."""
    _load_builtin()
    if name not in _experiments:
        raise ValueError(f"unknown experiment {name!r}; known experiments: {', '.join(sorted(_experiments))} "
                         f"(see `interprim experiment list`).")
    return _experiments[name]
