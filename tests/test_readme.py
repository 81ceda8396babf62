"""The README's Python examples run as written (blocks marked ``<!-- readme-test -->``)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKED = re.compile(r"<!-- readme-test -->\n```python\n(.*?)```", re.S)


def blocks() -> list[str]:
    return MARKED.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_readme_has_a_python_api_section_with_tested_blocks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Python API" in text
    assert len(blocks()) >= 3
    assert "sepprof.compare(k=3, cin=256, cout=256" in text


def test_readme_python_blocks_run_as_written(monkeypatch):
    """One namespace, in order, from the repository root (paths in the README are relative)."""
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for i, code in enumerate(blocks()):
            exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)
    printed = out.getvalue()
    assert "8.69x fewer MACs" in printed
    assert "[('separable', 0.04781), ('grouped:4', 0.25)]" in printed
    assert "depthwise: 3.06% of MACs" in printed
