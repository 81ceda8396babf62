"""What ``sepprof compare`` prints: the counts table, a latency table per device timed, one
headline per comparison and the footer."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

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
    change,
    count,
    number,
    ratio,
    rounds_of,
    share,
    speed_of,
    training_step,
    unit_name,
    verdict_on,
    why_no_verdict,
)
from sepprof.results import CompareResult, CompareSet, Comparison, Row

# header, justify, priority (0 always shown; higher numbers are left out first when narrow)
COUNT_COLUMNS = [
    ("variant / stage", "left", 0),
    ("op", "left", 6),
    ("params", "right", 0),
    ("{unit}", "right", 0),
    ("traced", "center", 0),
    ("{unit}\n÷ base", "right", 0),
    ("theory\n÷ base", "right", 1),
    ("eltwise\nops", "right", 4),
    ("bytes", "right", 3),
    ("FLOP/B", "right", 2),
]
LATENCY_COLUMNS = [
    ("variant / stage", "left", 0),
    ("ms", "right", 0),
    ("runs", "right", 5),
    ("MAC\nshare", "right", 0),
    ("time\nshare", "right", 0),
    ("speed vs base", "right", 0),
    ("GFLOP/s", "right", 2),
    ("GB/s", "right", 3),
    ("% of\nroof", "right", 1),
    ("bound", "right", 4),
]


def plural(n: object, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def add_columns(table: FitTable, columns: list[tuple[str, str, int]], unit: str = "") -> None:
    """Columns from ``(header, justify, priority)``; numbers never wrap."""
    for header, justify, priority in columns:
        wraps = header == "op"
        table.add_column(
            header.format(unit=unit), justify=justify, no_wrap=not wraps, priority=priority
        )


def compare_counts(result: CompareResult, units: str = "macs", wide: bool = False) -> FitTable:
    """Counts table: params, MACs, traced check, fractions of the baseline and theory, bytes."""
    unit = unit_name(units)
    checked = ", checked by tracing" if traced_any(result.variants) else ""
    table = new_table(
        f"Counts (analytic{checked}); ÷ base = fraction of the first variant's {unit}; stage rows "
        f"give their share of the variant's {unit} in ( )",
        wide,
    )
    shown = traced_any(result.variants)
    add_columns(table, [c for c in COUNT_COLUMNS if shown or c[0] != "traced"], unit)
    comps = {c.variant: c for c in result.comparisons}
    for row in result.variants:
        comp = comps.get(row.name)
        table.add_row(
            Text(row.name, style="bold"),
            row.detail,
            *_count_cells(row, units, shown),
            ratio(comp.macs_ratio if comp else 1.0),
            ratio(comp.theory_ratio if comp else None),
            *_size_cells(row),
        )
        for stage, part in (
            zip(row.stages, row.stage_shares, strict=True) if len(row.stages) > 1 else ()
        ):
            table.add_row(
                Text(f"  └ {stage.name}", style="dim"),
                stage.detail,
                *_count_cells(stage, units, shown),
                f"({share(part.macs)})",
                "",
                *_size_cells(stage),
            )
    return table


def _count_cells(row: Row, units: str, traced: bool) -> list[str | Text]:
    cells: list[str | Text] = [number(row.params, 4), count(row.macs_analytic, units)]
    return [*cells, traced_cell(row, units)] if traced else cells


def _size_cells(row: Row) -> list[str]:
    return [number(row.elementwise_ops), number(row.bytes), f"{row.intensity:.3g}"]


def _runs_on(env: dict) -> str:
    """``, onnxruntime`` / ``, eager, train step``: what ran, when not eager inference."""
    backend, mode = env.get("backend", "eager"), env.get("mode", "inference")
    parts = [backend] if backend != "eager" else []
    parts += ["training step (forward + backward)"] if mode == "train" else []
    return "".join(f", {p}" for p in parts)


def compare_latency(result: CompareResult, device: str, wide: bool = False) -> FitTable:
    """Latency table for one device: time, share of time vs share of MACs, speed, roofline."""
    env = result.environment
    lat = result.variants[0].latency_ms.get(device)
    runs = _runs_on(env)
    table = new_table(
        f"Latency on {device} ({env.get('dtype')}, {plural(env.get('threads'), 'thread')}, "
        f"{env.get('memory_format')}{runs}): ms = median ± IQR of {rounds_of(lat)}",
        wide,
    )
    add_columns(table, LATENCY_COLUMNS)
    comps = {c.variant: c for c in result.comparisons}
    for row in result.variants:
        comp = comps.get(row.name)
        table.add_row(
            Text(row.name, style="bold"),
            ms(row.latency_ms.get(device)),
            _runs(row, device),
            "",
            "",
            speed_of(comp, device) if comp else "base",
            *_roof_cells(row, device),
        )
        for stage, part in (
            zip(row.stages, row.stage_shares, strict=True) if len(row.stages) > 1 else ()
        ):
            table.add_row(
                Text(f"  └ {stage.name}", style="dim"),
                ms(stage.latency_ms.get(device)),
                _runs(stage, device),
                share(part.macs),
                share(part.time.get(device)),
                "",
                *_roof_cells(stage, device),
            )
    return table


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
    """``separable vs standard: 8.69x fewer MACs (theory: 8.69x fewer), 8.69x fewer params
    → 5.11x ± 0.03 faster on cpu``."""
    text = Text()
    text.append(f"{comp.variant}", style="bold")
    text.append(f" vs {comp.baseline}: ")
    text.append(change(comp.macs_change, "MACs"), style="cyan")
    if comp.theory_change:
        text.append(f" (theory: {change(comp.theory_change)})")
    text.append(f", {change(comp.params_change, 'params')}")
    for device, c in comp.speed_change.items():
        doubt = comp.speedup[device].doubt
        style = "yellow" if doubt else "bold red" if c.direction == "slower" else "bold green"
        text.append(" → ")
        text.append(verdict_on(comp, device), style=style)
    return text


def layer_title(result: CompareResult) -> Text:
    """``k=3 cin=256 cout=256 size=56 stride=1 batch=1, BN + relu, fp32``."""
    spec = result.spec
    return Text(
        f"{spec.get('name') + ': ' if spec.get('name') else ''}"
        f"k={spec['k']} cin={spec['cin']} cout={spec['cout']} size={spec['size']} "
        f"stride={spec['stride']} batch={spec['batch']}, "
        f"{'BN + ' if spec['bn'] else ''}{spec['act']}, "
        f"{result.environment.get('dtype', 'fp32')}",
        style="bold",
    )


def training_lines(result: CompareResult, units: str = "macs") -> list[str]:
    """``--mode train``'s counts per variant: ``separable: training step ... backward``."""
    lines = [(v.name, training_step(v, units)) for v in result.variants]
    return [f"{name}: {text}" for name, text in lines if text]


def compare_view(result: CompareResult, units: str = "macs", wide: bool = False) -> RenderableType:
    """Everything ``sepprof compare`` prints for one layer."""
    parts: list[RenderableType] = [layer_title(result), compare_counts(result, units, wide)]
    parts += [Text(line) for line in training_lines(result, units)]
    for device in devices_of(result.variants):
        parts.append(compare_latency(result, device, wide))
    parts += unstable_note(result.variants)
    for comp in result.comparisons:
        parts.append(headline(comp))
        parts += [Padding(Text(why, style="yellow"), (0, 0, 0, 2)) for why in why_no_verdict(comp)]
    return Group(*parts, *footer(result.variants, result.notes, result.counting_rule))


def modes_line(result: CompareSet) -> Text:
    """``separable vs standard on cpu: inference 5.11x faster, training step 5.89x faster``:
    each mode's verdict side by side (no verdict where a timing was contended or unstable)."""
    text = Text()
    first = result.results[0]
    for i, comp in enumerate(first.comparisons):
        for device in comp.speedup:
            parts = []
            for r in result.results:
                mode = r.environment.get("mode", "inference")
                label = "training step" if mode == "train" else mode
                parts.append(f"{label} {speed_of(r.comparisons[i], device)}")
            text.append(f"{comp.variant} vs {comp.baseline} on {device}: {', '.join(parts)}\n")
    return text
