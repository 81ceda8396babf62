"""The layer order of ARCHITECTURE.md: import-linter's contracts hold on this tree, a planted
forbidden import breaks them, and no module imports itself back through others (imports inside
functions count)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter (the test extra) is not installed")

ROOT = Path(__file__).resolve().parent.parent


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package under ``root``, with this project's contracts."""
    env_path = str(root)
    code = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_package(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "sepprof", tmp_path / "sepprof", ignore=shutil.ignore_patterns("*.pyc"))
    return tmp_path


def test_contracts_hold_on_this_tree(tmp_path):
    proc = lint(copy_of_package(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Layers import downward only KEPT" in proc.stdout
    assert "Renderers read only results (and units, errors) KEPT" in proc.stdout


@pytest.mark.parametrize(
    ("module", "planted", "broken"),
    [
        ("render/console.py", "from sepprof.count.costs import COUNTING_RULE", "Renderers"),
        ("results/rows.py", "from sepprof.spec.ops import Stage", "Layers"),
        ("timing/measure.py", "from sepprof.pipeline import measure", "Layers"),
    ],
)
def test_a_planted_forbidden_import_breaks_a_contract(tmp_path, module, planted, broken):
    """Inside a function, too: the import of a lazy module still counts."""
    root = copy_of_package(tmp_path)
    target = root / "sepprof" / module
    target.write_text(target.read_text() + f"\n\ndef _planted():\n    {planted}\n")
    proc = lint(root)
    assert proc.returncode != 0
    assert any(
        line.startswith(broken) and line.endswith("BROKEN") for line in proc.stdout.split("\n")
    )


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its source (inside functions
    too); ``from a import b`` counts as importing ``a.b`` where that is a module."""
    files = {
        ".".join(f.relative_to(package_dir.parent).with_suffix("").parts).removesuffix(
            ".__init__"
        ): f
        for f in package_dir.rglob("*.py")
    }
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, f in files.items():
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            else:
                continue
            graph[module] |= {n for n in names if n in files and n != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan's SCCs)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        for n in sorted(graph[m]):
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in stack:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            group = set()
            while True:
                n = stack.pop()
                group.add(n)
                if n == m:
                    break
            if len(group) > 1:
                found.append(group)

    for m in sorted(graph):
        if m not in index:
            visit(m)
    return found


def test_no_module_imports_itself_back():
    graph = import_graph(ROOT / "sepprof")
    assert len(graph) > 80 and "sepprof.pipeline" in graph["sepprof.commands.compare"]
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_planted_cycle(tmp_path):
    root = copy_of_package(tmp_path)
    target = root / "sepprof" / "units.py"
    target.write_text(target.read_text() + "\n\ndef _planted():\n    import sepprof.results.rows\n")
    assert cycles(import_graph(root / "sepprof")) == [{"sepprof.units", "sepprof.results.rows"}]
