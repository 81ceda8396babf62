"""Timing blocks and networks on each device: build their modules, make one callable per item,
and measure every item in the same rounds (imports torch)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sepprof.calibration import Calibration, load_calibration
from sepprof.guards import check_memory
from sepprof.ops import Block, Plan, Stage, module_name, stage_path
from sepprof.options import TimingOptions, default_threads
from sepprof.pipeline import Progress
from sepprof.results import Latency
from sepprof.timing import (
    available_devices,
    check_device,
    measure,
    tune_allocator,
)
from sepprof.variants import (
    DTYPES,
    build_block,
    build_plan,
    memory_format,
    random_input,
)

Items = dict[str, Callable[[], Any]]


@dataclass
class Timings:
    """Latencies per device and item, the calibration found for each device, and the
    environment facts that belong in the result."""

    latency: dict[str, dict[str, Latency]] = field(default_factory=dict)
    calibration: dict[str, Calibration | None] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def resolve_devices(devices: tuple[str, ...]) -> tuple[str, ...]:
    """Expand ``all`` to every device present."""
    return available_devices() if "all" in devices else devices


def _on(module: Any, device: str, opts: TimingOptions) -> Any:
    fmt = memory_format(opts.memory_format)
    return module.to(device=device, dtype=DTYPES[opts.dtype], memory_format=fmt)


def _stage_item(
    module: Any, stage: Stage, block: Block, batch: int, device: str, opts: TimingOptions
) -> Callable[[], Any]:
    """A stage on its own: fed a random input of its shape (and of its block's, for shortcuts)."""
    xs = random_input(batch, stage.inp, device, opts.dtype, opts.memory_format)
    xb = random_input(batch, block.inp, device, opts.dtype, opts.memory_format)
    return lambda: module(xs, xb)


def block_items(
    block: Block, batch: int, device: str, opts: TimingOptions, stages: bool = True
) -> Items:
    """A ``compare`` variant, and (``stages``) each of its stages when it has several
    (``name/stage``)."""
    module = _on(build_block(block), device, opts)
    x = random_input(batch, block.inp, device, opts.dtype, opts.memory_format)
    items: Items = {block.name: lambda: module(x)}
    if stages and len(block.stages) > 1:
        for stage in block.stages:
            sub = getattr(module, module_name(stage.name))
            items[f"{block.name}/{stage.name}"] = _stage_item(
                sub, stage, block, batch, device, opts
            )
    return items


def plan_items(
    plans: dict[str, Plan], batch: int, device: str, opts: TimingOptions, stages_of: str
) -> Items:
    """Whole networks (keyed by their label) and each stage of ``plans[stages_of]`` (keyed by
    its module path)."""
    items: Items = {}
    for label, plan in plans.items():
        module = _on(build_plan(plan), device, opts)
        x = random_input(batch, plan.inp, device, opts.dtype, opts.memory_format)
        items[label] = lambda module=module, x=x: module(x)
        if label != stages_of:
            continue
        for block, stage in plan.stages():
            path = stage_path(block, stage, True)
            sub = module.get_submodule(path)
            items[path] = _stage_item(sub, stage, block, batch, device, opts)
    return items


def time_all(
    make_items: Callable[[str], Items],
    opts: TimingOptions,
    progress: Progress | None = None,
    needed: int = 0,
    hint: str = "use a smaller --batch or --size",
) -> Timings:
    """Time every item ``make_items(device)`` returns, on each device, in the same rounds;
    refuse first, on each device, when ``needed`` bytes are over half of its free memory."""
    devices = resolve_devices(opts.devices)
    for device in devices:
        check_device(device, opts.dtype)
        check_memory(f"timing on {device}", needed, device, hint)
    timings = Timings()
    load = others_cpu()
    note = busy_note(load, opts.thread_count())
    if note:
        timings.notes.append(note)
    allocator = tune_allocator() if opts.allocator == "tuned" else "system (untouched)"
    n_threads = opts.thread_count()
    for device in devices:
        items = make_items(device)
        tick = progress(f"timing {len(items)} items on {device}", opts.rounds) if progress else None
        timings.latency[device] = measure(
            items,
            device=device,
            n_threads=n_threads,
            rounds=opts.rounds,
            min_time=opts.min_time,
            on_round=tick,
        )
        calibration = load_calibration(device, opts.dtype, n_threads)
        timings.calibration[device] = calibration
        if calibration is None:
            timings.notes.append(
                f"no roofline for {device}/{opts.dtype}/{n_threads} threads: run "
                "`sepprof calibrate` to measure this machine's peak and bandwidth"
            )
    timings.env = {
        "devices": list(devices),
        "threads": n_threads,
        "memory_format": opts.memory_format,
        "allocator": allocator,
        "other_cpu_cores": load,
    }
    return timings


def others_cpu(window: float = 0.1) -> float | None:
    """Cores other processes kept busy over a short ``window`` (Linux /proc/stat, minus this
    process's own threads), which, unlike the load average, does not remember sepprof's own
    previous runs."""

    def busy() -> int | None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)

    before, own = busy(), time.process_time()
    time.sleep(window)
    after, own = busy(), time.process_time() - own
    if before is None or after is None:
        return None
    return max(0.0, (after - before) / os.sysconf("SC_CLK_TCK") - own) / window


def busy_note(others: float | None, n_threads: int) -> str | None:
    """A warning when other processes were using the cores sepprof is about to time on."""
    spare = default_threads() - n_threads
    if others is None or others <= spare + 0.25:
        return None
    return (
        f"other processes were using {others:.1f} of {default_threads()} cores just before "
        f"timing with {n_threads} threads: latencies may be inflated and noisy"
    )
