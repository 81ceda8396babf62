"""Two views of per-layer time, side by side in one process (issue #28): the replay view (each
layer called alone on the inputs it got in the model, timed in paired rounds:
``commands.model_profile.profile_model``) and the profiler view (torch.profiler's op self time
attributed to the module that ran it: ``timing.op_profiler.profile_layers``).

Per model: a table per layer (replay ms, profiler self ms, their ratio, op events per call, and
the difference per op event), then the layers grouped by size (replay time under 0.1 ms,
0.1-1 ms, 1 ms and over) with the ratio of the summed times, and the whole network as each view
saw it. The profiler runs twice, before and after the replay, and its rounds are pooled, so a
drift of the machine during the replay falls on both sides alike. Plain CNNs from
``examples/models.py`` (torch only) and MobileNetV2 when torchvision is importable:

    nice -n 19 /tmp/venv214/bin/python benchmarks/profiler_vs_replay.py \\
        --markdown reports/profiler-vs-replay.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

BINS = ((0.0, 0.1, "< 0.1 ms"), (0.1, 1.0, "0.1-1 ms"), (1.0, float("inf"), ">= 1 ms"))


def cases() -> list[tuple[str, Callable[[], Any], tuple[int, ...]]]:
    """(label, factory, input shape): two plain CNNs, and MobileNetV2 where torchvision is."""
    from models import resnet18_like, vgg_like

    out: list[tuple[str, Callable[[], Any], tuple[int, ...]]] = [
        ("vgg_like(width=32) 1x3x64x64", lambda: vgg_like(width=32), (1, 3, 64, 64)),
        ("resnet18_like 1x3x112x112", resnet18_like, (1, 3, 112, 112)),
    ]
    try:
        from torchvision.models import mobilenet_v2
    except ImportError:
        print("torchvision not importable: MobileNetV2 left out", file=sys.stderr)
    else:
        out.append(("mobilenet_v2 1x3x224x224", mobilenet_v2, (1, 3, 224, 224)))
    return out


def compare(model: Any, shape: tuple[int, ...], threads: int, rounds: int, min_time: float):
    """Both views of one model: per-layer rows and the whole network's numbers."""
    import torch

    from sepprof.commands.layer_times import FORWARD_OPS, leaf_targets
    from sepprof.commands.model_profile import count_model, profile_model
    from sepprof.models.model import ModelInputs
    from sepprof.timing.op_profiler import MODEL, UNATTRIBUTED, profile_layers
    from sepprof.timing.options import TimingOptions

    torch.manual_seed(0)
    inputs = ModelInputs((torch.randn(shape),))
    timing = TimingOptions(threads=threads, rounds=rounds, min_time=min_time, processes=1)
    model.eval()

    def profiler(targets: list[str]) -> dict[str, dict[str, Any]]:
        return profile_layers(model, inputs, targets, "cpu", "fp32", "contiguous", threads, rounds)

    leaves = leaf_targets(count_model(model, inputs, trace=False))  # what the replay will time
    before = profiler(leaves)
    replay = profile_model(model, inputs, trace=False, timing=timing)
    rows = [r for r in replay.layers if "cpu" in r.latency_ms and r.detail != FORWARD_OPS]
    targets = [r.name for r in rows]
    if targets != leaves:  # the replay merged some rows into groups: profile those instead
        before = profiler(targets)
    after = profiler(targets)

    def pooled(key: str, field: str = "rounds_ms") -> float:
        return statistics.median(before[key][field] + after[key][field])

    layers = []
    for r in rows:
        replay_ms = r.latency_ms["cpu"].median
        prof_ms = pooled(r.name)
        ops = after[r.name]["ops"]
        layers.append(
            {
                "name": r.name,
                "kind": r.kind,
                "replay": replay_ms,
                "profiler": prof_ms,
                "ratio": prof_ms / replay_ms if replay_ms else None,
                "ops": ops,
                "per_op_us": 1e3 * (prof_ms - replay_ms) / ops if ops else None,
            }
        )
    whole = {
        "replay_whole": replay.totals.latency_ms["cpu"].median,
        "replay_sum": sum(x["replay"] for x in layers),
        "profiler_ops": pooled(MODEL, "ops_ms"),
        "profiler_sum": sum(x["profiler"] for x in layers),
        "unattributed": pooled(UNATTRIBUTED),
        "profiler_wall": pooled(MODEL),
        "ops": sum(entry.get("ops", 0) for key, entry in after.items() if key != MODEL),
        "wall_before": before[MODEL]["latency"].median,
        "wall_after": after[MODEL]["latency"].median,
        "threads": replay.environment.get("threads"),
        "contended": [n for n in replay.notes if "contend" in n],
    }
    return layers, whole


def by_size(layers: list[dict]) -> list[dict]:
    out = []
    for low, high, label in BINS:
        group = [x for x in layers if low <= x["replay"] < high]
        if not group:
            continue
        replay_sum = sum(x["replay"] for x in group)
        prof_sum = sum(x["profiler"] for x in group)
        ratios = [x["ratio"] for x in group if x["ratio"] is not None]
        per_op = [x["per_op_us"] for x in group if x["per_op_us"] is not None]
        out.append(
            {
                "size": label,
                "layers": len(group),
                "replay": replay_sum,
                "profiler": prof_sum,
                "ratio": prof_sum / replay_sum if replay_sum else None,
                "median_ratio": statistics.median(ratios) if ratios else None,
                "ops": statistics.median(x["ops"] for x in group),
                "per_op_us": statistics.median(per_op) if per_op else None,
            }
        )
    return out


def _f(value: float | None, fmt: str = ".3f") -> str:
    return "—" if value is None else format(value, fmt)


def model_section(label: str, layers: list[dict], whole: dict) -> list[str]:
    lines = [
        f"## {label}",
        "",
        "| replay time of the layer | layers | replay ms (sum) | profiler self ms (sum) | "
        "profiler / replay (of sums) | median per-layer ratio | median ops per call | "
        "median (profiler - replay) per op, µs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for b in by_size(layers):
        lines.append(
            f"| {b['size']} | {b['layers']} | {b['replay']:.3f} | {b['profiler']:.3f} | "
            f"{_f(b['ratio'], '.2f')} | {_f(b['median_ratio'], '.2f')} | {b['ops']:.0f} | "
            f"{_f(b['per_op_us'], '+.1f')} |"
        )
    lines += [
        "",
        "| kind | layers | replay ms | profiler self ms | profiler / replay | replay share | "
        "profiler share |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    replay_all = sum(x["replay"] for x in layers) or 1.0
    prof_all = sum(x["profiler"] for x in layers) or 1.0
    for kind in dict.fromkeys(x["kind"] for x in layers):
        group = [x for x in layers if x["kind"] == kind]
        replay = sum(x["replay"] for x in group)
        prof = sum(x["profiler"] for x in group)
        lines.append(
            f"| {kind} | {len(group)} | {replay:.3f} | {prof:.3f} | "
            f"{_f(prof / replay if replay else None, '.2f')} | {100 * replay / replay_all:.1f}% | "
            f"{100 * prof / prof_all:.1f}% |"
        )
    w = whole
    lines += [
        "",
        f"Whole network: replay view {w['replay_whole']:.2f} ms timed whole, its layers "
        f"{w['replay_sum']:.2f} ms summed; profiler view: layers {w['profiler_sum']:.2f} ms "
        f"+ unattributed {w['unattributed']:.3f} ms (all ops' self time "
        f"{w['profiler_ops']:.2f} ms), wall time under the profiler {w['profiler_wall']:.2f} ms "
        f"(before the replay {w['wall_before']:.2f} ms, after {w['wall_after']:.2f} ms); "
        f"{w['threads']} thread(s)."
        + (f" Contention: {'; '.join(w['contended'])}" if w["contended"] else ""),
        "",
        "<details><summary>per layer</summary>",
        "",
        "| layer | kind | replay ms | profiler self ms | profiler / replay | ops per call | "
        "(profiler - replay) per op, µs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for x in layers:
        lines.append(
            f"| {x['name']} | {x['kind']} | {x['replay']:.4f} | {x['profiler']:.4f} | "
            f"{_f(x['ratio'], '.2f')} | {x['ops']:.0f} | {_f(x['per_op_us'], '+.1f')} |"
        )
    lines += ["", "</details>", ""]
    return lines


def machine() -> str:
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                        name)  # fmt: skip
    except OSError:
        pass
    return f"{os.cpu_count()}-core {name} VM"


def header(args: argparse.Namespace) -> list[str]:
    import torch

    return [
        "# Per-layer times: the profiler view against the replay view (issue #28)",
        "",
        f"Machine: {machine()}; torch {torch.__version__}, Python {platform.python_version()}; "
        f"{datetime.date.today().isoformat()}; {args.threads} thread(s), fp32, contiguous. Made "
        "by `benchmarks/profiler_vs_replay.py`, both views in one process: the replay view "
        f"(`profile_model`: each layer alone on its recorded inputs, {args.rounds} paired "
        f"rounds, {args.min_time} s per layer per round, 1 process) and the profiler view "
        f"(`timing.op_profiler.profile_layers`: torch.profiler's op self time by module, "
        f"{args.rounds} repetitions before the replay and {args.rounds} after, pooled). Ratios "
        "are profiler / replay; the per-op column is the difference spread over the layer's "
        "op events (conv2d, convolution, _convolution, the backend's op, empty, ...).",
        "",
    ]


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def summary(results: list[tuple[str, list[dict], dict]]) -> list[str]:
    """One line per model: profiler / replay (ratio of summed times) by layer size, and the
    profiler's cost on the whole forward pass per op event it recorded."""
    lines = [
        "## Summary",
        "",
        "Profiler self time / replay time, of the summed times of the layers in each size class "
        "(the replay time decides the class); then the whole network: the replay view's "
        "whole-model time, the forward pass's wall time under the profiler (hooks and ranges "
        "included), and that difference spread over the op events the profiler recorded.",
        "",
        "How to read it. Three things separate the views, and only the first is the profiler's "
        "cost: (1) every op event costs the profiler a few microseconds, partly inside the "
        "self time of the op that called it (a conv is 8-13 events: conv2d, convolution, "
        "_convolution, the backend's op, empty, ...), which weighs on layers of a few tens of "
        "microseconds and not on milliseconds; (2) a layer replayed alone runs on warm caches "
        "(its weights and inputs stay resident from call to call), inside the model it reads "
        "what the previous layer just wrote and its weights cold, so the profiler view, taken "
        "in the model, is higher for memory-bound layers (depthwise, pointwise, pools) by far "
        "more than its per-op cost; the replay's layer times add up to less than the whole "
        "model while the profiler's op times add up to about the whole (the 'layers / whole' "
        "columns); (3) an in-place activation (ReLU6(inplace=True)) is replayed out of place, "
        "writing a new tensor, so the replay is the higher one there. The per-op columns spread "
        "the whole difference, whatever its cause, over the op events.",
        "",
        "| model | layers | < 0.1 ms | 0.1-1 ms | < 1 ms (all sub-ms) | >= 1 ms | all layers | "
        "replay whole ms | replay layers / whole | profiler ops / replay whole | "
        "profiler wall ms | op events per pass | wall overhead per op, µs | quiet |",
        "| --- |" + " ---: |" * 12 + " --- |",
    ]
    for label, layers, whole in results:

        def ratio(group: list[dict]) -> str:
            replay = sum(x["replay"] for x in group)
            return f"{sum(x['profiler'] for x in group) / replay:.2f}" if replay else "—"

        sizes = [[x for x in layers if low <= x["replay"] < high] for low, high, _ in BINS]
        sub_ms = [x for x in layers if x["replay"] < 1.0]
        per_op = 1e3 * (whole["profiler_wall"] - whole["replay_whole"]) / whole["ops"]
        lines.append(
            f"| {label} | {len(layers)} | {ratio(sizes[0])} | {ratio(sizes[1])} | "
            f"{ratio(sub_ms)} | {ratio(sizes[2])} | {ratio(layers)} | "
            f"{whole['replay_whole']:.2f} | {whole['replay_sum'] / whole['replay_whole']:.2f} | "
            f"{whole['profiler_ops'] / whole['replay_whole']:.2f} | "
            f"{whole['profiler_wall']:.2f} | {whole['ops']:.0f} | "
            f"{per_op:+.1f} | {'no (contended)' if whole['contended'] else 'yes'} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.01)
    parser.add_argument("--only", help="run only the models whose label contains this")
    parser.add_argument("--markdown", help="write the tables to this file")
    args = parser.parse_args()
    results = []
    sections: list[str] = []
    for label, factory, shape in cases():
        if args.only and args.only not in label:
            continue
        print(f"{label} ...", file=sys.stderr, flush=True)
        layers, whole = compare(factory(), shape, args.threads, args.rounds, args.min_time)
        results.append((label, layers, whole))
        section = model_section(label, layers, whole)
        print("\n".join(section), flush=True)
        sections += section
    top = summary(results)
    print("\n".join(top))
    if args.markdown:
        write_atomic(
            Path(args.markdown), "\n".join([*header(args), *top, *sections]).rstrip() + "\n"
        )
        print(f"wrote {args.markdown}", file=sys.stderr)


if __name__ == "__main__":
    main()
