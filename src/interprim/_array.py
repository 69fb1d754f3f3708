"""Array plumbing shared by the math core: numpy/torch dispatch, input checks, memory budget.

Every public function that takes value vectors or interaction vectors passes them through
:func:`as_vectors` once, where the input enters; the inner loops work on the checked arrays.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

try:  # torch is a dependency, but the math core keeps working without it
    import torch
except ImportError:  # pragma: no cover - exercised only in installs without torch
    torch = None

_NUMPY_FLOATS = (np.float32, np.float64)


def is_torch(x: Any) -> bool:
    """True for a torch tensor."""
    return torch is not None and isinstance(x, torch.Tensor)


def available_memory(x: Any = None) -> int:
    """Bytes of memory available for new arrays on the device of ``x`` (host memory for numpy)."""
    if is_torch(x) and x.device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(x.device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX systems
        return 1 << 62


def check_memory(name: str, n: int, batch: int, bytes_per_entry: float, copies: float, x: Any = None) -> None:
    """Raise ``ValueError`` when ``copies`` arrays of ``batch * 2**n`` entries would not fit in memory.

    The message says how much is needed, how much is available and the largest ``n`` that fits.
    """
    per_state = batch * bytes_per_entry * copies
    need = per_state * 2**n
    have = available_memory(x)
    if need <= have:
        return
    fits = int(np.floor(np.log2(max(have / per_state, 1.0))))
    raise ValueError(
        f"{name}: n={n} players with a batch of {batch} needs about {need / 2**30:.1f} GiB of working "
        f"memory, but only {have / 2**30:.1f} GiB is available; at most n={fits} fits for this batch "
        f"(use fewer players or a smaller batch)."
    )


def n_of_length(name: str, length: int) -> int:
    """Number of players ``n`` of a vector of length ``2**n``; ``ValueError`` otherwise."""
    if length < 2 or length & (length - 1):
        hint = f"e.g. {2**10} for n=10" if length < 2 else f"the nearest are {_below(length)} and {_below(length) * 2}"
        raise ValueError(
            f"{name}: the last axis has length {length}, which is not 2**n for n >= 1; a vector over "
            f"the subsets of n players has one entry per subset, in bitmask order ({hint})."
        )
    return length.bit_length() - 1


def _below(length: int) -> int:
    return 1 << (length.bit_length() - 1)


def as_tensor(x: Any, name: str, expected: str) -> torch.Tensor:
    """``x`` as a torch tensor (numpy views with negative strides copied); ``TypeError`` naming ``name`` and
    what was ``expected`` when it cannot be read as an array."""
    if isinstance(x, torch.Tensor):
        return x
    try:
        return torch.as_tensor(positive_strides(np.asarray(x)))
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{name} must be {expected}, got {type(x).__name__} ({e}).") from None


def unmasked(name: str, x: Any) -> Any:
    """``x`` without its mask when it is a numpy masked array with nothing masked; ``ValueError`` when
    entries are masked (they are missing values, which neither a game's input nor its values can have)."""
    if not np.ma.isMaskedArray(x):
        return x
    missing = int(np.ma.getmaskarray(x).sum())
    if missing:
        raise ValueError(
            f"{name}: a masked array with {missing} masked entries; every entry must be a finite number "
            f"(fill them, e.g. x.filled(0), or drop those samples)."
        )
    return np.ma.getdata(x)


def as_vectors(name: str, x: Any, copies: float = 1.0) -> tuple[Any, int]:
    """Check a batch of vectors over subsets and return it as a float array with its ``n``.

    Accepts a numpy array (or anything ``np.asarray`` takes) or a torch tensor of shape
    ``(..., 2**n)``. Integers become float64; float32/float64 are kept; everything else
    (bool, complex, float16, object), any NaN or infinity and the masked entries of a numpy masked
    array raise ``ValueError``. A numpy array with a negative stride (a view such as
    ``v[..., ::-1]``) is copied (:func:`positive_strides`). The result is the input itself when no
    conversion was needed: callers must not write to it.
    ``copies`` is how many arrays of the input's size the caller will allocate.
    """
    if is_torch(x):
        if x.dtype in (torch.float32, torch.float64):
            pass
        elif not x.dtype.is_floating_point and not x.dtype.is_complex and x.dtype != torch.bool:
            x = x.to(torch.float64)
        else:
            raise ValueError(f"{name}: dtype {x.dtype} is not supported; pass float32 or float64 (or integers).")
        finite = bool(torch.isfinite(x).all()) if x.numel() else True
    else:
        x = unmasked(name, x)
        if not isinstance(x, np.ndarray):
            try:
                x = np.asarray(x)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{name}: cannot be read as an array of numbers ({e}).") from None
        if x.dtype.type in _NUMPY_FLOATS:
            pass
        elif np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.float64)
        else:
            raise ValueError(
                f"{name}: dtype {x.dtype} is not supported; pass a numpy array or torch tensor of "
                f"float32 or float64 (or integers)."
            )
        x = positive_strides(x)
        finite = bool(np.isfinite(x).all())
    if x.ndim == 0:
        raise ValueError(f"{name}: got a scalar; pass a vector of length 2**n over all subsets of the n players.")
    n = n_of_length(name, x.shape[-1])
    if not finite:
        raise ValueError(f"{name}: contains NaN or infinite values; every entry must be a finite number.")
    batch = int(np.prod(x.shape[:-1], dtype=np.int64))
    check_memory(name, n, batch, x.element_size() if is_torch(x) else x.itemsize, copies, x)
    return x, n


def same_kind(x: Any, like: Any) -> Any:
    """Convert ``x`` to the array type, dtype and device of ``like`` (numpy or torch)."""
    if is_torch(like):
        if is_torch(x):
            return x.to(device=like.device, dtype=like.dtype)
        return torch.as_tensor(positive_strides(np.asarray(x)), dtype=like.dtype, device=like.device)
    if is_torch(x):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=like.dtype)


def positive_strides(x: np.ndarray) -> np.ndarray:
    """``x``, copied when a stride is negative (a view such as ``x[..., ::-1]``): torch cannot share such memory."""
    return np.ascontiguousarray(x) if any(s < 0 for s in x.strides) else x


def check_same_shape(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{name_a} has shape {tuple(a.shape)} but {name_b} has shape {tuple(b.shape)}; "
            f"they must have the same shape (the same batch of the same n players)."
        )


def to_numpy(x: Any) -> np.ndarray:
    """A numpy view or copy of ``x`` (detached from autograd, on the host)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)
