"""Do printed intervals hold for the next run? K default compares in a row, each a fresh command.

For each run: the speedup, its 95% interval, whether it carried a verdict, its wall time. Then:
how many intervals contain the median of the other K-1 runs' speedups (the next run's view of
the truth), how many pairs of trusted intervals exclude each other, how many runs carried a
verdict. The drift store is the one the user's cache holds unless --fresh-cache gives every
run of this benchmark a new empty one (no drift learned) or --cache DIR a chosen one.

    python benchmarks/intervals.py                    # 12 default compares
    python benchmarks/intervals.py -k 6 -- --processes 1
    python benchmarks/intervals.py --markdown reports/intervals.md
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sepprof.environment import cpu_model

COMMAND = ["compare", "--k", "3", "--cout", "256", "--json"]


def one_run(extra: list[str], env: dict[str, str]) -> dict:
    """One fresh ``sepprof compare``: its speedup, interval, verdict and wall time."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "sepprof", *COMMAND, *extra],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"compare failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    doc = json.loads(proc.stdout)
    comp = doc["comparisons"][0]
    return {
        "threads": doc["environment"].get("threads"),
        "value": comp["speedup"]["cpu"],
        "low": comp["speedup_low"]["cpu"],
        "high": comp["speedup_high"]["cpu"],
        "trusted": comp["speedup_trusted"]["cpu"],
        "reason": comp["speedup_reason"]["cpu"],
        "drift": comp.get("speedup_drift", {}).get("cpu"),
        "wall": wall,
    }


def summary(runs: list[dict]) -> dict:
    """Coverage of the others' median, mutually exclusive trusted pairs, verdicts, wall."""
    covered = 0
    for i, r in enumerate(runs):
        others = statistics.median(o["value"] for j, o in enumerate(runs) if j != i)
        covered += r["low"] <= others <= r["high"]
    trusted = [r for r in runs if r["trusted"]]
    exclusive = sum(
        a["high"] < b["low"] or b["high"] < a["low"] for a, b in itertools.combinations(trusted, 2)
    )
    walls = [r["wall"] for r in runs]
    return {
        "runs": len(runs),
        "covered": covered,
        "verdicts": len(trusted),
        "exclusive_pairs": exclusive,
        "speedups": (min(r["value"] for r in runs), max(r["value"] for r in runs)),
        "wall": (min(walls), statistics.median(walls), max(walls)),
    }


def markdown(runs: list[dict], s: dict, extra: list[str]) -> str:
    """The run table and the summary, as reports/ keeps them."""
    lines = [
        f"`sepprof {' '.join(COMMAND + extra)}` x {s['runs']}, one fresh process each, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, on {platform.processor() or ''}"
        f"{cpu_model()} ({os.cpu_count()} cores).",
        "",
        "| run | threads | speedup | 95% interval | verdict | drift added | wall s |",
        "| ---: | ---: | ---: | --- | --- | --- | ---: |",
    ]
    for i, r in enumerate(runs, 1):
        drift = r["drift"] or {}
        added = f"±{1.96 * drift['sigma']:.1%}" if drift.get("sigma") is not None else "none yet"
        verdict = "yes" if r["trusted"] else r["reason"].split(":")[0]
        lines.append(
            f"| {i} | {r['threads']} | {r['value']:.2f}x | {r['low']:.2f}x-{r['high']:.2f}x | "
            f"{verdict} | {added} | {r['wall']:.1f} |"
        )
    lo, hi = s["speedups"]
    w = s["wall"]
    lines += [
        "",
        f"- intervals containing the other runs' median: **{s['covered']} of {s['runs']}**",
        f"- runs with a verdict: **{s['verdicts']} of {s['runs']}**",
        f"- pairs of trusted intervals that exclude each other: **{s['exclusive_pairs']}**",
        f"- speedups {lo:.2f}x-{hi:.2f}x ({hi / lo - 1:.1%} apart)",
        f"- wall per compare: {w[0]:.1f}-{w[2]:.1f} s (median {w[1]:.1f} s)",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-k", type=int, default=12, help="compares to run (default 12)")
    parser.add_argument("--fresh-cache", action="store_true", help="an empty drift store")
    parser.add_argument("--cache", help="SEPPROF_CACHE_DIR for the runs")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("extra", nargs="*", help="more compare flags (after --)")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.fresh_cache:
        env["SEPPROF_CACHE_DIR"] = tempfile.mkdtemp(prefix="sepprof-intervals-")
    elif args.cache:
        env["SEPPROF_CACHE_DIR"] = args.cache
    runs = []
    for i in range(args.k):
        runs.append(one_run(args.extra, env))
        r = runs[-1]
        print(
            f"run {i + 1}: {r['threads']} threads {r['value']:.2f}x "
            f"[{r['low']:.2f}, {r['high']:.2f}] "
            f"{'trusted' if r['trusted'] else r['reason'][:60]} {r['wall']:.1f} s",
            file=sys.stderr,
        )
    text = markdown(runs, summary(runs), args.extra)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
