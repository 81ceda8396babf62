"""``sepprof profile``: where a network's MACs, params, bytes and time go, layer by layer and by
layer type (spec -> plan -> trace/time -> result)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from sepprof.count.costs import COUNTING_RULE, plan_cost
from sepprof.count.memory import blocks_bytes, estimate_bytes
from sepprof.count.rows import stage_row
from sepprof.environment import environment
from sepprof.errors import UserError
from sepprof.pipeline import Backward, Target, Traced, measure
from sepprof.results import ProfileResult, Row, TypeShare
from sepprof.spec.network import Network, Options, load_network
from sepprof.spec.ops import Block, Plan, Stage, stage_path
from sepprof.timing.options import Progress
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
    network: Network | str | Path,
    options: Options = Options(),
    *,
    batch: int = 1,
    trace: bool = True,
    timing: Any = None,
    stages: bool = True,
    progress: Progress | None = None,
    train: bool = False,
) -> ProfileResult:
    """Profile a network (a ``Network`` or the path of its YAML file) under ``options``
    (multipliers, ``--as`` rewrite): analytic rows, traced counts (``trace``) and latency per
    layer (unless not ``stages``) and for the whole network (``timing``, a ``TimingOptions``);
    the backward pass counted too with ``timing``'s mode train, or ``train`` when not timed.

    >>> r = profile("configs/networks/mobilenet_v1.yaml", trace=False)
    >>> r.totals.macs_analytic, r.totals.params + r.totals.norm_params
    (568740352, 4231976)
    """
    if not isinstance(network, Network):
        network = load_network(network)
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 65536:
        raise UserError(f"--batch: must be a whole number from 1 to 65536 (got {batch!r})")
    plan = network.plan(options)
    before = network.plan(replace(options, as_=None)) if options.as_ else None
    dtype = getattr(timing, "dtype", "fp32")
    itemsize = DTYPE_BYTES[dtype]
    plans = {NETWORK: plan, **({BEFORE: before} if before else {})}
    measured = measure(
        _targets(plan, before, batch, itemsize),
        batch=batch,
        itemsize=itemsize,
        trace=(lambda: _trace(plan, batch)) if trace else None,
        backward=lambda: _backward(plans, batch, trace),
        train=train,
        trace_bytes=estimate_bytes([op for _, s in plan.stages() for op in s.ops], batch, itemsize),
        trace_what=f"network {plan.name}",
        items=lambda device: plan_items(plans, batch, device, timing, NETWORK if stages else ""),
        timing=timing,
        time_bytes=_time_bytes(plans, batch, itemsize),
        hint=RESOLUTION_HINT,
        progress=progress,
    )
    *rows, totals = measured.rows[: len(measured.rows) - (1 if before else 0)]
    return ProfileResult(
        environment(dtype=dtype, batch=batch, **measured.environment),
        _describe(network, options, plan, batch),
        tuple(rows),
        by_type(rows),
        totals,
        measured.rows[-1] if before else None,
        (*measured.notes, *_folding(plan, batch, measured.environment)),
        COUNTING_RULE,
    )


def stage_targets(plan: Plan, batch: int, itemsize: int) -> list[Target]:
    """One target per layer of a network (keyed by its module path), as ``profile`` (and
    ``check``'s time shares) time them."""
    return [
        Target(stage_row(s, batch, itemsize, label(b, s)), stage_path(b, s, True), (s,))
        for b, s in plan.stages()
    ]


def _targets(plan: Plan, before: Plan | None, batch: int, itemsize: int) -> list[Target]:
    """One target per layer (keyed by module path), the whole network, and the network as
    written before ``--as``."""
    targets = stage_targets(plan, batch, itemsize)
    stages = tuple(s for _, s in plan.stages())
    targets.append(Target(_totals("total", plan, batch, itemsize), NETWORK, stages))
    if before is not None:
        targets.append(Target(_totals(BEFORE, before, batch, itemsize), BEFORE, ()))
    return targets


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


def _trace(plan: Plan, batch: int) -> Traced:
    """sepprof's traced counts per layer (by module path) and for the whole network, with
    torch's and fvcore's MACs of the whole network as peer checks."""
    from sepprof.count.peer import fvcore_plan, skipped_note
    from sepprof.count.trace import trace_plan

    traced, torch_macs = trace_plan(plan, batch)
    counts = {(NETWORK if path == "" else path): c for path, c in traced.items()}
    peer = fvcore_plan(plan, batch)
    notes = tuple(skipped_note({NETWORK: peer}))
    return Traced(counts, {NETWORK: torch_macs}, {NETWORK: peer.macs}, notes)


def _backward(plans: dict[str, Plan], batch: int, trace: bool) -> Backward:
    """``--mode train``: each layer's and the network's backward MACs by the rule (the image
    needs no gradient), the network's by torch's counter (``trace``) as the peer check, and the
    network as written before ``--as`` (its total only)."""
    from sepprof.count.backward import plan_backward, plan_rows

    plan = plans[NETWORK]
    counts: dict[str, tuple[int, int | None, int | None]] = {
        k: (c.macs, None, None) for k, c in plan_rows(plan, NETWORK, batch).items()
    }
    if trace:
        from sepprof.count.backward_trace import plan_step

        step = plan_step(plan, batch)
        analytic = counts[NETWORK][0]
        counts[NETWORK] = (analytic, step.backward_macs_corrected, step.grad_weight_excess)
    if BEFORE in plans:
        counts[BEFORE] = (plan_backward(plans[BEFORE], batch).macs, None, None)
    return counts


def _folding(plan: Plan, batch: int, env: dict[str, Any]) -> list[str]:
    """What the backend that ran folded away (BatchNorm into the conv), for the eltwise column."""
    from sepprof.backends.folding import plan_note

    note = plan_note(plan, NETWORK, batch, env) if env.get("timed") else None
    return [note] if note else []


def _time_bytes(plans: dict[str, Plan], batch: int, itemsize: int) -> int:
    """Memory to time every layer of the network, and each whole network, side by side."""
    layers = blocks_bytes(list(plans[NETWORK].blocks), batch, itemsize)
    return layers + sum(
        blocks_bytes(list(p.blocks), batch, itemsize, stages=False) for p in plans.values()
    )


def plan_items(
    plans: dict[str, Plan], batch: int, device: str, timing: Any, stages_of: str
) -> dict:
    from sepprof.timing.measure import plan_items as items

    return items(plans, batch, device, timing, stages_of)


def _sum_known(values: list[int | None]) -> int | None:
    """The sum, or None ("n/a") when any value is unknown."""
    return None if None in values else sum(values)  # type: ignore[arg-type]


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
                _sum_known([r.macs_analytic for r in members]),
                sum(r.params for r in members),
                _sum_known([r.elementwise_ops for r in members]),
                time_ms,
            )
        )
    return tuple(shares)
