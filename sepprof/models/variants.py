"""Build ``torch.nn.Module``s from ops, stages, blocks and plans: the only place modules are made.

Module names follow the plan, so per-module counts from tracing map back onto stages:
a network's stage ``conv3 / depthwise`` is the module ``conv3.depthwise``.
"""

from __future__ import annotations

import torch
from torch import nn

from sepprof.spec.ops import (
    Act,
    BatchNorm,
    Block,
    Conv,
    Linear,
    Op,
    Plan,
    Pool,
    Shape,
    Stage,
    module_name,
)

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
    "hardswish": nn.Hardswish,
}


class FlattenLinear(nn.Linear):
    """A fully connected layer on the flattened (N, C, H, W) input; its output is (N, F, 1, 1),
    the shape the plan gives it, so any block may follow."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.flatten(x, 1))[:, :, None, None]


def _conv(op: Conv) -> nn.Module:
    return nn.Conv2d(
        op.inp.c, op.cout, op.k, op.stride, op.padding, op.dilation, op.groups, bias=op.bias
    )


def _pool(op: Pool) -> nn.Module:
    if op.global_:
        return nn.AdaptiveAvgPool2d(1) if op.fn == "avg" else nn.AdaptiveMaxPool2d(1)
    if op.fn == "avg":
        return nn.AvgPool2d(op.k, op.stride, op.padding, count_include_pad=False)
    return nn.MaxPool2d(op.k, op.stride, op.padding)


BUILDERS = {
    Conv: _conv,
    Linear: lambda op: FlattenLinear(op.inp.numel, op.fout, bias=op.bias),
    BatchNorm: lambda op: nn.BatchNorm2d(op.inp.c),
    Act: lambda op: _ACTIVATIONS[op.fn](),
    Pool: _pool,
}


def build_op(op: Op) -> nn.Module:
    return BUILDERS[type(op)](op)


class StageModule(nn.Sequential):
    """A stage: ``seq`` x -> f(x); ``gate`` x -> x * f(x); ``shortcut`` x -> x + f(block_input)."""

    def __init__(self, stage: Stage) -> None:
        body = stage.ops if stage.combine == "seq" else stage.ops[:-1]
        super().__init__(*(build_op(op) for op in body))
        self.combine = stage.combine

    def forward(self, x: torch.Tensor, block_input: torch.Tensor | None = None) -> torch.Tensor:
        if self.combine == "gate":
            return x * super().forward(x)
        if self.combine == "shortcut":
            skip = block_input if block_input is not None else x
            return x + super().forward(skip)
        return super().forward(x)


class BlockModule(nn.Module):
    """Stages in order, each given the block's input for shortcuts."""

    def __init__(self, block: Block) -> None:
        super().__init__()
        self.stage_names = [module_name(s.name) for s in block.stages]
        for name, stage in zip(self.stage_names, block.stages, strict=True):
            self.add_module(name, StageModule(stage))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        block_input = x
        for name in self.stage_names:
            x = getattr(self, name)(x, block_input)
        return x


class PlanModule(nn.Module):
    """A network: blocks in order."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.block_names = [module_name(b.name) for b in plan.blocks]
        for name, block in zip(self.block_names, plan.blocks, strict=True):
            self.add_module(name, BlockModule(block))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.block_names:
            x = getattr(self, name)(x)
        return x


def build_block(block: Block) -> BlockModule:
    """The eval-mode module of a block (a ``compare`` variant)."""
    return BlockModule(block).eval()


def build_plan(plan: Plan) -> PlanModule:
    """The eval-mode module of a whole network."""
    return PlanModule(plan).eval()


def random_input(
    batch: int, shape: Shape, device: str = "cpu", dtype: str = "fp32", fmt: str = "contiguous"
) -> torch.Tensor:
    x = torch.randn(batch, shape.c, shape.h, shape.w, device=device, dtype=DTYPES[dtype])
    return x.contiguous(memory_format=memory_format(fmt))


def memory_format(name: str) -> torch.memory_format:
    return torch.channels_last if name == "channels_last" else torch.contiguous_format


def placed(
    module: nn.Module, device: str, dtype: str = "fp32", fmt: str = "contiguous"
) -> nn.Module:
    """``module`` moved (in place) to ``device`` in ``dtype`` and memory format ``fmt``, the
    names the timing options use."""
    return module.to(device=device, dtype=DTYPES[dtype], memory_format=memory_format(fmt))
