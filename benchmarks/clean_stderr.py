"""A default ``compare`` on this interpreter's torch writes nothing to stderr but its progress.

Meant for the newest torch (a CUDA build on a machine without a GPU, where torch and fvcore
used to print a FutureWarning and "No CUDA runtime is found"): run it with that venv's python.

    /path/to/venv/bin/python benchmarks/clean_stderr.py
"""

from __future__ import annotations

import subprocess
import sys

COMMANDS = (
    ["compare", "--k", "3", "--cout", "256"],
    ["compare", "--k", "3", "--cout", "64", "--size", "14", "--json"],
)


def main() -> int:
    import torch

    version = sys.version.split()[0]
    print(f"torch {torch.__version__} (CUDA build: {torch.version.cuda}), python {version}")
    failed = 0
    for args in COMMANDS:
        proc = subprocess.run(
            [sys.executable, "-m", "sepprof", *args], capture_output=True, text=True, check=False
        )
        # stderr is a pipe here, so no progress bars are drawn: anything on it is noise
        verdict = "clean" if proc.returncode == 0 and not proc.stderr.strip() else "NOT CLEAN"
        failed += verdict != "clean"
        print(f"sepprof {' '.join(args)}: exit {proc.returncode}, stderr {verdict}")
        if proc.stderr.strip():
            print("  " + proc.stderr.strip().replace("\n", "\n  "))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
