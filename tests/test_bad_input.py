"""Runs every row of reports/bad-input.md: the command, what the user sees (the last line on
stderr, or on stdout when stderr is empty; for a row that exits 0, a line of its output) and
the exit code. The table is the specification;
"…" in it stands for text that varies by machine.

Files a command names are created first, in an empty folder, from FILES below, with the
special files of ``special_files`` (FIFOs, a folder, a sparse 17 MiB file and, as root, devices
made with mknod: rows whose input says "(root)" are skipped for other users). A command with a
redirection or a pipe runs in bash with the installed ``sepprof``; the others in-process.
"""

import os
import re
import shlex
import stat
import subprocess
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
    "wrongtype.json": '{"schema": "sepprof.compare/1", "environment": {}, "spec": {}, '
    '"variants": [{"name": "standard", "params": "10", "macs_analytic": 1}], "comparisons": []}',
    "nan-baseline.json": '{"schema": "sepprof.check/1", "metrics": {"a": {"macs": NaN}}}',
    "string-metrics.json": '{"schema": "sepprof.check/1", "metrics": "fast"}',
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "budgets-overflow.yaml": "budgets:\n  - name: a\n    config: layers.yaml\n"
    "    max_macs: 1e400\n",
    "budgets-nan.yaml": "budgets:\n  - name: a\n    config: layers.yaml\n    max_macs: .nan\n",
    "budgets-negative.yaml": "budgets:\n  - name: a\n    config: layers.yaml\n"
    "    max_latency_ms: {cpu: -5}\n",
    "budgets-negative-params.yaml": "budgets:\n  - name: a\n    config: layers.yaml\n"
    "    max_params: -1000\n",
    "budgets-dup.yaml": "budgets:\n  - name: a\n    config: layers.yaml\n    max_macs: 1M\n"
    "    max_macs: 2M\n",
    "dup.yaml": NET + "  - conv: {k: 3, cout: 8, cout: 16}\n",
    "esc.yaml": 'layers:\n  - {name: "\\e]0;pwned\\a", cout: 8}\n',
    "layers-dupname.yaml": "layers:\n  - {name: a, cout: 8, size: 8}\n"
    "  - {name: a, cout: 16, size: 8}\n",
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


ROOT = os.geteuid() == 0


def special_files(folder: Path) -> None:
    """FIFOs, a folder, a file over the 16 MiB cap, a symlink and, as root, devices."""
    for name in ("fifo.json", "fifo.yaml", "fifo.out"):
        os.mkfifo(folder / name)
    (folder / "adir").mkdir()
    (folder / "adir.py").mkdir()
    with (folder / "big.yaml").open("wb") as f:
        f.truncate(17 << 20)
    if ROOT:
        os.mknod(folder / "dev-null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.mknod(folder / "dev-zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
        (folder / "link-to-dev").symlink_to(folder / "dev-null")


def run_in_shell(command: str, folder: Path):
    """A row with a redirection or a pipe: bash runs it with the installed ``sepprof``."""
    done = subprocess.run(
        ["bash", "-c", command], cwd=folder, capture_output=True, text=True, timeout=120
    )
    return type("Run", (), {"code": done.returncode, "out": done.stdout, "err": done.stderr})


@pytest.mark.parametrize(("what", "command", "seen", "code"), rows(), ids=[r[0] for r in rows()])
def test_bad_input_row(cli, tmp_path, monkeypatch, what, command, seen, code):
    if "(root)" in what and not ROOT:
        pytest.skip("needs root to make a device with mknod")
    for name, text in FILES.items():
        (tmp_path / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    special_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command)
    assert args[0] == "sepprof"
    shell = any(mark in args for mark in (">&-", ">/dev/full", "|"))
    run = run_in_shell(command, tmp_path) if shell else cli(*args[1:])
    assert run.code == code, run.err
    lines = (run.err.strip() or run.out.strip()).splitlines()
    assert lines, f"{what}: nothing printed"
    shown = lines[-1] if code else next((line for line in lines if matches(seen, line)), "")
    assert matches(seen, shown), f"{what}:\n  table: {seen}\n  saw:   {lines[-1]}"
    assert "Traceback" not in run.err
