"""Markdown for people who read files: the GitHub step summary and the generated reports."""

from __future__ import annotations

from typing import Any

from sepprof.render.formats import (
    VERDICT_WORDS,
    change,
    headroom,
    markdown_text,
    metric_value,
    number,
    printable,
    ratio,
    share,
    share_span,
    speed,
    speed_of,
    spread,
    training_step,
    verdict_on,
    why_no_verdict,
)
from sepprof.render.history import history_markdown
from sepprof.results import CheckResult, CompareResult, ProfileResult
from sepprof.results.ratios import Change


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
    return f"### sepprof check: {verdict}\n\n`{printable(result.budget_file)}`\n\n" + table(
        ["budget", "metric", "limit", "actual", "headroom", "verdict", "note"], rows, "llrrrcl"
    )


def _ms(row: Any, device: str) -> str:
    lat = row.latency_ms.get(device)
    if lat is None:
        return "—"
    flag = " (unstable)" if lat.unstable else ""
    return f"{lat.median:.3g} {spread(lat)}{flag}"


def traced_mark(row: Any) -> str:
    """✓ traced counts agree, ✗ they differ, — not traced."""
    return "—" if row.traced_ok is None else ("✓" if row.traced_ok else "✗")


def compare_markdown(result: CompareResult) -> str:
    """The compare tables: counts with fractions of the baseline and theory, then latency per
    device."""
    out = table(
        [
            "variant / stage",
            "op",
            "params",
            "MACs",
            "traced",
            "MACs ÷ base",
            "theory ÷ base",
            "params vs base",
            "FLOP/B",
        ],
        _count_rows(result),
        "llrrcrrrr",
    )
    for device in _devices(result.variants):
        out += f"\nLatency on **{device}** (ms, median ±IQR of rounds):\n\n" + table(
            ["variant / stage", "ms", "speed vs base", "share of MACs", "share of time"],
            _latency_rows(result, device),
        )
    training = [(v.name, training_step(v)) for v in result.variants]
    out += "".join(f"\n- {name}: {markdown_text(t)}" for name, t in training if t)
    return out + ("\n" if any(t for _, t in training) else "")


def _count_rows(result: CompareResult) -> list[list[str]]:
    comps = {c.variant: c for c in result.comparisons}
    rows = []
    for v in result.variants:
        c = comps.get(v.name)
        rows.append(
            [
                f"**{v.name}**",
                v.detail,
                number(v.params, 4),
                number(v.macs_analytic, 4),
                traced_mark(v),
                ratio(c.macs_ratio if c else 1.0),
                ratio(c.theory_ratio if c else None),
                change(c.params_change, "") if c else "base",
                f"{v.intensity:.3g}",
            ]
        )
        for s, part in zip(v.stages, v.stage_shares, strict=True) if len(v.stages) > 1 else ():
            rows.append(
                [
                    f"└ {s.name}",
                    s.detail,
                    number(s.params, 4),
                    number(s.macs_analytic, 4),
                    traced_mark(s),
                    f"{share(part.macs)} of MACs",
                    "",
                    "",
                    f"{s.intensity:.3g}",
                ]
            )
    return rows


def _latency_rows(result: CompareResult, device: str) -> list[list[str]]:
    comps = {c.variant: c for c in result.comparisons}
    rows = []
    for v in result.variants:
        c = comps.get(v.name)
        rows.append(
            [
                f"**{v.name}**",
                _ms(v, device),
                speed_of(c, device) if c else "base",
                "",
                "",
            ]
        )
        for st, part in zip(v.stages, v.stage_shares, strict=True) if len(v.stages) > 1 else ():
            rows.append(
                [
                    f"└ {st.name}",
                    _ms(st, device),
                    "",
                    share(part.macs),
                    share(part.time.get(device)),
                ]
            )
    return rows


def _devices(rows: Any) -> list[str]:
    seen: list[str] = []
    for row in rows:
        seen += [d for d in row.latency_ms if d not in seen]
    return seen


def headline(comp: Any) -> str:
    """``separable vs standard: 8.69x fewer MACs (theory: 8.69x fewer) → 5.2x ± 0.1 faster on
    cpu``."""
    text = f"**{comp.variant}** vs {comp.baseline}: {change(comp.macs_change, 'MACs')}"
    if comp.theory_change:
        text += f" (theory: {change(comp.theory_change)})"
    text += f", {change(comp.params_change, 'params')}"
    text += "".join(f" → {verdict_on(comp, device)}" for device in comp.speed_change)
    return text + "".join(f"<br>{markdown_text(why)}" for why in why_no_verdict(comp))


def types_markdown(result: ProfileResult) -> str:
    """A network's by-type summary: shares of MACs, params and time."""
    devices = sorted({d for t in result.by_type for d in t.time_ms})
    rows = []
    for t, part in zip(result.by_type, result.type_shares, strict=True):
        row = [
            t.kind,
            str(t.layers),
            number(t.macs, 4),
            share(part.macs, 2),
            number(t.params, 4),
            share(part.params, 2),
        ]
        spans = result.type_time_intervals.get(t.kind, {})
        for d in devices:
            row.append(
                f"{t.time_ms.get(d, 0):.3g} ({share(part.time.get(d))}{share_span(spans.get(d))})"
            )
        rows.append(row)
    header = ["type", "layers", "MACs", "% MACs", "params", "% params"]
    header += [f"{d} ms (% time)" for d in devices]
    totals = result.totals
    sums = result.layer_time_sum_ms
    lat = "; ".join(
        f"whole network {lat.median:.3g} ms {spread(lat)} on {d}"
        + (f" (its layers timed alone add up to {sums[d]:.3g} ms)" if d in sums else "")
        for d, lat in totals.latency_ms.items()
    )
    macs = ("" if totals.complete else "≥ ") + number(totals.macs_analytic, 4)
    missing = ", ".join(f"{k} ×{v}" for k, v in sorted(totals.uncounted_ops.items()))
    bound = "" if totals.complete else f" (a lower bound; not counted: {missing or 'n/a rows'})"
    return (
        table(header, rows) + f"\nTotal: {macs} MACs{markdown_text(bound)}, "
        f"{number(totals.params + totals.norm_params, 4)} params (incl. BatchNorm)"
        + (f"; {lat}" if lat else "")
        + ".\n"
        + (f"Training: {markdown_text(train)}.\n" if (train := training_step(totals)) else "")
    )


def _image(images: dict[str, tuple[str, str]], key: str) -> str:
    if key not in images:
        return ""
    png, alt = images[key]
    svg = png.removesuffix(".png") + ".svg"
    return f"![{alt}]({png})\n\n<sub>[SVG]({svg})</sub>\n\n"


def _environment(report: Any) -> str:
    env = report.environment
    rows = [
        ["date", report.created],
        ["sepprof", env.get("sepprof", "")],
        ["torch", f"{env.get('torch')} (CUDA {env.get('cuda') or 'none'})"],
        ["fvcore", str(env.get("fvcore"))],
        ["CPU", env.get("cpu", "")],
        ["threads", str(env.get("threads"))],
        ["GPU", env.get("gpu") or "none"],
        ["dtype", env.get("dtype", "fp32")],
        ["memory format", str(env.get("memory_format"))],
        ["allocator", str(env.get("allocator"))],
        ["devices timed", ", ".join(report.calibrations)],
        ["roofline from", _per_device(env.get("roofline_source"))],
    ]
    return table(["", ""], rows, "ll")


def conditions(report: Any) -> str:
    """Whether the machine was busy and how many timings were unstable, said up front."""
    load = report.busy_cores
    cores = f"up to {load:.1f} cores" if load is not None else "an unknown share of the cores"
    stability = (
        f"{report.unstable} of {len(report.latencies())} timings were unstable (their rounds "
        f"split in two); {report.untrusted} of {len(report.speedups())} speedups carry no "
        "verdict (contended, unstable or inconclusive)"
    )
    if report.busy:
        return (
            f"**The machine was busy**: other processes used {cores} while sepprof timed; "
            f"{stability}. Read the latencies and speedups with care.\n\n"
        )
    return f"Machine load during timing: other processes used {cores}; {stability}.\n\n"


def _layer(spec: dict[str, Any]) -> str:
    """``k=3, Cin=256, Cout=256, 56x56, batch 1``."""
    return (
        f"k={spec['k']}, Cin={spec['cin']}, Cout={spec['cout']}, {spec['size']}x{spec['size']}, "
        f"batch {spec['batch']}"
    )


def _roofline(report: Any, images: dict[str, tuple[str, str]]) -> list[str]:
    parts = ["\n## Roofline\n\n"]
    for device, cal in report.calibrations.items():
        if cal is None:
            parts.append(f"No calibration for {device}.\n\n")
            continue
        parts.append(
            f"{device}: peak {cal.peak_flops / 1e9:.1f} GFLOP/s ({cal.peak_source}), "
            f"DRAM bandwidth {cal.dram_bandwidth / 1e9:.1f} GB/s, ridge {cal.ridge:.1f} "
            "FLOP/byte. The roof assumes DRAM bandwidth; batch-1 activations often fit in "
            "cache, so points can sit above the memory slope.\n\n"
            + _image(images, f"roofline-{device}")
        )
    return parts


def report_markdown(report: Any, images: dict[str, tuple[str, str]]) -> str:
    """The whole report page."""
    devices = list(report.calibrations)
    parts = [
        f"# sepprof report: {report.environment.get('cpu', '')}\n\n",
        _environment(report),
        "\n" + conditions(report),
        f"Reproduce with:\n\n```\n{report.command}\n```\n\n",
        "## Claims checked on this machine\n\n",
        table(
            ["claim", "measured here", "verdict", "rule"],
            [[c.claim, c.measured, f"**{c.verdict}**", c.rule] for c in report.claims],
            "llcl",
        ),
        f"\n## The worked example: {_layer(report.main.spec)}\n\n{compare_markdown(report.main)}\n",
        "".join(f"- {headline(c)}\n" for c in report.main.comparisons),
        "\n",
    ]
    for device in devices:
        parts.append(f"### Where the time goes, {device}\n\n" + _image(images, f"shares-{device}"))
    parts.append("## Sweep: MAC reduction vs measured speedup\n\n")
    parts += [_image(images, f"sweep-{device}") for device in devices]
    parts.append(_sweep_table(report.sweep, devices))
    parts += _roofline(report, images)
    for i, net in enumerate(report.networks):
        name = markdown_text(net.network["name"])
        parts.append(f"## {name} by layer type\n\n{types_markdown(net)}\n")
        parts += [_image(images, f"types-{i}-{device}") for device in devices]
        parts += [_image(images, f"layers-{i}-{device}") for device in devices]
    if report.backends is not None:
        parts.append(backends_markdown(report.backends))
    if report.history is not None:
        parts.append(history_markdown(report.history, images))
    for result in report.layers:
        name = markdown_text(result.spec.get("name") or "layer")
        parts.append(f"## Layer {name}\n\n{compare_markdown(result)}\n")
    parts.append("## How to read this\n\n" + COUNTING + "\n")
    return "".join(parts)


def backends_markdown(matrix: Any) -> str:
    """Backends and modes side by side: per subject, each setup's times, the separable
    speedup with its interval, and each item's speed over eager in the same mode."""
    parts = ["## Backends and modes\n\n"]
    for subject in dict.fromkeys(r.subject for r in matrix.runs):
        runs = matrix.of(subject)
        names = list(dict.fromkeys(n for r in runs for n in r.latency_ms))
        header = ["setup", *(f"{n} ms" for n in names), "separable speed", "vs eager"]
        rows = [_backend_row(matrix, r, names) for r in runs]
        parts.append(f"**{subject}**\n\n" + table([*header, "compile s"], rows) + "\n")
    parts += [f"- {setup}: not run ({why})\n" for setup, why in matrix.skipped.items()]
    return "".join(parts) + "\n"


def _backend_row(matrix: Any, run: Any, names: list[str]) -> list[str]:
    s = run.speedup
    interval = f" (95%: {s.low:.2f}-{s.high:.2f})" if s and s.low is not None else ""
    verdict = speed(Change.of_speedup(s.value), s.doubt) + interval if s else "—"
    faster = matrix.over_eager(run)
    words = {n: change(Change.of_speedup(faster[n]), "") for n in names if n in faster}
    vs_eager = ", ".join(f"{n} {w}" for n, w in words.items())
    cells = [f"{run.latency_ms[n]:.3g}" if n in run.latency_ms else "—" for n in names]
    seconds = f"{run.compile_seconds:.0f}" if run.compile_seconds else "—"
    return [run.setup, *cells, verdict, vs_eager if run.backend != "eager" else "—", seconds]


def _per_device(value: Any) -> str:
    """``cpu: stored calibration ...; cuda: ...`` from a per-device mapping."""
    if isinstance(value, dict):
        return "; ".join(f"{d}: {v}" for d, v in value.items()) or "—"
    return str(value or "—")


def _sweep_table(sweep: Any, devices: list[str]) -> str:
    """Every sweep point: MAC reduction in theory and counted, and speed per device."""
    rows = []
    for p in sweep.points:
        for c in p.comparisons:
            row = [str(p.spec["k"]), str(p.spec["cout"]), str(p.spec["size"]), c.variant]
            row += [change(c.theory_change), change(c.macs_change)]
            row += [speed_of(c, d) for d in devices]
            rows.append(row)
    header = ["k", "Cin=Cout", "size", "variant", "theory MACs", "counted MACs"]
    header += [f"speed on {d}" for d in devices]
    return table(header, rows)


COUNTING = (
    "MACs are multiply-adds of convolutions, fully connected layers, matmuls and attention; "
    "1 MAC = 2 FLOPs. BatchNorm, activations, bias and residual adds are elementwise ops, counted "
    "apart. Every MAC count is analytic and checked (✓) against sepprof's tracer and two peers: "
    "torch.utils.flop_counter's formulas and fvcore. "
    "Latency is the median of per-round medians; each round times every item in turn, and "
    "±IQR is the spread of those round medians, relative to the median. Speed vs base is the "
    "median of per-round ratios (base time / variant time), ± half its 95% bootstrap interval, "
    'said one way ("4.85x faster", "2.03x slower"); a timing taken while other processes '
    "used the cores, or too spread, gets no verdict. MAC and param ratios read the same way "
    '("8.69x fewer"); ÷ base columns are plain fractions. Bytes are the minimum an op must '
    "move (input + output + weights); intensity = FLOPs / bytes."
)
