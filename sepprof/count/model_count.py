"""Count any PyTorch model on its inputs: one row per leaf module that does work, one
"(forward)" row per module whose own ``forward()`` computes, totals that are sums of rows.

Modules the analytic model recognises (``recognise``) are counted by ``costs`` from the shapes
they ran on and checked against the tracer's count of the same module and against torch's
counter. Everything else comes from the tracer, which charges every op to the innermost running
module, so nothing is counted twice at any nesting. Every parameter is counted once, in the row
of the module that first used it. A row that ran an op with no counting rule keeps what was
counted and is incomplete (``Row.complete`` False, the op named in ``uncounted_ops``); the totals
are then a lower bound. A row is n/a (None) only when nothing in it could be counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from torch import nn

from sepprof.count.costs import Cost, op_cost
from sepprof.count.handles import ELTWISE, MACS
from sepprof.count.recognise import Recognised, recognise
from sepprof.count.rows import describe
from sepprof.count.trace import Observed, Scope, observe
from sepprof.errors import UserError
from sepprof.models.model import ModelInputs, evaluating, one_line, reraise_control
from sepprof.results import Row
from sepprof.spec.ops import ConvNd, Op, Stage

# Leaf modules that compute nothing at inference: no row unless they hold parameters.
NO_WORK = (nn.Identity, nn.Flatten, nn.Unflatten, nn.modules.dropout._DropoutNd)
OTHER, ELEMENTWISE, UNUSED = "other", "elementwise", "unused"
FORWARD_OPS = "ops in forward()"
FORWARD_NOTE = (
    "'(forward)' rows: ops a module runs in its own forward() (residual adds, functional calls, "
    "attention, children's weights used directly), counted by the trace; bytes not counted (0)"
)
ATTENTION = (nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)
FAST_PATH_NOTE = (
    "nn.MultiheadAttention was counted with PyTorch's fused fast path turned off (the same "
    "MACs, counted op by op); timing runs the model as it is"
)


@dataclass(frozen=True)
class Counted:
    """A model counted on one input: rows, totals, notes, the modules that ran (by path, in
    the order their first call finished) and the model's output."""

    rows: tuple[Row, ...]
    totals: Row
    notes: tuple[str, ...]
    scopes: dict[str, Scope]
    output: Any
    traced: bool


def _shape(scope: Scope) -> str:
    return "x".join(str(d) for d in scope.calls[-1].out[1:]) if scope.calls else ""


def op_detail(op: Op) -> str:
    """``describe`` for the network ops; a ConvNd as ``1x5/1x2 pad 0x2 dil 1x1 16->32``
    (padding per side; 1.5 where 'same' pads one side more)."""
    if not isinstance(op, ConvNd):
        return describe(Stage("", (op,)))
    per_side = tuple(f"{p / 2:g}" for p in op.pad)
    axes = ["x".join(map(str, v)) for v in (op.k, op.stride, per_side, op.dilation)]
    groups = f" g={op.groups}" if op.groups > 1 else ""
    kind = " transposed" if op.transposed else ""
    return f"{axes[0]}/{axes[1]} pad {axes[2]} dil {axes[3]}{groups}{kind} {op.inp.c}->{op.cout}"


def _traced(scope: Scope) -> dict[str, Any]:
    """The tracer's and torch's counts of the module a row stands for (Row's fields, given when
    the row is made: a ``replace`` per row was a visible part of counting a model)."""
    return {
        "macs_traced": scope.counts[MACS],
        "elementwise_traced": scope.counts[ELTWISE],
        "macs_flop_counter": scope.torch_macs,
        "uncounted_ops": dict(scope.uncounted),
    }


def analytic_row(scope: Scope, ops: list[Recognised], itemsize: int, traced: bool) -> Row:
    """A recognised module's row: costs summed over its calls; parameters as charged."""
    costs = [op_cost(op, batch, itemsize) for op, batch in ops]
    total = sum(costs, Cost())
    calls = f" ×{len(ops)} calls" if len(ops) > 1 else ""
    op = ops[0][0]
    params = (
        (scope.params, scope.norm_params) if traced else (costs[0].params, costs[0].norm_params)
    )
    return Row(
        scope.name,
        Stage("", (op,)).kind,
        *params,
        total.macs,
        total.eltwise,
        total.bytes,
        _shape(scope),
        op_detail(op) + calls,
        **(_traced(scope) if traced else {}),
    )


def _kind(scope: Scope) -> str:
    """elementwise (no MACs), attention (nn.MultiheadAttention, or an attention kernel ran),
    matmul (only matrix products), else other."""
    if not scope.counts[MACS]:
        return ELEMENTWISE
    if isinstance(scope.module, nn.MultiheadAttention) or scope.mac_kinds["attention"]:
        return "attention"
    return "matmul" if scope.mac_kinds["matmul"] == scope.counts[MACS] else OTHER


def traced_row(scope: Scope, itemsize: int, name: str, detail: str) -> Row:
    """A module outside the analytic model (or a forward remainder), counted by the trace. An
    op with no counting rule makes it incomplete: it keeps every MAC and elementwise op counted;
    n/a only when such ops are all it ran (nothing known)."""
    unknown = bool(scope.uncounted) and not +scope.counts
    macs, eltwise = scope.counts[MACS], scope.counts[ELTWISE]
    kind = _kind(scope) if not unknown else OTHER
    leaf = detail != FORWARD_OPS
    weights = (scope.params + scope.norm_params) * len(scope.calls)
    moved = (sum(c.moved for c in scope.calls) + weights) * itemsize if leaf else 0
    return Row(
        name,
        kind,
        scope.params,
        scope.norm_params,
        None if unknown else macs,
        None if unknown else eltwise,
        moved,
        _shape(scope),
        detail,
        complete=not scope.uncounted,
        **_traced(scope),
    )


@dataclass
class _Rows:
    """Rows in execution order and what the analytic model could not count."""

    rows: list[Row]
    traced_only: list[str]
    uncounted: list[str]


def _leaf(scope: Scope, itemsize: int, traced: bool, out: _Rows) -> None:
    found = [recognise(scope.module, call) for call in scope.calls]
    reason = next((f for f in found if isinstance(f, str)), None)
    if reason is None:
        ops = [f for f in found if not isinstance(f, str)]
        out.rows.append(analytic_row(scope, ops, itemsize, traced))
        return
    label = f"{scope.name} ({type(scope.module).__name__}: {reason})"
    if not traced:
        out.uncounted.append(label)
        row = Row(scope.name, OTHER, scope.params, scope.norm_params, None, None, 0, _shape(scope))
        detail = f"{type(scope.module).__name__} (needs the trace)"
        out.rows.append(replace(row, detail=detail, complete=False))
        return
    row = traced_row(scope, itemsize, scope.name, f"{type(scope.module).__name__} (traced)")
    if row.macs_analytic != 0 or row.elementwise_ops != 0 or row.params or row.norm_params:
        out.rows.append(row)
        out.traced_only.append(label)


def _works(scope: Scope) -> bool:
    return bool(+scope.counts or scope.uncounted or scope.params or scope.norm_params)


def build_rows(observed: Observed, itemsize: int) -> _Rows:
    """One row per leaf module that does work, one per module with ops in ``forward()``, one
    per module whose parameters nothing used."""
    out = _Rows([], [], [])
    for scope in observed.scopes.values():
        if scope.leaf and not (isinstance(scope.module, NO_WORK) and not _works(scope)):
            _leaf(scope, itemsize, observed.counted, out)
        elif not scope.leaf and _works(scope):
            name = f"{scope.name or 'model'} (forward)"
            row = traced_row(scope, itemsize, name, FORWARD_OPS)
            if not observed.counted:  # parameters only: its ops need the trace
                row = replace(
                    row, kind=OTHER, macs_analytic=None, elementwise_ops=None, complete=False
                )
            out.rows.append(row)
    for owner, (params, norm) in observed.unused.items():
        ran = owner in observed.scopes
        label = f"{owner or 'model'} ({'parameters unused' if ran else 'did not run'})"
        out.rows.append(Row(label, UNUSED, params, norm, 0, 0, 0, detail="parameters only"))
    return out


def _own_params(model: nn.Module, observed: Observed) -> None:
    """Without the trace: each parameter once, in the nearest module that ran above its owner."""
    for name, p in model.named_parameters():
        owner = name.rpartition(".")[0]
        while owner not in observed.scopes and owner:
            owner = owner.rpartition(".")[0]
        scope = observed.scopes.get(owner)
        if scope is None:
            continue
        norm = isinstance(
            model.get_submodule(name.rpartition(".")[0]), nn.modules.batchnorm._BatchNorm
        )
        if norm:
            scope.norm_params += p.numel()
        else:
            scope.params += p.numel()


def _run(model: nn.Module, inputs: ModelInputs, count: bool) -> Observed:
    with evaluating(model):
        try:
            return observe(model, inputs.args, inputs.kwargs, count=count)
        except (Exception, SystemExit) as exc:
            reraise_control(exc)
            raise UserError(f"{inputs.flag}: the model's forward() raised {one_line(exc)}") from exc


def _observe(model: nn.Module, inputs: ModelInputs, trace: bool, notes: list[str]) -> Observed:
    """The counting pass; when only the counting fails, a plain pass with a note."""
    if trace:
        try:
            return _run(model, inputs, True)
        except UserError as exc:
            plain = _run(model, inputs, False)
            notes.append(
                f"tracing failed, so counts are analytic only: {one_line(exc.__cause__ or exc)}"
            )
            return plain
    return _run(model, inputs, False)


def _notes(found: _Rows, observed: Observed, rows: list[Row]) -> list[str]:
    notes = []
    if found.traced_only:
        notes.append(
            "counted by the trace alone (not in the analytic model): "
            + "; ".join(found.traced_only)
        )
    if any(r.detail == FORWARD_OPS for r in rows):
        notes.append(FORWARD_NOTE)
    if not observed.counted:
        notes.append(
            "without the trace, ops in forward() code (residual adds, functional calls, "
            "attention) are not counted, and parameters of modules that were not called are "
            "shown with the module that called their code"
            + (f"; n/a: {'; '.join(found.uncounted)}" if found.uncounted else "")
        )
    idle = [r.name for r in rows if r.kind == UNUSED]
    if idle:
        notes.append(
            f"parameters that no op used on this input (counted, 0 MACs): {', '.join(idle)}"
        )
    partial = [r.name or "model" for r in rows if r.uncounted_ops and not r.complete]
    if partial and observed.counted:
        notes.append(
            "incomplete rows ran an op with no counting rule (listed above by name): they keep "
            "every MAC and elementwise op counted (n/a where nothing was), so the totals are a "
            f"lower bound: {', '.join(partial)}"
        )
    if any(isinstance(s.module, ATTENTION) for s in observed.scopes.values()):
        notes.append(FAST_PATH_NOTE)
    return notes


def _sum(values: list[int | None]) -> int:
    return sum(v for v in values if v is not None)


def _totals(rows: list[Row], output: Any, traced: bool) -> Row:
    from sepprof.count.trace import _tensors

    out = _tensors(output)
    counted = [r for r in rows if r.macs_analytic is not None]
    totals = Row(
        "total",
        "network",
        sum(r.params for r in rows),
        sum(r.norm_params for r in rows),
        _sum([r.macs_analytic for r in counted]),
        _sum([r.elementwise_ops for r in counted]),
        sum(r.bytes for r in rows),
        "x".join(str(d) for d in out[0].shape[1:]) if out else "",
        complete=all(r.complete for r in rows),
    )
    if not traced:
        return totals
    torch_macs = [r.macs_flop_counter for r in counted if r.kind != UNUSED]
    return replace(
        totals,
        macs_traced=_sum([r.macs_traced for r in counted]),
        elementwise_traced=_sum([r.elementwise_traced for r in counted]),
        macs_flop_counter=None if None in torch_macs else sum(torch_macs),
        uncounted_ops=dict(sum((Counter(r.uncounted_ops) for r in rows), Counter())),
    )


def count_model(
    model: nn.Module, inputs: ModelInputs, *, trace: bool = True, itemsize: int = 4
) -> Counted:
    """Rows and totals of ``model`` called on ``inputs`` (in eval mode, no autograd), every op
    counted by the tracer when ``trace``; one forward pass."""
    notes: list[str] = []
    observed = _observe(model, inputs, trace, notes)
    if not observed.counted:
        _own_params(model, observed)
    found = build_rows(observed, itemsize)
    if not found.rows:
        raise UserError(f"{type(model).__name__}: no layer that sepprof can count ran")
    notes += _notes(found, observed, found.rows)
    totals = _totals(found.rows, observed.output, observed.counted)
    return Counted(
        tuple(found.rows), totals, tuple(notes), observed.scopes, observed.output, observed.counted
    )


def scope_counts(counted: Counted, name: str, row: Row) -> Row:
    """``row`` with the tracer's and torch's counts of module ``name`` and all below it."""
    prefix = f"{name}."
    scopes = [s for p, s in counted.scopes.items() if p == name or p.startswith(prefix)]
    counts, uncounted = Counter(), Counter()
    for scope in scopes:
        counts.update(scope.counts)
        uncounted.update(scope.uncounted)
    torch_macs = [s.torch_macs for s in scopes]
    return replace(
        row,
        macs_traced=counts[MACS],
        elementwise_traced=counts[ELTWISE],
        macs_flop_counter=None if None in torch_macs else sum(torch_macs),
        uncounted_ops=dict(uncounted),
    )
