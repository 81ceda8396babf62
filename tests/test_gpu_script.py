"""benchmarks/gpu.sh, the CUDA checks for a GPU machine: well-formed, checked here on CPU with its
dry run (every sepprof flag it uses must exist in that command's --help)."""

import re
import shlex
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu.sh"


@cache
def dry_run() -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), "--dry-run"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_dry_run_lists_every_cuda_check():
    run = dry_run()
    assert run.returncode == 0, run.stderr
    steps = [line for line in run.stdout.splitlines() if line.startswith("step: ")]
    commands = [line.split(": ", 2)[2] for line in steps]
    assert any("pytest" in c and "tests/test_cuda.py" in c for c in commands)
    assert any(" calibrate --device cuda" in c for c in commands)
    compares = [c for c in commands if " compare " in c and "--device cuda" in c]
    assert any("--dtype fp32" in c for c in compares)
    assert any("--dtype fp16" in c for c in compares)
    assert any("--memory-format channels_last" in c for c in compares)
    assert any(" report --device all" in c and "reports/gpu-" in c for c in commands)
    for model in ("mobilenet_v2", "efficientnet_b0"):  # the seed's GPU claim, per layer type
        assert any(f"--model torchvision.models:{model}" in c and "--device cuda" in c
                   for c in commands)  # fmt: skip
    assert "dry run: well-formed" in run.stdout


def test_every_flag_the_script_uses_exists(cli):
    for line in dry_run().stdout.splitlines():
        if " -m sepprof " not in line:
            continue
        args = shlex.split(line.split(" -m sepprof ", 1)[1])
        help_text = cli(args[0], "--help").out
        for flag in (a for a in args[1:] if a.startswith("--")):
            assert re.search(rf"{flag}\b", help_text), f"{args[0]} has no {flag}"


def test_unknown_argument_is_refused():
    run = subprocess.run(["bash", str(SCRIPT), "--bogus"], capture_output=True, text=True)
    assert run.returncode == 2 and "unknown argument" in run.stderr
