"""Recipes that turn block parameters into ``ops.Block`` objects (torch-free).

Standard, grouped, separable and inverted-residual blocks are written once here and used both
for the variants of ``compare`` and for the blocks of network configs.
"""

from __future__ import annotations

from sepprof.spec.layer import LayerSpec, VariantSpec
from sepprof.spec.ops import Act, Add, BatchNorm, Block, Conv, Linear, Mul, Op, Pool, Shape, Stage


def chain(name: str, op: Op, bn: bool, act: str | None) -> Stage:
    """A stage of one op followed by optional BatchNorm and activation."""
    ops: list[Op] = [op]
    if bn:
        ops.append(BatchNorm(op.out))
    if act and act != "none":
        ops.append(Act(op.out, act))
    return Stage(name, tuple(ops))


def conv_stage(
    name: str,
    inp: Shape,
    cout: int,
    k: int,
    *,
    stride: int = 1,
    groups: int = 1,
    padding: int | None = None,
    dilation: int = 1,
    bias: bool = False,
    bn: bool = True,
    act: str | None = "relu",
) -> Stage:
    """conv -> BN -> act, with 'same' padding (k//2 * dilation) unless given."""
    pad = (k // 2) * dilation if padding is None else padding
    conv = Conv(inp, cout, k, stride, pad, dilation, groups, bias)
    return chain(name, conv, bn, act)


def separable_stages(
    inp: Shape,
    cout: int,
    k: int,
    *,
    stride: int = 1,
    padding: int | None = None,
    dilation: int = 1,
    bias: bool = False,
    bn: bool = True,
    act: str | None = "relu",
    inner: bool = True,
    prefix: str = "",
) -> tuple[Stage, Stage]:
    """Depthwise k x k then pointwise 1 x 1; ``inner`` puts BN and act between them (MobileNet)
    or not (Xception's separable conv)."""
    dw = conv_stage(
        f"{prefix}depthwise",
        inp,
        inp.c,
        k,
        stride=stride,
        groups=inp.c,
        padding=padding,
        dilation=dilation,
        bias=bias,
        bn=bn and inner,
        act=act if inner else None,
    )
    pw = conv_stage(f"{prefix}pointwise", dw.out, cout, 1, bias=bias, bn=bn, act=act)
    return dw, pw


def squeeze_excite(name: str, inp: Shape, squeeze: int, act: str) -> Stage:
    """Squeeze-excite gate: global pool, 1x1 reduce, act, 1x1 expand, sigmoid, multiply."""
    pooled = Shape(inp.c, 1, 1)
    ops: tuple[Op, ...] = (
        Pool(inp, "avg", global_=True),
        Conv(pooled, squeeze, 1, bias=True),
        Act(Shape(squeeze, 1, 1), act),
        Conv(Shape(squeeze, 1, 1), inp.c, 1, bias=True),
        Act(pooled, "sigmoid"),
        Mul(inp),
    )
    return Stage(name, ops, "gate")


def inverted_residual_stages(
    inp: Shape,
    cout: int,
    k: int,
    t: float,
    *,
    stride: int = 1,
    padding: int | None = None,
    dilation: int = 1,
    bias: bool = False,
    act: str | None = "relu6",
    bn: bool = True,
    se: float = 0.0,
    depthwise: bool = True,
    prefix: str = "",
) -> tuple[Stage, ...]:
    """MobileNetV2's block: 1x1 expand (skipped at t=1), k x k depthwise, optional squeeze-excite
    (``se`` x input channels), linear 1x1 project, and a residual add when the output has the
    input's shape. ``depthwise=False`` makes the middle conv a standard one (what separability
    saved)."""
    hidden = round(inp.c * t)
    stages: list[Stage] = []
    x = inp
    if hidden != inp.c:
        stages.append(conv_stage(f"{prefix}expand", x, hidden, 1, bias=bias, bn=bn, act=act))
        x = stages[-1].out
    mid = conv_stage(
        f"{prefix}{'depthwise' if depthwise else 'conv'}",
        x,
        hidden,
        k,
        stride=stride,
        groups=hidden if depthwise else 1,
        padding=padding,
        dilation=dilation,
        bias=bias,
        bn=bn,
        act=act,
    )
    stages.append(mid)
    if se:
        stages.append(squeeze_excite(f"{prefix}se", mid.out, max(1, int(inp.c * se)), act))
    stages.append(conv_stage(f"{prefix}project", mid.out, cout, 1, bias=bias, bn=bn, act=None))
    if stages[-1].out == inp:
        stages.append(Stage(f"{prefix}residual", (Add(stages[-1].out),), "shortcut"))
    return tuple(stages)


def layer_variant(layer: LayerSpec, variant: VariantSpec) -> Block:
    """The block of one ``compare`` variant of ``layer``."""
    inp = Shape(layer.cin, layer.size, layer.size)
    common = dict(
        stride=layer.stride,
        padding=layer.padding,
        dilation=layer.dilation,
        bias=layer.bias,
        bn=layer.bn,
        act=layer.act,
    )
    if variant.kind == "standard":
        stages: tuple[Stage, ...] = (conv_stage("conv", inp, layer.cout, layer.k, **common),)
    elif variant.kind == "grouped":
        stages = (conv_stage("grouped", inp, layer.cout, layer.k, groups=variant.param, **common),)
    elif variant.kind == "separable":
        stages = separable_stages(inp, layer.cout, layer.k, **common)
    else:
        stages = inverted_residual_stages(inp, layer.cout, layer.k, variant.param, **common)
    return Block(str(variant), variant.kind, inp, stages)


def pool_stage(
    name: str, inp: Shape, fn: str, k: int, stride: int, padding: int, global_: bool
) -> Stage:
    return Stage(name, (Pool(inp, fn, k, stride, padding, global_),))


def fc_stage(name: str, inp: Shape, fout: int, bias: bool, act: str | None) -> Stage:
    return chain(name, Linear(inp, fout, bias), False, act)
