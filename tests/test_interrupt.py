"""Ctrl-C exits 130 with one line and leaves no partial files."""

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def interrupt(args: list[str], after: float, cwd) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sepprof", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SEPPROF_CACHE_DIR": str(cwd)},
    )
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def test_ctrl_c_while_timing_exits_130(tmp_path):
    done = interrupt(["compare", "--cout", "64", "--size", "28", "--rounds", "500"], 5.0, tmp_path)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in done.stderr


def test_ctrl_c_during_report_leaves_nothing(tmp_path):
    done = interrupt(["report", "--quick", "--out", "rep"], 6.0, tmp_path)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    leftovers = [p.name for p in tmp_path.iterdir() if "rep" in p.name]
    assert leftovers == []
