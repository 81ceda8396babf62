"""Ctrl-C exits 130 with one line and leaves no partial files; stdout is guarded: --json
prints only the document (user code's prints go to stderr), and a reader that goes away
(``| head``) ends the run quietly (closed and full stdout are rows of reports/bad-input.md)."""

import os
import signal
import subprocess
import sys
import threading

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


# Runs the real CLI, but says READY on stderr when timing starts: the first warm-up in this
# process, or the first worker process started.
READY = """
import sys
import sepprof.timing.timer as timing
import sepprof.timing.workers as workers
def once(module, name):
    original = getattr(module, name)
    def ready(*args, **kwargs):
        setattr(module, name, original)
        sys.stderr.write("READY\\n")
        sys.stderr.flush()
        return original(*args, **kwargs)
    setattr(module, name, ready)
once(timing, "warm_up")
once(workers, "_run_one")
from sepprof.cli import main
sys.argv = ["sepprof", *sys.argv[1:]]
main()
"""


def interrupt(args: list[str], cwd) -> subprocess.CompletedProcess:
    """Start sepprof, wait until it says timing has started, then send SIGINT."""
    proc = subprocess.Popen(
        [sys.executable, "-c", READY, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SEPPROF_CACHE_DIR": str(cwd)},
    )
    watchdog = threading.Timer(300, proc.kill)  # a hang fails the test instead of blocking
    watchdog.start()
    try:
        before = []
        for line in proc.stderr:
            if line.strip() == "READY":
                break
            before.append(line)
        else:
            pytest.fail("sepprof ended before timing started: " + "".join(before))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        watchdog.cancel()
    return subprocess.CompletedProcess(args, proc.returncode, out, "".join(before) + err)


@pytest.mark.parametrize("processes", ["1", "2"])
def test_ctrl_c_while_timing_exits_130(tmp_path, processes):
    """In this process or in a worker process (which the interrupt ends too)."""
    args = ["compare", "--cout", "64", "--size", "28", "--rounds", "500", "--processes", processes]
    done = interrupt(args, tmp_path)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in done.stderr


def test_ctrl_c_during_report_leaves_nothing(tmp_path):
    done = interrupt(["report", "--quick", "--repeat", "1", "--out", "rep"], tmp_path)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    leftovers = [p.name for p in tmp_path.iterdir() if "rep" in p.name]
    assert leftovers == []


NOISY = """
import warnings
from torch import nn
print("importing")


class Loud(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        print("forward")
        warnings.warn("careful")
        return self.conv(x)


def net():
    print("building")
    return Loud()
"""


def test_json_stdout_holds_only_the_document_when_user_code_prints(cli, tmp_path, monkeypatch):
    (tmp_path / "noisy.py").write_text(NOISY)
    monkeypatch.chdir(tmp_path)
    run = cli("profile", "--model", "noisy.py:net", "--input", "1,3,8,8", "--no-time", "--json")
    assert run.code == 0, run.err
    assert run.json()["schema"] == "sepprof.profile/1"
    for line in ("importing", "building", "forward"):
        assert line in run.err.splitlines()


def test_without_json_user_prints_stay_on_stdout(cli, tmp_path, monkeypatch):
    (tmp_path / "noisy.py").write_text(NOISY)
    monkeypatch.chdir(tmp_path)
    run = cli("profile", "--model", "noisy.py:net", "--input", "1,3,8,8", "--no-time")
    assert run.code == 0 and "building" in run.out.splitlines()


def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "sepprof", "sweep", "--analytic", "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "SEPPROF_CACHE_DIR": str(tmp_path)},
    )
    proc.stdout.close()  # like `| head -0`: nobody reads
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


def test_guarded_stdout_turns_write_errors_into_one_outcome():
    from sepprof.streams import Guarded, StdoutError, StdoutGone

    class Broken:
        def __init__(self, exc):
            self.exc = exc

        def write(self, text):
            raise self.exc

        flush = write

    with pytest.raises(StdoutGone):
        Guarded(Broken(BrokenPipeError(32, "Broken pipe"))).write("x")
    full = Guarded(Broken(OSError(28, "No space left on device")))
    with pytest.raises(StdoutError, match=r"stdout: cannot write \(No space left on device\)"):
        full.write("x")
    full.flush()  # after one error, nothing more is tried (one message only)
