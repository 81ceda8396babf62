"""The one measuring sequence every command runs: guard -> count -> trace -> time -> roofline ->
attach. Rows start as analytic costs and are filled in with traces, timings and roofs; the one
progress reporter type lives here too. torch is imported only by the steps that trace or time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sepprof.costs import block_cost, op_cost, stage_cost
from sepprof.ops import Block, Conv, Linear, Pool, Stage
from sepprof.results import Latency, Roof, Row
from sepprof.roofline import Roofline, roof_time

Progress = Callable[[str, int], Callable[[], None]]


def describe(stage: Stage) -> str:
    """The stage's main op in a few characters: ``3x3/2 g=32 32->32``, ``fc 1024->1000``,
    ``SE 96->4->96``, ``1x1/2 64->128 + add``."""
    if stage.combine == "gate":
        convs = [op for op in stage.ops if isinstance(op, Conv)]
        return f"SE {convs[0].inp.c}->{convs[0].cout}->{convs[-1].cout}"
    suffix = " + add" if stage.combine == "shortcut" else ""
    for op in stage.ops:
        if isinstance(op, Conv):
            stride = f"/{op.stride}" if op.stride > 1 else ""
            groups = f" g={op.groups}" if op.groups > 1 else ""
            return f"{op.k}x{op.k}{stride}{groups} {op.inp.c}->{op.cout}{suffix}"
        if isinstance(op, Linear):
            return f"fc {op.inp.numel}->{op.fout}"
        if isinstance(op, Pool):
            return "global pool" if op.global_ else f"{op.fn}pool {op.k}x{op.k}/{op.stride}"
    return "+".join(op.kind for op in stage.ops)


def stage_row(stage: Stage, batch: int, itemsize: int, name: str | None = None) -> Row:
    """The analytic row of one stage."""
    c = stage_cost(stage, batch, itemsize)
    return Row(
        name or stage.name,
        stage.kind,
        c.params,
        c.norm_params,
        c.macs,
        c.eltwise,
        c.bytes,
        str(stage.out),
        describe(stage),
    )


def block_row(block: Block, batch: int, itemsize: int) -> Row:
    """The analytic row of a block (a ``compare`` variant) with one row per stage."""
    c = block_cost(block, batch, itemsize)
    stages = tuple(stage_row(s, batch, itemsize) for s in block.stages)
    return Row(
        block.name,
        block.kind,
        c.params,
        c.norm_params,
        c.macs,
        c.eltwise,
        c.bytes,
        str(block.out),
        stages[0].detail if len(stages) == 1 else "",
        stages=stages,
    )


def with_trace(row: Row, traced: Any) -> Row:
    """Add a trace's counts (a ``trace.TracedCounts``) to an analytic row."""
    return replace(
        row,
        macs_traced=traced.macs,
        elementwise_traced=traced.eltwise,
        params_traced=traced.params,
        uncounted_ops=dict(traced.uncounted),
    )


def with_latency(row: Row, device: str, latency: Latency) -> Row:
    return replace(row, latency_ms={**row.latency_ms, device: latency})


def with_roof(
    row: Row, device: str, stages: list[Stage], roof: Roofline, batch: int, itemsize: int
) -> Row:
    """Add where the row's measured time sits under ``roof`` (needs a latency on ``device``)."""
    latency = row.latency_ms.get(device)
    if latency is None:
        return row
    costs = [op_cost(op, batch, itemsize) for s in stages for op in s.ops]
    seconds, bound = roof_time(costs, roof)
    attainable_ms = seconds * 1e3
    percent = 100 * attainable_ms / latency.median if latency.median else 0.0
    return replace(row, roofline={**row.roofline, device: Roof(attainable_ms, percent, bound)})
