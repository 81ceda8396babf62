"""Count a real module's MACs and elementwise ops in one eager forward pass, module by module.

A ``TorchDispatchMode`` sees every aten op the forward runs and counts it with the rule in
``handles`` (ops without one are named, never dropped); forward hooks keep the stack of modules
that are running, so each op is charged to the innermost one. A module's own counts are
therefore what its ``forward()`` runs itself, and nothing is counted twice at any nesting
(containers iterated in a parent's forward, children called out of order, shared modules).
The same pass records every module call's shapes, charges each parameter to the module that
first uses it, and applies ``torch.utils.flop_counter``'s own formulas as an independent count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from sepprof.count.handles import ELTWISE, HANDLES, IGNORED, MAC_KINDS, MACS
from sepprof.models.variants import build_block, build_plan, random_input
from sepprof.spec.ops import Block, Plan, module_name, stage_path
from sepprof.units import flops_to_macs

__all__ = ["ELTWISE", "HANDLES", "IGNORED", "MACS", "observe", "trace"]


@dataclass(frozen=True)
class TracedCounts:
    """What tracing counted in one module (its descendants included)."""

    macs: int
    eltwise: int
    params: int
    norm_params: int
    uncounted: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Trace:
    """Per-module traced counts plus the independent torch.utils.flop_counter total."""

    modules: dict[str, TracedCounts]
    flop_counter_macs: int

    @property
    def total(self) -> TracedCounts:
        return self.modules[""]


@dataclass(frozen=True)
class Call:
    """One call of a module: its first tensor input and output shapes, and the elements of all
    tensors it took and returned."""

    inp: tuple[int, ...]
    out: tuple[int, ...]
    moved: int


@dataclass
class Scope:
    """A module seen in the pass: its calls, and what its own ``forward()`` ran (children
    excluded): counts, MACs by kind of op (conv, matmul, attention), uncounted ops, torch's
    MACs (None when an op with MACs has no rule there) and the parameters it used first
    (``norm``: BatchNorm's)."""

    name: str
    module: nn.Module
    calls: list[Call] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    mac_kinds: Counter = field(default_factory=Counter)
    uncounted: Counter = field(default_factory=Counter)
    torch_macs: int | None = 0
    params: int = 0
    norm_params: int = 0

    @property
    def leaf(self) -> bool:
        return next(self.module.children(), None) is None


@dataclass(frozen=True)
class Observed:
    """One forward pass: the modules that ran (in the order their first call finished, children
    before parents), the output, parameters no op used (by owning module: (params, norm)), and
    whether ops were counted."""

    scopes: dict[str, Scope]
    output: Any
    unused: dict[str, tuple[int, int]]
    counted: bool


def _tensors(value: Any) -> list[torch.Tensor]:
    """Every tensor in ``value`` and the lists, tuples (named ones too) and dicts inside it, in
    order: what ``tree_flatten`` finds in a module's arguments and outputs, without its per-node
    type lookups (the tracer does this twice for every module call)."""
    found: list[torch.Tensor] = []
    _collect(value, found)
    return found


def _collect(value: Any, found: list[torch.Tensor]) -> None:
    if isinstance(value, torch.Tensor):
        found.append(value)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)


def _direct_tensors(args: tuple, kwargs: dict) -> Iterator[torch.Tensor]:
    """The tensors an op takes, directly or in a list (weights are never nested deeper)."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, list | tuple):
            yield from (v for v in value if isinstance(v, torch.Tensor))


def _first_shape(tensors: list[torch.Tensor]) -> tuple[int, ...]:
    return tuple(tensors[0].shape) if tensors else ()


def _storage(t: torch.Tensor) -> int | None:
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return None


class _Params:
    """Parameters not yet used, by storage: charged to the scope of the first op that reads them."""

    def __init__(self, model: nn.Module) -> None:
        norms = {
            id(p)
            for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)
            for p in m.parameters(recurse=False)
        }
        self.owner: dict[int, str] = {}
        self.pending: dict[int | None, list[tuple[int, int, str]]] = {}
        for name, p in model.named_parameters():
            owner = name.rpartition(".")[0]
            norm = id(p) in norms
            entry = (0, p.numel(), owner) if norm else (p.numel(), 0, owner)
            self.pending.setdefault(_storage(p), []).append(entry)
        self.pending.pop(None, None)

    def use(self, args: tuple, kwargs: dict, scope: Scope) -> None:
        if not self.pending:
            return
        for t in _direct_tensors(args, kwargs):
            for params, norm, _ in self.pending.pop(_storage(t), ()):
                scope.params += params
                scope.norm_params += norm

    def unused(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for entries in self.pending.values():
            for params, norm, owner in entries:
                was = out.get(owner, (0, 0))
                out[owner] = (was[0] + params, was[1] + norm)
        return out


def _shapes(value: Any) -> Any:
    """Tensors replaced by their shapes, in plain lists and tuples too: what torch's
    ``shape_wrapper`` hands its formulas (an op's arguments nest no deeper)."""
    if isinstance(value, torch.Tensor):
        return value.shape
    if type(value) in (list, tuple):
        return type(value)(_shapes(v) for v in value)
    return value


def _torch_macs(func: Any, args: tuple, kwargs: dict, out: Any) -> int | None:
    """torch.utils.flop_counter's count of one op, in MACs (None: no formula). Its formulas are
    called on shapes directly (``__wrapped__``), skipping the wrapper's pytree ``tree_map``, which
    took longer than the rest of the tracer together."""
    rule = flop_registry.get(func._overloadpacket)
    if rule is None:
        return None
    raw = getattr(rule, "__wrapped__", None)
    if raw is None or getattr(rule, "__code__", None) is None or rule.__code__.co_name != "nf":
        return flops_to_macs(rule(*args, **kwargs, out_val=out))
    shaped = {k: _shapes(v) for k, v in kwargs.items()}
    return flops_to_macs(raw(*_shapes(args), out_shape=_shapes(out), **shaped))


class _Counting(TorchDispatchMode):
    """Charges every aten op to the innermost running module (``stack[-1]``)."""

    def __init__(self, stack: list[Scope], params: _Params) -> None:
        super().__init__()
        self.stack, self.params = stack, params

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.stack:
            self._count(self.stack[-1], func, args, kwargs, out)
        return out

    def _count(self, scope: Scope, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        name = func._schema.name
        self.params.use(args, kwargs, scope)
        handle = HANDLES.get(name)
        if handle is None:
            if name not in IGNORED:
                scope.uncounted[name] += 1
            return
        outputs = list(out) if isinstance(out, tuple | list) else [out]
        counts = handle([*args, *kwargs.values()], outputs)
        scope.counts.update(counts)
        if counts.get(MACS):
            scope.mac_kinds[MAC_KINDS.get(name, "other")] += counts[MACS]
        if counts.get(MACS) and scope.torch_macs is not None:
            theirs = _torch_macs(func, args, kwargs, out)
            scope.torch_macs = None if theirs is None else scope.torch_macs + theirs


@contextmanager
def _hooked(model: nn.Module, scopes: dict[str, Scope], stack: list[Scope]) -> Iterator[None]:
    """Forward hooks on every module of ``model``: push on entry, record the call and pop on
    exit. Two global hooks (``register_module_forward_*hook``) rather than two per module: the
    same calls seen, without registering and removing 2 hooks a module on every count; modules
    outside ``model`` (built inside a forward) are passed over, as they were never hooked."""
    names = {m: n for n, m in model.named_modules()}
    ran: dict[nn.Module, Scope] = {}

    def enter(module: nn.Module, args: Any) -> None:
        name = names.get(module)
        if name is not None:
            stack.append(ran.get(module) or ran.setdefault(module, Scope(name, module)))

    def leave(module: nn.Module, args: Any, kwargs: Any, output: Any) -> None:
        if module not in names:
            return
        scope = stack.pop()
        ins, outs = _tensors((args, kwargs)), _tensors(output)
        moved = sum(t.numel() for t in ins) + sum(t.numel() for t in outs)
        scope.calls.append(Call(_first_shape(ins), _first_shape(outs), moved))
        scopes.setdefault(scope.name, scope)

    handles = [
        register_module_forward_pre_hook(enter),
        register_module_forward_hook(leave, with_kwargs=True),
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def _slow_attention() -> Iterator[None]:
    """nn.MultiheadAttention and nn.TransformerEncoderLayer without their fused fast path, so
    their projections and attention are counted op by op (the same MACs)."""
    was = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(was)


def observe(model: nn.Module, args: tuple, kwargs: dict, *, count: bool = True) -> Observed:
    """Run ``model(*args, **kwargs)`` once (no autograd) with every module hooked and, when
    ``count``, every op counted; the caller sets eval mode and turns errors into messages."""
    scopes: dict[str, Scope] = {}
    stack: list[Scope] = []
    params = _Params(model)
    with _hooked(model, scopes, stack), torch.no_grad(), _slow_attention():
        if count:
            with _Counting(stack, params):
                output = model(*args, **kwargs)
        else:
            output = model(*args, **kwargs)
    return Observed(scopes, output, params.unused() if count else {}, count)


def _param_counts(module: nn.Module) -> tuple[int, int]:
    """(weights and biases, BatchNorm scale and shift) held by a module tree, each once."""
    norm = sum(
        p.numel()
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for p in m.parameters(recurse=False)
    )
    return sum(p.numel() for p in module.parameters()) - norm, norm


def inclusive(observed: Observed, name: str) -> tuple[Counter, Counter, int]:
    """Counts, uncounted ops and torch's MACs of ``name`` and every module below it."""
    prefix = f"{name}." if name else ""
    counts, uncounted, torch_macs = Counter(), Counter(), 0
    for path, scope in observed.scopes.items():
        if path == name or path.startswith(prefix):
            counts.update(scope.counts)
            uncounted.update(scope.uncounted)
            torch_macs += scope.torch_macs or 0
    return counts, uncounted, torch_macs


def trace(module: nn.Module, x: torch.Tensor, names: list[str] | None = None) -> Trace:
    """Trace ``module`` on ``x``; counts for the root ("") and each module path in ``names``."""
    observed = observe(module, (x,), {})
    submodules = dict(module.named_modules())
    modules = {}
    for name in ["", *(names or [])]:
        counts, uncounted, _ = inclusive(observed, name)
        params = _param_counts(submodules[name]) if name in submodules else (0, 0)
        modules[name] = TracedCounts(counts[MACS], counts[ELTWISE], *params, dict(uncounted))
    return Trace(modules, inclusive(observed, "")[2])


def trace_block(block: Block, batch: int) -> tuple[dict[str, TracedCounts], int]:
    """Traced counts for a block ("" key) and each stage (by stage name), and the block's MACs
    by ``torch.utils.flop_counter``'s formulas."""
    module = build_block(block).eval()
    names = {module_name(s.name): s.name for s in block.stages}
    traced = trace(module, random_input(batch, block.inp), list(names))
    counts = {names.get(path, path): c for path, c in traced.modules.items()}
    return counts, traced.flop_counter_macs


def trace_plan(plan: Plan, batch: int) -> tuple[dict[str, TracedCounts], int]:
    """Traced counts for a whole network ("" key) and each stage (by its module path, see
    ``variants.stage_path``), and the network's MACs by ``torch.utils.flop_counter``."""
    module = build_plan(plan).eval()
    paths = [stage_path(b, s, True) for b, s in plan.stages()]
    traced = trace(module, random_input(batch, plan.inp), paths)
    return dict(traced.modules), traced.flop_counter_macs
