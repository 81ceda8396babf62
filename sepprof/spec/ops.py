"""Leaf operations, stages, blocks and plans: the torch-free description of what a model computes.

Every count sepprof prints is a function of these (see ``costs``), and every module it builds is
made from them (see ``variants``), so the analytic model and the traced module cannot drift apart.
Shapes are per sample (C, H, W); the batch is applied when costs are computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Literal

ActKind = Literal["relu", "relu6", "silu", "sigmoid", "hardswish"]
PoolKind = Literal["max", "avg"]
Combine = Literal["seq", "gate", "shortcut"]


@dataclass(frozen=True)
class Shape:
    """A per-sample activation shape: channels, height, width."""

    c: int
    h: int
    w: int

    @property
    def numel(self) -> int:
        return self.c * self.h * self.w

    def __str__(self) -> str:
        return f"{self.c}x{self.h}x{self.w}"


def conv_out_size(size: int, k: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution or pooling window along one axis (PyTorch's formula)."""
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


@dataclass(frozen=True)
class Conv:
    """A 2-D convolution; ``groups`` = cin makes it depthwise, k = 1 with groups 1 pointwise."""

    inp: Shape
    cout: int
    k: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    bias: bool = False

    @property
    def out(self) -> Shape:
        h = conv_out_size(self.inp.h, self.k, self.stride, self.padding, self.dilation)
        w = conv_out_size(self.inp.w, self.k, self.stride, self.padding, self.dilation)
        return Shape(self.cout, h, w)

    @property
    def kind(self) -> str:
        """The conv family this op belongs to, as named in the by-type tables."""
        if self.groups == 1:
            return "pointwise" if self.k == 1 else "standard"
        if self.groups == self.inp.c == self.cout:
            return "depthwise"
        return "grouped"


@dataclass(frozen=True)
class Dims:
    """A per-sample activation of any rank: channels and spatial sizes (none for a vector)."""

    c: int
    size: tuple[int, ...] = ()

    @property
    def numel(self) -> int:
        return self.c * prod(self.size)

    def __str__(self) -> str:
        return "x".join(str(d) for d in (self.c, *self.size))


def transposed_out_size(size: int, k: int, stride: int, pad: int, dilation: int, extra: int) -> int:
    """Output length of a transposed convolution along one axis (``pad`` = both sides together)."""
    return (size - 1) * stride - pad + dilation * (k - 1) + extra + 1


@dataclass(frozen=True)
class ConvNd:
    """A 1-, 2- or 3-D convolution of any geometry: per-axis kernel, stride, dilation and total
    padding (both sides, so 'same' with an even kernel is exact), groups, transposed or not.

    MACs of a transposed conv are counted from the input side, as fvcore and torch's counter do.
    """

    inp: Dims
    cout: int
    k: tuple[int, ...]
    stride: tuple[int, ...]
    pad: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int = 1
    bias: bool = False
    transposed: bool = False
    extra: tuple[int, ...] = ()

    @property
    def out(self) -> Dims:
        extra = self.extra or (0,) * len(self.k)
        axes = zip(self.inp.size, self.k, self.stride, self.pad, self.dilation, extra, strict=True)
        if self.transposed:
            sizes = (transposed_out_size(*axis) for axis in axes)
        else:
            sizes = ((n + p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d, _ in axes)
        return Dims(self.cout, tuple(sizes))

    @property
    def kind(self) -> str:
        """As ``Conv.kind``, plus ``transposed``."""
        if self.transposed:
            return "transposed"
        if self.groups == 1:
            return "pointwise" if set(self.k) == {1} else "standard"
        return "depthwise" if self.groups == self.inp.c == self.cout else "grouped"


@dataclass(frozen=True)
class Linear:
    """A fully connected layer; its input is flattened (C*H*W features)."""

    inp: Shape
    fout: int
    bias: bool = True

    @property
    def out(self) -> Shape:
        return Shape(self.fout, 1, 1)

    kind = "fc"


@dataclass(frozen=True)
class BatchNorm:
    """Inference-mode BatchNorm2d (a per-channel scale and shift)."""

    inp: Shape

    @property
    def out(self) -> Shape:
        return self.inp

    kind = "batchnorm"


@dataclass(frozen=True)
class Act:
    """An elementwise activation."""

    inp: Shape
    fn: ActKind = "relu"

    @property
    def out(self) -> Shape:
        return self.inp

    @property
    def kind(self) -> str:
        return self.fn


@dataclass(frozen=True)
class Pool:
    """Max or average pooling; ``global_`` pools each channel to 1x1."""

    inp: Shape
    fn: PoolKind = "max"
    k: int = 2
    stride: int = 2
    padding: int = 0
    global_: bool = False

    @property
    def out(self) -> Shape:
        if self.global_:
            return Shape(self.inp.c, 1, 1)
        h = conv_out_size(self.inp.h, self.k, self.stride, self.padding)
        w = conv_out_size(self.inp.w, self.k, self.stride, self.padding)
        return Shape(self.inp.c, h, w)

    @property
    def kind(self) -> str:
        return f"{'global_' if self.global_ else ''}{self.fn}pool"


@dataclass(frozen=True)
class Add:
    """Elementwise sum of two tensors of shape ``inp`` (a residual connection)."""

    inp: Shape

    @property
    def out(self) -> Shape:
        return self.inp

    kind = "add"


@dataclass(frozen=True)
class Mul:
    """Elementwise product of ``inp`` with a per-channel gate (squeeze-excite)."""

    inp: Shape

    @property
    def out(self) -> Shape:
        return self.inp

    kind = "mul"


Op = Conv | ConvNd | Linear | BatchNorm | Act | Pool | Add | Mul


@dataclass(frozen=True)
class Stage:
    """A named chain of ops, one row in every table.

    ``combine`` says how the stage joins the data flow:
    ``seq``: out = ops(x); ``gate``: out = x * ops[:-1](x), the last op being the ``Mul``;
    ``shortcut``: out = x + ops[:-1](block input), the last op being the ``Add``.
    """

    name: str
    ops: tuple[Op, ...]
    combine: Combine = "seq"

    @property
    def inp(self) -> Shape:
        return self.ops[0].inp if self.combine == "seq" else self.ops[-1].inp

    @property
    def out(self) -> Shape:
        return self.ops[-1].out

    @property
    def kind(self) -> str:
        """The by-type bucket of the stage: its conv or linear kind, else pool or elementwise."""
        if self.combine == "gate":
            return "squeeze_excite"
        for op in self.ops:
            if isinstance(op, Conv | ConvNd | Linear):
                return op.kind
        return "pool" if any(isinstance(op, Pool) for op in self.ops) else "elementwise"


@dataclass(frozen=True)
class Block:
    """Stages run in order on one input: a variant in ``compare``, a block in a network."""

    name: str
    kind: str
    inp: Shape
    stages: tuple[Stage, ...]

    @property
    def out(self) -> Shape:
        return self.stages[-1].out if self.stages else self.inp


@dataclass(frozen=True)
class Plan:
    """A whole network: blocks in order, starting from ``inp``."""

    name: str
    inp: Shape
    blocks: tuple[Block, ...]

    @property
    def out(self) -> Shape:
        return self.blocks[-1].out if self.blocks else self.inp

    def stages(self) -> list[tuple[Block, Stage]]:
        """Every (block, stage) pair in execution order."""
        return [(b, s) for b in self.blocks for s in b.stages]


def module_name(name: str) -> str:
    """A stage or block name as a torch module name (no dots)."""
    return name.replace(".", "_").replace(" ", "_") or "_"


def stage_path(block: Block, stage: Stage, in_plan: bool) -> str:
    """The module path of a stage in the module built from a plan (or from one block)."""
    name = module_name(stage.name)
    return f"{module_name(block.name)}.{name}" if in_plan else name
