"""Markdown for people who read files: the GitHub step summary and the generated reports."""

from __future__ import annotations

from typing import Any

from sepprof.render.formats import (
    MERGE_HEADER,
    VERDICT_WORDS,
    fewer,
    headroom,
    merge_cells,
    metric_value,
    ratio,
    speed,
)
from sepprof.results import CheckResult, CompareResult, ProfileResult
from sepprof.units import human


def table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    """A GitHub-flavoured markdown table; ``align`` gives l/r per column (default: first left)."""
    align = align or "l" + "r" * (len(header) - 1)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def check_markdown(result: CheckResult) -> str:
    """The budget table for ``$GITHUB_STEP_SUMMARY``."""
    verdict = "all budgets hold" if result.passed else "budget exceeded"
    rows = [
        [
            v.budget,
            v.metric,
            metric_value(v.metric, v.limit),
            metric_value(v.metric, v.actual),
            headroom(v.headroom),
            f"**{VERDICT_WORDS[v.status]}**" if v.status != "pass" else "PASS",
            v.note,
        ]
        for v in result.verdicts
    ]
    return f"### sepprof check: {verdict}\n\n`{result.budget_file}`\n\n" + table(
        ["budget", "metric", "limit", "actual", "headroom", "verdict", "note"], rows, "llrrrcl"
    )


def _ms(row: Any, device: str) -> str:
    lat = row.latency_ms.get(device)
    if lat is None:
        return "—"
    flag = " (unstable)" if lat.unstable else ""
    return f"{lat.median:.3g} ±{100 * lat.iqr / lat.median:.0f}%{flag}"


def traced_mark(row: Any) -> str:
    """✓ traced counts agree, ✗ they differ, — not traced."""
    return "—" if row.traced_ok is None else ("✓" if row.traced_ok else "✗")


def compare_markdown(result: CompareResult) -> str:
    """The compare tables: counts with ratios vs theory, then latency per device."""
    comps = {c.variant: c for c in result.comparisons}
    base = result.variants[0]
    rows = []
    for v in result.variants:
        c = comps.get(v.name)
        rows.append(
            [
                f"**{v.name}**",
                v.detail,
                human(v.params, 4),
                human(v.macs_analytic, 4),
                traced_mark(v),
                ratio(c.macs_ratio if c else 1.0),
                ratio(c.theory_ratio if c else None),
                f"{base.params / v.params:.2f}x",
                f"{v.intensity:.3g}",
            ]
        )
        for s in v.stages if len(v.stages) > 1 else ():
            rows.append(
                [
                    f"└ {s.name}",
                    s.detail,
                    human(s.params, 4),
                    human(s.macs_analytic, 4),
                    traced_mark(s),
                    f"{s.macs_analytic / v.macs_analytic:.1%} of MACs",
                    "",
                    "",
                    f"{s.intensity:.3g}",
                ]
            )
    out = table(
        [
            "variant / stage",
            "op",
            "params",
            "MACs",
            "traced",
            "MACs vs standard",
            "theory",
            "params ×fewer",
            "FLOP/B",
        ],
        rows,
        "llrrcrrrr",
    )
    for device in _devices(result.variants):
        rows = []
        for v in result.variants:
            c = comps.get(v.name)
            s = c.speedup.get(device) if c else None
            rows.append(
                [
                    f"**{v.name}**",
                    _ms(v, device),
                    f"{s.value:.2f}x ± {s.error:.2f}" if s else "1.00x",
                    "",
                    "",
                ]
            )
            if len(v.stages) > 1:
                total = sum(st.latency_ms[device].median for st in v.stages)
                for st in v.stages:
                    rows.append(
                        [
                            f"└ {st.name}",
                            _ms(st, device),
                            "",
                            f"{st.macs_analytic / v.macs_analytic:.1%}",
                            f"{st.latency_ms[device].median / total:.1%}",
                        ]
                    )
        out += f"\nLatency on **{device}** (ms, median ±IQR of rounds):\n\n" + table(
            ["variant / stage", "ms", "speedup", "share of MACs", "share of time"], rows
        )
    return out


def _devices(rows: Any) -> list[str]:
    seen: list[str] = []
    for row in rows:
        seen += [d for d in row.latency_ms if d not in seen]
    return seen


def headline(comp: Any) -> str:
    """``separable vs standard: 8.69x fewer MACs (theory 8.69x) → 5.2x ± 0.1 faster on cpu``."""
    text = f"**{comp.variant}** vs {comp.baseline}: {fewer(comp.macs_ratio, 'MACs')}"
    if comp.theory_ratio:
        text += f" (theory: {fewer(comp.theory_ratio, '')})".replace(" )", ")")
    for device, s in comp.speedup.items():
        text += f" → {speed(s.value, s.error)} on {device}"
    return text


def types_markdown(result: ProfileResult) -> str:
    """A network's by-type summary: shares of MACs, params and time."""
    devices = sorted({d for t in result.by_type for d in t.time_ms})
    macs = sum(t.macs for t in result.by_type) or 1
    params = sum(t.params for t in result.by_type) or 1
    times = {d: sum(t.time_ms.get(d, 0) for t in result.by_type) or 1 for d in devices}
    rows = []
    for t in result.by_type:
        row = [
            t.kind,
            str(t.layers),
            human(t.macs, 4),
            f"{t.macs / macs:.2%}",
            human(t.params, 4),
            f"{t.params / params:.2%}",
        ]
        row += [
            f"{t.time_ms.get(d, 0):.3g} ({t.time_ms.get(d, 0) / times[d]:.1%})" for d in devices
        ]
        rows.append(row)
    header = ["type", "layers", "MACs", "% MACs", "params", "% params"]
    header += [f"{d} ms (% time)" for d in devices]
    totals = result.totals
    lat = "; ".join(
        f"whole network {lat.median:.3g} ms ±{100 * lat.iqr / lat.median:.0f}% on {d}"
        for d, lat in totals.latency_ms.items()
    )
    return (
        table(header, rows) + f"\nTotal: {human(totals.macs_analytic, 4)} MACs, "
        f"{human(totals.params + totals.norm_params, 4)} params (incl. BatchNorm)"
        + (f"; {lat}" if lat else "")
        + ".\n"
    )


def _image(images: dict[str, tuple[str, str]], key: str) -> str:
    if key not in images:
        return ""
    png, alt = images[key]
    svg = png.removesuffix(".png") + ".svg"
    return f"![{alt}]({png})\n\n<sub>[SVG]({svg})</sub>\n\n"


def report_markdown(report: Any, images: dict[str, tuple[str, str]]) -> str:
    """The whole report page."""
    env = report.environment
    devices = list(report.calibrations)
    gpu = env.get("gpu") or "none"
    parts = [
        f"# sepprof report: {env.get('cpu', '')}\n\n",
        table(
            ["", ""],
            [
                ["date", report.created],
                ["sepprof", env.get("sepprof", "")],
                ["torch", f"{env.get('torch')} (CUDA {env.get('cuda') or 'none'})"],
                ["fvcore", str(env.get("fvcore"))],
                ["CPU", env.get("cpu", "")],
                ["threads", str(env.get("threads"))],
                ["GPU", gpu],
                ["dtype", env.get("dtype", "fp32")],
                ["memory format", str(env.get("memory_format"))],
                ["allocator", str(env.get("allocator"))],
                ["devices timed", ", ".join(devices)],
            ],
            "ll",
        ),
        f"\nReproduce with:\n\n```\n{report.command}\n```\n\n",
        "## Claims checked on this machine\n\n",
        table(
            ["claim", "measured here", "verdict", "rule"],
            [[c.claim, c.measured, f"**{c.verdict}**", c.rule] for c in report.claims],
            "llcl",
        ),
        f"\n## The worked example: k=3, Cin=Cout=256, 56x56, batch 1\n\n"
        f"{compare_markdown(report.main)}\n",
        "".join(f"- {headline(c)}\n" for c in report.main.comparisons),
        "\n",
    ]
    for device in devices:
        parts.append(f"### Where the time goes, {device}\n\n" + _image(images, f"shares-{device}"))
    parts.append("## Sweep: MAC reduction vs measured speedup\n\n")
    for device in devices:
        parts.append(_image(images, f"sweep-{device}"))
    parts.append(_sweep_table(report.sweep, devices))
    parts.append("\n## Roofline\n\n")
    for device, cal in report.calibrations.items():
        if cal is None:
            parts.append(f"No calibration for {device}.\n\n")
            continue
        parts.append(
            f"{device}: peak {cal.peak_flops / 1e9:.1f} GFLOP/s ({cal.peak_source}), "
            f"DRAM bandwidth {cal.dram_bandwidth / 1e9:.1f} GB/s, ridge "
            f"{cal.peak_flops / cal.dram_bandwidth:.1f} FLOP/byte. The roof assumes "
            "DRAM bandwidth; batch-1 activations often fit in cache, so points can "
            "sit above the memory slope.\n\n" + _image(images, f"roofline-{device}")
        )
    for i, net in enumerate(report.networks):
        parts.append(f"## {net.network['name']} by layer type\n\n{types_markdown(net)}\n")
        for device in devices:
            parts.append(_image(images, f"types-{i}-{device}"))
    for result in report.layers:
        name = result.spec.get("name") or "layer"
        parts.append(f"## Layer {name}\n\n{compare_markdown(result)}\n")
    parts.append("## How to read this\n\n" + COUNTING + "\n")
    return "".join(parts)


def _sweep_table(sweep: Any, devices: list[str]) -> str:
    rows = []
    for p in sweep.points:
        for c in p.comparisons:
            row = [
                str(p.spec["k"]),
                str(p.spec["cout"]),
                str(p.spec["size"]),
                c.variant,
                f"{1 / c.theory_ratio:.2f}x" if c.theory_ratio else "—",
                f"{1 / c.macs_ratio:.2f}x",
            ]
            row += [f"{c.speedup[d].value:.2f}x" if d in c.speedup else "—" for d in devices]
            rows.append(row)
    header = ["k", "Cin=Cout", "size", "variant", "theory ×", "MACs ×"]
    header += [f"speedup {d}" for d in devices]
    return table(header, rows)


COUNTING = (
    "MACs are multiply-adds of convolution and fully connected layers; 1 MAC = 2 FLOPs. "
    "BatchNorm, activations, bias and residual adds are elementwise ops, counted apart. Every "
    "MAC count is analytic and checked against fvcore's trace and torch.utils.flop_counter (✓). "
    "Latency is the median of per-round medians; each round times every item in turn, and "
    "±IQR is the spread of those round medians. Speedup = standard median / variant median, "
    "with its uncertainty from both IQRs. Bytes are the minimum an op must move (input + "
    "output + weights); intensity = FLOPs / bytes."
)


def merge_markdown(result: Any) -> str:
    """The merged comparison as a markdown page."""
    parts = [
        "# sepprof: results merged across machines\n\n",
        "Sources: " + ", ".join(f"`{s}`" for s in result.sources) + "\n\n",
    ]
    for spec, rows in result.layers:
        parts.append(
            f"## k={spec['k']}, Cin={spec['cin']}, Cout={spec['cout']}, "
            f"{spec['size']}x{spec['size']}, stride {spec['stride']}, "
            f"batch {spec['batch']}\n\n"
        )
        parts.append(table(MERGE_HEADER, [merge_cells(r) for r in rows], "llllllrrr") + "\n")
    return "".join(parts)
