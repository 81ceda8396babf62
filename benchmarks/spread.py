"""Is a speedup the same from one `sepprof compare` to the next? The goal of issue #13.

    python benchmarks/spread.py                  # 3 invocations each of --processes 1 and 3
    python benchmarks/spread.py --runs 5 --processes 1 3 5 --write reports/spread.md
    python benchmarks/spread.py --tiny           # a dry run: checks the script, not the goal
    python benchmarks/spread.py --hog            # the same under a one-core CPU hog
    python benchmarks/spread.py --floor          # this machine's own drift (see below)

Runs the k=3, 256-channel, 56x56 worked example in separate `sepprof compare --json` processes,
one setting of --processes after another, and reports for each setting: every run's speedup, its
within-process 95% interval, whether it was trusted, the threads it used, others' CPU during
timing and the wall time; then the spread across runs, (max - min) / median (goal <= 5%), and the
slowest run (goal < 10 s for the default). Run it on a quiet machine: contended runs are
counted but marked, and a spread measured with any of them says so.

``--hog`` checks the other goal of #13: with one core kept busy by another process, a default
compare either gives, at the thread count it chose, a speedup within 15% of a quiet run at that
thread count, or withholds the verdict; never a confident wrong one.

``--floor`` measures the part of the spread no setting of sepprof can remove: the worked
example's standard and separable modules are built once, in this one process, and timed with
sepprof's own ``timing.measure`` (paired rounds, the compare default of 7 rounds, then 3x and 7x
as many) several times back to back. Nothing changes between those measurements but time, so
their spread is the machine's drift over that many seconds; when it exceeds 5% at the seconds a
10-second compare can spend on timing, the goal is below this machine's noise floor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKED = ["--k", "3", "--cout", "256", "--size", "56"]
TINY = ["--k", "3", "--cout", "16", "--size", "8", "--rounds", "3", "--min-time", "0.002"]
LINES: list[str] = []


@dataclass(frozen=True)
class Run:
    """One `sepprof compare` invocation's speedup on the CPU and its conditions."""

    speedup: float
    low: float | None
    high: float | None
    trusted: bool
    threads: int
    others: float | None
    wall: float


def say(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


def one_run(layer: list[str], repeat: int) -> Run:
    """Run `sepprof compare --json` once in a new process and read its first comparison."""
    cmd = [sys.executable, "-m", "sepprof", "compare", *layer, "--processes", str(repeat), "--json"]
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    wall = time.perf_counter() - start
    doc = json.loads(out)
    comp, env = doc["comparisons"][0], doc["environment"]
    return Run(
        comp["speedup"]["cpu"],
        comp.get("speedup_low", {}).get("cpu"),
        comp.get("speedup_high", {}).get("cpu"),
        comp.get("speedup_trusted", {}).get("cpu", True),
        env.get("threads", 0),
        (env.get("other_cpu_cores") or {}).get("during"),
        wall,
    )


def setting(layer: list[str], repeat: int, runs: int) -> tuple[float, float, bool]:
    """Every run of one --processes setting as table rows; returns (spread, slowest, all quiet)."""
    say(f"### --processes {repeat}, {runs} separate invocations\n")
    say("| run | speedup | 95% interval | trusted | threads | others' CPU | wall |")
    say("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
    done = []
    for i in range(1, runs + 1):
        r = one_run(layer, repeat)
        done.append(r)
        interval = f"{r.low:.2f}x–{r.high:.2f}x" if r.low and r.high else "—"
        others = f"{r.others:.2f}" if r.others is not None else "—"
        say(
            f"| {i} | {r.speedup:.2f}x | {interval} | {'yes' if r.trusted else 'no'} | "
            f"{r.threads} | {others} | {r.wall:.1f} s |"
        )
    spread = _spread([r.speedup for r in done])
    slowest = max(r.wall for r in done)
    quiet = all(r.trusted for r in done)
    say(
        f"\nSpread (max - min) / median: {spread:.1%} (goal ≤ 5%: "
        f"{'OK' if spread <= 0.05 else 'OVER'}); slowest {slowest:.1f} s"
        f"{'' if quiet else '; some runs were untrusted (contended or unstable)'}.\n"
    )
    return spread, slowest, quiet


def under_hog(layer: list[str], runs: int) -> None:
    """Default compares while a busy loop holds one core, against quiet runs at the threads
    they chose: each must be within 15% of the quiet median or untrusted."""
    say("### Under a one-core CPU hog\n")
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        loaded = [one_run(layer, 1) for _ in range(runs)]
    finally:
        hog.kill()
        hog.wait()
    time.sleep(1.0)
    threads = loaded[0].threads
    quiet = statistics.median(
        one_run([*layer, "--threads", str(threads)], 1).speedup for _ in range(runs)
    )
    say(f"Quiet median at {threads} thread(s): {quiet:.2f}x\n")
    say("| run | speedup | trusted | threads | others' CPU | off the quiet median | verdict |")
    say("| --- | ---: | --- | ---: | ---: | ---: | --- |")
    for i, r in enumerate(loaded, 1):
        off = abs(r.speedup / quiet - 1)
        ok = not r.trusted or off <= 0.15
        others = f"{r.others:.2f}" if r.others is not None else "—"
        say(
            f"| {i} | {r.speedup:.2f}x | {'yes' if r.trusted else 'no'} | {r.threads} | "
            f"{others} | {off:.1%} | {'OK' if ok else 'CONFIDENT AND WRONG'} |"
        )
    say()


def floor(tiny: bool, count: int) -> None:
    """Back-to-back measurements of the same prebuilt modules in this process, at 7, 21 and 49
    rounds: their speedups' spread, the mean spread of three consecutive ones ("3 in a row", what
    three invocations would see at best) and the cores other processes used meanwhile."""
    from sepprof.cli_options import SHARED
    from sepprof.results import Speedup
    from sepprof.spec.blocks import layer_variant
    from sepprof.spec.layer import LayerSpec, parse_variant
    from sepprof.timing.contention import others_between, sample
    from sepprof.timing.measure import block_items
    from sepprof.timing.options import TimingOptions, default_threads
    from sepprof.timing.timer import measure, tune_allocator

    tune_allocator()
    spec = LayerSpec(k=3, cout=16, size=8) if tiny else LayerSpec(k=3, cout=256, size=56)
    opts = TimingOptions(min_time=SHARED["min_time"][1].default)  # the CLI's, as compare times
    items = {}  # built once: what a compare times for each variant, without its stages
    for variant in ("standard", "separable"):
        block = layer_variant(spec, parse_variant(variant))
        items.update(block_items(block, 1, "cpu", opts, stages=False))
    threads = default_threads()
    say(f"### The machine's own drift: the same modules, one process, {threads} thread(s)\n")
    say("| rounds | seconds each | speedups, in order | spread | 3 in a row | others' CPU |")
    say("| ---: | ---: | --- | ---: | ---: | ---: |")
    for rounds in (2, 5, 10) if tiny else (7, 21, 49):
        values, seconds, before = [], [], sample()
        for _ in range(count):
            start = time.perf_counter()
            lat = measure(
                items, device="cpu", n_threads=threads, rounds=rounds, min_time=opts.min_time
            )
            seconds.append(time.perf_counter() - start)
            values.append(Speedup.of(lat["standard"], lat["separable"]).value)
        threes = [values[i : i + 3] for i in range(len(values) - 2)]
        in_a_row = statistics.mean(_spread(t) for t in threes) if threes else _spread(values)
        others = others_between(before, sample())
        say(
            f"| {rounds} | {statistics.median(seconds):.1f} s | "
            f"{', '.join(f'{v:.2f}x' for v in values)} | {_spread(values):.1%} | {in_a_row:.1%} | "
            f"{'—' if others is None else f'{others:.2f}'} |"
        )
    say(
        "\nA compare's speedup cannot be steadier than the same modules timed for as long in "
        "one process: where the '3 in a row' column is over 5% at the seconds a default "
        "compare spends timing, no --processes within the time goal reaches the spread goal on "
        "this machine.\n"
    )


def _spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="invocations per setting")
    parser.add_argument(
        "--processes", dest="repeat", type=int, nargs="+", default=[1, 3], help="settings to try"
    )
    parser.add_argument("--tiny", action="store_true", help="a dry run on a tiny layer")
    parser.add_argument("--hog", action="store_true", help="also run under a one-core CPU hog")
    parser.add_argument("--floor", action="store_true", help="also measure the machine's drift")
    parser.add_argument("--write", type=Path, help="also write the tables to this markdown file")
    args = parser.parse_args()
    layer = TINY if args.tiny else WORKED
    say(f"## Cross-process spread of the speedup: compare {' '.join(layer)}\n")
    if args.floor:
        floor(args.tiny, max(args.runs, 3) * 2)
    if args.hog:
        under_hog(layer, args.runs)
    results = {repeat: setting(layer, repeat, args.runs) for repeat in args.repeat}
    passing = [r for r, (spread, _, quiet) in results.items() if spread <= 0.05 and quiet]
    say(
        f"Smallest --processes within the goal: {min(passing)}"
        if passing
        else "No setting reached the goal on this machine."
    )
    if args.write:
        args.write.write_text("\n".join(LINES) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
