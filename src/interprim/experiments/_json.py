"""Plain JSON values from the numbers, arrays and containers that experiments produce."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def plain(obj: Any, *, where: str = "value", nonfinite_as_none: bool = False) -> Any:
    """``obj`` as plain JSON values: ``None``, bool, int, float, str, lists and dicts with string keys.

    numpy scalars become Python numbers, numpy arrays and torch tensors nested lists, tuples lists.
    With ``nonfinite_as_none`` NaN and ±inf become ``None`` (``null``), so the result is strict JSON.
    Anything else (and dict keys that are not strings) raises a ``TypeError`` that names ``where``,
    the path of the bad value inside ``obj``.
    """
    if obj is None or isinstance(obj, (bool, np.bool_)):
        return None if obj is None else bool(obj)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return None if nonfinite_as_none and not math.isfinite(x) else x
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):  # a torch tensor
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject or obj.dtype.kind == "c":
            raise TypeError(f"{where} is a numpy array of dtype {obj.dtype}, which is not JSON-able; "
                            f"convert it to a numeric, bool or string dtype.")
        return plain(obj.tolist(), where=where, nonfinite_as_none=nonfinite_as_none)
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r} ({type(key).__name__}); JSON keys must be strings: "
                                f"use str({key!r}).")
            out[str(key)] = plain(value, where=f"{where}[{key!r}]", nonfinite_as_none=nonfinite_as_none)
        return out
    if isinstance(obj, (list, tuple)):
        return [plain(x, where=f"{where}[{i}]", nonfinite_as_none=nonfinite_as_none) for i, x in enumerate(obj)]
    raise TypeError(f"{where} = {obj!r} ({type(obj).__name__}) is not JSON-able: use numbers, strings, bools, None, "
                    f"lists, tuples, dicts with string keys, numpy scalars and arrays, or torch tensors.")
