"""``sepprof profile``: where a network's MACs, params, bytes and time go, layer by layer and by
layer type (spec -> plan -> trace/time -> result)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sepprof.costs import plan_cost
from sepprof.environment import environment
from sepprof.guards import blocks_bytes, check_memory, estimate_bytes
from sepprof.network import Network, Options
from sepprof.ops import Block, Plan, Stage, stage_path
from sepprof.pipeline import Progress, stage_row, with_latency, with_roof, with_trace
from sepprof.results import ProfileResult, Row, TypeShare
from sepprof.units import DTYPE_BYTES

TYPE_ORDER = (
    "standard",
    "grouped",
    "depthwise",
    "pointwise",
    "fc",
    "squeeze_excite",
    "pool",
    "elementwise",
)
NETWORK = "network"
RESOLUTION_HINT = "use a smaller --batch or --resolution"
BEFORE = "network as written"


def label(block: Block, stage: Stage) -> str:
    """A layer's name in tables: the block, plus the stage when the block has several."""
    return block.name if len(block.stages) == 1 else f"{block.name} / {stage.name}"


def profile(
    network: Network,
    options: Options = Options(),
    *,
    batch: int = 1,
    trace: bool = True,
    timing: Any = None,
    progress: Progress | None = None,
) -> ProfileResult:
    """Profile ``network`` under ``options`` (multipliers, ``--as`` rewrite): analytic rows,
    traced counts (``trace``) and latency per layer and for the whole network (``timing``)."""
    plan = network.plan(options)
    before = network.plan(replace(options, as_=None)) if options.as_ else None
    dtype = getattr(timing, "dtype", "fp32")
    itemsize = DTYPE_BYTES[dtype]
    rows = [stage_row(s, batch, itemsize, label(b, s)) for b, s in plan.stages()]
    totals = _totals("total", plan, batch, itemsize)
    before_row = _totals(BEFORE, before, batch, itemsize) if before else None
    notes: list[str] = []
    extra: dict[str, Any] = {"dtype": dtype, "batch": batch}
    if trace:
        ops = [op for _, s in plan.stages() for op in s.ops]
        check_memory(
            f"network {plan.name}", estimate_bytes(ops, batch, itemsize), "cpu", RESOLUTION_HINT
        )
    if trace:
        rows, totals = _traced(plan, rows, totals, batch)
    if timing is None:
        notes.append("timing skipped (--no-time)")
    else:
        timings = _time(plan, before, batch, timing, progress)
        rows, totals, before_row = _timed(plan, rows, totals, before_row, timings, batch, itemsize)
        extra.update(timings.env)
        notes.extend(timings.notes)
    return ProfileResult(
        environment(**extra),
        _describe(network, options, plan, batch),
        tuple(rows),
        by_type(rows),
        totals,
        before_row,
        tuple(notes),
    )


def _totals(name: str, plan: Plan, batch: int, itemsize: int) -> Row:
    c = plan_cost(plan, batch, itemsize)
    return Row(name, "network", c.params, c.norm_params, c.macs, c.eltwise, c.bytes, str(plan.out))


def _describe(network: Network, options: Options, plan: Plan, batch: int) -> dict[str, Any]:
    """The network block of the result; the published reference only where it applies (the
    network as written, at its own resolution, batch 1)."""
    spec = network.spec
    as_written = (
        options.width_mult == 1
        and options.as_ is None
        and batch == 1
        and plan.inp.h == spec.input[1]
        and plan.inp.w == spec.input[2]
    )
    ref = spec.reference.model_dump() if spec.reference and as_written else None
    return {
        "name": spec.name,
        "source": spec.source,
        "path": str(network.path),
        "input": [plan.inp.c, plan.inp.h, plan.inp.w],
        "width_mult": options.width_mult,
        "resolution": plan.inp.h,
        "as": options.as_,
        "reference": ref,
    }


def _traced(plan: Plan, rows: list[Row], totals: Row, batch: int) -> tuple[list[Row], Row]:
    from sepprof.trace import trace_plan

    traced, torch_macs = trace_plan(plan, batch)
    paths = [stage_path(b, s, True) for b, s in plan.stages()]
    rows = [with_trace(row, traced[p]) for row, p in zip(rows, paths, strict=True)]
    totals = replace(with_trace(totals, traced[""]), macs_flop_counter=torch_macs)
    return rows, totals


def _time(
    plan: Plan, before: Plan | None, batch: int, timing: Any, progress: Progress | None
) -> Any:
    """Time every layer of ``plan``, the whole network and, after ``--as``, the network as
    written, in the same rounds."""
    from sepprof.measure import plan_items, time_all

    plans = {NETWORK: plan, **({BEFORE: before} if before else {})}
    itemsize = DTYPE_BYTES[timing.dtype]
    needed = blocks_bytes(list(plan.blocks), batch, itemsize) + sum(
        blocks_bytes(list(p.blocks), batch, itemsize, stages=False) for p in plans.values()
    )
    return time_all(
        lambda d: plan_items(plans, batch, d, timing, NETWORK),
        timing,
        progress,
        needed,
        RESOLUTION_HINT,
    )


def _timed(
    plan: Plan,
    rows: list[Row],
    totals: Row,
    before_row: Row | None,
    timings: Any,
    batch: int,
    itemsize: int,
) -> tuple[list[Row], Row, Row | None]:
    """Rows, totals and the before-rewrite totals with their latencies and roofline."""
    for device, latency in timings.latency.items():
        cal = timings.calibration[device]
        out = []
        for row, (block, stage) in zip(rows, plan.stages(), strict=True):
            row = with_latency(row, device, latency[stage_path(block, stage, True)])
            if cal:
                row = with_roof(row, device, [stage], cal.roofline(), batch, itemsize)
            out.append(row)
        rows = out
        totals = with_latency(totals, device, latency[NETWORK])
        if cal:
            totals = with_roof(
                totals, device, [s for _, s in plan.stages()], cal.roofline(), batch, itemsize
            )
        if before_row is not None:
            before_row = with_latency(before_row, device, latency[BEFORE])
    return rows, totals, before_row


def by_type(rows: list[Row]) -> tuple[TypeShare, ...]:
    """Sum layers by kind (standard, depthwise, pointwise, fc, ...): MACs, params, time."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.kind, []).append(row)
    order = sorted(groups, key=lambda k: TYPE_ORDER.index(k) if k in TYPE_ORDER else 99)
    shares = []
    for kind in order:
        members = groups[kind]
        devices = {d for r in members for d in r.latency_ms}
        time_ms = {
            d: sum(r.latency_ms[d].median for r in members if d in r.latency_ms)
            for d in sorted(devices)
        }
        shares.append(
            TypeShare(
                kind,
                len(members),
                sum(r.macs_analytic for r in members),
                sum(r.params for r in members),
                sum(r.elementwise_ops for r in members),
                time_ms,
            )
        )
    return tuple(shares)
