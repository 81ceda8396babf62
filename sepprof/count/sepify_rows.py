"""Analytic rows of a convolution before and after ``sepify`` converts it: the conv as it was,
and its depthwise (+ BatchNorm) (+ activation) + pointwise replacement, one stage row each."""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from sepprof.count.model_count import op_detail
from sepprof.count.recognise import conv_op
from sepprof.count.rows import block_row, stage_row
from sepprof.results.rows import Row
from sepprof.results.sepify import ConvertedLayer, SepifyOptions
from sepprof.spec.ops import Act, BatchNorm, Block, Conv, ConvNd, Stage


def pointwise(dw: Conv | ConvNd, cout: int, bias: bool) -> Conv | ConvNd:
    """The 1x1 conv after a depthwise one, on its output."""
    if isinstance(dw, Conv):
        return Conv(dw.out, cout, 1, bias=bias)
    ones = (1,) * len(dw.k)
    return ConvNd(dw.out, cout, ones, ones, (0,) * len(dw.k), ones, bias=bias)


def stages(standard: Conv | ConvNd, options: SepifyOptions) -> list[Stage]:
    """depthwise (same geometry), bn, act, pointwise."""
    c = standard.inp.c
    dw = replace(standard, cout=c, groups=c, bias=False)
    out = [Stage("depthwise", (dw,))]
    if options.bn:
        out.append(Stage("bn", (BatchNorm(dw.out),)))
    if options.act:
        out.append(Stage("act", (Act(dw.out, options.act),)))
    out.append(Stage("pointwise", (pointwise(dw, standard.cout, standard.bias),)))
    return out


def _detailed(row: Row, stage: Stage) -> Row:
    return replace(row, detail=op_detail(stage.ops[0]))


def after_detail(parts: list[Stage]) -> str:
    """``dw 3x3/2 + bn + relu + pw 64->128``."""
    dw, pw = parts[0].ops[0], parts[-1].ops[0]
    middle = "".join(f" + {s.ops[0].kind}" for s in parts[1:-1])
    geometry = op_detail(dw).split(" g=")[0]
    return f"dw {geometry}{middle} + pw {dw.inp.c}->{pw.cout}"


def layer_rows(
    name: str,
    conv: nn.modules.conv._ConvNd,
    inp: tuple[int, ...],
    options: SepifyOptions,
    itemsize: int,
) -> ConvertedLayer:
    """Analytic rows of one layer before and after, at the (batched) shape it ran on."""
    standard = conv_op(conv, inp)
    if isinstance(standard, str):
        raise ValueError(f"{name}: {standard}")  # only batched inputs reach this
    batch = inp[0]
    parts = stages(standard, options)
    before = _detailed(
        stage_row(Stage(name, (standard,)), batch, itemsize), Stage(name, (standard,))
    )
    after = block_row(Block(name, "separable", standard.inp, tuple(parts)), batch, itemsize)
    rows = tuple(_detailed(r, s) for r, s in zip(after.stages, parts, strict=True))
    return ConvertedLayer(
        name,
        standard.k,
        standard.stride,
        standard.inp.c,
        standard.cout,
        before,
        replace(after, detail=after_detail(parts), stages=rows),
    )
