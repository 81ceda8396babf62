"""Per-layer times as torch.profiler sees them (``--layer-times profiler``): each aten op's self
time attributed to the innermost timed module that was running when the op ran.

The other view (``--layer-times replay``, ``commands.layer_times``) replays each layer alone in
paired rounds, with no instrumentation in the timed calls. This one runs the whole model, as it
is, under ``torch.profiler.profile`` and splits the ops' self time by module, so a reader can
set the two side by side: they agree where a layer is a few large kernels, and part where the
profiler's own per-op cost (a few microseconds for each op it records, and each op of a conv
is several: conv2d, convolution, _convolution, the backend's op, empty, ...) is a visible part
of a sub-millisecond layer.

How an op finds its module. A forward pre-hook on each target module opens a
``record_function`` range named after the module's path and its forward hook closes it, so in
the profiler's event tree (``FunctionEvent.cpu_parent``) every op has, above it, the ranges of
the modules running around it; the nearest one is the innermost target. This was chosen over
the profiler's own module attribution: ``with_modules`` covers TorchScript only, and
``with_stack`` records Python frames for every op (heavy overhead, and frames name classes and
functions, not module paths, so a block used twice is ambiguous). The ranges are the profiler's
ordinary user annotations: they work the same on CPU and CUDA, whatever the op, and a module
called twice simply has two ranges. Ops in no target's range (a residual add in a parent's
``forward()``, a functional call, ``torch.flatten`` written in the model's own code) are
reported as ``UNATTRIBUTED``. Only the ops' self times are summed (an op's time less the time of
the ops it called), so the attributed and unattributed times add up exactly to the profiler's
total op self time; the ranges' own self time (Python, ``nn.Module.__call__``, the hooks) is in
no one's share. On CUDA a row's time is the device self time of the kernels its ops launched
(linked by the profiler's correlation ids); its CPU self time is kept beside it.

Rounds. After a warm-up outside the profiler, the model runs ``rounds`` times inside one
profiler session, each repetition (``calls`` forward passes) in a ``record_function`` range of
its own; the first repetitions of a session are slow (the profiler fills its buffers: the first
three took 1.4-13x the steady time on the development machine), so ``WARM_ROUNDS`` of them, and
more until ``WARM_SECONDS`` have passed, run under the profiler and are dropped. Each row's
per-round times become a ``results.Latency``, like the other view's; nothing here is paired,
since every row comes from the same forward passes already.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.autograd import DeviceType
from torch.autograd.profiler import record_function

from sepprof.errors import UserError
from sepprof.models.model import ModelInputs
from sepprof.models.variants import DTYPES, placed
from sepprof.results import Latency
from sepprof.timing.options import ROUNDS, timing_left
from sepprof.timing.timer import check_device, tune_allocator, warm_up
from sepprof.timing.timer import threads as torch_threads

UNATTRIBUTED = "(unattributed)"  # ops in no target's range: a parent's forward() code
MODEL = "(model)"  # the whole forward pass: wall time per repetition, as the profiler saw it
LAYER = "sepprof.layer::"  # a target module's range (its path follows)
ROUND = "sepprof.round::"  # a kept repetition's range (its index follows)
WARM = "sepprof.warm::"  # a dropped repetition's range
SYNC = "sepprof.sync"  # the end-of-repetition CUDA synchronisation: its wait is no one's op
WARM_ROUNDS = 3  # repetitions dropped at the start of the profiler session, at least
WARM_SECONDS = 0.1  # and at least this long
OUR_RANGES = (LAYER, ROUND, WARM, SYNC)


@dataclass
class Attribution:
    """Microseconds of op self time per kept round: per target path, and unattributed; with
    each round's wall time (its range) and how many times each target ran in each round."""

    cpu_us: dict[str, list[float]]
    device_us: dict[str, list[float]]
    wall_us: list[float]
    calls: dict[str, list[int]] = field(default_factory=dict)
    ops: dict[str, list[int]] = field(default_factory=dict)  # op events counted, per round


def _first_paths(model: nn.Module, targets: Iterable[str]) -> dict[str, nn.Module]:
    """Target path -> module, for the first path of each module (a module registered under two
    paths gets one range, named by its first path among the targets); unknown paths refused."""
    wanted = set(targets)
    for reserved in (UNATTRIBUTED, MODEL):
        if reserved in wanted:
            raise UserError(f"layer times: {reserved!r} is reserved, not a module path")
    every = dict(model.named_modules(remove_duplicate=False))
    missing = [p for p in wanted if p not in every]
    if missing:
        raise UserError(f"layer times: no module at {', '.join(map(repr, missing[:3]))}")
    out: dict[str, nn.Module] = {}
    seen: set[int] = set()
    for path, module in model.named_modules(remove_duplicate=False):
        if path in wanted and id(module) not in seen:
            seen.add(id(module))
            out[path] = module
    return out


@contextmanager
def annotated(model: nn.Module, targets: Iterable[str]) -> Iterator[list[str]]:
    """While open, every call of a target module runs in a ``record_function`` range named
    ``LAYER + path``; yields the paths that got ranges (a module registered under several
    target paths is named by the first). Hooks removed and open ranges closed on the way out."""
    paths = _first_paths(model, targets)
    handles = []
    open_ranges: list[list[record_function]] = []
    for path, module in paths.items():
        stack: list[record_function] = []
        open_ranges.append(stack)

        def pre(_m: nn.Module, _args: Any, name: str = LAYER + path, stack: list = stack) -> None:
            span = record_function(name)
            span.__enter__()
            stack.append(span)

        def post(_m: nn.Module, _args: Any, _out: Any, stack: list = stack) -> None:
            stack.pop().__exit__(None, None, None)

        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))
    try:
        yield list(paths)
    finally:
        for handle in handles:
            handle.remove()
        for stack in open_ranges:  # a forward() that raised left its ranges open
            while stack:
                stack.pop().__exit__(None, None, None)


def is_op(event: Any) -> bool:
    """Whether a profiler event is an op (aten, or a device runtime call) on the host: not a
    user annotation (``record_function`` ranges, ours or the model's), not on a device, not
    async. Its self time is what gets attributed."""
    if event.is_async or event.device_type != DeviceType.CPU:
        return False
    if getattr(event, "is_user_annotation", False):
        return False
    return not event.name.startswith(OUR_RANGES)


def _enclosing(event: Any) -> tuple[str | None, int | None]:
    """The innermost target path above ``event`` (None: no target) and the kept round it ran in
    (None: outside every kept round, e.g. a dropped warm-up repetition, or the wait for the
    device at a repetition's end)."""
    layer = None
    parent = event.cpu_parent
    while parent is not None:
        name = parent.name
        if layer is None and name.startswith(LAYER):
            layer = name[len(LAYER) :]
        elif name.startswith(ROUND):
            return layer, int(name[len(ROUND) :])
        elif name.startswith((WARM, SYNC)):
            return layer, None
        parent = parent.cpu_parent
    return layer, None


def attribute(events: Iterable[Any], paths: list[str], rounds: int) -> Attribution:
    """Split the op self times of profiler ``events`` (``prof.events()``) over ``paths`` and
    ``UNATTRIBUTED``, per kept round (``ROUND`` ranges 0 .. ``rounds`` - 1). Pure: no torch
    calls, so tests can check it on any profile."""
    keys = [*paths, UNATTRIBUTED]
    cpu = {k: [0.0] * rounds for k in keys}
    device = {k: [0.0] * rounds for k in keys}
    calls = {k: [0] * rounds for k in paths}
    ops = {k: [0] * rounds for k in keys}
    wall = [0.0] * rounds
    for event in events:
        name = event.name
        if event.is_async or event.device_type != DeviceType.CPU:
            continue
        if name.startswith(ROUND):
            wall[int(name[len(ROUND) :])] += event.cpu_time_total
            continue
        if name.startswith(LAYER):
            path, index = _enclosing(event)
            own = name[len(LAYER) :]
            if index is not None and own in calls:
                calls[own][index] += 1
            continue
        if not is_op(event):
            continue
        path, index = _enclosing(event)
        if index is None:
            continue
        key = path if path in cpu else UNATTRIBUTED
        cpu[key][index] += event.self_cpu_time_total
        device[key][index] += event.self_device_time_total
        ops[key][index] += 1
    return Attribution(cpu, device, wall, calls, ops)


def _inputs(inputs: ModelInputs | torch.Tensor | tuple[Any, ...]) -> ModelInputs:
    if isinstance(inputs, ModelInputs):
        return inputs
    if isinstance(inputs, torch.Tensor):
        return ModelInputs((inputs,))
    return ModelInputs(tuple(inputs))


def _run_rounds(
    call: Callable[[], Any], device: str, rounds: int, calls: int
) -> torch.profiler.profile:
    """One profiler session: warm-up repetitions (dropped), then ``rounds`` kept ones."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if device == "cuda":
        activities.append(ProfilerActivity.CUDA)
    limit, start = min(600.0, timing_left()), time.perf_counter()

    def repetition(name: str) -> None:
        with record_function(name):
            for _ in range(calls):
                call()
            if device == "cuda":
                with record_function(SYNC):
                    torch.cuda.synchronize()  # the range's wall time covers the kernels
        if time.perf_counter() - start > limit:
            raise UserError(
                f"profiler layer times stopped after {limit:.0f} s: use fewer --rounds or a "
                "smaller --input"
            )

    with profile(activities=activities) as prof:
        warm = 0
        while warm < WARM_ROUNDS or time.perf_counter() - start < WARM_SECONDS:
            repetition(f"{WARM}{warm}")
            warm += 1
        for index in range(rounds):
            repetition(f"{ROUND}{index}")
    return prof


def _summary(us: list[float], calls: int, runs: int) -> tuple[Latency, list[float]]:
    per_call = [v / 1e3 / calls for v in us]
    return Latency.from_rounds(per_call, runs), per_call


def profile_layers(
    model: nn.Module,
    inputs: ModelInputs | torch.Tensor | tuple[Any, ...],
    targets: list[str],
    device: str = "cpu",
    dtype: str = "fp32",
    memory_format: str = "contiguous",
    threads: int = 1,
    rounds: int = ROUNDS,
    *,
    calls: int = 1,
    allocator: str = "tuned",
) -> dict[str, dict[str, Any]]:
    """Per-layer op self times of ``model`` on ``inputs`` under torch.profiler.

    ``targets`` are module paths as ``model.named_modules()`` gives them (the table's rows: its
    leaves, or the modules at a ``--depth``); each op's self time goes to the innermost target
    running when it ran. ``device`` is "cpu" or "cuda"; ``dtype`` a key of
    ``models.variants.DTYPES`` ("fp32", "fp16", "bf16"); ``memory_format`` "contiguous" or
    "channels_last"; ``threads`` the intra-op threads (as ``TimingOptions.thread_count()``).
    The model is copied (eval mode, moved and cast; the caller's model is untouched), warmed up
    and run under ``torch.inference_mode``: ``rounds`` kept repetitions of ``calls`` forward
    passes each, after the dropped warm-up repetitions of the profiler session.

    Returns one entry per target path, plus ``UNATTRIBUTED`` and ``MODEL``. Every time is ms per
    forward pass (a repetition's total over ``calls``):

    - a target / ``UNATTRIBUTED``: ``latency`` (``results.Latency`` of ``rounds_ms``: op self
      time; on CUDA the kernels' device self time), ``rounds_ms`` (one per repetition),
      ``cpu_latency`` and ``cpu_rounds_ms`` (host self time of the ops, on every device),
      ``ops`` (op events per forward pass: each costs the profiler a few microseconds of its
      own), and for a target ``calls`` (times the module ran per forward pass; 0: it never ran,
      or it is a second path of a module already timed under another);
    - ``MODEL``: ``latency`` and ``rounds_ms`` (the forward pass's wall time inside the
      profiler, hooks and profiler overhead included), ``ops_ms`` (each repetition's total op
      self time, attributed plus unattributed, on the device that ``latency`` of the rows uses),
      ``calls``, ``warm_rounds`` (dropped) and ``clock`` ("cpu self time" or "cuda self
      time").
    """
    if device not in ("cpu", "cuda"):
        raise UserError(f"--device: unknown device {device!r} (valid: cpu, cuda)")
    if rounds < 1 or calls < 1:
        raise UserError(
            f"profiler layer times: rounds and calls must be 1 or more ({rounds}, {calls})"
        )
    check_device(device, dtype)
    if allocator == "tuned":
        tune_allocator()
    on = placed(copy.deepcopy(model).eval(), device, dtype, memory_format)
    moved = _inputs(inputs).to(device, DTYPES[dtype], memory_format == "channels_last")
    args, kwargs = moved.args, moved.kwargs

    def call() -> Any:
        return on(*args, **kwargs)

    with torch.inference_mode(), torch_threads(threads), annotated(on, targets) as paths:
        warm_up(call, device)
        prof = _run_rounds(call, device, rounds, calls)
        events = prof.events()
    warm = sum(1 for e in events if e.name.startswith(WARM))
    found = attribute(events, paths, rounds)
    timed = found.device_us if device == "cuda" else found.cpu_us
    runs = rounds * calls
    out: dict[str, dict[str, Any]] = {}
    for key in [*targets, UNATTRIBUTED]:
        if key not in timed:  # a second path of a module timed under its first
            out[key] = _entry([0.0] * rounds, [0.0] * rounds, calls, runs)
            out[key].update(calls=0, ops=0)
            continue
        out[key] = _entry(timed[key], found.cpu_us[key], calls, runs)
        out[key]["ops"] = sum(found.ops[key]) / runs
        if key in found.calls:
            out[key]["calls"] = round(sum(found.calls[key]) / runs)
    wall, wall_ms = _summary(found.wall_us, calls, runs)
    ops_ms = [sum(timed[k][i] for k in timed) / 1e3 / calls for i in range(rounds)]
    out[MODEL] = {
        "latency": wall,
        "rounds_ms": wall_ms,
        "ops_ms": ops_ms,
        "calls": calls,
        "warm_rounds": warm,
        "clock": f"{device} self time",
    }
    return out


def _entry(timed: list[float], cpu: list[float], calls: int, runs: int) -> dict[str, Any]:
    latency, rounds_ms = _summary(timed, calls, runs)
    cpu_latency, cpu_rounds_ms = _summary(cpu, calls, runs)
    return {
        "latency": latency,
        "rounds_ms": rounds_ms,
        "cpu_latency": cpu_latency,
        "cpu_rounds_ms": cpu_rounds_ms,
    }
