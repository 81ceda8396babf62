"""Measuring blocks and plans: build their modules, trace them, time them (imports torch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sepprof.calibrate import load_calibration
from sepprof.ops import Block
from sepprof.results import Row
from sepprof.rows import with_latency, with_roof
from sepprof.timing import (
    TimingOptions,
    available_devices,
    check_device,
    measure,
    tune_allocator,
)
from sepprof.units import DTYPE_BYTES
from sepprof.variants import DTYPES, build_block, memory_format, module_name, random_input

Progress = Callable[[str, int], Callable[[], None]]


def resolve_devices(devices: tuple[str, ...]) -> tuple[str, ...]:
    """Expand ``all`` to every device present."""
    return available_devices() if "all" in devices else devices


def _block_items(
    block: Block, batch: int, device: str, opts: TimingOptions
) -> dict[str, Callable[[], Any]]:
    """Callables for a block and, when it has several stages, each stage on its own."""
    fmt = memory_format(opts.memory_format)
    module = build_block(block).to(device=device, dtype=DTYPES[opts.dtype], memory_format=fmt)
    x = random_input(batch, block.inp, device, opts.dtype, opts.memory_format)
    items: dict[str, Callable[[], Any]] = {block.name: lambda: module(x)}
    if len(block.stages) > 1:
        for stage in block.stages:
            sub = getattr(module, module_name(stage.name))
            xs = random_input(batch, stage.inp, device, opts.dtype, opts.memory_format)
            items[f"{block.name}/{stage.name}"] = lambda sub=sub, xs=xs: sub(xs, x)
    return items


def time_blocks(
    blocks: list[Block],
    rows: list[Row],
    batch: int,
    opts: TimingOptions,
    progress: Progress | None = None,
) -> tuple[list[Row], dict[str, Any], list[str]]:
    """Time every block and stage on each device in rounds; add latencies and roofline."""
    devices = resolve_devices(opts.devices)
    for device in devices:
        check_device(device, opts.dtype)
    allocator = tune_allocator() if opts.allocator == "tuned" else "system (untouched)"
    n_threads = opts.thread_count()
    notes: list[str] = []
    for device in devices:
        items: dict[str, Callable[[], Any]] = {}
        for block in blocks:
            items.update(_block_items(block, batch, device, opts))
        tick = progress(f"timing {len(items)} items on {device}", opts.rounds) if progress else None
        latency = measure(
            items,
            device=device,
            n_threads=n_threads,
            rounds=opts.rounds,
            min_time=opts.min_time,
            on_round=tick,
        )
        calibration = load_calibration(device, opts.dtype, n_threads)
        if calibration is None:
            notes.append(
                f"no roofline for {device}/{opts.dtype}/{n_threads} threads: "
                "run `sepprof calibrate` to measure this machine's peak and bandwidth"
            )
        rows = [
            _fill(row, block, device, latency, calibration, batch, opts.dtype)
            for row, block in zip(rows, blocks, strict=True)
        ]
    env = {
        "devices": list(devices),
        "threads": n_threads,
        "memory_format": opts.memory_format,
        "allocator": allocator,
    }
    return rows, env, notes


def _fill(
    row: Row, block: Block, device: str, latency: dict, calibration: Any, batch: int, dtype: str
) -> Row:
    """Latency (and roofline, when calibrated) for a variant row and its stage rows."""
    itemsize = DTYPE_BYTES[dtype]
    stages = []
    for stage_row, stage in zip(row.stages, block.stages, strict=True):
        lat = latency.get(f"{block.name}/{stage.name}", latency[block.name])
        stage_row = with_latency(stage_row, device, lat)
        if calibration:
            stage_row = with_roof(
                stage_row, device, [stage], calibration.roofline(), batch, itemsize
            )
        stages.append(stage_row)
    row = replace(with_latency(row, device, latency[block.name]), stages=tuple(stages))
    if calibration:
        row = with_roof(row, device, list(block.stages), calibration.roofline(), batch, itemsize)
    return row
