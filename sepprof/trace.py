"""Count MACs and elementwise ops by tracing a real module with fvcore, cross-checked by torch.

fvcore's jit handles give per-module counts; sepprof registers its own handles so that MACs
(conv, linear, matmul) and elementwise ops (BatchNorm, activations, bias, adds, pools) come out
separately, under the rule in ``costs``. Ops fvcore cannot count are returned by name, never
dropped. ``torch.utils.flop_counter`` (2 FLOPs per MAC) independently counts the MACs of the
whole module.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod
from typing import Any

import torch
from fvcore.nn import FlopCountAnalysis
from fvcore.nn.jit_handles import (
    bmm_flop_jit,
    conv_flop_count,
    einsum_flop_jit,
    get_shape,
    matmul_flop_jit,
)
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from sepprof.costs import ELEMENTWISE_OPS
from sepprof.ops import Block, Plan, module_name, stage_path
from sepprof.units import flops_to_macs
from sepprof.variants import build_block, build_plan, random_input

MACS, ELTWISE = "macs", "eltwise"


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


def _has_tensor(value: Any) -> bool:
    return value.type().kind() == "TensorType"


def _numel(value: Any) -> int:
    return prod(get_shape(value))


def _conv(inputs: list, outputs: list) -> Counter:
    """``aten::_convolution`` (transposed flag at 6) and ``aten::_convolution_mode``
    (string padding such as 'same', never transposed)."""
    x, w = get_shape(inputs[0]), get_shape(inputs[1])
    out = get_shape(outputs[0])
    transposed = len(inputs) > 7 and bool(inputs[6].toIValue())
    macs = conv_flop_count(x, w, out, transposed=transposed)
    bias = prod(out) * ELEMENTWISE_OPS["bias"] if _has_tensor(inputs[2]) else 0
    return Counter({MACS: macs, ELTWISE: bias})


def _linear(inputs: list, outputs: list) -> Counter:
    x, w = get_shape(inputs[0]), get_shape(inputs[1])
    bias = _numel(outputs[0]) * ELEMENTWISE_OPS["bias"] if _has_tensor(inputs[2]) else 0
    return Counter({MACS: prod(x) * w[0], ELTWISE: bias})


def _addmm(inputs: list, outputs: list) -> Counter:
    a, b = get_shape(inputs[1]), get_shape(inputs[2])
    return Counter({MACS: a[0] * a[1] * b[1], ELTWISE: _numel(outputs[0])})


def _per_output(kind: str) -> Callable[[list, list], Counter]:
    def handle(inputs: list, outputs: list) -> Counter:
        return Counter({ELTWISE: _numel(outputs[0]) * ELEMENTWISE_OPS[kind]})

    return handle


def _int_list(value: Any) -> list[int]:
    """A traced int-list argument, constant or built by ``prim::ListConstruct``."""
    constant = value.toIValue()
    if constant is not None:
        return list(constant)
    return [v.toIValue() for v in value.node().inputs()]


def _pool(fn: str) -> Callable[[list, list], Counter]:
    def handle(inputs: list, outputs: list) -> Counter:
        k = _int_list(inputs[1])
        window = prod(k) if len(k) == 2 else k[0] * k[0]
        return Counter({ELTWISE: _numel(outputs[0]) * (window - 1 if fn == "max" else window)})

    return handle


def _global_pool(inputs: list, outputs: list) -> Counter:
    return Counter({ELTWISE: _numel(inputs[0])})


def _as_macs(handle: Callable) -> Callable[[list, list], Counter]:
    return lambda inputs, outputs: Counter({MACS: int(handle(inputs, outputs))})


HANDLES: dict[str, Callable[[list, list], Counter]] = {
    "aten::_convolution": _conv,
    "aten::_convolution_mode": _conv,
    "aten::linear": _linear,
    "aten::addmm": _addmm,
    "aten::mm": _as_macs(matmul_flop_jit),
    "aten::matmul": _as_macs(matmul_flop_jit),
    "aten::bmm": _as_macs(bmm_flop_jit),
    "aten::einsum": _as_macs(einsum_flop_jit),
    "aten::batch_norm": _per_output("batchnorm"),
    "aten::relu": _per_output("relu"),
    "aten::relu_": _per_output("relu"),
    "aten::hardtanh": _per_output("relu6"),
    "aten::hardtanh_": _per_output("relu6"),
    "aten::sigmoid": _per_output("sigmoid"),
    "aten::sigmoid_": _per_output("sigmoid"),
    "aten::silu": _per_output("silu"),
    "aten::silu_": _per_output("silu"),
    "aten::hardswish": _per_output("hardswish"),
    "aten::hardswish_": _per_output("hardswish"),
    "aten::add": _per_output("add"),
    "aten::add_": _per_output("add"),
    "aten::mul": _per_output("mul"),
    "aten::mul_": _per_output("mul"),
    "aten::max_pool2d": _pool("max"),
    "aten::avg_pool2d": _pool("avg"),
    "aten::adaptive_avg_pool2d": _global_pool,
    "aten::adaptive_max_pool2d": _global_pool,
}

# Ops that compute nothing worth counting, beyond fvcore's own list of shape and copy ops.
IGNORED = (
    "aten::dropout_",
    "aten::feature_dropout",
    "aten::alpha_dropout",
    "aten::identity",
    "aten::pad",
)


def _param_counts(module: nn.Module) -> tuple[int, int]:
    """(conv/linear weights and biases, BatchNorm scale and shift) held by a module tree."""
    weights = norm = 0
    for sub in module.modules():
        count = sum(p.numel() for p in sub.parameters(recurse=False))
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            norm += count
        else:
            weights += count
    return weights, norm


class _TorchFlops(TorchDispatchMode):
    """Sums FLOPs with ``torch.utils.flop_counter``'s own formulas (its ``flop_registry``).

    ``FlopCounterMode`` itself would do the same but imports torch._dynamo on entry (2 s here),
    so this mode applies the registry directly and opts out of dynamo's wrapping.
    """

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        rule = flop_registry.get(func._overloadpacket)
        if rule is not None:
            self.flops += rule(*args, **kwargs, out_val=out)
        return out


def flop_counter_macs(module: nn.Module, x: torch.Tensor) -> int:
    """MACs of one forward pass as counted by ``torch.utils.flop_counter`` (FLOPs / 2)."""
    with torch.no_grad(), _TorchFlops() as counter:
        module(x)
    return flops_to_macs(counter.flops)


def trace(module: nn.Module, x: torch.Tensor, names: list[str] | None = None) -> Trace:
    """Trace ``module`` on ``x``; counts for the root ("") and each module path in ``names``."""
    analysis = FlopCountAnalysis(module, (x,))
    analysis.set_op_handle(**HANDLES)
    analysis.set_op_handle(**dict.fromkeys(IGNORED))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with torch.no_grad():
        by_module = analysis.by_module_and_operator()
    submodules = dict(module.named_modules())
    modules = {}
    for name in ["", *(names or [])]:
        counts = by_module.get(name, Counter())
        uncounted = dict(analysis.unsupported_ops(name)) if name in by_module else {}
        params = _param_counts(submodules[name]) if name in submodules else (0, 0)
        modules[name] = TracedCounts(int(counts[MACS]), int(counts[ELTWISE]), *params, uncounted)
    return Trace(modules, flop_counter_macs(module, x))


def trace_block(block: Block, batch: int) -> tuple[dict[str, TracedCounts], int]:
    """fvcore's counts for a block ("" key) and each stage (by stage name), and the block's MACs
    by ``torch.utils.flop_counter``."""
    module = build_block(block)
    names = {module_name(s.name): s.name for s in block.stages}
    traced = trace(module, random_input(batch, block.inp), list(names))
    counts = {names.get(path, path): c for path, c in traced.modules.items()}
    return counts, traced.flop_counter_macs


def trace_plan(plan: Plan, batch: int) -> tuple[dict[str, TracedCounts], int]:
    """fvcore's counts for a whole network ("" key) and each stage (by its module path, see
    ``variants.stage_path``), and the network's MACs by ``torch.utils.flop_counter``."""
    module = build_plan(plan)
    paths = [stage_path(b, s, True) for b, s in plan.stages()]
    traced = trace(module, random_input(batch, plan.inp), paths)
    return dict(traced.modules), traced.flop_counter_macs
