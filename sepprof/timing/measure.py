"""Timing blocks and networks on each device: build their modules, make one callable per item,
and measure every item in the same rounds (imports torch), with the contention around it.

The thread count defaults to the cores other processes leave free; other processes' CPU use is
read before, during and after timing, and a device timed while they took its cores has every
latency marked contended (so its speedups give no verdict). ``processes`` > 1 runs the rounds in
that many fresh worker processes (``sepprof.timing.workers``) and pools them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sepprof.backends.prepare import (
    backend_env,
    backend_notes,
    check_backend,
    timed_item,
)
from sepprof.environment import check_memory
from sepprof.models.variants import build_block, build_plan, placed, random_input
from sepprof.results import Latency
from sepprof.results.calibration import Calibration
from sepprof.results.latency import pool
from sepprof.spec.ops import Block, Plan, Stage, module_name, stage_path
from sepprof.timing.calibration import load_calibration
from sepprof.timing.contention import Contention, Threads, choose_threads, others_cpu
from sepprof.timing.options import Progress, TimingOptions
from sepprof.timing.rounds import DeviceRun, Items, time_devices
from sepprof.timing.timer import (
    available_devices,
    check_device,
    tune_allocator,
)


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


def _stage_item(
    module: Any,
    stage: Stage,
    block: Block,
    batch: int,
    device: str,
    opts: TimingOptions,
    input_grad: bool = True,
) -> Callable[[], Any]:
    """A stage on its own: fed a random input of its shape (and of its block's, for shortcuts)."""
    xs = random_input(batch, stage.inp, device, opts.dtype, opts.memory_format)
    xb = random_input(batch, block.inp, device, opts.dtype, opts.memory_format)
    return timed_item(module, (xs, xb), device, opts, input_grad)


def block_items(
    block: Block, batch: int, device: str, opts: TimingOptions, stages: bool = True
) -> Items:
    """A ``compare`` variant, and (``stages``) each of its stages when it has several
    (``name/stage``), on ``opts.backend`` in ``opts.mode`` (``backends.prepare``)."""
    module = placed(build_block(block), device, opts.dtype, opts.memory_format)
    x = random_input(batch, block.inp, device, opts.dtype, opts.memory_format)
    items: Items = {block.name: timed_item(module, (x,), device, opts)}
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
    """Whole networks (keyed by their label, first, so the networks a speedup compares are timed
    back to back) and each stage of ``plans[stages_of]`` (keyed by its module path); in train
    mode the image needs no gradient, nor does a stage before the first parameter
    (``backward.plan_stage_needs``)."""
    from sepprof.count.backward import plan_stage_needs

    items: Items = {}
    stages: Items = {}
    for label, plan in plans.items():
        module = placed(build_plan(plan), device, opts.dtype, opts.memory_format)
        x = random_input(batch, plan.inp, device, opts.dtype, opts.memory_format)
        items[label] = timed_item(module, (x,), device, opts, input_grad=False)
        if label != stages_of:
            continue
        for block, stage, grad, _ in plan_stage_needs(plan):
            path = stage_path(block, stage, True)
            sub = module.get_submodule(path)
            stages[path] = _stage_item(sub, stage, block, batch, device, opts, grad)
    return {**items, **stages}


def time_all(
    make_items: Callable[[str], Items],
    opts: TimingOptions,
    progress: Progress | None = None,
    needed: int = 0,
    hint: str = "use a smaller --batch or --size",
) -> Timings:
    """Time every item ``make_items(device)`` returns, on each device, in the same rounds (in
    ``opts.processes`` worker processes when over 1); refuse first, on each device, when ``needed``
    bytes are over half of its free memory."""
    devices = resolve_devices(opts.devices)
    for device in devices:
        check_device(device, opts.dtype)
        check_backend(opts.backend, opts.mode, device)  # no compiler or ORT: refused up front
        check_memory(f"timing on {device}", needed, device, hint)
    if opts.processes > 1:
        from sepprof.timing.workers import ready

        ready()  # the fork server's own start is not another process's load
    threads = choose_threads(opts.threads, others_cpu(reuse=1.0))
    allocator = tune_allocator() if opts.allocator == "tuned" else "system (untouched)"
    if opts.processes > 1:
        from sepprof.timing.workers import run_workers

        runs = run_workers(make_items, opts, devices, threads.used, progress)
    else:
        runs = [time_devices(make_items, opts, devices, threads.used, progress)]
    after = others_cpu(0.1)
    timings = Timings()
    if threads.used < threads.cores or threads.oversubscribed:
        timings.notes.append(f"threads: {threads.note}")
    contention = {d: _contention(d, threads, [r[d] for r in runs], after) for d in devices}
    for device in devices:
        reason = contention[device].reason
        latency = {k: pool([r[device].latency[k] for r in runs]) for k in runs[0][device].latency}
        timings.latency[device] = {k: lat.contended(reason) for k, lat in latency.items()}
        if reason:
            timings.notes.append(f"{device}: {reason}")
        timings.calibration[device] = _calibration(device, opts, threads.used, timings.notes)
    timings.env = _env(devices, opts, threads, allocator, contention)
    timings.env.update(backend_env(opts, [r[d].backend for r in runs[:1] for d in devices]))
    timings.notes.extend(backend_notes(timings.env))
    return timings


def _contention(
    device: str, threads: Threads, runs: list[DeviceRun], after: float | None
) -> Contention:
    """Contention around a device's timing: the busiest of its worker processes."""
    during = [r.during for r in runs if r.during is not None]
    return Contention(
        device, threads.used, threads.cores, threads.others, max(during, default=None), after
    )


def _calibration(
    device: str, opts: TimingOptions, n_threads: int, notes: list[str]
) -> Calibration | None:
    calibration = load_calibration(device, opts.dtype, n_threads)
    if calibration is None:
        notes.append(
            f"no roofline for {device}/{opts.dtype}/{n_threads} threads: run "
            "`sepprof calibrate` to measure this machine's peak and bandwidth"
        )
    return calibration


def _env(
    devices: tuple[str, ...],
    opts: TimingOptions,
    threads: Threads,
    allocator: str,
    contention: dict[str, Contention],
) -> dict[str, Any]:
    """The measurement's conditions, for the result's environment block (and its header)."""
    busiest = max(contention.values(), key=lambda c: c.during or 0.0)
    return {
        "devices": list(devices),
        **threads.to_env(),
        "memory_format": opts.memory_format,
        "allocator": allocator,
        "rounds": opts.rounds,
        "processes": opts.processes,
        "min_time": opts.min_time,
        "other_cpu_cores": busiest.to_dict(),
        "contention": next((c.reason for c in contention.values() if c.reason), ""),
    }
