"""Write the embedded MNIST-10k data set, ``src/interprim/data/mnist10k.npz``.

Reads the official MNIST test split (``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``)
from ``--source`` and writes a compressed ``.npz`` holding

- ``images``: uint8 ``(10000, 28, 28)`` and ``labels``: uint8 ``(10000,)``, in the original order;
- ``train_indices`` (8 000) and ``test_indices`` (2 000): sorted int64 positions of this package's
  split, ``interprim.data.stratified_split(labels, test_size=2000, seed=0)``;
- ``info``: a JSON string with the provenance (SHA-256 of the decompressed IDX files) and the split rule.

The zip archive is written with fixed timestamps and a fixed entry order, so a rerun on the same
input writes a byte-identical file. After writing, the file is read back and checked against the
IDX files. Usage: ``python scripts/make_mnist10k.py [--source DIR] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from interprim.data import load_mnist, mnist_files, read_idx, stratified_split

REPO = Path(__file__).resolve().parent.parent
TEST_SIZE = 2000
SEED = 0
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def idx_sha256(path: Path) -> str:
    """SHA-256 of the IDX content of ``path`` (decompressed first when it is gzip)."""
    raw = path.read_bytes()
    return hashlib.sha256(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).hexdigest()


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An ``np.load``-able compressed ``.npz`` with fixed zip metadata, written atomically."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
                entry = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
                entry.external_attr = 0o644 << 16
                z.writestr(entry, buffer.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "data" / "mnist",
                        help="directory with the MNIST test split IDX files (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=REPO / "src" / "interprim" / "data" / "mnist10k.npz",
                        help="file to write (default: %(default)s)")
    args = parser.parse_args(argv)

    images_path, labels_path = mnist_files(args.source, "test")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.shape != (10000, 28, 28) or labels.shape != (10000,):
        raise SystemExit(
            f"expected the 10 000-image MNIST test split, got images {images.shape}, labels {labels.shape}"
        )
    train_indices, test_indices = stratified_split(labels, test_size=TEST_SIZE, seed=SEED)
    info = {
        "format": "interprim.mnist10k/1",
        "source": "MNIST test split (t10k), http://yann.lecun.com/exdb/mnist/",
        "idx_sha256": {
            "t10k-images-idx3-ubyte": idx_sha256(images_path),
            "t10k-labels-idx1-ubyte": idx_sha256(labels_path),
        },
        "split": {"rule": "interprim.data.stratified_split", "test_size": TEST_SIZE, "seed": SEED},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.output, {
        "images": images,
        "labels": labels,
        "train_indices": train_indices,
        "test_indices": test_indices,
        "info": np.array(json.dumps(info, sort_keys=True)),
    })

    # read back and check against the IDX files, through the package's own reader too
    reference = load_mnist(args.source, "test")
    with np.load(args.output, allow_pickle=False) as npz:
        split = np.sort(np.concatenate([npz["train_indices"], npz["test_indices"]]))
        checks = {
            "images equal the IDX images": npz["images"].dtype == np.uint8 and np.array_equal(npz["images"], images),
            "labels equal the IDX labels": npz["labels"].dtype == np.uint8 and np.array_equal(npz["labels"], labels),
            "train and test partition the samples": np.array_equal(split, np.arange(len(labels))),
            "pixels / 255 equal load_mnist": np.array_equal(npz["images"][:, None] / np.float32(255),
                                                             reference.images.numpy()),
            "labels equal load_mnist": np.array_equal(npz["labels"], reference.labels.numpy()),
        }
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise SystemExit(f"{args.output} failed the checks: {', '.join(failed)}")
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({size / 1e6:.2f} MB): {len(train_indices)} train, {len(test_indices)} test; "
          f"checked against {images_path.name}, {labels_path.name}")


if __name__ == "__main__":
    main()
