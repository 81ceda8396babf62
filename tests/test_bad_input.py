"""Runs every row of reports/bad-input.md: the command, what the user sees (the last line on
stderr, or on stdout when stderr is empty; for a row that exits 0, a line of its output) and
the exit code. The table is the specification;
"…" in it stands for text that varies by machine.

Files a command names are created first, in an empty folder, from FILES below.
"""

import re
import shlex
from pathlib import Path

import pytest

TABLE = Path(__file__).resolve().parents[1] / "reports" / "bad-input.md"
NET = "input: [3, 32, 32]\nblocks:\n"
FILES = {
    "syntax.yaml": NET + "  - conv: {k: 3, cout: 8\n  - fc: {cout: 10}\n",
    "typo.yaml": NET + "  - conv: {k: 3, cuot: 8}\n",
    "wrongtype.yaml": NET + "  - conv: {k: three, cout: 8}\n",
    "mismatch.yaml": NET + "  - conv: {k: 3, cout: 8}\n  - separable: {cin: 16, cout: 32}\n",
    "blocktype.yaml": NET + "  - convolution: {k: 3, cout: 8}\n",
    "window.yaml": NET + "  - conv: {k: 3, cout: 8, stride: 8}\n  - conv: {k: 7, cout: 8, "
    "padding: 0}\n",
    "residual.yaml": NET + "  - residual:\n      body:\n        - conv: {k: 3, cout: 8, "
    "stride: 2}\n",
    "deep.yaml": "[" * 100 + "]" * 100 + "\n",
    "bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ),
    "binary.yaml": "\udcff",
    "evil.yaml": "input: !!python/object/apply:os.system ['echo pwned']\nblocks: []\n",
    "notanetwork.yaml": "- 1\n- 2\n",
    "layers.yaml": "layers:\n  - {k: 3, cout: 8, size: 8}\n",
    "badlayer.yaml": "layers:\n  - {k: 3, cout: 8}\n  - {k: 0, cout: 8}\n",
    "budgets-missing-config.yaml": "budgets:\n  - name: a\n    config: nope.yaml\n"
    "    max_macs: 1M\n",
    "budgets-metric.yaml": "budgets:\n  - name: a\n    config: layers.yaml\n    max_flop: 1M\n",
    "budgets-device.yaml": "budgets:\n  - name: a\n    config: layers.yaml\n"
    "    max_latency_ms: {tpu: 5}\n",
    "budgets-empty.yaml": "budgets: []\n",
    "budgets-number.yaml": "budgets:\n  - name: a\n    config: layers.yaml\n    max_macs: lots\n",
    "budgets-syntax.yaml": "budgets:\n  - name: a\n   config: layers.yaml\n",
    "budgets-over.yaml": "budgets:\n  - name: a\n    config: layers.yaml\n    max_macs: 1K\n",
    "budgets-nolimit.yaml": "budgets:\n  - name: a\n    config: layers.yaml\n",
    "budgets-regression.yaml": "budgets:\n  - name: a\n    config: layers.yaml\n"
    "    max_regression: 5%\n",
    "budgets-cuda.yaml": "budgets:\n  - name: gpu\n    config: layers.yaml\n"
    "    max_latency_ms: {cuda: 5}\n",
    "profile.json": '{"schema": "sepprof.profile/1"}',
    "garbage.json": "not json",
    "a-file": "x",
    "zoo.py": "from torch import nn\n\n\ndef net():\n    return nn.Sequential(nn.Conv2d(3, 8, 3))"
    "\n\n\ndef broken():\n    raise ValueError('no weights here')\n\n\n"
    "def mlp():\n    return nn.Sequential(nn.Flatten(), nn.Linear(12, 4))\n",
}


def rows() -> list[tuple[str, str, str, int]]:
    out = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) == 5 and cells[0].isdigit():
            command = cells[2].strip("`").replace("\\|", "|")
            seen = cells[3].strip("`").replace("\\|", "|")
            out.append((cells[1], command, seen, int(cells[4])))
    return out


def matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("…"))
    return re.fullmatch(pattern, actual) is not None


def test_table_has_rows():
    assert len(rows()) >= 40


@pytest.mark.parametrize(("what", "command", "seen", "code"), rows(), ids=[r[0] for r in rows()])
def test_bad_input_row(cli, tmp_path, monkeypatch, what, command, seen, code):
    for name, text in FILES.items():
        (tmp_path / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command)
    assert args[0] == "sepprof"
    run = cli(*args[1:])
    assert run.code == code, run.err
    lines = (run.err.strip() or run.out.strip()).splitlines()
    assert lines, f"{what}: nothing printed"
    shown = lines[-1] if code else next((line for line in lines if matches(seen, line)), "")
    assert matches(seen, shown), f"{what}:\n  table: {seen}\n  saw:   {lines[-1]}"
    assert "Traceback" not in run.err
