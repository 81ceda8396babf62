"""``sepprof profile --model``: any PyTorch model, one row per leaf module that does work.

Modules the analytic model recognises (square ``Conv2d``, ``Linear``, affine BatchNorm, the
activations and pools of ``ops``) are counted by ``costs`` from the shapes a forward hook saw and
checked against fvcore's per-module trace. Everything else is counted by the trace alone and says
so: other leaf modules (kind "other") and the ops a module runs in its own ``forward()``, such as
residual adds and functional calls (one "(forward)" row per such module). Totals are sums of rows.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from math import prod
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_flatten

from sepprof.commands.profile import NETWORK, by_type
from sepprof.costs import Cost, op_cost
from sepprof.environment import environment
from sepprof.errors import UserError
from sepprof.model import evaluating, one_line, random_input, reraise_control, run_forward
from sepprof.ops import Act, BatchNorm, Conv, Linear, Op, Pool, Shape, Stage
from sepprof.pipeline import Progress, describe, with_latency, with_trace
from sepprof.results import ProfileResult, Row
from sepprof.units import DTYPE_BYTES

# Leaf modules that compute nothing at inference: no row.
NO_WORK = (nn.Identity, nn.Flatten, nn.Unflatten, nn.modules.dropout._DropoutNd)
OTHER = "other"
FORWARD_OPS = "ops in forward()"
FORWARD_NOTE = (
    "'(forward)' rows: ops a module runs in its own forward() (residual adds, functional calls), "
    "counted by the trace alone; their bytes are not counted (shown as 0)"
)


@dataclass(frozen=True)
class Call:
    """One call of a module: its first tensor input and output shapes, and the elements of all
    tensors it took and returned."""

    inp: tuple[int, ...]
    out: tuple[int, ...]
    moved: int


@dataclass(frozen=True)
class Seen:
    """A module that ran in the forward pass, with every call it made."""

    name: str
    module: nn.Module
    calls: tuple[Call, ...]

    @property
    def leaf(self) -> bool:
        return next(self.module.children(), None) is None


def _tensors(value: Any) -> list[torch.Tensor]:
    return [t for t in tree_flatten(value)[0] if isinstance(t, torch.Tensor)]


def _first_shape(tensors: list[torch.Tensor]) -> tuple[int, ...]:
    return tuple(tensors[0].shape) if tensors else ()


def record_calls(model: nn.Module, x: torch.Tensor) -> tuple[list[Seen], Any]:
    """Run one inference pass with a hook on every module; the modules that ran, in the order
    their first call finished (children before their parent), and the model's output."""
    calls: dict[nn.Module, list[Call]] = {}

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        ins, outs = _tensors(args), _tensors(output)
        moved = sum(t.numel() for t in ins + outs)
        calls.setdefault(module, []).append(Call(_first_shape(ins), _first_shape(outs), moved))

    names = {module: name for name, module in model.named_modules()}
    handles = [m.register_forward_hook(hook) for m in names]
    try:
        output = run_forward(model, x)
    finally:
        for handle in handles:
            handle.remove()
    return [Seen(names[m], m, tuple(c)) for m, c in calls.items()], output


def square(value: Any) -> int | None:
    """An int, or a pair of equal ints, as one int; None for anything non-square."""
    if isinstance(value, int):
        return value
    pair = tuple(value)
    return pair[0] if len(pair) == 2 and pair[0] == pair[1] else None


def conv_padding(module: nn.Conv2d) -> int | None:
    """The symmetric zero-padding equivalent of ``module.padding`` ('valid', 'same', ints)."""
    if module.padding == "valid":
        return 0
    if module.padding == "same":
        total = module.dilation[0] * (module.kernel_size[0] - 1)
        return total // 2 if total % 2 == 0 and square(module.dilation) is not None else None
    return square(module.padding)


def conv_geometry(module: nn.Conv2d) -> tuple[int, int, int, int] | str:
    """(k, stride, padding, dilation) of a Conv2d as the analytic model's square ints, or why
    they cannot be."""
    k, stride, dilation = (square(v) for v in (module.kernel_size, module.stride, module.dilation))
    if k is None or stride is None or dilation is None:
        return (
            f"non-square kernel {module.kernel_size}, stride {module.stride} or dilation "
            f"{module.dilation} (the analytic model counts square ones)"
        )
    padding = conv_padding(module)
    if padding is None:
        return f"uneven padding {module.padding!r} (the analytic model pads symmetrically)"
    return k, stride, padding, dilation


def conv_op(module: nn.Conv2d, inp: tuple[int, ...]) -> Conv | str:
    """The analytic ``Conv`` of a Conv2d called on an (N, C, H, W) input, or why there is none."""
    geometry = conv_geometry(module)
    if isinstance(geometry, str):
        return geometry
    if len(inp) != 4:
        return f"input {inp} is not N,C,H,W"
    k, stride, padding, dilation = geometry
    _, c, h, w = inp
    bias = module.bias is not None
    return Conv(
        Shape(c, h, w), module.out_channels, k, stride, padding, dilation, module.groups, bias
    )


Recognised = tuple[Op, int]  # an op and the batch it runs on
Recogniser = Callable[[Any, Call], "Recognised | str"]


def _sample(dims: tuple[int, ...]) -> Shape | None:
    """Per-sample dims (C,), (C, H) or (C, H, W) as a Shape."""
    if not 1 <= len(dims) <= 3:
        return None
    c, h, w = (*dims, 1, 1)[:3]
    return Shape(c, h, w)


def _conv(module: nn.Conv2d, call: Call) -> Recognised | str:
    op = conv_op(module, call.inp)
    return op if isinstance(op, str) else (op, call.inp[0])


def _linear(module: nn.Linear, call: Call) -> Recognised | str:
    if len(call.inp) < 2 or call.inp[-1] != module.in_features:
        return f"input {call.inp} does not end in {module.in_features} features"
    op = Linear(Shape(module.in_features, 1, 1), module.out_features, module.bias is not None)
    return op, prod(call.inp[:-1])


def _batchnorm(module: nn.modules.batchnorm._BatchNorm, call: Call) -> Recognised | str:
    shape = _sample(call.inp[1:])
    if not module.affine or shape is None:
        return "BatchNorm without affine parameters or on more than 3 dims per sample"
    return BatchNorm(shape), call.inp[0]


def _act(fn: str) -> Recogniser:
    def rule(module: nn.Module, call: Call) -> Recognised | str:
        shape = _sample(call.inp[1:])
        return "more than 3 dims per sample" if shape is None else (Act(shape, fn), call.inp[0])

    return rule


def _pool(fn: str) -> Recogniser:
    def rule(module: Any, call: Call) -> Recognised | str:
        k, stride, padding = (
            square(v) for v in (module.kernel_size, module.stride, module.padding)
        )
        if None in (k, stride, padding) or getattr(module, "dilation", 1) != 1 or module.ceil_mode:
            return "non-square, dilated or ceil-mode pooling"
        if len(call.inp) != 4:
            return f"input {call.inp} is not N,C,H,W"
        return Pool(Shape(*call.inp[1:]), fn, k, stride, padding), call.inp[0]

    return rule


def _global_pool(fn: str) -> Recogniser:
    def rule(module: Any, call: Call) -> Recognised | str:
        if module.output_size not in (1, (1, 1)) or len(call.inp) != 4:
            return f"adaptive pooling to {module.output_size} (only global pooling is modelled)"
        return Pool(Shape(*call.inp[1:]), fn, global_=True), call.inp[0]

    return rule


RECOGNISERS: dict[type, Recogniser] = {
    nn.Conv2d: _conv,
    nn.Linear: _linear,
    nn.modules.batchnorm._BatchNorm: _batchnorm,
    nn.ReLU: _act("relu"),
    nn.ReLU6: _act("relu6"),
    nn.SiLU: _act("silu"),
    nn.Sigmoid: _act("sigmoid"),
    nn.Hardswish: _act("hardswish"),
    nn.MaxPool2d: _pool("max"),
    nn.AvgPool2d: _pool("avg"),
    nn.AdaptiveAvgPool2d: _global_pool("avg"),
    nn.AdaptiveMaxPool2d: _global_pool("max"),
}


def _expected_out(op: Op, batch: int, call: Call) -> tuple[int, ...] | None:
    """The output shape the analytic op predicts for this call."""
    if isinstance(op, Linear):
        return (*call.inp[:-1], op.fout)
    dims = (op.out.c, op.out.h, op.out.w)
    n = len(call.out) - 1
    return (batch, *dims[:n]) if all(d == 1 for d in dims[n:]) else None


def recognise(module: nn.Module, call: Call) -> Recognised | str:
    """The analytic op of one call, or why the analytic model cannot count it."""
    kind = type(module)
    for cls in kind.__mro__:
        rule = RECOGNISERS.get(cls)
        if rule is None:
            continue
        if kind.forward is not cls.forward:
            return f"{kind.__name__} overrides {cls.__name__}.forward"
        found = rule(module, call)
        if isinstance(found, str):
            return found
        expected = _expected_out(*found, call)
        if expected != call.out:
            return f"output {call.out} is not the analytic model's {expected}"
        return found
    return "not in the analytic model"


def _shape(call: Call) -> str:
    return "x".join(str(d) for d in call.out[1:])


def analytic_row(seen: Seen, ops: list[Recognised], itemsize: int) -> Row:
    """A recognised module's row: costs summed over its calls, its parameters counted once."""
    costs = [op_cost(op, batch, itemsize) for op, batch in ops]
    total = sum(costs, Cost())
    stage = Stage(seen.name, (ops[0][0],))
    calls = f" ×{len(ops)} calls" if len(ops) > 1 else ""
    return Row(
        seen.name,
        stage.kind,
        costs[0].params,
        costs[0].norm_params,
        total.macs,
        total.eltwise,
        total.bytes,
        _shape(seen.calls[-1]),
        describe(stage) + calls,
    )


def traced_row(seen: Seen, traced: Any, itemsize: int) -> Row:
    """A module outside the analytic model, counted by the trace alone (no traced check)."""
    weights = (traced.params + traced.norm_params) * len(seen.calls)
    moved = sum(c.moved for c in seen.calls) + weights
    return Row(
        seen.name,
        OTHER,
        traced.params,
        traced.norm_params,
        traced.macs,
        traced.eltwise,
        moved * itemsize,
        _shape(seen.calls[-1]),
        f"{type(seen.module).__name__} (traced only)",
        uncounted_ops=dict(traced.uncounted),
    )


def forward_row(seen: Seen, traced: dict[str, Any]) -> Row | str | None:
    """The ops a non-leaf module runs in its own ``forward()``: its traced counts less its
    children's. None when there are none; a reason when they cannot be attributed."""
    prefix = f"{seen.name}." if seen.name else ""
    children = [traced.get(prefix + name) for name, _ in seen.module.named_children()]
    children = [c for c in children if c is not None]
    own = traced[seen.name]
    macs = own.macs - sum(c.macs for c in children)
    eltwise = own.eltwise - sum(c.eltwise for c in children)
    uncounted = Counter(own.uncounted)
    for c in children:
        uncounted.subtract(c.uncounted)
    params = sum(p.numel() for p in seen.module.parameters(recurse=False))
    if macs < 0 or eltwise < 0:
        return f"{seen.name or 'model'}: its children count more than it does (shared modules?)"
    uncounted = +uncounted
    if not (macs or eltwise or uncounted or params):
        return None
    return Row(
        f"{seen.name or 'model'} (forward)",
        "elementwise" if macs == 0 else OTHER,
        params,
        0,
        macs,
        eltwise,
        0,
        _shape(seen.calls[-1]),
        FORWARD_OPS,
        uncounted_ops=dict(uncounted),
    )


@dataclass
class _Rows:
    """Rows in execution order and what could not be counted analytically, or at all."""

    rows: list[Row]
    traced_only: list[str]
    uncounted: list[str]
    unattributed: list[str]


def _leaf_row(seen: Seen, traced: dict[str, Any] | None, itemsize: int, out: _Rows) -> None:
    found = [recognise(seen.module, call) for call in seen.calls]
    reason = next((f for f in found if isinstance(f, str)), None)
    if reason is None:
        row = analytic_row(seen, [f for f in found if not isinstance(f, str)], itemsize)
        out.rows.append(with_trace(row, traced[seen.name]) if traced else row)
        return
    label = f"{seen.name} ({type(seen.module).__name__}: {reason})"
    if traced is None:
        out.uncounted.append(label)
        return
    row = traced_row(seen, traced[seen.name], itemsize)
    if row.macs_analytic or row.elementwise_ops or row.uncounted_ops or row.params:
        out.rows.append(row)
        out.traced_only.append(label)


def build_rows(seen: list[Seen], traced: dict[str, Any] | None, itemsize: int) -> _Rows:
    """One row per leaf module that does work, plus one per module with ops in ``forward()``."""
    out = _Rows([], [], [], [])
    for s in seen:
        if not s.leaf:
            own = forward_row(s, traced) if traced else None
            if isinstance(own, Row):
                out.rows.append(own)
            elif own:
                out.unattributed.append(own)
        elif not isinstance(s.module, NO_WORK):
            _leaf_row(s, traced, itemsize, out)
    return out


def _trace(model: nn.Module, x: torch.Tensor, names: list[str], notes: list[str]) -> Any:
    """fvcore's per-module counts, or None (with a note) when the model cannot be traced."""
    from sepprof.trace import trace

    try:
        with evaluating(model):
            return trace(model, x, names)
    except (Exception, SystemExit) as exc:
        reraise_control(exc)
        notes.append(f"tracing failed, so counts are analytic only: {one_line(exc)}")
        return None


def _notes(found: _Rows, traced: bool, model: nn.Module, seen: list[Seen]) -> list[str]:
    notes = []
    if found.traced_only:
        notes.append(
            "counted by the trace alone (not in the analytic model; kind 'other'): "
            + "; ".join(found.traced_only)
        )
    if any(r.detail == FORWARD_OPS for r in found.rows):
        notes.append(FORWARD_NOTE)
    if not traced:
        notes.append(
            "without the trace, ops in forward() code (residual adds, functional calls) are not "
            "counted"
            + (f", nor these modules: {'; '.join(found.uncounted)}" if found.uncounted else "")
        )
    notes += [f"not attributed to a row: {u}" for u in found.unattributed]
    ran = {s.module for s in seen}
    idle = [
        n
        for n, m in model.named_modules()
        if m not in ran and next(m.parameters(recurse=False), None) is not None
    ]
    if idle:
        notes.append(f"modules with parameters that did not run on this input: {', '.join(idle)}")
    return notes


def _totals(rows: list[Row], output: Any) -> Row:
    out = _tensors(output)
    shape = "x".join(str(d) for d in out[0].shape[1:]) if out else ""
    return Row(
        "total",
        "network",
        sum(r.params for r in rows),
        sum(r.norm_params for r in rows),
        sum(r.macs_analytic for r in rows),
        sum(r.elementwise_ops for r in rows),
        sum(r.bytes for r in rows),
        shape,
    )


def _on(model: nn.Module, device: str, timing: Any) -> nn.Module:
    """An eval-mode copy of ``model`` on ``device`` in the timing dtype and memory format."""
    from sepprof.variants import DTYPES, memory_format

    fmt = memory_format(timing.memory_format)
    dtype = DTYPES[timing.dtype]
    return copy.deepcopy(model).eval().to(device=device, dtype=dtype, memory_format=fmt)


def time_modules(
    modules: dict[str, tuple[nn.Module, tuple[int, ...]]],
    timing: Any,
    progress: Progress | None = None,
) -> Any:
    """Time modules (label -> module and its N,C,H,W input shape) in the same rounds, each on
    an eval-mode copy; a ``measure.Timings``."""
    from sepprof.measure import time_all
    from sepprof.variants import random_input as device_input

    def items(device: str) -> dict[str, Callable[[], Any]]:
        out = {}
        for label, (module, shape) in modules.items():
            x = device_input(
                shape[0], Shape(*shape[1:]), device, timing.dtype, timing.memory_format
            )
            out[label] = lambda m=_on(module, device, timing), x=x: m(x)
        return out

    return time_all(items, timing, progress)


def _network(model: nn.Module, shape: tuple[int, ...], name: str | None) -> dict[str, Any]:
    kind = type(model)
    return {
        "name": name or kind.__name__,
        "source": f"{kind.__module__}.{kind.__qualname__}",
        "path": "",
        "input": list(shape[1:]),
        "width_mult": 1.0,
        "resolution": shape[2],
        "as": None,
        "reference": None,
        "model": name,
    }


@dataclass(frozen=True)
class Counted:
    """A model counted on one input: rows, totals, notes, what ran, the per-module trace
    (None without one) and the model's output."""

    rows: tuple[Row, ...]
    totals: Row
    notes: tuple[str, ...]
    seen: tuple[Seen, ...]
    traced: dict[str, Any] | None
    output: Any


def count_model(model: nn.Module, x: torch.Tensor, *, trace: bool, itemsize: int) -> Counted:
    """Rows and totals of ``model`` on ``x`` (in eval mode), traced when ``trace``."""
    seen, output = record_calls(model, x)
    notes: list[str] = []
    traced = _trace(model, x, [s.name for s in seen], notes) if trace else None
    found = build_rows(seen, traced.modules if traced else None, itemsize)
    if not found.rows:
        raise UserError(f"{type(model).__name__}: no layer that sepprof can count ran")
    notes += _notes(found, traced is not None, model, seen)
    totals = _totals(found.rows, output)
    if traced:
        totals = replace(
            with_trace(totals, traced.total), macs_flop_counter=traced.flop_counter_macs
        )
    modules = traced.modules if traced else None
    return Counted(tuple(found.rows), totals, tuple(notes), tuple(seen), modules, output)


def check_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """An N,C,H,W input shape of positive ints, else a UserError on --input."""
    shape = tuple(input_shape)
    if len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise UserError(f"--input {shape}: expected N,C,H,W as 4 positive integers")
    return shape


def profile_model(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    trace: bool = True,
    timing: Any = None,
    progress: Progress | None = None,
    name: str | None = None,
) -> ProfileResult:
    """Profile any model on an (N, C, H, W) input: analytic rows checked by fvcore's trace
    (``trace``), totals, by-type shares, and the whole network's latency (``timing``).

    The model runs in eval mode and gets its mode back; ``name`` labels it (the ``--model``
    spec, say)."""
    shape = check_shape(input_shape)
    dtype = getattr(timing, "dtype", "fp32")
    counted = count_model(model, random_input(shape), trace=trace, itemsize=DTYPE_BYTES[dtype])
    totals, notes = counted.totals, list(counted.notes)
    extra: dict[str, Any] = {"dtype": dtype, "batch": shape[0]}
    if timing is None:
        notes.append("timing skipped (--no-time)")
    else:
        timings = time_modules({NETWORK: (model, shape)}, timing, progress)
        for device, latency in timings.latency.items():
            totals = with_latency(totals, device, latency[NETWORK])
        extra.update(timings.env)
        notes.append("a --model network is timed whole, as one call (no per-layer times)")
    return ProfileResult(
        environment(**extra),
        _network(model, shape, name),
        counted.rows,
        by_type(list(counted.rows)),
        totals,
        None,
        tuple(notes),
    )
