"""What ``sepprof profile`` prints: layer rows, the by-type summary, totals, the ``--as``
before/after line and the published figures."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from sepprof.errors import console_text
from sepprof.render.console import (
    devices_of,
    footer,
    ms,
    traced_any,
    traced_cell,
    unstable_note,
)
from sepprof.render.fit import FitTable, new_table
from sepprof.render.formats import (
    bound,
    change,
    count,
    number,
    share,
    share_span,
    spread,
    training_step,
    unit_name,
)
from sepprof.results import ProfileResult, Row


def profile_layers(result: ProfileResult, units: str = "macs", wide: bool = False) -> FitTable:
    """One row per layer: type, shape, params, MACs (✓ when traced equal) and share, bytes,
    intensity, and time and share of time per device."""
    unit = unit_name(units)
    devices = devices_of(result.layers)
    title = "Layers"
    if traced_any(result.layers):
        title += f" ({unit} ✓: traced counts agree)"
    if devices:
        title += "; ms: median ± IQR of rounds"
    table = new_table(title, wide)
    roofed = {d for r in result.layers for d in r.roofline}
    _layer_columns(table, unit, devices, roofed)
    for i, (row, part) in enumerate(zip(result.layers, result.layer_shares, strict=True), 1):
        macs = Text(bound(row.macs_analytic, row.complete, units))
        if row.traced_ok is not None:
            macs.append(" ")
            macs.append_text(traced_cell(row, units))
        cells: list[Any] = [
            str(i),
            console_text(row.name),  # user text: no markup, no control codes
            row.kind,
            row.detail,
            row.shape,
            number(row.params, 4),
            macs,
            share(part.macs, 2),
            number(row.bytes),
            f"{row.intensity:.3g}",
        ]
        for device in devices:
            cells += [ms(row.latency_ms.get(device)), share(part.time.get(device), 2)]
            rate = row.achieved(device)
            cells.append(f"{rate[0]:.3g}" if rate and row.macs_analytic else "—")
            if device in roofed:
                roof = row.roofline.get(device)
                cells.append(f"{roof.percent:.0f}%" if roof else "—")
        table.add_row(*cells)
    return table


def _layer_columns(table: FitTable, unit: str, devices: list[str], roofed: set[str]) -> None:
    """The layer table's columns; ``#``, op, output, type, bytes, FLOP/B, GFLOP/s and % of the
    measured roof (where a calibration is stored) are optional."""
    table.add_column("#", justify="right", no_wrap=True, priority=6)
    table.add_column("layer", no_wrap=True)
    table.add_column("type", no_wrap=True, priority=3)
    table.add_column("op", priority=5)
    table.add_column("output", no_wrap=True, priority=4)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column(unit, justify="right", no_wrap=True)
    table.add_column(f"% {unit}", justify="right", no_wrap=True)
    table.add_column("bytes", justify="right", no_wrap=True, priority=2)
    table.add_column("FLOP/B", justify="right", no_wrap=True, priority=1)
    for device in devices:
        table.add_column(f"{device} ms", justify="right", no_wrap=True)
        table.add_column("% time", justify="right", no_wrap=True)
        table.add_column("GFLOP/s", justify="right", no_wrap=True, priority=1)
        if device in roofed:
            table.add_column("% roof", justify="right", no_wrap=True, priority=1)


def profile_types(result: ProfileResult, units: str = "macs", wide: bool = False) -> FitTable:
    """The by-type summary: share of MACs, params and time per layer type."""
    unit = unit_name(units)
    devices = devices_of(result.layers)
    title = "By layer type: share of MACs and params"
    table = new_table(title + (" vs share of time" if devices else ""), wide)
    table.add_column("type", no_wrap=True)
    table.add_column("layers", justify="right", no_wrap=True, priority=2)
    table.add_column(unit, justify="right", no_wrap=True)
    table.add_column(f"% {unit}", justify="right", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("% params", justify="right", no_wrap=True)
    table.add_column("eltwise\nops", justify="right", no_wrap=True, priority=1)
    for device in devices:
        table.add_column(f"{device} ms", justify="right", no_wrap=True)
        table.add_column("% time", justify="right", no_wrap=True)
    for t, part in zip(result.by_type, result.type_shares, strict=True):
        cells = [
            t.kind,
            str(t.layers),
            count(t.macs, units),
            share(part.macs, 2),
            number(t.params, 4),
            share(part.params, 2),
            number(t.elementwise_ops),
        ]
        for device in devices:
            value = t.time_ms.get(device)
            cells += [f"{value:.3g}" if value else "—", share(part.time.get(device), 2)]
        table.add_row(*cells)
    return table


def time_shares_line(result: ProfileResult) -> Text | None:
    """The seed's claim in its own terms, per device: ``depthwise: 6.9% of MACs, 26% of the
    time (cpu, 95% 25.4%-25.9%)``; None when no depthwise layer was timed."""
    intervals = result.type_time_intervals.get("depthwise", {})
    parts = [
        f"depthwise: {part.macs:.1%} of MACs, {part.time[d]:.1%} of the time "
        f"({d}{share_span(intervals.get(d))})"
        for t, part in zip(result.by_type, result.type_shares, strict=True)
        if t.kind == "depthwise" and part.macs is not None
        for d in sorted(part.time)
    ]
    return Text("; ".join(parts), style="bold") if parts else None


def totals_line(label: str, row: Row, units: str) -> Text:
    """``total: 568.7M MACs, 4.2M params (+...BatchNorm), ... traced ✓; cpu 12 ms ±3% ...``."""
    text = Text(f"{label}: ", style="bold")
    text.append(f"{bound(row.macs_analytic, row.complete, units)} {unit_name(units)}", style="cyan")
    if not row.complete:
        text.append(" (a lower bound: some ops were not counted, see below)")
    text.append(
        f", {number(row.params, 4)} params (+{number(row.norm_params)} BatchNorm = "
        f"{number(row.params + row.norm_params, 4)}), {number(row.elementwise_ops)} "
        f"elementwise ops, {number(row.bytes)}B moved"
    )
    if row.traced_ok is not None:
        text.append("  traced ")
        text.append_text(traced_cell(row, units))
    for device, lat in row.latency_ms.items():
        text.append(f"; {device} {lat.median:.3g} ms {spread(lat)} for the whole network")
        roof = row.roofline.get(device)
        if roof:
            text.append(f" ({roof.percent:.0f}% of roofline)")
    return text


def _training(result: ProfileResult, units: str) -> list[str]:
    """``--mode train``'s counts of the network (and as written before ``--as``)."""
    named = [("total", result.totals), ("as written", result.before)]
    lines = [(label, training_step(row, units)) for label, row in named if row is not None]
    return [f"{label}: {text}" for label, text in lines if text]


def reference_line(result: ProfileResult) -> Text | None:
    """``published: 569M MACs (ours -0.05%), 4.2M params (ours incl. BatchNorm +0.76%)``."""
    ref = (result.network or {}).get("reference")
    if not ref:
        return None
    dev = result.reference_deviation
    parts = []
    if "macs" in dev:
        parts.append(f"{number(ref['macs'])} MACs (ours {dev['macs']:+.2%})")
    if "params" in dev:
        parts.append(f"{number(ref['params'])} params (ours incl. BatchNorm {dev['params']:+.2%})")
    return Text(f"published: {', '.join(parts)} — {ref.get('source', '')}", style="dim")


def before_after(result: ProfileResult) -> Text | None:
    """How the ``--as`` rewrite compares with the network as written, in one direction."""
    moved = result.as_change
    if moved is None:
        return None
    text = Text(f"--as {result.network['as']}: ", style="bold")
    text.append(f"{change(moved['macs'], 'MACs')}, {change(moved['params'], 'params')}")
    for device, c in moved["time"].items():
        text.append(f", {c.factor:.2f}x {c.direction} on {device}")
    text.append(" than the network as written")
    return text


def network_title(result: ProfileResult) -> Text:
    net, env = result.network, result.environment
    title = Text(f"{net['name']}", style="bold")
    shape = "x".join(str(d) for d in net["input"])  # per sample, any rank (--model)
    if len(net.get("input_shapes", [None])) != 1:
        shape = net.get("inputs", shape)  # several inputs, or keyword ones: as the user gave them
    title.append(
        f"  input {shape}, batch {env.get('batch', 1)}, {env.get('dtype')}, "
        f"width x{net.get('width_mult', 1):g}"
    )
    if net.get("as"):
        title.append(f", every layer rewritten as {net['as']}")
    if net.get("source"):
        title.append(f"  ({net['source']})", style="dim")
    return title


def profile_view(result: ProfileResult, units: str = "macs", wide: bool = False) -> RenderableType:
    """Everything ``sepprof profile`` prints for one network."""
    parts: list[RenderableType] = [
        network_title(result),
        profile_layers(result, units, wide),
        profile_types(result, units, wide),
        totals_line("total", result.totals, units),
    ]
    if result.before is not None:
        parts.append(totals_line("as written", result.before, units))
    parts += [Text(t) for t in _training(result, units)]
    parts += unstable_note([*result.layers, result.totals])
    extra = [time_shares_line(result), before_after(result), reference_line(result)]
    parts += [p for p in extra if p is not None]
    return Group(*parts, *footer(result.layers, result.notes, result.counting_rule))
