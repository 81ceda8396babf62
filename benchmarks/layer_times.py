"""Where the time goes in real zoo models: K fresh `sepprof profile --model` runs per model, each
timing every layer (replayed alone) and the whole network in the same rounds.

Per model and run: MAC share and time share (with its 95% interval) of each layer type, the
whole network's latency, the sum of the layer times and the gap, and the wall time of the
command. Then whether the depthwise time shares of the K runs agree (every pair of intervals
overlaps). Needs torchvision (the zoo venv: DEVELOPERS.md):

    /path/to/zoo-venv/bin/python benchmarks/layer_times.py -k 3 --markdown reports/layer-times.md
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from sepprof.environment import cpu_model

MODELS = ("mobilenet_v2", "efficientnet_b0", "convnext_tiny", "resnet50")


def one_run(model: str, extra: list[str]) -> dict:
    """One fresh profile of ``torchvision.models:model`` at 1x3x224x224, as JSON."""
    spec = f"torchvision.models:{model}"
    command = [sys.executable, "-m", "sepprof", "profile", "--model", spec,
               "--input", "1,3,224,224", "--json", *extra]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{model}: profile failed ({proc.returncode}): {proc.stderr[-400:]}")
    doc = json.loads(proc.stdout)
    totals = doc["totals"]
    layers = doc["layers"]
    convs = [r for r in layers if r["kind"] in ("standard", "depthwise", "pointwise", "grouped",
                                                  "fc")]  # fmt: skip
    return {
        "wall": wall,
        "threads": doc["environment"].get("threads"),
        "whole_ms": totals["latency_ms"]["cpu"]["median"],
        "sum_ms": totals["layer_time_sum_ms"]["cpu"],
        "timed": sum(1 for r in layers if r["latency_ms"]),
        "rows": len(layers),
        "convs_untimed": [r["name"] for r in convs if not r["latency_ms"]],
        "contended": any("contended" in n for n in doc["notes"]),
        "types": {
            t["kind"]: {
                "macs": t["share"]["macs"] or 0.0,
                "time": t["share"]["time"].get("cpu"),
                "interval": t.get("time_share_interval", {}).get("cpu"),
            }
            for t in doc["by_type"]
        },
    }


def agree(runs: list[dict], kind: str) -> bool | None:
    """Whether every pair of runs' intervals for ``kind``'s time share overlap."""
    spans = [r["types"].get(kind, {}).get("interval") for r in runs]
    if not all(spans):
        return None
    return all(a[0] <= b[1] and b[0] <= a[1] for a, b in itertools.combinations(spans, 2))


def markdown(results: dict[str, list[dict]], k: int) -> str:
    lines = [
        "# Where the time goes: per-layer times of zoo models (issue #28)",
        "",
        f"Machine: {cpu_model()} ({os.cpu_count()} cores), "
        f"Python {platform.python_version()}; {k} fresh `sepprof profile --model "
        "torchvision.models:NAME --input 1,3,224,224 --json` per model (the defaults: 7 paired "
        "rounds in each of 3 worker processes, 0.005 s per layer per round), run one after the "
        "other by "
        "`benchmarks/layer_times.py`. Time shares are of the summed layer times; intervals are "
        "95% for the next run.",
        "",
        "| model | run | depthwise % MACs | depthwise % time (95%) | pointwise % time | "
        "standard % time | elementwise % time | whole ms | layer sum ms | gap | layers timed | "
        "threads | wall s |",
        "| --- | ---: | ---: | --- |" + " ---: |" * 9,
    ]
    for model, runs in results.items():
        for i, r in enumerate(runs, 1):
            t = r["types"]

            def pct(kind: str, what: str = "time", t: dict = t) -> str:
                v = t.get(kind, {}).get(what)
                return f"{100 * v:.1f}%" if v is not None else "—"

            dw = t.get("depthwise", {})
            span = dw.get("interval")
            dw_time = f"{pct('depthwise')} ({100 * span[0]:.1f}-{100 * span[1]:.1f})" if span \
                else pct("depthwise")  # fmt: skip
            gap = r["sum_ms"] / r["whole_ms"] - 1
            flag = " (contended)" if r["contended"] else ""
            lines.append(
                f"| {model}{flag} | {i} | {pct('depthwise', 'macs')} | {dw_time} | "
                f"{pct('pointwise')} | {pct('standard')} | {pct('elementwise')} | "
                f"{r['whole_ms']:.1f} | {r['sum_ms']:.1f} | {gap:+.0%} | "
                f"{r['timed']} of {r['rows']} | {r['threads']} | {r['wall']:.1f} |"
            )
    lines += ["", "Depthwise intervals of the runs agree (every pair overlaps):", ""]
    for model, runs in results.items():
        verdict = agree(runs, "depthwise")
        said = "no depthwise layer" if verdict is None else ("yes" if verdict else "**no**")
        untimed = sorted({n for r in runs for n in r["convs_untimed"]})
        lines.append(f"- {model}: {said}; conv/linear rows without a time: {untimed or 'none'}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, default=3, help="runs per model (default 3)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--markdown", help="write the table to this file")
    parser.add_argument("extra", nargs="*", help="more profile flags (after --)")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {}
    for model in args.models.split(","):
        results[model] = []
        for i in range(args.k):
            run = one_run(model, args.extra)
            results[model].append(run)
            dw = run["types"].get("depthwise", {})
            print(f"{model} run {i + 1}: depthwise {dw.get('time')} {dw.get('interval')}, "
                  f"whole {run['whole_ms']:.1f} ms, sum {run['sum_ms']:.1f} ms, "
                  f"{run['wall']:.1f} s, {run['threads']} threads"
                  f"{', contended' if run['contended'] else ''}", flush=True)  # fmt: skip
    text = markdown(results, args.k)
    print(text)
    if args.markdown:
        from sepprof.files import write_atomic

        write_atomic(Path(args.markdown), text)


if __name__ == "__main__":
    main()
