"""SST-2 (GLUE) sentiment sentences from tab-separated files with a header row.

The files are ``train.tsv``, ``dev.tsv`` and ``test.tsv``; the columns are found by name: the
label column ``label`` (0 = negative, 1 = positive) and the text column ``sentence`` or
``content``. Fields are never quoted (sentences contain quote characters), so the files are read
with ``csv.QUOTE_NONE``.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import torch

from .datasets import TextData

#: Class names of SST-2, indexed by label.
SST2_CLASSES: tuple[str, ...] = ("negative", "positive")

_SPLITS = ("train", "dev", "test")
_TEXT_COLUMNS = ("sentence", "content")


def _utf8_text(path: Path) -> io.StringIO:
    """The text of ``path`` decoded as UTF-8, as a file for :mod:`csv`; ``ValueError`` naming the file otherwise."""
    raw = path.read_bytes()
    try:
        return io.StringIO(raw.decode("utf-8"), newline="")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ValueError(
            f"{path}, line {line}: the byte {raw[e.start : e.start + 1]!r} is not UTF-8; SST-2 files are UTF-8 text: "
            f"convert it (e.g. iconv -f latin1 -t utf-8)."
        ) from None


def load_sst2(directory: str | os.PathLike, split: str = "train") -> TextData:
    """Load the SST-2 ``split`` ("train", "dev" or "test") from ``directory/<split>.tsv``.

    Returns :class:`TextData` with the sentences in file order and labels 0 (negative) / 1 (positive).
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {list(_SPLITS)}, got {split!r}.")
    path = Path(directory) / f"{split}.tsv"
    if not path.is_file():
        raise FileNotFoundError(f"SST-2 {split} split not found: expected the file {path}.")
    sentences: list[str] = []
    labels: list[int] = []
    with _utf8_text(path) as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if header is None:
            raise ValueError(f"{path} is empty; expected a header row and one sentence per row.")
        text_columns = [c for c in _TEXT_COLUMNS if c in header]
        if "label" not in header or not text_columns:
            raise ValueError(
                f"{path} has the header {header}; expected a 'label' column and a 'sentence' or 'content' column "
                f"(the GLUE test split without labels cannot be used)."
            )
        label_at, text_at = header.index("label"), header.index(text_columns[0])
        for row in rows:
            line = rows.line_num
            if len(row) != len(header):
                raise ValueError(f"{path}, line {line}: {len(row)} tab-separated fields, expected {len(header)}.")
            if row[label_at] not in ("0", "1"):
                raise ValueError(f"{path}, line {line}: label {row[label_at]!r}, expected 0 or 1.")
            labels.append(int(row[label_at]))
            sentences.append(row[text_at])
    return TextData(sentences, torch.tensor(labels, dtype=torch.int64), SST2_CLASSES)
