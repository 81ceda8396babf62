"""``sepprof compare``: one layer, every variant side by side (spec, variants, measure, result).

Analytic costs are always computed; tracing and timing import torch and fvcore only when asked.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sepprof.blocks import layer_variant
from sepprof.environment import environment
from sepprof.guards import blocks_bytes, check_memory, estimate_bytes
from sepprof.ops import Block
from sepprof.pipeline import Progress, block_row, with_latency, with_roof, with_trace
from sepprof.results import CompareResult, Row
from sepprof.results.compare import comparisons
from sepprof.spec import LayerSpec, VariantSpec, check_variant
from sepprof.units import DTYPE_BYTES


def compare(
    layer: LayerSpec,
    variants: list[VariantSpec],
    *,
    trace: bool = True,
    timing: object | None = None,
    stages: bool = True,
    progress: Progress | None = None,
) -> CompareResult:
    """Compare variants of ``layer``: analytic counts, traced counts (``trace``) and latency
    (``timing``, a ``timing.TimingOptions``) of each variant and, with ``stages``, of each of
    its stages. ``progress(label, total)`` returns a tick."""
    for v in variants:
        check_variant(v, layer)
    dtype = getattr(timing, "dtype", "fp32")
    itemsize = DTYPE_BYTES[dtype]
    blocks = [layer_variant(layer, v) for v in variants]
    rows = [block_row(b, layer.batch, itemsize) for b in blocks]
    notes: list[str] = []
    extra: dict[str, object] = {"dtype": dtype}
    if trace:
        for b in blocks:
            ops = [op for s in b.stages for op in s.ops]
            check_memory(f"variant {b.name}", estimate_bytes(ops, layer.batch, itemsize), "cpu")
    if trace:
        rows = [_traced(row, block, layer.batch) for row, block in zip(rows, blocks, strict=True)]
    if timing is None:
        notes.append("timing skipped (--no-time)")
    else:
        from sepprof.measure import block_items, time_all

        def items(device: str) -> dict:
            return {
                k: v
                for b in blocks
                for k, v in block_items(b, layer.batch, device, timing, stages).items()
            }

        needed = blocks_bytes(blocks, layer.batch, itemsize, stages)
        timings = time_all(items, timing, progress, needed)
        rows = [
            _timed(row, block, timings, layer.batch, itemsize)
            for row, block in zip(rows, blocks, strict=True)
        ]
        extra.update(timings.env)
        notes.extend(timings.notes)
    spec = layer.model_dump()
    return CompareResult(
        environment(**extra),
        spec,
        tuple(rows),
        tuple(comparisons(tuple(rows), layer)),
        tuple(notes),
    )


def _traced(row: Row, block: Block, batch: int) -> Row:
    """Fill a variant row and its stage rows with fvcore's per-module counts."""
    from sepprof.trace import trace_block

    traced, torch_macs = trace_block(block, batch)
    stages = tuple(with_trace(s, traced[s.name]) for s in row.stages)
    row = replace(with_trace(row, traced[""]), macs_flop_counter=torch_macs)
    return replace(row, stages=stages)


def _timed(row: Row, block: Block, timings: Any, batch: int, itemsize: int) -> Row:
    """A variant row and its stage rows with latency (and roofline, when calibrated)."""
    for device, latency in timings.latency.items():
        roof = timings.calibration[device]
        stages = []
        for stage_row, stage in zip(row.stages, block.stages, strict=True):
            lat = latency.get(f"{block.name}/{stage.name}", latency[block.name])
            stage_row = with_latency(stage_row, device, lat)
            if roof:
                stage_row = with_roof(stage_row, device, [stage], roof.roofline(), batch, itemsize)
            stages.append(stage_row)
        row = replace(with_latency(row, device, latency[block.name]), stages=tuple(stages))
        if roof:
            row = with_roof(row, device, list(block.stages), roof.roofline(), batch, itemsize)
    return row
