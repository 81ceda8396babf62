"""sepprof's speed goals, measured in one run and printed as ratios (this machine is noisy, so
ratios of things measured side by side are what can be compared between runs).

    python benchmarks/run.py                 # everything but the report timings
    python benchmarks/run.py --report        # also time `sepprof report` (--quick and full)
    python benchmarks/run.py --write reports/benchmarks.md

Goals (from the issues): --help within 3x of importing typer+rich; compare --no-time within 1.5x
of importing torch+fvcore; analytic profile of any reference network well under a second;
traced MobileNetV2 in a few seconds; timing overhead <= 1.2x a bare Timer loop; run-to-run
spread of the measured speedup <= 5%; default compare under 10 s; report --quick under 20 s and
a full report under 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ROOT / "configs" / "networks"
SEPPROF = [sys.executable, "-m", "sepprof"]
LINES: list[str] = []


def say(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


def wall(cmd: list[str], repeat: int = 3) -> float:
    """Median wall-clock seconds of a command (fresh process each time)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    """Fastest of ``repeat`` in-process calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def ratio_line(name: str, ours: float, ref: float, goal: float | None, ref_name: str) -> None:
    r = ours / ref
    verdict = "" if goal is None else (" ok" if r <= goal else f" OVER the {goal}x goal")
    say(f"| {name} | {ours:.3f} s | {ref_name} {ref:.3f} s | {r:.2f}x |{verdict} |")


def startup() -> None:
    say("## Start-up (fresh processes, median of 3)\n")
    say("| what | sepprof | reference | ratio | goal |")
    say("| --- | ---: | ---: | ---: | --- |")
    typer_rich = wall([sys.executable, "-c", "import typer, rich"])
    torch_fvcore = wall([sys.executable, "-c", "import torch, fvcore.nn"])
    ratio_line(
        "`sepprof --help`", wall([*SEPPROF, "--help"]), typer_rich, 3.0, "import typer, rich"
    )
    ratio_line(
        "`compare --analytic`",
        wall([*SEPPROF, "compare", "--analytic"]),
        typer_rich,
        None,
        "import typer, rich",
    )
    ratio_line(
        "`compare --no-time` (traced)",
        wall([*SEPPROF, "compare", "--no-time"]),
        torch_fvcore,
        1.5,
        "import torch, fvcore.nn",
    )
    ratio_line(
        "`profile xception --analytic`",
        wall([*SEPPROF, "profile", str(NETWORKS / "xception.yaml"), "--analytic"]),
        typer_rich,
        None,
        "import typer, rich",
    )
    say()


def analytic_and_tracing() -> None:
    import torch
    from fvcore.nn import FlopCountAnalysis

    from sepprof.blocks import layer_variant
    from sepprof.costs import plan_cost
    from sepprof.network import load_network
    from sepprof.spec import LayerSpec, parse_variants
    from sepprof.trace import trace_block, trace_plan
    from sepprof.variants import build_block, build_plan

    say("## Counting (in process, fastest of 3; ratio = sepprof / reference, under 1 is faster)\n")
    say("| what | sepprof | reference | ratio |")
    say("| --- | ---: | ---: | ---: |")
    for name in ("mobilenet_v1", "mobilenet_v2", "vgg16", "efficientnet_b0", "xception"):
        seconds = best(lambda name=name: plan_cost(load_network(NETWORKS / f"{name}.yaml").plan()))
        say(
            f"| analytic profile of {name} (load, propagate, count) | {seconds * 1e3:.1f} ms | "
            "goal: well under 1 s | |"
        )
    layer = LayerSpec()
    blocks = [layer_variant(layer, v) for v in parse_variants("standard,separable", layer)]
    x = torch.randn(1, 256, 56, 56)
    ours = best(lambda: [trace_block(b, 1) for b in blocks])
    direct = best(
        lambda: [
            FlopCountAnalysis(build_block(b), (x,)).unsupported_ops_warnings(False).total()
            for b in blocks
        ]
    )
    say(
        f"| traced compare k=3 256ch (fvcore + torch counter, per stage) | {ours:.3f} s | "
        f"fvcore alone {direct:.3f} s | {ours / direct:.2f}x |"
    )
    plan = load_network(NETWORKS / "mobilenet_v2.yaml").plan()
    ours = best(lambda: trace_plan(plan, 1))
    model = build_plan(plan)
    x = torch.randn(1, 3, 224, 224)
    fv = best(lambda: FlopCountAnalysis(model, (x,)).unsupported_ops_warnings(False).total())
    say(
        f"| traced profile of MobileNetV2 (build, fvcore, torch counter) | {ours:.3f} s | "
        f"fvcore alone {fv:.3f} s | {ours / fv:.2f}x |"
    )
    try:
        from ptflops import get_model_complexity_info
    except ImportError:
        say("| ptflops | not installed (`pip install ptflops`) | | |")
    else:

        def run_ptflops() -> object:
            return get_model_complexity_info(
                model, (3, 224, 224), as_strings=False, print_per_layer_stat=False, verbose=False
            )

        pt = best(run_ptflops)
        macs, params = run_ptflops()
        say(
            f"| traced profile of MobileNetV2 vs ptflops on the same module | {ours:.3f} s | "
            f"ptflops {pt:.3f} s | {ours / pt:.2f}x |"
        )
        analytic = best(lambda: plan_cost(load_network(NETWORKS / "mobilenet_v2.yaml").plan()))
        say(
            f"| analytic profile of MobileNetV2 (YAML to counts) vs ptflops | {analytic:.3f} s | "
            f"ptflops {pt:.3f} s | {analytic / pt:.2f}x |"
        )
        cost = plan_cost(plan)
        say(
            f"\nOn this MobileNetV2, ptflops reports {macs / 1e6:.2f}M MACs and {params:,} "
            f"params; sepprof counts {cost.macs / 1e6:.2f}M conv/linear MACs plus "
            f"{cost.eltwise / 1e6:.2f}M elementwise ops (kept apart) and {cost.all_params:,} "
            "params. The difference is the elementwise work ptflops folds into its MACs.\n"
        )
    say()


def timing_overhead() -> None:
    import torch
    from torch.utils.benchmark import Timer

    from sepprof.blocks import layer_variant
    from sepprof.options import default_threads
    from sepprof.spec import LayerSpec, parse_variants
    from sepprof.timing import measure, tune_allocator
    from sepprof.variants import build_block

    tune_allocator()
    layer = LayerSpec(cout=128, size=28)
    modules = [
        build_block(layer_variant(layer, v)) for v in parse_variants("standard,separable", layer)
    ]
    x = torch.randn(1, 128, 28, 28)
    items = {f"m{i}": (lambda m=m: m(x)) for i, m in enumerate(modules)}
    threads = default_threads()
    rounds, min_time = 5, 0.05
    start = time.perf_counter()
    with torch.inference_mode():
        ours = measure(items, device="cpu", n_threads=threads, rounds=rounds, min_time=min_time)
    ours_wall = time.perf_counter() - start
    calls = sum(lat.runs for lat in ours.values())
    start = time.perf_counter()
    bare_calls = 0
    with torch.inference_mode():
        for _ in range(rounds):
            for fn in items.values():
                m = Timer("fn()", globals={"fn": fn}, num_threads=threads).blocked_autorange(
                    min_run_time=min_time
                )
                bare_calls += m.number_per_run * len(m.raw_times)
    bare_wall = time.perf_counter() - start
    per_call_ours = ours_wall / calls
    per_call_bare = bare_wall / bare_calls
    say("## Timing overhead (same modules, same rounds)\n")
    say("| what | wall | calls timed | wall per timed call |")
    say("| --- | ---: | ---: | ---: |")
    say(f"| sepprof `measure` | {ours_wall:.2f} s | {calls} | {per_call_ours * 1e3:.3f} ms |")
    say(
        f"| bare `Timer.blocked_autorange` | {bare_wall:.2f} s | {bare_calls} | "
        f"{per_call_bare * 1e3:.3f} ms |"
    )
    say(
        f"\nOverhead per timed call: {per_call_ours / per_call_bare:.2f}x the bare loop "
        "(goal <= 1.2x).\n"
    )


def spread(runs: int = 3) -> None:
    say(f"## Measured speedup, k=3 256ch 56x56, {runs} separate processes\n")
    values, walls = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(
            [*SEPPROF, "compare", "--json"], check=True, capture_output=True, text=True, cwd=ROOT
        ).stdout
        walls.append(time.perf_counter() - start)
        values.append(json.loads(out)["comparisons"][0]["speedup"]["cpu"])
    mid = statistics.median(values)
    say("| run | speedup | wall (whole command) |")
    say("| --- | ---: | ---: |")
    for i, (v, w) in enumerate(zip(values, walls, strict=True), 1):
        say(f"| {i} | {v:.2f}x | {w:.1f} s |")
    say(
        f"\nSpread (max - min) / median: {(max(values) - min(values)) / mid:.1%} (goal <= 5%); "
        f"slowest default compare {max(walls):.1f} s (goal < 10 s).\n"
    )


def report_times() -> None:
    import tempfile

    say("## Report\n")
    say("| command | wall | goal |")
    say("| --- | ---: | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for args, goal in ((["--quick"], "< 20 s"), ([], "< 120 s")):
            start = time.perf_counter()
            subprocess.run(
                [*SEPPROF, "report", *args, "--out", f"{tmp}/r{len(args)}"],
                check=True,
                capture_output=True,
                cwd=ROOT,
            )
            say(
                f"| `sepprof report {' '.join(args)}` | {time.perf_counter() - start:.1f} s "
                f"| {goal} |"
            )
    say()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="also time sepprof report")
    parser.add_argument("--runs", type=int, default=3, help="processes for the spread")
    parser.add_argument("--write", type=Path, help="also write the tables to this markdown file")
    args = parser.parse_args()
    from sepprof.environment import cpu_model, version

    say(
        f"# sepprof benchmarks\n\n{cpu_model()}, {os.cpu_count()} cores, torch "
        f"{version('torch')}, sepprof {version('sepprof')}, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}\n"
    )
    startup()
    analytic_and_tracing()
    timing_overhead()
    spread(args.runs)
    if args.report:
        report_times()
    if args.write:
        from sepprof.files import write_atomic

        write_atomic(args.write, "\n".join(LINES) + "\n")


if __name__ == "__main__":
    main()
