"""Rich tables for people. Renderers format finished results; they never compute costs."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterable
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from sepprof.render.formats import ratio
from sepprof.results import CompareResult, Comparison, Latency, Row
from sepprof.units import human, macs_to_flops

COUNTING_RULE = (
    "MACs = multiply-adds of conv and linear layers (1 MAC = 2 FLOPs). Elementwise ops are "
    "counted apart, per element: BatchNorm 2, bias 1, ReLU 1, ReLU6 2, sigmoid 3, SiLU 4, "
    "hardswish 5, add 1, gate mul 1, pools per window. Params = conv/linear weights and biases "
    "(BatchNorm's scale and shift listed apart). Bytes = input + output + weights per op, "
    "summed over ops (unfused)."
)


def console(stderr: bool = False) -> Console:
    """A console that follows NO_COLOR and the terminal, and is wide enough when piped."""
    stream = sys.stderr if stderr else sys.stdout
    wide = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    return Console(file=stream, width=wide, highlight=False)


def to_text(renderable: RenderableType, width: int = 160) -> str:
    """Render to plain text (tests, markdown code blocks)."""
    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, highlight=False, color_system=None).print(
        renderable
    )
    return buf.getvalue()


def count(value: int | None, units: str = "macs") -> str:
    if value is None:
        return "n/a"
    return human(macs_to_flops(value) if units == "flops" else value, 4)


def ms(lat: Latency | None) -> Text:
    if lat is None:
        return Text("—", style="dim")
    spread = f" ±{100 * lat.iqr / lat.median:.0f}%" if lat.median else ""
    text = Text(f"{lat.median:.3g}{spread}")
    if lat.unstable:
        text.append(" unstable", style="bold yellow")
    return text


def traced_cell(row: Row, units: str) -> Text:
    """✓ when fvcore (and torch's counter) agree with the analytic MACs, else the traced count."""
    if row.traced_ok is None:
        return Text("—", style="dim")
    if row.traced_ok:
        return Text("✓", style="green")
    shown = row.macs_traced if row.macs_traced != row.macs_analytic else row.macs_flop_counter
    if shown == row.macs_analytic:
        return Text(f"✗ params {human(row.params_traced)}", style="bold red")
    return Text(f"✗ {count(shown, units)}", style="bold red")


def times(value: float | None) -> str:
    return "—" if not value else f"{value:.2f}x"


def new_table(title: str) -> Table:
    """Every sepprof table: a title on the left, a rule under the header, no vertical lines."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)


def compare_counts(result: CompareResult, units: str = "macs") -> Table:
    """Counts table: params, MACs, traced check, ratios vs the baseline and theory, bytes."""
    unit = "FLOPs" if units == "flops" else "MACs"
    traced = any(row.traced_ok is not None for row in result.variants)
    table = new_table(
        f"Counts (analytic{', checked by tracing' if traced else ''}); stage rows give their "
        f"share of the variant's {unit} in ( )"
    )
    table.add_column("variant / stage", no_wrap=True)
    table.add_column("op")
    for name in ("params", unit, "traced", "vs base", "theory", "eltwise", "bytes", "FLOP/B"):
        table.add_column(name, justify="center" if name == "traced" else "right", no_wrap=True)
    comps = {c.variant: c for c in result.comparisons}
    for row in result.variants:
        comp = comps.get(row.name)
        table.add_row(
            Text(row.name, style="bold"),
            row.detail,
            human(row.params, 4),
            count(row.macs_analytic, units),
            traced_cell(row, units),
            ratio(comp.macs_ratio if comp else 1.0),
            ratio(comp.theory_ratio if comp else None),
            human(row.elementwise_ops),
            human(row.bytes),
            f"{row.intensity:.3g}",
        )
        for stage in row.stages if len(row.stages) > 1 else ():
            share = stage.macs_analytic / row.macs_analytic if row.macs_analytic else 0
            table.add_row(
                Text(f"  └ {stage.name}", style="dim"),
                stage.detail,
                human(stage.params, 4),
                count(stage.macs_analytic, units),
                traced_cell(stage, units),
                f"({share:.1%})",
                "",
                human(stage.elementwise_ops),
                human(stage.bytes),
                f"{stage.intensity:.3g}",
            )
    return table


def devices_of(rows: Iterable[Row]) -> list[str]:
    seen: list[str] = []
    for row in rows:
        seen += [d for d in row.latency_ms if d not in seen]
    return seen


def compare_latency(result: CompareResult, device: str) -> Table:
    """Latency table for one device: time, share of time vs share of MACs, speedup, roofline."""
    env = result.environment
    title = (
        f"Latency on {device} ({env.get('dtype')}, {env.get('threads')} threads, "
        f"{env.get('memory_format')}): median ± IQR of {len(_rounds(result, device))} rounds"
    )
    table = new_table(title)
    for name in [
        "variant / stage",
        "ms",
        "runs",
        "MAC share",
        "time share",
        "speedup",
        "GFLOP/s",
        "GB/s",
        "% of roof",
        "bound",
    ]:
        table.add_column(
            name, justify="left" if name == "variant / stage" else "right", no_wrap=True
        )
    comps = {c.variant: c for c in result.comparisons}
    for row in result.variants:
        comp = comps.get(row.name)
        speed = comp.speedup.get(device) if comp else None
        speed_text = f"{speed.value:.2f}x ± {speed.error:.2f}" if speed else "1.00x"
        table.add_row(
            Text(row.name, style="bold"),
            ms(row.latency_ms.get(device)),
            _runs(row, device),
            "",
            "",
            speed_text,
            *_roof_cells(row, device),
        )
        if len(row.stages) > 1:
            total_ms = sum(
                s.latency_ms[device].median for s in row.stages if device in s.latency_ms
            )
            for stage in row.stages:
                lat = stage.latency_ms.get(device)
                mac_share = stage.macs_analytic / row.macs_analytic if row.macs_analytic else 0
                time_share = lat.median / total_ms if lat and total_ms else None
                table.add_row(
                    Text(f"  └ {stage.name}", style="dim"),
                    ms(lat),
                    _runs(stage, device),
                    f"{mac_share:.1%}",
                    "—" if time_share is None else f"{time_share:.1%}",
                    "",
                    *_roof_cells(stage, device),
                )
    return table


def _rounds(result: CompareResult, device: str) -> tuple[float, ...]:
    lat = result.variants[0].latency_ms.get(device)
    return lat.rounds if lat else ()


def _runs(row: Row, device: str) -> str:
    lat = row.latency_ms.get(device)
    return str(lat.runs) if lat else "—"


def _roof_cells(row: Row, device: str) -> list[str | Text]:
    """Achieved GFLOP/s and GB/s, the share of the roofline reached, and the bound."""
    rates = row.achieved(device)
    cells: list[str | Text] = [f"{r:.3g}" for r in rates] if rates else ["—", "—"]
    roof = row.roofline.get(device)
    if roof is None:
        return [*cells, "—", "—"]
    pct = Text(f"{roof.percent:.0f}%")
    if roof.percent > 100:
        pct.append(" >roof", style="yellow")
    return [*cells, pct, roof.bound]


def headline(comp: Comparison) -> Text:
    """``separable vs standard: 8.69x fewer MACs (theory 8.69x), 8.69x fewer params -> ...``."""
    from sepprof.render.formats import fewer, speed

    text = Text()
    text.append(f"{comp.variant}", style="bold")
    text.append(f" vs {comp.baseline}: ")
    text.append(fewer(comp.macs_ratio, "MACs"), style="cyan")
    if comp.theory_ratio:
        text.append(f" (theory: {fewer(comp.theory_ratio, '')})".replace(" )", ")"))
    text.append(f", {fewer(comp.params_ratio, 'params')}")
    for device, s in comp.speedup.items():
        text.append(" → ")
        text.append(
            f"{speed(s.value, s.error)} on {device}",
            style="bold green" if s.value >= 1 else "bold red",
        )
    return text


def uncounted(rows: Iterable[Row]) -> Text | None:
    """The ops the tracer could not count, by name; None when every op was counted."""
    ops: dict[str, int] = {}
    for row in rows:
        for name, n in row.uncounted_ops.items():
            ops[name] = ops.get(name, 0) + n
    if not ops:
        return None
    listed = ", ".join(f"{k} ×{v}" for k, v in sorted(ops.items()))
    return Text(f"ops the tracer could not count (shown as n/a, not 0): {listed}", style="yellow")


def footer(rows: Iterable[Row], notes: Iterable[str]) -> list[Text]:
    """What closes every result: uncounted ops by name, the notes, the counting rule."""
    extra = uncounted(rows)
    return [
        *([extra] if extra else []),
        *(Text(n, style="dim") for n in notes),
        Text(COUNTING_RULE, style="dim"),
    ]


def compare_view(result: CompareResult, units: str = "macs") -> RenderableType:
    """Everything ``sepprof compare`` prints for one layer."""
    spec = result.spec
    title = Text(
        f"{spec.get('name') + ': ' if spec.get('name') else ''}"
        f"k={spec['k']} cin={spec['cin']} cout={spec['cout']} size={spec['size']} "
        f"stride={spec['stride']} batch={spec['batch']}, "
        f"{'BN + ' if spec['bn'] else ''}{spec['act']}, "
        f"{result.environment.get('dtype', 'fp32')}",
        style="bold",
    )
    parts: list[RenderableType] = [title, compare_counts(result, units)]
    for device in devices_of(result.variants):
        parts.append(compare_latency(result, device))
    parts += [headline(c) for c in result.comparisons]
    return Group(*parts, *footer(result.variants, result.notes))


def calibration_view(cal: Any) -> RenderableType:
    """A calibration: every measurement, the peak and bandwidths chosen, and the ridge point."""
    table = new_table(
        f"Calibration of {cal.device} ({cal.device_name}), {cal.dtype}, {cal.threads} threads, "
        f"torch {cal.torch}"
    )
    table.add_column("measurement")
    table.add_column("rate", justify="right")
    for name, rate in sorted(cal.flops.items(), key=lambda kv: kv[1]):
        mark = "  ← peak" if name == cal.peak_source else ""
        table.add_row(name, f"{rate / 1e9:.1f} GFLOP/s{mark}")
    for name, rate in sorted(cal.bandwidths.items()):
        table.add_row(name, f"{rate / 1e9:.1f} GB/s")
    cache = (
        f"; cache bandwidth {cal.cache_bandwidth / 1e9:.1f} GB/s over buffers fitting the "
        f"{human(cal.cache_bytes)}B last-level cache"
        if cal.cache_bandwidth
        else ""
    )
    summary = Text(
        f"roof: peak {cal.peak_flops / 1e9:.1f} GFLOP/s, DRAM bandwidth "
        f"{cal.dram_bandwidth / 1e9:.1f} GB/s, ridge {cal.peak_flops / cal.dram_bandwidth:.1f} "
        f"FLOP/byte{cache}. The roofline assumes DRAM bandwidth: ops whose tensors fit in cache "
        "can exceed it."
    )
    return Group(table, summary)


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "—"


def profile_layers(result: Any, units: str = "macs") -> Table:
    """One row per layer: type, shape, params, MACs (✓ when traced equal) and share, bytes,
    intensity, and time and share of time per device."""
    unit = "FLOPs" if units == "flops" else "MACs"
    devices = devices_of(result.layers)
    traced = any(row.traced_ok is not None for row in result.layers)
    mark = f"{unit} ✓: traced counts agree; " if traced else ""
    table = new_table(f"Layers ({mark}ms: median ±IQR of rounds)")
    table.add_column("#", justify="right")
    table.add_column("layer", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("op")
    for name in ("output", "params", unit, f"% {unit}", "bytes", "FLOP/B"):
        table.add_column(name, justify="left" if name == "output" else "right", no_wrap=True)
    for device in devices:
        table.add_column(f"{device} ms", justify="right", no_wrap=True)
        table.add_column("% time", justify="right", no_wrap=True)
    total_macs = result.totals.macs_analytic
    sums = {
        d: sum(r.latency_ms[d].median for r in result.layers if d in r.latency_ms) for d in devices
    }
    for i, row in enumerate(result.layers, 1):
        macs = Text(count(row.macs_analytic, units) + " ")
        macs.append_text(traced_cell(row, units) if row.traced_ok is not None else Text(""))
        cells: list[Any] = [
            str(i),
            row.name,
            row.kind,
            row.detail,
            row.shape,
            human(row.params, 4),
            macs,
            _pct(row.macs_analytic, total_macs),
            human(row.bytes),
            f"{row.intensity:.3g}",
        ]
        for device in devices:
            lat = row.latency_ms.get(device)
            cells += [ms(lat), _pct(lat.median, sums[device]) if lat else "—"]
        table.add_row(*cells)
    return table


def profile_types(result: Any, units: str = "macs") -> Table:
    """The by-type summary: share of MACs, params and time per layer type."""
    unit = "FLOPs" if units == "flops" else "MACs"
    devices = sorted({d for t in result.by_type for d in t.time_ms})
    table = new_table("By layer type (share of MACs and params vs share of time)")
    for name in ["type", "layers", unit, f"% {unit}", "params", "% params", "eltwise ops"]:
        table.add_column(name, justify="left" if name == "type" else "right", no_wrap=True)
    for device in devices:
        table.add_column(f"{device} ms", justify="right", no_wrap=True)
        table.add_column("% time", justify="right", no_wrap=True)
    macs = sum(t.macs for t in result.by_type)
    params = sum(t.params for t in result.by_type)
    times = {d: sum(t.time_ms.get(d, 0) for t in result.by_type) for d in devices}
    for t in result.by_type:
        cells = [
            t.kind,
            str(t.layers),
            count(t.macs, units),
            _pct(t.macs, macs),
            human(t.params, 4),
            _pct(t.params, params),
            human(t.elementwise_ops),
        ]
        for device in devices:
            value = t.time_ms.get(device)
            cells += [
                f"{value:.3g}" if value else "—",
                _pct(value, times[device]) if value else "—",
            ]
        table.add_row(*cells)
    return table


def _totals_line(label: str, row: Row, units: str) -> Text:
    unit = "FLOPs" if units == "flops" else "MACs"
    text = Text(f"{label}: ", style="bold")
    text.append(f"{count(row.macs_analytic, units)} {unit}", style="cyan")
    text.append(
        f", {human(row.params, 4)} params (+{human(row.norm_params, 3)} BatchNorm = "
        f"{human(row.params + row.norm_params, 4)}), {human(row.elementwise_ops)} "
        f"elementwise ops, {human(row.bytes)}B moved"
    )
    if row.traced_ok is not None:
        text.append("  traced ")
        text.append_text(traced_cell(row, units))
    for device, lat in row.latency_ms.items():
        text.append(
            f"; {device} {lat.median:.3g} ms ±{100 * lat.iqr / lat.median:.0f}% for "
            "the whole network"
        )
        roof = row.roofline.get(device)
        if roof:
            text.append(f" ({roof.percent:.0f}% of roofline)")
    return text


def _reference_line(result: Any) -> Text | None:
    ref = (result.network or {}).get("reference")
    if not ref:
        return None
    parts = []
    if ref.get("macs"):
        diff = result.totals.macs_analytic / ref["macs"] - 1
        parts.append(f"{human(ref['macs'])} MACs (ours {diff:+.2%})")
    if ref.get("params"):
        diff = (result.totals.params + result.totals.norm_params) / ref["params"] - 1
        parts.append(f"{human(ref['params'])} params (ours incl. BatchNorm {diff:+.2%})")
    return Text(f"published: {', '.join(parts)} — {ref.get('source', '')}", style="dim")


def profile_view(result: Any, units: str = "macs") -> RenderableType:
    """Everything ``sepprof profile`` prints for one network."""
    net = result.network
    env = result.environment
    title = Text(f"{net['name']}", style="bold")
    c, h, w = net["input"]
    title.append(
        f"  input {c}x{h}x{w}, batch {env.get('batch', 1)}, {env.get('dtype')}, "
        f"width x{net.get('width_mult', 1):g}"
    )
    if net.get("as"):
        title.append(f", every layer rewritten as {net['as']}")
    if net.get("source"):
        title.append(f"  ({net['source']})", style="dim")
    parts: list[RenderableType] = [
        title,
        profile_layers(result, units),
        profile_types(result, units),
        _totals_line("total", result.totals, units),
    ]
    if result.before is not None:
        parts.append(_totals_line("as written", result.before, units))
        parts.append(_before_after(result))
    ref = _reference_line(result)
    if ref:
        parts.append(ref)
    return Group(*parts, *footer(result.layers, result.notes))


def _before_after(result: Any) -> Text:
    """How the ``--as`` rewrite compares with the network as written."""
    now, was = result.totals, result.before
    text = Text(f"--as {result.network['as']}: ", style="bold")
    text.append(
        f"MACs x{now.macs_analytic / was.macs_analytic:.2f}, params "
        f"x{now.params / was.params:.2f} vs the network as written"
    )
    for device, lat in now.latency_ms.items():
        if device in was.latency_ms:
            text.append(f"; time x{lat.median / was.latency_ms[device].median:.2f} on {device}")
    return text


def check_view(result: Any) -> RenderableType:
    """The budget table: budget, metric, limit, actual, headroom, verdict."""
    from sepprof.render.formats import VERDICT_WORDS, headroom, metric_value

    table = new_table(f"Budgets in {result.budget_file}")
    for name in ["budget", "metric", "limit", "actual", "headroom", "verdict", "note"]:
        table.add_column(
            name, justify="right" if name in ("limit", "actual", "headroom") else "left"
        )
    styles = {"pass": "green", "fail": "bold red", "warn": "yellow"}
    for v in result.verdicts:
        table.add_row(
            v.budget,
            v.metric,
            metric_value(v.metric, v.limit),
            metric_value(v.metric, v.actual),
            headroom(v.headroom),
            Text(VERDICT_WORDS[v.status], style=styles[v.status]),
            v.note,
        )
    failed = sum(v.status == "fail" for v in result.verdicts)
    warned = sum(v.status == "warn" for v in result.verdicts)
    summary = Text(f"{len(result.verdicts)} checks: ", style="bold")
    summary.append(f"{failed} failed", style="bold red" if failed else "green")
    summary.append(f", {warned} warnings" if warned else "")
    return Group(table, summary)


def sweep_view(result: Any) -> RenderableType:
    """One row per grid point and variant: theory, analytic and traced ratios, speedups."""
    devices = sorted({d for p in result.points for c in p.comparisons for d in c.speedup})
    table = new_table(
        "Sweep: cost ratio vs standard (theory, analytic, traced) and measured speedup"
    )
    for name in [
        "k",
        "cin",
        "cout",
        "size",
        "variant",
        "theory",
        "analytic",
        "traced",
        "params",
        *[f"speedup {d}" for d in devices],
        *[f"% of cut {d}" for d in devices],
    ]:
        table.add_column(name, justify="left" if name == "variant" else "right", no_wrap=True)
    for p in result.points:
        s = p.spec
        for c in p.comparisons:
            cells = [
                str(s["k"]),
                str(s["cin"]),
                str(s["cout"]),
                str(s["size"]),
                c.variant,
                ratio(c.theory_ratio),
                ratio(c.macs_ratio),
                ratio(c.traced_ratio),
                ratio(c.params_ratio),
            ]
            cells += [
                f"{c.speedup[d].value:.2f}x ± {c.speedup[d].error:.2f}" if d in c.speedup else "—"
                for d in devices
            ]
            cells += [
                f"{c.speedup[d].value * c.macs_ratio:.0%}" if d in c.speedup else "—"
                for d in devices
            ]
            table.add_row(*cells)
    notes = [Text(n, style="dim") for n in result.notes]
    legend = Text(
        "ratios are variant / standard (lower is cheaper); '% of cut' = speedup x MAC "
        "ratio, the share of the MAC reduction that shows up as speed",
        style="dim",
    )
    return Group(table, legend, *notes)


def merge_view(result: Any) -> RenderableType:
    """Each layer's variants on every machine and device that timed them."""
    from sepprof.render.formats import MERGE_HEADER, merge_cells

    parts: list[RenderableType] = []
    for spec, rows in result.layers:
        table = new_table(
            f"k={spec['k']} cin={spec['cin']} cout={spec['cout']} "
            f"size={spec['size']} stride={spec['stride']} batch={spec['batch']}"
        )
        for name in MERGE_HEADER:
            table.add_column(name, justify="left" if name in MERGE_HEADER[:6] else "right")
        for r in rows:
            table.add_row(*merge_cells(r))
        parts.append(table)
    parts.append(Text(f"merged from: {', '.join(result.sources)}", style="dim"))
    return Group(*parts)
