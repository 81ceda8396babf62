"""Per-layer times of a ``--model`` network (``profile --model``, ``--layer-times replay``).

Each layer's module is replayed alone on the inputs it really got inside the model
(``models.replay``) and timed in the same paired rounds as the whole network, so a layer's time
and the network's come from one measurement. Layer times need not add up to the whole (fusion,
dispatch, caches, the ops a parent runs in its own ``forward()``): the sum is reported beside
the whole with the gap, never forced to agree. A layer that cannot be replayed is timed inside
its nearest parent that can be: its rows become one row for that parent, which says why.
``--depth N`` (or a model with more than ``MAX_LAYERS`` leaves) times the modules at that depth
of the module tree instead of the leaves, their rows merged the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from torch import nn

from sepprof.commands.profile import NETWORK
from sepprof.count.model_count import FORWARD_OPS, UNUSED, Counted
from sepprof.errors import UserError
from sepprof.models.model import ModelInputs
from sepprof.models.replay import Unit, plan
from sepprof.pipeline import Measured, Target, measure
from sepprof.results import Row
from sepprof.results.rows import Roof
from sepprof.timing.options import Progress
from sepprof.units import DTYPE_BYTES

LAYER_TIMES = ("replay", "profiler", "off")
KINETO_NOISE = ("USDT:", "ERROR:")  # kineto's session lines; its "gpuGetDeviceCount failed" on CPU
PROFILER_NOTE = (
    "layer times from torch.profiler: each op's self time charged to the layer running it (the "
    "profiler adds about 2.5-4 us per op, so layers under 0.1 ms read up to 2x long: "
    "reports/profiler-vs-replay.md); the whole network is its wall time under the profiler"
)
MAX_LAYERS = 300  # leaves timed one by one up to this many; beyond, modules at a shallower depth
BLOCK = "block"  # the kind of a merged row whose layers are of several kinds
MEMORY_HINT = "use a smaller --input"
FORWARD = " (forward)"
LAYER = "layer:"  # a layer's item label: never the whole network's, whatever its modules are named


def row_path(row: Row) -> str | None:
    """The module path a row stands for ("" for the model itself); None for parameter-only
    rows."""
    if row.kind == UNUSED:
        return None
    if row.detail == FORWARD_OPS:
        name = row.name.removesuffix(FORWARD)
        return "" if name == "model" else name
    return row.name


def under(path: str, ancestor: str) -> bool:
    return ancestor == "" or path == ancestor or path.startswith(ancestor + ".")


def _leaf_rows(rows: tuple[Row, ...]) -> set[str]:
    """The names of the rows that stand for one module (not a parent's own forward() ops)."""
    return {r.name for r in rows if r.detail != FORWARD_OPS}


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def merged(rows: list[Row], path: str, detail: str) -> Row:
    """The rows below module ``path`` as one row: costs summed, the kind theirs when they share
    one (else ``block``)."""
    kinds = {r.kind for r in rows}
    return Row(
        path,
        kinds.pop() if len(kinds) == 1 else BLOCK,
        sum(r.params for r in rows),
        sum(r.norm_params for r in rows),
        _sum([r.macs_analytic for r in rows]),
        _sum([r.elementwise_ops for r in rows]),
        sum(r.bytes for r in rows),
        rows[-1].shape,
        detail,
        macs_traced=_sum([r.macs_traced for r in rows]),
        macs_flop_counter=_sum([r.macs_flop_counter for r in rows]),
        macs_backward=_sum([r.macs_backward for r in rows]),
        elementwise_traced=_sum([r.elementwise_traced for r in rows]),
        uncounted_ops={k: v for r in rows for k, v in r.uncounted_ops.items()},
        complete=all(r.complete for r in rows),
    )


def _merge(rows: list[Row], groups: dict[str, str]) -> list[Row]:
    """Rows with those below each group path (group -> detail) merged into one, in the place
    of the group's first row."""
    out: list[Row] = []
    members: dict[str, list[Row]] = {g: [] for g in groups}
    slot: dict[str, int] = {}
    for row in rows:
        path = row_path(row)
        group = next((g for g in groups if path is not None and under(path, g)), None)
        if group is None:
            out.append(row)
            continue
        if group not in slot:
            slot[group] = len(out)
            out.append(row)  # a placeholder, replaced below
        members[group].append(row)
    for group, index in slot.items():
        count = len(members[group])
        detail = groups[group] or f"{count} layer(s) timed as one"
        out[index] = merged(members[group], group, detail)
    return out


def leaf_targets(counted: Counted) -> list[str]:
    """The module paths of leaf rows (the layers the table lists), in row order."""
    leaves = {p for p, s in counted.scopes.items() if s.leaf and p}
    return [r.name for r in counted.rows if r.detail != FORWARD_OPS and r.name in leaves]


def depth_targets(counted: Counted, depth: int) -> list[str]:
    """Module paths at ``depth`` of the module tree (1: the model's children), in the order
    they first ran; where the module at that depth never ran itself (a ModuleList, iterated by
    its parent), its shallowest descendants that did; and the leaves above that depth."""
    out: list[str] = []
    for path, scope in counted.scopes.items():
        if not path:
            continue
        parts = path.split(".")
        if len(parts) < depth and not scope.leaf:
            continue
        at = next(
            (".".join(parts[:n]) for n in range(min(depth, len(parts)), len(parts) + 1)
             if ".".join(parts[:n]) in counted.scopes),
            path,
        )  # fmt: skip
        if at not in out:
            out.append(at)
    order = list(counted.scopes)
    return sorted(out, key=order.index)


def layer_targets(counted: Counted, depth: int | None) -> tuple[int | None, list[str], str]:
    """What to time (``choose_depth``): the depth (None: leaves), the module paths, a note."""
    depth, note = choose_depth(counted, depth)
    targets = leaf_targets(counted) if depth is None else depth_targets(counted, depth)
    return depth, targets, note


def choose_depth(counted: Counted, depth: int | None) -> tuple[int | None, str]:
    """``depth`` when given; else None (leaves) up to ``MAX_LAYERS`` leaves, or the deepest
    depth with at most that many modules; and a note when it grouped."""
    if depth is not None:
        if depth < 1:
            raise UserError(f"--depth: must be 1 or more (got {depth})")
        return depth, ""
    leaves = len(leaf_targets(counted))
    if leaves <= MAX_LAYERS:
        return None, ""
    deepest = max(len(p.split(".")) for p in counted.scopes if p)
    chosen = max(
        (d for d in range(1, deepest + 1) if len(depth_targets(counted, d)) <= MAX_LAYERS),
        default=1,
    )
    return chosen, (
        f"layer times: {leaves} layers are more than {MAX_LAYERS}, so the modules at depth "
        f"{chosen} of the module tree were timed (--depth N chooses)"
    )


def _replay_notes(units: list[Unit], groups: dict[str, str]) -> list[str]:
    """One note per way a layer was replayed other than as it ran (in-place ones out of place),
    naming the first of them and how many there were."""
    by_note: dict[str, list[str]] = {}
    for unit in units:
        if unit.note and unit.path not in groups:
            by_note.setdefault(unit.note, []).append(unit.path)
    return [
        f"{len(paths)} layer(s) {note}: {', '.join(paths[:3])}{', ...' if len(paths) > 3 else ''}"
        for note, paths in by_note.items()
    ]


def _on(model: nn.Module, device: str, timing: Any) -> nn.Module:
    """An eval-mode copy of ``model`` on ``device`` in the timing dtype and memory format."""
    from sepprof.models.variants import placed

    return placed(copy.deepcopy(model).eval(), device, timing.dtype, timing.memory_format)


def model_items(
    modules: dict[str, tuple[nn.Module, ModelInputs]], device: str, timing: Any
) -> dict[str, Callable[[], Any]]:
    """Timed calls (label -> module called on its inputs), each module an eval-mode copy on
    ``device``, its floating-point inputs in the timing dtype."""
    from sepprof.backends.prepare import timed_item
    from sepprof.models.variants import DTYPES

    items = {}
    last = timing.memory_format == "channels_last"
    for label, (module, inputs) in modules.items():
        moved = inputs.to(device, DTYPES[timing.dtype], last)
        on = _on(module, device, timing)
        items[label] = timed_item(
            on, moved.args, device, timing, input_grad=False, kwargs=moved.kwargs
        )
    return items


def _unit_item(unit: Unit, device: str, timing: Any) -> Callable[[], Any]:
    """One timed item: the unit's module (an eval-mode copy on ``device`` in the timing dtype)
    making all its recorded calls."""
    from sepprof.models.variants import DTYPES

    module = _on(unit.module, device, timing)
    last = timing.memory_format == "channels_last"
    calls = [c.inputs.to(device, DTYPES[timing.dtype], last) for c in unit.calls]
    if len(calls) == 1:
        (only,) = calls
        return lambda: module(*only.args, **only.kwargs)
    return lambda: [module(*c.args, **c.kwargs) for c in calls]


def _shared(model: nn.Module, targets: list[str]) -> list[str]:
    """Modules reached from two depth targets: their MACs are in the first one's row (where
    they first ran), their time in each target that calls them."""
    owner: dict[int, str] = {}
    notes = []
    for target in targets:
        for name, module in model.get_submodule(target).named_modules():
            first = owner.setdefault(id(module), target)
            if first != target:
                where = f"{target}.{name}".rstrip(".")
                notes.append(
                    f"{where} is shared with {first}: its MACs are in {first}'s row, its time "
                    "in both rows that call it"
                )
    return notes


def _preflight(units: dict[str, Unit], timing: Any) -> dict[str, str]:
    """Layers that fail when called once on a timed device, dtype or memory format other than
    the recording's (CPU, the model's dtype, as it ran): path -> why. The rest are timed."""
    import torch

    from sepprof.timing.measure import resolve_devices

    devices = resolve_devices(timing.devices)
    if devices == ("cpu",) and timing.dtype == "fp32" and timing.memory_format == "contiguous":
        return {}
    failed = {}
    for device in devices:
        for path, unit in units.items():
            try:
                with torch.inference_mode():
                    _unit_item(unit, device, timing)()
            except Exception as exc:  # the layer cannot run alone there: say so, time the rest
                why = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
                failed.setdefault(path, f"fails on {device} in {timing.dtype}: {why}")
    return failed


def _roofs(rows: tuple[Row, ...], timing: Any, threads: int) -> tuple[Row, ...]:
    """Each timed row's place under the stored roofline of its device (none stored: none)."""
    from sepprof.count.costs import Cost
    from sepprof.timing.calibration import load_calibration
    from sepprof.timing.roofline import roof_time

    devices = {d for r in rows for d in r.latency_ms}
    stored = {d: load_calibration(d, timing.dtype, threads) for d in devices}  # read once each
    out = []
    for row in rows:
        roofs = {}
        for device, lat in row.latency_ms.items():
            cal = stored[device]
            if cal is None or not lat.median or row.macs_analytic is None:
                continue
            cost = Cost(macs=row.macs_analytic, bytes=row.bytes)
            seconds, bound = roof_time([cost], cal.roofline())
            roofs[device] = Roof(seconds * 1e3, 100 * seconds * 1e3 / lat.median, bound)
        out.append(replace(row, roofline=roofs))
    return tuple(out)


def profiler_layers(
    model: nn.Module,
    inputs: ModelInputs,
    counted: Counted,
    rows: tuple[Row, ...],
    totals: Row,
    timing: Any,
    depth: int | None = None,
) -> tuple[tuple[Row, ...], Row, list[str]]:
    """``--layer-times profiler``: rows (merged at ``depth``) and totals with torch.profiler's
    per-op self times attributed to them, per device, and notes."""
    from sepprof.streams import quiet_native_stderr
    from sepprof.timing.measure import resolve_devices
    from sepprof.timing.op_profiler import MODEL, UNATTRIBUTED, profile_layers

    depth, targets, depth_note = layer_targets(counted, depth)
    groups = {t: "" for t in targets if t not in _leaf_rows(rows)}
    shown = _merge(list(rows), groups) if groups else list(rows)
    notes = [PROFILER_NOTE, *([depth_note] if depth_note else [])]
    for device in resolve_devices(timing.devices):
        with quiet_native_stderr(KINETO_NOISE):
            found = profile_layers(
                model, inputs, targets, device, timing.dtype, timing.memory_format,
                timing.thread_count(), timing.rounds, allocator=timing.allocator,
            )  # fmt: skip
        shown = [
            replace(r, latency_ms={**r.latency_ms, device: found[path]["latency"]})
            if (path := row_path(r)) in found and found[path].get("calls")
            else r
            for r in shown
        ]
        totals = replace(totals, latency_ms={**totals.latency_ms, device: found[MODEL]["latency"]})
        loose = found[UNATTRIBUTED]["latency"].median
        notes.append(f"{device}: ops outside every layer (forward() code) took {loose:.3g} ms")
    return tuple(shown), totals, notes


def time_layers(
    model: nn.Module,
    inputs: ModelInputs,
    counted: Counted,
    rows: tuple[Row, ...],
    totals: Row,
    timing: Any,
    depth: int | None = None,
    progress: Progress | None = None,
) -> tuple[tuple[Row, ...], Row, Measured]:
    """Rows (merged where a group or ``depth`` times several as one) and totals, each with its
    latency from one measurement: every layer replayed alone and the whole model, in the same
    rounds."""
    depth, targets, depth_note = layer_targets(counted, depth)
    done = progress("recording each layer's inputs", 1) if progress else None
    planned = plan(model, inputs, targets)
    if done:
        done()
    leaves = _leaf_rows(rows)
    groups = {u.path: u.note for u in planned.units if u.rows != (u.path,) or u.path not in leaves}
    shown = _merge(list(rows), groups) if groups else list(rows)
    units = {u.path: u for u in planned.units}
    failed = _preflight(units, timing)
    units = {p: u for p, u in units.items() if p not in failed}
    notes = [depth_note] if depth_note else []
    notes += [f"{p}: not timed ({why})" for p, why in (planned.untimed | failed).items()]
    if not targets:
        notes.append("the model is a single layer: its time is the whole network's (totals)")
    notes += _shared(model, targets) if depth is not None else []
    notes += _replay_notes(planned.units, groups)

    def items(device: str) -> dict[str, Callable[[], Any]]:
        whole = model_items({NETWORK: (model, inputs)}, device, timing)
        return whole | {LAYER + p: _unit_item(u, device, timing) for p, u in units.items()}

    needed = sum(t.numel() * t.element_size() for u in units.values() for c in u.calls
                 for t in c.inputs.tensors)  # fmt: skip
    targets_ = [Target(r, LAYER + str(row_path(r)) if row_path(r) in units else f"untimed:{i}", ())
                for i, r in enumerate(shown)]  # fmt: skip
    measured = measure(
        [Target(totals, NETWORK, ()), *targets_],
        batch=1,
        itemsize=DTYPE_BYTES[timing.dtype],
        items=items,
        timing=timing,
        time_bytes=needed,
        hint=MEMORY_HINT,
        progress=progress,
    )
    whole, *layers = measured.rows
    threads = measured.environment.get("threads", 1)
    whole = replace(whole, roofline={})
    layers = _roofs(tuple(layers), timing, threads)
    return layers, whole, replace(measured, notes=(*measured.notes, *notes))
