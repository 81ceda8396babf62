"""Which analytic op a PyTorch module is, from its configuration and the shapes it ran on.

Convolutions of any rank and geometry (transposed too), Linear on any number of tokens, affine
BatchNorm, the activations and pools of ``ops``. A module outside this table, or one whose output
differs from what the analytic op predicts, gets a reason instead, and is counted by the trace.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

from torch import nn

from sepprof.count.trace import Call
from sepprof.spec.ops import Act, BatchNorm, Conv, ConvNd, Dims, Linear, Op, Pool, Shape

Recognised = tuple[Op, int]  # an op and the batch it runs on
Recogniser = Callable[[Any, Call], "Recognised | str"]
ConvModule = nn.modules.conv._ConvNd


def square(value: Any) -> int | None:
    """An int, or a pair of equal ints, as one int; None for anything non-square."""
    if isinstance(value, int):
        return value
    pair = tuple(value)
    return pair[0] if len(pair) == 2 and pair[0] == pair[1] else None


def pad_totals(module: ConvModule) -> tuple[int, ...]:
    """Both sides' padding per axis, as PyTorch applies it ('valid', 'same', ints; any mode)."""
    axes = len(module.kernel_size)
    if module.padding == "valid":
        return (0,) * axes
    if module.padding == "same":
        return tuple(d * (k - 1) for d, k in zip(module.dilation, module.kernel_size, strict=True))
    return tuple(2 * p for p in module.padding)


def conv_nd(module: ConvModule, inp: tuple[int, ...]) -> ConvNd | str:
    """The analytic ``ConvNd`` of any convolution module on a batched input, or why not."""
    axes = len(module.kernel_size)
    if len(inp) != axes + 2:
        return f"input {inp} is not batched N,C + {axes} spatial dims"
    transposed = isinstance(module, nn.modules.conv._ConvTransposeNd)
    return ConvNd(
        Dims(inp[1], tuple(inp[2:])),
        module.out_channels,
        tuple(module.kernel_size),
        tuple(module.stride),
        pad_totals(module),
        tuple(module.dilation),
        module.groups,
        module.bias is not None,
        transposed,
        tuple(module.output_padding) if transposed else (),
    )


def conv_op(module: ConvModule, inp: tuple[int, ...]) -> Conv | ConvNd | str:
    """A square, symmetric, non-transposed Conv2d as the cost model's ``Conv`` (so network and
    model rows read alike), any other convolution as a ``ConvNd``; or why neither."""
    op = conv_nd(module, inp)
    if isinstance(op, str) or op.transposed or len(op.k) != 2:
        return op
    k, stride, dilation = (square(v) for v in (op.k, op.stride, op.dilation))
    pad = square(op.pad)
    if None in (k, stride, dilation, pad) or pad % 2:
        return op
    c, (h, w) = op.inp.c, op.inp.size
    return Conv(Shape(c, h, w), op.cout, k, stride, pad // 2, dilation, op.groups, op.bias)


def _conv(module: ConvModule, call: Call) -> Recognised | str:
    op = conv_op(module, call.inp)
    return op if isinstance(op, str) else (op, call.inp[0])


def _linear(module: nn.Linear, call: Call) -> Recognised | str:
    if len(call.inp) < 2 or call.inp[-1] != module.in_features:
        return f"input {call.inp} does not end in {module.in_features} features"
    op = Linear(Shape(module.in_features, 1, 1), module.out_features, module.bias is not None)
    return op, prod(call.inp[:-1])


def _batchnorm(module: nn.modules.batchnorm._BatchNorm, call: Call) -> Recognised | str:
    if not module.affine or len(call.inp) < 2:
        return "BatchNorm without affine parameters or without a batch"
    return BatchNorm(Dims(call.inp[1], call.inp[2:])), call.inp[0]


def _act(fn: str) -> Recogniser:
    def rule(module: nn.Module, call: Call) -> Recognised | str:
        if len(call.inp) < 2:
            return f"input {call.inp} has no batch"
        return Act(Dims(call.inp[1], call.inp[2:]), fn), call.inp[0]

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
    nn.modules.conv._ConvNd: _conv,
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


def expected_out(op: Op, batch: int, call: Call) -> tuple[int, ...]:
    """The output shape the analytic op predicts for this call."""
    if isinstance(op, Linear):
        return (*call.inp[:-1], op.fout)
    if isinstance(op, ConvNd):
        return (batch, op.cout, *op.out.size)
    if isinstance(op, Conv | Pool):
        out = op.out
        return (batch, out.c, out.h, out.w)
    return call.inp


def recognise(module: nn.Module, call: Call) -> Recognised | str:
    """The analytic op of one call, or why the analytic model cannot count it."""
    kind = type(module)
    for cls in kind.__mro__:
        rule = RECOGNISERS.get(cls)
        if rule is None:
            continue
        if kind.forward is not cls.forward and cls is not nn.modules.conv._ConvNd:
            return f"{kind.__name__} overrides {cls.__name__}.forward"
        if cls is nn.modules.conv._ConvNd and kind.forward not in _CONV_FORWARDS:
            return f"{kind.__name__} overrides its convolution's forward"
        found = rule(module, call)
        if isinstance(found, str):
            return found
        expected = expected_out(*found, call)
        if expected != call.out:
            return f"output {call.out} is not the analytic model's {expected}"
        return found
    return "not in the analytic model"


_CONV_FORWARDS = {
    cls.forward
    for cls in (
        nn.Conv1d,
        nn.Conv2d,
        nn.Conv3d,
        nn.ConvTranspose1d,
        nn.ConvTranspose2d,
        nn.ConvTranspose3d,
    )
}
