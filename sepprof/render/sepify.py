"""Rich output of ``sepprof sepify``: converted layers before/after, skipped layers, totals."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from sepprof.render.console import devices_of, footer, traced_cell
from sepprof.render.fit import new_table
from sepprof.render.formats import change, console_text, count, speed, unit_name
from sepprof.results import Row
from sepprof.units import human

# How each skip code reads in the one-line summary.
SKIP_WORDS = {
    "pointwise": "1x1",
    "grouped": "grouped or depthwise",
    "excluded": "excluded",
    "min_channels": "below --min-channels",
    "transposed": "transposed",
    "custom_forward": "custom forward",
    "not_called": "did not run",
    "shared": "shared",
    "input": "unbatched input",
}


def fewer(c: Any) -> str:
    """A count's change in words: ``8.4x fewer`` (``—`` when unknown)."""
    return change(c, "") if c is not None else "—"


def _traced(before: Row, after: Row, units: str) -> Text:
    """✓ when both the standard conv and its replacement trace to their analytic counts."""
    if before.traced_ok is None or after.traced_ok is None:
        return Text("—", style="dim")
    if not before.traced_ok:
        return traced_cell(before, units)
    return traced_cell(after, units)


def _speed(changes: dict[str, Any], device: str) -> Text:
    """``4.85x faster`` / ``2.03x slower`` (no verdict when contended or unstable)."""
    s = changes["speedup"].get(device)
    if s is None:
        return Text("—", style="dim")
    text = speed(changes["speed"][device], s.doubt)
    return Text(text, style="green" if s.value >= 1 and not s.doubt else "yellow")


def layers_table(report: Any, units: str = "macs", wide: bool = False) -> Table:
    """One row per converted layer: params and MACs before -> after, traced check, time."""
    unit = unit_name(units)
    rows = [r for c in report.converted for r in (c.before, c.after)]
    devices = devices_of(rows)
    table = new_table("Converted layers (before -> after)", wide)
    table.add_column("#", justify="right")
    table.add_column("layer", no_wrap=True)
    for name in ("conv", "params", unit, f"{unit} change", "traced"):
        table.add_column(name, justify="left" if name == "conv" else "right", no_wrap=True)
    for device in devices:
        for name in (f"{device} ms", "speed"):
            table.add_column(name, justify="right", no_wrap=True)
    for i, layer in enumerate(report.converted, 1):
        b, a, changes = layer.before, layer.after, layer.changes
        cells: list[Any] = [
            str(i),
            console_text(layer.name),
            b.detail,
            f"{human(b.params, 4)} -> {human(a.params + a.norm_params, 4)}",
            f"{count(b.macs_analytic, units)} -> {count(a.macs_analytic, units)}",
            fewer(changes["macs"]),
            _traced(b, a, units),
        ]
        for device in devices:
            was, now = b.latency_ms.get(device), a.latency_ms.get(device)
            cells.append(f"{was.median:.3g} -> {now.median:.3g}" if was and now else "—")
            cells.append(_speed(changes, device))
        table.add_row(*cells)
    return table


def skipped_table(report: Any, wide: bool = False) -> Table:
    """Every convolution left as it was, and why."""
    table = new_table(f"Skipped ({len(report.skipped)})", wide)
    for name in ("layer", "op", "reason"):
        table.add_column(name)
    for s in report.skipped:
        table.add_row(console_text(s.name), s.op, console_text(s.reason))
    return table


def skipped_summary(report: Any) -> str:
    """``3 skipped: 2 1x1, 1 excluded`` (empty when none were)."""
    if not report.skipped:
        return ""
    codes = Counter(s.code for s in report.skipped)
    parts = ", ".join(f"{n} {SKIP_WORDS.get(code, code)}" for code, n in codes.most_common())
    return f"{len(report.skipped)} skipped: {parts}"


def totals_line(report: Any, units: str = "macs") -> Text:
    """``12 convs converted: 11.7M -> 1.4M params (8.4x), 1.82G -> 0.24G MACs (7.6x); ...``."""
    unit = unit_name(units)
    skipped = skipped_summary(report)
    if not report.converted:
        what = "the model has no convolution" if not report.skipped else skipped
        return Text(f"nothing to convert: {what}", style="bold yellow")
    n = len(report.converted)
    text = Text(f"{n} conv{'s' if n != 1 else ''} converted: ", style="bold")
    text.append(
        f"{human(report.params_before)} -> {human(report.params_after)} params "
        f"({fewer(report.params_change)}), "
        f"{count(report.macs_before, units)} -> {count(report.macs_after, units)} {unit} "
        f"({fewer(report.macs_change)})",
        style="cyan",
    )
    if skipped:
        text.append(f"; {skipped}")
    for device in sorted({d for c in report.converted for d in c.changes["speedup"]}):
        text.append(f"; {device}: {paid_off(report.converted, device)}")
    return text


def paid_off(converted: Any, device: str) -> str:
    """Which conversions paid off on ``device``: ``faster on 12 of 17, slower on 2, no verdict
    on 3`` (a verdict only where the speedup's interval separates the two)."""
    faster = slower = undecided = 0
    for layer in converted:
        s = layer.changes["speedup"].get(device)
        if s is None:
            continue
        if not s.trusted:
            undecided += 1
        elif s.value >= 1:
            faster += 1
        else:
            slower += 1
    timed = faster + slower + undecided
    parts = [f"faster on {faster} of {timed} layers", f"slower on {slower}"]
    return ", ".join(parts + ([f"no verdict on {undecided}"] if undecided else []))


def model_line(report: Any, units: str = "macs") -> Text | None:
    """The whole model before and after: params (BatchNorm included), MACs, traced, time."""
    b, a = report.before, report.after
    if b is None or a is None:
        return None
    unit = unit_name(units)
    pb, pa = b.params + b.norm_params, a.params + a.norm_params
    changes = report.changes
    text = Text("whole model: ", style="bold")
    text.append(
        f"{human(pb, 4)} -> {human(pa, 4)} params ({fewer(changes['params'])}), "
        f"{count(b.macs_analytic, units)} -> {count(a.macs_analytic, units)} {unit} "
        f"({fewer(changes['macs'])})"
    )
    if b.traced_ok is not None and a.traced_ok is not None:
        text.append("  traced ")
        text.append_text(_traced(b, a, units))
    for device in devices_of([b, a]):
        was, now = b.latency_ms.get(device), a.latency_ms.get(device)
        if was and now:
            text.append(f"; {device} {was.median:.3g} ms -> {now.median:.3g} ms (")
            text.append_text(_speed(changes, device))
            text.append(")")
    return text


def sepify_view(report: Any, units: str = "macs", wide: bool = False) -> RenderableType:
    """Everything ``sepprof sepify`` prints: layers before/after, skipped layers, totals."""
    model = report.model
    options = report.options
    between = " + ".join(p for p in ("BatchNorm" if options.bn else "", options.act or "") if p)
    title = Text(f"sepify {model.get('name', '')}", style="bold")
    title.append(
        f"  input {model.get('inputs') or ','.join(map(str, model.get('input', [])))}: each "
        f"standard conv -> depthwise (same kernel){' + ' + between if between else ''} + "
        "pointwise 1x1"
    )
    parts: list[RenderableType] = [title]
    if report.converted:
        parts.append(layers_table(report, units, wide))
    if report.skipped:
        parts.append(skipped_table(report, wide))
    parts.append(totals_line(report, units))
    whole = model_line(report, units)
    if whole is not None:
        parts.append(whole)
    parts += footer((), report.notes, report.counting_rule)
    return Group(*parts)
