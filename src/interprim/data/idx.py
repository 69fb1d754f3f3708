"""Reader of the IDX file format (the format of the MNIST files), plain or gzip-compressed.

An IDX file is: a 4-byte magic number ``0x00 0x00 <dtype code> <number of dimensions d>``, then
``d`` sizes as big-endian unsigned 32-bit integers, then the data in C order, big-endian.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

#: IDX dtype codes (third byte of the magic number) and their big-endian numpy types.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain, recognised by its content) into a numpy array.

    The array has the dimensions of the header and the dtype of its type code, in native byte
    order. A wrong magic number, an unknown type code, or a data size that does not match the
    header raises a ``ValueError`` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path} does not exist.")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path} is a damaged gzip file ({e}); download it again.") from None
    if len(raw) < 4:
        raise ValueError(f"{path} is not an IDX file: {len(raw)} bytes, shorter than the 4-byte magic number.")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{path} is not an IDX file: its magic number 0x{raw[:4].hex()} does not start with two zero bytes."
        )
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{path} has the unknown IDX type code 0x{code:02X} (known codes: {known}).")
    if ndim == 0:
        raise ValueError(f"{path} declares 0 dimensions; an IDX file holds at least one.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: {len(raw)} bytes, shorter than its {header}-byte header.")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(
            f"{path} is {what}: the header declares dimensions {dims} of {dtype.name} "
            f"({expected} bytes in all) but the data has {len(raw)} bytes."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))
