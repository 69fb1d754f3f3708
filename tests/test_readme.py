"""Every ```python example of README.md runs as written, in a temporary folder.

A block whose first line is ``# (continues the example above)`` runs after the block before it, in
its namespace (one test per example); ``# requires: a, b`` skips the example when a module is not
installed; ``# slow: ...`` marks it ``slow`` (run with ``-m slow``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
CONTINUES = "# (continues the example above)"


def blocks(text: str) -> list[tuple[int, str]]:
    """``(first line, code)`` of each ```python block, in order; line numbers as in the file."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            out.append((i + 2, "\n".join(lines[i + 1 : end]) + "\n"))
            i = end
        i += 1
    return out


def examples(text: str) -> list[tuple[int, list[tuple[int, str]]]]:
    """The examples: a block and the blocks that continue it, ``(first line, [(line, code), …])``."""
    out: list[tuple[int, list[tuple[int, str]]]] = []
    for line, code in blocks(text):
        if code.startswith(CONTINUES):
            assert out, f"README.md:{line} continues an example, but no example comes before it"
            out[-1][1].append((line, code))
        else:
            out.append((line, [(line, code)]))
    return out


def _params() -> list:
    params = []
    for line, parts in examples(README.read_text(encoding="utf-8")):
        firsts = [code.splitlines()[0].strip() if code.strip() else "" for _, code in parts]
        needed = [m.strip() for f in firsts if f.startswith("# requires:") for m in f.split(":", 1)[1].split(",")]
        missing = [m for m in needed if m and importlib.util.find_spec(m) is None]
        marks = [pytest.mark.skipif(bool(missing), reason=f"README.md:{line} needs {', '.join(missing)}")]
        if any(f.startswith("# slow") for f in firsts):
            marks.append(pytest.mark.slow)
        params.append(pytest.param(parts, id=f"line{line}", marks=marks))
    return params


def test_the_readme_has_its_examples():
    text = README.read_text(encoding="utf-8")
    found = examples(text)
    assert sum(len(parts) for _, parts in found) == text.count("```python")
    explained = "\n".join(code for _, parts in found for _, code in parts)
    for call in ("ip.explain(model, image", "tokenizer=tokenizer)", "ip.explain(predict_proba", "ip.plot.shared("):
        assert call in explained


@pytest.mark.parametrize("parts", _params())
def test_readme_example_runs(parts, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for line, code in parts:
        code = compile("\n" * (line - 1) + code, str(README), "exec")  # tracebacks give README's lines
        exec(code, namespace)  # noqa: S102 (the README's own code)
