"""The one measuring sequence every command runs: guard -> count -> trace -> time -> roofline ->
attach. Rows start as analytic costs and are filled in with traces, timings and roofs; torch is
imported only by the steps that trace or time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sepprof.count.costs import op_cost
from sepprof.count.rows import block_row
from sepprof.environment import check_memory
from sepprof.results import Latency, Roof, Row
from sepprof.results.roofline import Roofline
from sepprof.spec.ops import Block, Stage
from sepprof.timing.options import Progress
from sepprof.timing.roofline import roof_time

Items = dict[str, Callable[[], Any]]
SIZE_HINT = "use a smaller --batch or --size"


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


@dataclass(frozen=True)
class Target:
    """A row to fill in: its analytic row, its key in traces and timings, the stages its
    roofline sums, and the targets of its own stage rows."""

    row: Row
    key: str
    stages: tuple[Stage, ...]
    parts: tuple[Target, ...] = ()

    def filled(self) -> Row:
        """The row, with its parts' rows as its stage rows."""
        if not self.parts:
            return self.row
        return replace(self.row, stages=tuple(p.filled() for p in self.parts))


@dataclass(frozen=True)
class Traced:
    """Traced counts by target key, and torch's independent MAC count where it ran."""

    counts: Mapping[str, Any]
    flop_counter: Mapping[str, int] = field(default_factory=dict)
    fvcore: Mapping[str, int | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


Backward = Mapping[str, tuple[int, int | None, int | None]]  # analytic, torch's, torch's excess


@dataclass(frozen=True)
class Measured:
    """Filled rows, the environment facts the measurement adds, and its notes."""

    rows: tuple[Row, ...]
    environment: dict[str, Any]
    notes: tuple[str, ...] = ()


def block_target(block: Block, batch: int, itemsize: int, key: str | None = None) -> Target:
    """A ``compare`` variant: keyed by its name, its stages by ``name/stage``."""
    key = key or block.name
    row = block_row(block, batch, itemsize)
    single = len(block.stages) == 1  # then the stage is the variant: same trace, same timing
    parts = tuple(
        Target(r, key if single else f"{key}/{s.name}", (s,))
        for r, s in zip(row.stages, block.stages, strict=True)
    )
    return Target(replace(row, stages=()), key, tuple(block.stages), parts)


def with_traced(target: Target, traced: Traced) -> Target:
    """Attach traced counts to a target and its parts (targets the trace did not see stay)."""
    row = target.row
    counts = traced.counts.get(target.key)
    if counts is not None:
        row = with_trace(row, counts)
        if target.key in traced.flop_counter:
            row = replace(row, macs_flop_counter=traced.flop_counter[target.key])
        if target.key in traced.fvcore:
            row = replace(row, macs_fvcore=traced.fvcore[target.key])
    parts = tuple(with_traced(p, traced) for p in target.parts)
    return replace(target, row=row, parts=parts)


def with_timings(target: Target, timings: Any, batch: int, itemsize: int) -> Target:
    """Attach each device's latency (and roofline, when calibrated) to a target and its parts.
    A target that was not timed gets no latency: it never inherits its parent's."""
    row = target.row
    for device, latency in timings.latency.items():
        if target.key not in latency:
            continue
        row = with_latency(row, device, latency[target.key])
        cal = timings.calibration.get(device)
        if cal:
            row = with_roof(row, device, list(target.stages), cal.roofline(), batch, itemsize)
    parts = tuple(with_timings(p, timings, batch, itemsize) for p in target.parts)
    return replace(target, row=row, parts=parts)


def with_backward(target: Target, counts: Backward) -> Target:
    """Attach ``--mode train``'s backward MACs (analytic, and torch's where counted)."""
    row = target.row
    if target.key in counts:
        analytic, torch_macs, excess = counts[target.key]
        row = replace(
            row,
            macs_backward=analytic,
            macs_backward_flop_counter=torch_macs,
            macs_backward_flop_counter_excess=excess,
        )
    parts = tuple(with_backward(p, counts) for p in target.parts)
    return replace(target, row=row, parts=parts)


def trains(timing: Any, train: bool = False) -> bool:
    """Whether a command counts a training step: ``--mode train`` timed (``timing``'s mode) or
    untimed (``train``, since ``--no-time`` leaves no ``TimingOptions``)."""
    return train or getattr(timing, "mode", "inference") == "train"


def measure(
    targets: list[Target],
    *,
    batch: int,
    itemsize: int,
    trace: Callable[[], Traced] | None = None,
    backward: Callable[[], Backward] | None = None,
    train: bool = False,
    trace_bytes: int = 0,
    trace_what: str = "tracing",
    items: Callable[[str], Items] | None = None,
    timing: Any = None,
    time_bytes: int = 0,
    hint: str = SIZE_HINT,
    progress: Progress | None = None,
) -> Measured:
    """guard -> trace -> time -> roofline -> attach, for analytic ``targets``: ``trace()``
    runs once (after refusing ``trace_bytes`` over half the free memory); with ``--mode train``
    (``timing``'s mode, or ``train`` when nothing is timed) ``backward()`` counts the backward
    pass; ``items(device)`` are timed in the same rounds on
    every device of ``timing``."""
    env: dict[str, Any] = {"traced": trace is not None, "timed": timing is not None}
    notes: list[str] = []
    if trace is not None:
        check_memory(trace_what, trace_bytes, "cpu", hint)
        done = progress("counting by tracing", 1) if progress else None
        traced = trace()
        if done:
            done()
        targets = [with_traced(t, traced) for t in targets]
        notes.extend(traced.notes)
    if backward is not None and trains(timing, train):
        counts = backward()
        targets = [with_backward(t, counts) for t in targets]
    if timing is not None and items is not None:
        from sepprof.timing.measure import time_all

        timings = time_all(items, timing, progress, time_bytes, hint)
        targets = [with_timings(t, timings, batch, itemsize) for t in targets]
        env.update(timings.env)
        notes.extend(timings.notes)
    return Measured(tuple(t.filled() for t in targets), env, tuple(notes))
