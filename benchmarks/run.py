"""sepprof's speed goals, measured in one run; every number printed is computed from that run.

    python benchmarks/run.py                 # everything but the report timings
    python benchmarks/run.py --report        # also time `sepprof report` (--quick and full)
    python benchmarks/run.py --write reports/benchmarks.md
    python benchmarks/run.py --quick         # a tiny dry run: checks the script, not the goals

Run it on a quiet machine. Comparisons do the same work under the same conditions: the same
prebuilt module and input on both sides, in the same process, warmed up alike. Every row with a
goal says OK or OVER. Goals (from the issues): --help within 3x of importing typer+rich; compare
--no-time within 1.5x of importing torch+fvcore; an analytic network profile under 1 s; a traced
MobileNetV2 under 5 s; timing overhead (wall time / time inside timed calls) at most 1.2x a bare
Timer loop's; cross-process spread of the measured speedup at most 5%; default compare under
10 s; report --quick under 20 s and a full report under 2 minutes.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ROOT / "configs" / "networks"
SEPPROF = [sys.executable, "-m", "sepprof"]
LINES: list[str] = []


@dataclass(frozen=True)
class Scale:
    """How much work each section does: the full run, or a tiny dry run (``--quick``)."""

    repeat: int = 3
    networks: tuple[str, ...] = ("mobilenet_v1", "mobilenet_v2", "vgg16", "efficientnet_b0")
    channels: int = 256
    size: int = 56
    rounds: int = 5
    min_time: float = 0.05
    processes: int = 3


QUICK = Scale(1, ("mobilenet_v1",), 32, 14, 2, 0.005, 2)


def say(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


def check(value: float, goal: float) -> str:
    """OK when ``value`` is within its goal (an upper bound), OVER otherwise."""
    return "OK" if value <= goal else "OVER"


def wall(cmd: list[str], repeat: int) -> float:
    """Median wall-clock seconds of a command (fresh process each time)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def best(fn: Callable[[], object], repeat: int) -> float:
    """Fastest of ``repeat`` in-process calls, in seconds (after one untimed warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# Context for the --help goal (which is against `import typer, rich`): the same work without
# sepprof, as Typer renders a help page with Rich and imports typer.rich_utils to do it.
TYPER_HELP = """
import typer
app = typer.Typer()
@app.command()
def one(name: str = "x") -> None:
    "One command."
@app.command()
def two() -> None:
    "Another."
app(["--help"])
"""


def startup(scale: Scale) -> None:
    # Installed packages (typer, rich, torch) come with compiled bytecode; an editable sepprof
    # has none until first imported, and never where PYTHONDONTWRITEBYTECODE is set (as on the
    # development VM): compile it first, so both sides start from bytecode.
    compileall.compile_dir(ROOT / "sepprof", quiet=1)
    say(f"## Start-up (fresh processes, median of {scale.repeat}, bytecode compiled)\n")
    say("| what | sepprof | reference | ratio | goal |")
    say("| --- | ---: | ---: | ---: | --- |")
    typer_rich = wall([sys.executable, "-c", "import typer, rich"], scale.repeat)
    typer_help = wall([sys.executable, "-c", TYPER_HELP], scale.repeat)
    torch_fvcore = wall([sys.executable, "-c", "import torch, fvcore.nn"], scale.repeat)
    rows = (
        ("--help", ["--help"], typer_rich, "import typer, rich", 3.0),
        ("--help", ["--help"], typer_help, "a two-command Typer app's --help", None),
        ("compare --analytic", ["compare", "--analytic"], typer_rich, "import typer, rich", None),
        (
            "compare --no-time",
            ["compare", "--no-time"],
            torch_fvcore,
            "import torch, fvcore.nn",
            1.5,
        ),
        (
            "profile xception --analytic",
            ["profile", str(NETWORKS / "xception.yaml"), "--analytic"],
            typer_rich,
            "import typer, rich",
            None,
        ),
    )
    for label, args, ref, ref_name, goal in rows:
        ratio = wall([*SEPPROF, *args], scale.repeat) / ref
        mark = "" if goal is None else f"≤ {goal:g}x: {check(ratio, goal)}"
        say(
            f"| `sepprof {label}` | {ratio * ref:.3f} s | {ref_name} {ref:.3f} s | {ratio:.2f}x "
            f"| {mark} |"
        )
    say()


def counting(scale: Scale) -> None:
    import torch
    from fvcore.nn import FlopCountAnalysis

    from sepprof.count.costs import plan_cost
    from sepprof.count.trace import trace, trace_plan
    from sepprof.models.variants import build_block, build_plan, random_input
    from sepprof.spec.blocks import layer_variant
    from sepprof.spec.layer import LayerSpec, parse_variants
    from sepprof.spec.network import load_network

    say(f"## Counting (in process, fastest of {scale.repeat} after a warm-up)\n")
    say("| what | sepprof | reference | ratio | goal |")
    say("| --- | ---: | ---: | ---: | --- |")
    for name in scale.networks:
        path = NETWORKS / f"{name}.yaml"
        seconds = best(lambda path=path: plan_cost(load_network(path).plan()), scale.repeat)
        say(
            f"| analytic profile of {name} (load, propagate, count) | {seconds * 1e3:.1f} ms "
            f"| | | < 1 s: {check(seconds, 1.0)} |"
        )
    layer = LayerSpec(cout=scale.channels, size=scale.size)
    blocks = [layer_variant(layer, v) for v in parse_variants("standard,separable", layer)]
    modules = [build_block(b).eval() for b in blocks]
    x = random_input(1, blocks[0].inp)
    with torch.no_grad():
        ours = best(lambda: [trace(m, x) for m in modules], scale.repeat)
        fv = best(lambda: [_fvcore(FlopCountAnalysis, m, x) for m in modules], scale.repeat)
    say(
        f"| trace standard + separable, k=3 {scale.channels}ch {scale.size}² (same modules) "
        f"| {ours:.3f} s | fvcore alone {fv:.3f} s | {ours / fv:.2f}x | |"
    )
    plan = load_network(NETWORKS / "mobilenet_v2.yaml").plan()
    whole = best(lambda: trace_plan(plan, 1), scale.repeat)
    say(
        f"| traced profile of MobileNetV2 (build the module, trace, torch counter) "
        f"| {whole:.3f} s | | | < 5 s: {check(whole, 5.0)} |"
    )
    model = build_plan(plan).eval()
    x = random_input(1, plan.inp)
    with torch.no_grad():
        ours = best(lambda: trace(model, x), scale.repeat)
        fv = best(lambda: _fvcore(FlopCountAnalysis, model, x), scale.repeat)
    say(
        f"| trace MobileNetV2 (same prebuilt module) | {ours:.3f} s | fvcore alone {fv:.3f} s "
        f"| {ours / fv:.2f}x | |"
    )
    model_row(scale)
    ptflops_rows(model, plan_cost(plan), ours, scale)  # ends with a sentence, after the table
    say()


def model_row(scale: Scale) -> None:
    """Issue #12's goal: a traced ``profile --model`` of ResNet-50 at 224 (counting, no timing)
    takes no longer than fvcore's ``FlopCountAnalysis(...).total()`` alone, same model, same
    process."""
    import torch
    from fvcore.nn import FlopCountAnalysis

    from sepprof.commands.model_profile import profile_model
    from sepprof.models.model import ModelInputs

    sys.path.insert(0, str(ROOT / "tests"))
    from zoo import ResNet50

    size = 64 if scale == QUICK else 224
    model, x = ResNet50().eval(), torch.randn(1, 3, size, size)
    ours = best(lambda: profile_model(model, ModelInputs.of(x)), scale.repeat)
    with torch.no_grad():
        fv = best(lambda: _fvcore(FlopCountAnalysis, model, x), scale.repeat)
    say(
        f"| traced `profile --model` of ResNet-50 at {size}² (same prebuilt model) "
        f"| {ours:.3f} s | fvcore alone {fv:.3f} s | {ours / fv:.2f}x "
        f"| ≤ 1x: {check(ours / fv, 1.0)} |"
    )


def _fvcore(analysis: type, module: object, x: object) -> int:
    return analysis(module, (x,)).unsupported_ops_warnings(False).total()


def ptflops_rows(model: object, cost: object, ours: float, scale: Scale) -> None:
    """ptflops on the same prebuilt module: its time, and its MACs split by module type."""
    try:
        from ptflops import get_model_complexity_info
    except ImportError:
        say("| ptflops | not installed (`pip install ptflops`) | | | |")
        return
    from torch import nn

    leaves = {type(m) for m in model.modules() if not list(m.children())}

    def count(ignore: list[type]) -> int:
        macs, _ = get_model_complexity_info(
            model,
            (3, 224, 224),
            as_strings=False,
            print_per_layer_stat=False,
            verbose=False,
            backend="pytorch",
            ignore_modules=ignore,
        )
        return int(macs)

    pt = best(lambda: count([]), scale.repeat)
    say(
        f"| trace MobileNetV2 vs ptflops (same prebuilt module, both run a forward pass) "
        f"| {ours:.3f} s | ptflops {pt:.3f} s | {ours / pt:.2f}x | |"
    )
    total = count([])
    weights = count([t for t in leaves if not issubclass(t, nn.Conv2d | nn.Linear)])
    say(
        f"\nOn this MobileNetV2, ptflops (pytorch backend) reports {total / 1e6:.2f}M MACs: "
        f"{weights / 1e6:.2f}M in Conv2d/Linear modules and {(total - weights) / 1e6:.2f}M in "
        f"the other modules. sepprof counts {cost.macs / 1e6:.2f}M conv/linear MACs (ptflops' "
        f"Conv2d/Linear figure differs by {(weights - cost.macs) / 1e6:+.2f}M) and keeps "
        f"{cost.eltwise / 1e6:.2f}M elementwise ops apart under its own rule."
    )


def timing_overhead(scale: Scale) -> None:
    """Wall time over time inside timed calls, for sepprof's ``measure`` and a bare Timer loop
    on the same modules, input, threads and allocator, each run twice in turn (best kept)."""
    import torch
    from torch.utils.benchmark import Timer

    from sepprof.models.variants import build_block, random_input
    from sepprof.spec.blocks import layer_variant
    from sepprof.spec.layer import LayerSpec, parse_variants
    from sepprof.timing import timer as timing
    from sepprof.timing.options import default_threads

    timing.tune_allocator()
    layer = LayerSpec(cout=scale.channels // 2, size=scale.size // 2)
    blocks = [layer_variant(layer, v) for v in parse_variants("standard,separable", layer)]
    x = random_input(1, blocks[0].inp)
    items = {f"m{i}": (lambda m=build_block(b).eval(): m(x)) for i, b in enumerate(blocks)}
    threads = default_threads()
    inside = [0.0]
    block_runner = timing.run_block

    def counted_block(timer: Timer, number: int) -> float:
        seconds = block_runner(timer, number)
        inside[0] += seconds
        return seconds

    def ours() -> tuple[float, float]:
        inside[0] = 0.0
        start = time.perf_counter()
        timing.measure(
            items, device="cpu", n_threads=threads, rounds=scale.rounds, min_time=scale.min_time
        )
        return time.perf_counter() - start, inside[0]

    def bare() -> tuple[float, float]:
        start, timed = time.perf_counter(), 0.0
        with torch.inference_mode():
            for _ in range(scale.rounds):
                for fn in items.values():
                    m = Timer("fn()", globals={"fn": fn}, num_threads=threads).blocked_autorange(
                        min_run_time=scale.min_time
                    )
                    timed += sum(m.raw_times)
        return time.perf_counter() - start, timed

    timing.run_block = counted_block
    try:
        runs = {"bare": [], "ours": []}
        for _ in range(2):
            runs["bare"].append(bare())
            runs["ours"].append(ours())
    finally:
        timing.run_block = block_runner
    overhead = {k: min(w / t for w, t in v) for k, v in runs.items()}
    ratio = overhead["ours"] / overhead["bare"]
    say(
        f"## Timing overhead ({layer.cout}ch {layer.size}², {scale.rounds} rounds, "
        f"min time {scale.min_time} s, {threads} threads, best of 2 turns each)\n"
    )
    say("| what | wall | inside timed calls | overhead (wall / inside) |")
    say("| --- | ---: | ---: | ---: |")
    for name, label in (("ours", "sepprof `measure`"), ("bare", "bare `Timer.blocked_autorange`")):
        w, t = min(runs[name], key=lambda r: r[0] / r[1])
        say(f"| {label} | {w:.2f} s | {t:.2f} s | {w / t:.2f}x |")
    say(
        f"\nsepprof's overhead is {ratio:.2f}x the bare loop's (goal ≤ 1.2x: "
        f"{check(ratio, 1.2)}).\n"
    )


def spread(scale: Scale) -> None:
    """The speedup from separate processes: its within-process interval next to the spread
    across processes."""
    args = ["compare", "--json", "--cout", str(scale.channels), "--size", str(scale.size)]
    if scale is QUICK:
        args += ["--rounds", str(scale.rounds), "--min-time", str(scale.min_time)]
    say(
        f"## Measured speedup, k=3 {scale.channels}ch {scale.size}², {scale.processes} "
        "separate processes\n"
    )
    say("| run | speedup | within-process interval | wall (whole command) |")
    say("| --- | ---: | ---: | ---: |")
    values, halves, walls = [], [], []
    for i in range(1, scale.processes + 1):
        start = time.perf_counter()
        out = subprocess.run(
            [*SEPPROF, *args], check=True, capture_output=True, text=True, cwd=ROOT
        ).stdout
        walls.append(time.perf_counter() - start)
        comp = json.loads(out)["comparisons"][0]
        value, low, high = (
            comp.get(k, {}).get("cpu") for k in ("speedup", "speedup_low", "speedup_high")
        )
        if low is None or high is None:
            error = comp["speedup_error"]["cpu"]
            low, high = value - error, value + error
        values.append(value)
        halves.append((high - low) / 2 / value)
        say(f"| {i} | {value:.2f}x | {low:.2f}x–{high:.2f}x | {walls[-1]:.1f} s |")
    mid = statistics.median(values)
    across = (max(values) - min(values)) / mid
    within = statistics.median(halves)
    say(
        f"\nWithin one process the interval is ±{within:.1%} (median over runs); across "
        f"{scale.processes} processes the speedup ranged {min(values):.2f}x–{max(values):.2f}x, "
        f"a spread (max - min) / median of {across:.1%} (goal ≤ 5%: {check(across, 0.05)}), "
        f"{across / within if within else float('inf'):.1f}x the within-process half-width. "
        f"Slowest compare {max(walls):.1f} s (goal < 10 s: {check(max(walls), 10.0)}).\n"
    )


def report_times() -> None:
    import tempfile

    say("## Report\n")
    say("| command | wall | goal |")
    say("| --- | ---: | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for args, goal in ((["--quick"], 20.0), ([], 120.0)):
            start = time.perf_counter()
            subprocess.run(
                [*SEPPROF, "report", *args, "--out", f"{tmp}/r{len(args)}"],
                check=True,
                capture_output=True,
                cwd=ROOT,
            )
            seconds = time.perf_counter() - start
            say(
                f"| `sepprof report {' '.join(args)}` | {seconds:.1f} s | < {goal:g} s: "
                f"{check(seconds, goal)} |"
            )
    say()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="also time sepprof report")
    parser.add_argument("--runs", type=int, default=3, help="processes for the spread")
    parser.add_argument("--quick", action="store_true", help="tiny dry run (not for goals)")
    parser.add_argument("--write", type=Path, help="also write the tables to this markdown file")
    args = parser.parse_args()
    scale = QUICK if args.quick else Scale(processes=args.runs)
    from sepprof.environment import cpu_model, version

    say(
        f"# sepprof benchmarks\n\n{cpu_model()}, {os.cpu_count()} cores, torch "
        f"{version('torch')}, sepprof {version('sepprof')}, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}"
        f"{' (quick dry run: not a measurement of the goals)' if args.quick else ''}\n"
    )
    startup(scale)
    counting(scale)
    timing_overhead(scale)
    spread(scale)
    if args.report:
        report_times()
    if args.write:
        from sepprof.files import write_atomic

        write_atomic(args.write, "\n".join(LINES) + "\n")


if __name__ == "__main__":
    main()
