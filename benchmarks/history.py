"""How fast `sepprof history` answers on a large store. The goal of issue #25: under 2 s on a
store of 1,000 runs.

    python benchmarks/history.py                    # 1,000 runs in a temporary SQLite file
    python benchmarks/history.py --runs 200 --keep runs.db --plot chart.png

Writes a store of ``--runs`` synthetic runs (two budgets, each with MACs, params, bytes, a CPU
latency and speedup with 95% intervals; MACs step up once, latency drifts and steps once) through
sepprof's own store code, then times, in fresh processes (start-up included, as a user waits for
it), ``sepprof history`` with its default metric, with ``--changes --json``, with ``--metric
latency`` alone and with ``--changes`` (which loads ruptures and SciPy), and with ``--last 50
--plot``. Prints each wall time
and whether it is under 2 s. The numbers are made up; only the time is measured.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 2.0


def synthetic_run(i: int, n: int, rng: random.Random):
    """Run ``i`` of ``n``: MACs step up at 60%, latency steps up 10% at 80% (with noise)."""
    from sepprof.results.runs import BudgetRun, Machine, Run, Value

    machine = Machine("AMD EPYC (benchmark)", 2, "2.13.0", "cpu")
    budgets = []
    for name, macs in (("mobilenet", 568_740_352), ("layers", 41_984)):
        macs = macs * (1.3 if i >= 0.6 * n else 1.0)
        latency = 12.0 * (1.1 if i >= 0.8 * n else 1.0) + rng.gauss(0, 0.15)
        speedup = 3.1 + rng.gauss(0, 0.05)
        metrics = {
            "macs": Value(round(macs), limit=800e6, status="pass"),
            "params": Value(4_231_976, limit=4.5e6, status="pass"),
            "bytes": Value(round(macs / 20)),
            "latency_ms.cpu": Value(latency, latency - 0.3, latency + 0.3, 60.0, "pass"),
            "speedup.cpu": Value(speedup, speedup - 0.1, speedup + 0.1, 2.0, "pass"),
        }
        budgets.append(BudgetRun(name, f"{name}.yaml", None, "pass", metrics))
    created = f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}+00:00"
    commit = hashlib.sha1(str(i).encode()).hexdigest()
    return Run(commit, "main", created, machine, "0.1.0", "budgets.yaml", True, tuple(budgets))


def fill(store: str, runs: int) -> None:
    from sepprof.history.records import append
    from sepprof.history.store import open_store

    rng = random.Random(25)
    opened = open_store(store, create=True)
    try:
        with opened.writing() as conn:
            for i in range(runs):
                append(conn, synthetic_run(i, runs, rng))
    finally:
        opened.close()


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sepprof", *args], capture_output=True, text=True, timeout=120
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sepprof {' '.join(args)} failed: {done.stderr}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="Write the store here (default: a temp file).")
    parser.add_argument("--plot", type=Path, help="Also keep the --last 50 chart here.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sepprof-history-"))
    store = str(args.keep or folder / "runs.db")
    start = time.perf_counter()
    fill(store, args.runs)
    print(f"wrote {args.runs} runs in {time.perf_counter() - start:.2f} s to {store}")
    chart = str(args.plot or folder / "chart.png")
    cases = [
        ["history", "--history", store],
        ["history", "--history", store, "--changes", "--json"],
        ["history", "--history", store, "--metric", "latency"],
        ["history", "--history", store, "--metric", "latency", "--changes"],
        ["history", "--history", store, "--last", "50", "--plot", chart],
    ]
    timed(cases[0])  # warm the file cache and the bytecode once
    for case in cases:
        best = min(timed(case) for _ in range(3))
        verdict = "OK" if best < GOAL_S else "OVER"
        print(f"{best:6.2f} s  {verdict:4}  sepprof {' '.join(case).replace(store, 'STORE')}")


if __name__ == "__main__":
    main()
