"""The analytic rows of stages and blocks: a stage's cost as a ``results`` row, and the few
characters that describe its main op."""

from __future__ import annotations

from sepprof.count.costs import block_cost, stage_cost
from sepprof.results import Row
from sepprof.spec.ops import Block, Conv, Linear, Pool, Stage


def describe(stage: Stage) -> str:
    """The stage's main op in a few characters: ``3x3/2 g=32 32->32``, ``fc 1024->1000``,
    ``SE 96->4->96``, ``1x1/2 64->128 + add``."""
    if stage.combine == "gate":
        convs = [op for op in stage.ops if isinstance(op, Conv)]
        return f"SE {convs[0].inp.c}->{convs[0].cout}->{convs[-1].cout}"
    suffix = " + add" if stage.combine == "shortcut" else ""
    for op in stage.ops:
        if isinstance(op, Conv):
            stride = f"/{op.stride}" if op.stride > 1 else ""
            groups = f" g={op.groups}" if op.groups > 1 else ""
            return f"{op.k}x{op.k}{stride}{groups} {op.inp.c}->{op.cout}{suffix}"
        if isinstance(op, Linear):
            return f"fc {op.inp.numel}->{op.fout}"
        if isinstance(op, Pool):
            return "global pool" if op.global_ else f"{op.fn}pool {op.k}x{op.k}/{op.stride}"
    return "+".join(op.kind for op in stage.ops)


def stage_row(stage: Stage, batch: int, itemsize: int, name: str | None = None) -> Row:
    """The analytic row of one stage."""
    c = stage_cost(stage, batch, itemsize)
    return Row(
        name or stage.name,
        stage.kind,
        c.params,
        c.norm_params,
        c.macs,
        c.eltwise,
        c.bytes,
        str(stage.out),
        describe(stage),
    )


def block_row(block: Block, batch: int, itemsize: int) -> Row:
    """The analytic row of a block (a ``compare`` variant) with one row per stage."""
    c = block_cost(block, batch, itemsize)
    stages = tuple(stage_row(s, batch, itemsize) for s in block.stages)
    return Row(
        block.name,
        block.kind,
        c.params,
        c.norm_params,
        c.macs,
        c.eltwise,
        c.bytes,
        str(block.out),
        stages[0].detail if len(stages) == 1 else "",
        stages=stages,
    )
