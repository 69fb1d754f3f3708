"""Results on disk: one record per key (e.g. experiment, model, sample), resumable, no pickles.

A :class:`Store` keeps each record in its own file under a root folder; the key's parts are the
path: ``store.put(("jaccard", "model0", 17), arrays)`` writes ``<root>/jaccard/model0/17.npz``.

- Array records (:meth:`Store.put` / :meth:`Store.get`) are ``.npz`` files: the arrays plus a JSON
  header in a string entry, read back with ``allow_pickle=False``.
- JSON records (:meth:`Store.put_json` / :meth:`Store.get_json`) are ``.json`` files, for small
  results, configs and summaries.
- Every write goes to a temporary file ``.<name>.<random>.tmp`` in the same folder, is flushed to
  disk, then renamed over the record with ``os.replace``: a record is either absent or complete,
  even when the process is killed mid-write. Left-over temporary files are never read as records;
  :meth:`Store.remove_temporary` deletes old ones.
- Resuming: ``for key in store.todo(keys): ...`` yields only the keys without a record.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from tqdm.auto import tqdm

Key = tuple[str, ...]

_FORMAT = "interprim.store/1"
_HEADER = "__header__"
_SUFFIX = {"arrays": ".npz", "json": ".json"}
_TMP_SUFFIX = ".tmp"
_PART = re.compile(r"[A-Za-z0-9_+=@,-][A-Za-z0-9_.+=@,-]*")
_MAX_PART = 200


def _part(part: Any, key: Any) -> str:
    """One validated key part: an int, or a path-safe string (no separators, no leading dot)."""
    if isinstance(part, (int, np.integer)) and not isinstance(part, (bool, np.bool_)):
        return str(int(part))
    if not isinstance(part, str):
        raise TypeError(f"key parts must be strings or ints, got {part!r} ({type(part).__name__}) in key {key!r}.")
    reserved = part.lower().endswith((*_SUFFIX.values(), _TMP_SUFFIX))
    if not _PART.fullmatch(part) or len(part) > _MAX_PART or reserved:
        raise ValueError(
            f"invalid key part {part!r} in key {key!r}: use 1-{_MAX_PART} characters among letters, digits and "
            f"'_ - + = @ , .', not starting with '.' and not ending with .npz, .json or .tmp (no '/', '..' or spaces)."
        )
    return part


def read_npz(path: Path, header: str) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays of the ``.npz`` file ``path`` and its JSON header (the string entry ``header``), read without pickle.

    Returns ``(arrays, header)`` with the header entry taken out of ``arrays``. Raises ``ValueError``
    saying what is wrong when ``path`` is not such a file: empty, truncated, damaged or random bytes,
    a ``.npy`` array, or an archive whose ``header`` entry is missing or not a JSON object; callers
    add which file they expected.
    """
    try:
        with open(path, "rb") as f:
            start = f.read(6)
    except OSError as e:
        raise ValueError(f"it cannot be read ({e})") from None
    if not start:
        raise ValueError("the file is empty")
    if start == b"\x93NUMPY":
        raise ValueError("it is a .npy file (a single array), not an .npz archive")
    if not start.startswith(b"PK"):  # numpy would take it for pickled data
        raise ValueError(f"it is not an .npz archive (it starts with the bytes {start!r}, not a zip signature)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, EOFError, ValueError, NotImplementedError, zipfile.BadZipFile, zlib.error) as e:
        raise ValueError(f"{type(e).__name__}: {e}") from None
    if header not in arrays:
        raise ValueError(f"it has no {header!r} entry (its entries are {sorted(arrays)[:10]})")
    try:
        parsed = json.loads(str(arrays.pop(header)))
    except ValueError as e:  # JSONDecodeError
        raise ValueError(f"its {header!r} entry is not JSON ({e})") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"its {header!r} entry is JSON {type(parsed).__name__}, not an object")
    return arrays, parsed


def _sort_key(key: Key) -> tuple:
    """Natural order: numeric parts compare as numbers, before the other parts."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in key)


class Store:
    """A folder of records addressed by keys (tuples of path-safe parts); see the module docstring.

    ``root`` is created on the first write. ``compress=True`` writes compressed ``.npz`` records.
    A key is a tuple (or list) of parts, or a single part; a part is a string of letters, digits
    and ``_ - + = @ , .`` (no leading dot) or an int. Keys come back from :meth:`keys` as tuples of
    strings: ``Store.key("jaccard", "model0", 17) == ("jaccard", "model0", "17")``.
    """

    def __init__(self, root: str | os.PathLike, *, compress: bool = False) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"store root {self.root} exists and is not a directory; pass a folder.")
        self.compress = bool(compress)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # --- keys --------------------------------------------------------------------------------
    @staticmethod
    def key(*parts: str | int) -> Key:
        """The validated key made of ``parts``, as a tuple of strings."""
        if not parts:
            raise ValueError("a key needs at least one part, e.g. Store.key('experiment', 'model0', 17).")
        return tuple(_part(p, parts) for p in parts)

    @classmethod
    def _key(cls, key: Any) -> Key:
        if isinstance(key, (tuple, list)):
            return cls.key(*key)
        return cls.key(key)

    def _path(self, key: Any, kind: str) -> Path:
        parts = self._key(key)
        return self.root.joinpath(*parts[:-1], parts[-1] + _SUFFIX[kind])

    def has(self, key: Any) -> bool:
        """Whether the array record ``key`` exists."""
        return self._path(key, "arrays").is_file()

    def has_json(self, key: Any) -> bool:
        """Whether the JSON record ``key`` exists."""
        return self._path(key, "json").is_file()

    def keys(self, prefix: Any = (), kind: str = "arrays") -> list[Key]:
        """The keys of all records (``kind="arrays"`` or ``"json"``) under ``prefix``, in natural order."""
        if kind not in _SUFFIX:
            raise ValueError(f"kind must be 'arrays' or 'json', got {kind!r}.")
        empty = isinstance(prefix, (tuple, list)) and len(prefix) == 0
        prefix = () if empty else self._key(prefix)
        folder = self.root.joinpath(*prefix)
        if not folder.is_dir():
            return []
        suffix = _SUFFIX[kind]
        found = []
        for path in folder.rglob("*" + suffix):
            parts = path.relative_to(self.root).parts
            key = (*parts[:-1], parts[-1][: -len(suffix)])
            try:
                key = self.key(*key)
            except ValueError:  # not a record of ours (e.g. a hidden file): skip it
                continue
            if path.is_file():
                found.append(key)
        return sorted(found, key=_sort_key)

    def missing(self, keys: Iterable[Any]) -> list[Any]:
        """The keys of ``keys`` (as given, in order) that have no array record yet."""
        return list(self.todo(keys))

    def todo(self, keys: Iterable[Any], progress: bool = False) -> Iterator[Any]:
        """Yield the keys of ``keys`` (as given, in order) without an array record: the resumable loop.

        All keys are validated first. Each key is checked when it is reached, so records written
        meanwhile (by this loop or another process) are skipped. ``progress`` shows a bar over all keys.
        """
        keys = list(keys)
        for key in keys:
            self._key(key)
        with tqdm(total=len(keys), disable=not progress, desc=f"store {self.root.name}") as bar:
            for key in keys:
                if not self.has(key):
                    yield key
                bar.update(1)

    # --- writing -----------------------------------------------------------------------------
    def _write(self, path: Path, write: Callable[[BinaryIO], object]) -> Path:
        """Atomically create ``path`` with ``write(file)``: temporary file, fsync, ``os.replace``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return path

    def put(self, key: Any, arrays: Mapping[str, Any], info: dict | None = None) -> Path:
        """Write the array record ``key``: named arrays plus a JSON-serialisable ``info`` dict.

        Arrays may be numpy arrays, torch tensors or anything ``np.asarray`` takes, but not object
        arrays (they would need pickle). Replaces an existing record atomically. Returns the file path.
        """
        parts = self._key(key)
        if not isinstance(arrays, Mapping):
            raise TypeError(f"arrays must be a dict of name -> array, got {type(arrays).__name__}.")
        entries = {}
        for name, value in arrays.items():
            if not isinstance(name, str) or not name or name.startswith("__") or "/" in name:
                raise ValueError(
                    f"invalid array name {name!r}: use a non-empty string without '/', not starting with '__'."
                )
            if hasattr(value, "detach"):  # torch tensor
                value = value.detach().cpu().numpy()
            value = np.asarray(value)
            if value.dtype.hasobject:
                raise ValueError(f"array {name!r} has dtype object, which cannot be stored without pickle; "
                                 f"convert it to a numeric or string dtype.")
            entries[name] = value
        info = {} if info is None else info
        if not isinstance(info, dict):
            raise TypeError(f"info must be a dict or None, got {type(info).__name__}.")
        try:
            header = json.dumps({"format": _FORMAT, "key": list(parts), "info": info})
        except (TypeError, ValueError) as e:
            raise ValueError(f"info of record {parts} must be JSON-serialisable ({e}).") from None
        entries[_HEADER] = np.array(header)
        save = np.savez_compressed if self.compress else np.savez
        return self._write(self._path(parts, "arrays"), lambda f: save(f, **entries))

    def put_json(self, key: Any, obj: Any) -> Path:
        """Write the JSON record ``key`` (any JSON-serialisable value), atomically. Returns the file path."""
        parts = self._key(key)
        try:
            text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
        except (TypeError, ValueError) as e:
            raise ValueError(f"JSON record {parts} must be JSON-serialisable ({e}).") from None
        return self._write(self._path(parts, "json"), lambda f: f.write(text.encode("utf-8")))

    # --- reading -----------------------------------------------------------------------------
    def get(self, key: Any) -> tuple[dict[str, np.ndarray], dict]:
        """Read the array record ``key``: ``(arrays, info)``. A missing record raises ``KeyError``."""
        parts = self._key(key)
        path = self._path(parts, "arrays")
        if not path.is_file():
            raise KeyError(f"no record {parts} in {self}.")
        try:
            arrays, header = read_npz(path, _HEADER)
            if header.get("format") != _FORMAT:
                raise ValueError(f"its header has the format {header.get('format')!r}, not {_FORMAT!r}")
        except ValueError as e:
            raise ValueError(
                f"{path} is not a readable {_FORMAT} record ({e}); it was not written by Store.put: delete it to "
                f"recompute it."
            ) from None
        return arrays, header.get("info", {})

    def get_json(self, key: Any) -> Any:
        """Read the JSON record ``key``. A missing record raises ``KeyError``."""
        parts = self._key(key)
        path = self._path(parts, "json")
        if not path.is_file():
            raise KeyError(f"no JSON record {parts} in {self}.")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path} is not valid JSON ({e}); delete it to recompute it.") from None

    # --- maintenance -------------------------------------------------------------------------
    def remove_temporary(self, min_age_s: float = 3600.0) -> list[Path]:
        """Delete temporary files left by killed writers, if older than ``min_age_s`` seconds.

        Younger ones may belong to a writer still running and are kept. Returns the deleted paths.
        """
        if not self.root.is_dir():
            return []
        cutoff = time.time() - float(min_age_s)
        removed = []
        for path in self.root.rglob(".*" + _TMP_SUFFIX):
            try:
                if path.is_file() and path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:  # renamed or removed meanwhile by its writer
                continue
        return removed
