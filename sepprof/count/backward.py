"""The analytic cost of a training step's backward pass: the backward rule beside ``costs``' rules.

Rule (printed with ``--mode train``): a conv or fully connected layer's backward is two products
of the forward's size, grad-input (a transposed conv of the output gradient with the weights) and
grad-weight (a conv of the input with the output gradient), so it costs 2x the forward MACs,
depthwise and grouped convs included. grad-input is skipped where autograd skips it: when nothing
before the op needs a gradient, i.e. the first conv of a network, whose input is the image (1x).
A ``compare`` variant or stage is a layer inside a network, so its input needs a gradient (2x).
A ``profile --model`` row is ruled the same way in the order the modules ran: a row with
parameters costs grad-weight, plus grad-input once an earlier row held parameters; a row without
parameters (a matmul of two activations) costs a grad-input per operand (2x), or 0 before any.
BatchNorm, activations, pooling and adds have no MACs backward either; their elementwise backward
work is not counted. Pure functions of ``ops`` objects, no torch (``costs`` belongs to #12; this
rule lives here, with the training-step machinery of #17).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sepprof.count.costs import op_cost
from sepprof.spec.ops import BatchNorm, Block, Conv, ConvNd, Linear, Op, Plan, Stage, stage_path

MAC_OPS = (Conv, ConvNd, Linear)
TRAINABLE = (Conv, ConvNd, Linear, BatchNorm)


@dataclass(frozen=True)
class BackwardCost:
    """MACs of a backward pass, split into its two products."""

    grad_input: int = 0
    grad_weight: int = 0

    def __add__(self, other: BackwardCost) -> BackwardCost:
        return BackwardCost(
            self.grad_input + other.grad_input, self.grad_weight + other.grad_weight
        )

    @property
    def macs(self) -> int:
        return self.grad_input + self.grad_weight


def op_backward(op: Op, batch: int = 1, input_grad: bool = True) -> BackwardCost:
    """Backward MACs of one op: forward MACs for grad-weight, and again for grad-input when
    the op's input needs a gradient."""
    if not isinstance(op, MAC_OPS):
        return BackwardCost()
    macs = op_cost(op, batch).macs
    return BackwardCost(macs if input_grad else 0, macs)


def _chain(ops: Iterable[Op], batch: int, input_grad: bool) -> BackwardCost:
    """Backward MACs of ops run in sequence: each needs grad-input once anything before it
    holds parameters (or the chain's input needs a gradient)."""
    total = BackwardCost()
    for op in ops:
        total = total + op_backward(op, batch, input_grad)
        input_grad = input_grad or isinstance(op, TRAINABLE)
    return total


def _body(stage: Stage) -> tuple[Op, ...]:
    """The ops on the stage's main path (a gate's multiply and a shortcut's add excluded)."""
    return stage.ops if stage.combine == "seq" else stage.ops[:-1]


def stage_backward(
    stage: Stage, batch: int = 1, input_grad: bool = True, block_grad: bool | None = None
) -> BackwardCost:
    """Backward MACs of a stage whose input (``input_grad``) and block input (``block_grad``,
    read by a shortcut; defaults to ``input_grad``) need gradients or not."""
    first = block_grad if stage.combine == "shortcut" and block_grad is not None else input_grad
    return _chain(_body(stage), batch, first)


def _output_grad(stage: Stage, input_grad: bool) -> bool:
    """Whether a stage's output needs a gradient: its input does, or it holds parameters."""
    return input_grad or any(isinstance(op, TRAINABLE) for op in _body(stage))


def stage_needs(block: Block, input_grad: bool = True) -> Iterator[tuple[Stage, bool, bool]]:
    """Each stage of ``block`` with whether its input and its block's input need gradients."""
    current = input_grad
    for stage in block.stages:
        yield stage, current, input_grad
        current = _output_grad(stage, current)


def block_backward(block: Block, batch: int = 1, input_grad: bool = True) -> BackwardCost:
    """Backward MACs of a block (a ``compare`` variant: input needs a gradient by default)."""
    total = BackwardCost()
    for stage, current, block_grad in stage_needs(block, input_grad):
        total = total + stage_backward(stage, batch, current, block_grad)
    return total


def plan_stage_needs(plan: Plan) -> Iterator[tuple[Block, Stage, bool, bool]]:
    """Each stage of a network with whether its input and its block's input need gradients
    (the image needs none)."""
    current = False
    for block in plan.blocks:
        block_grad = current
        for stage, stage_grad, _ in stage_needs(block, block_grad):
            yield block, stage, stage_grad, block_grad
            current = _output_grad(stage, stage_grad)


def plan_backward(plan: Plan, batch: int = 1) -> BackwardCost:
    """Backward MACs of a whole network: the first conv computes no grad-input."""
    total = BackwardCost()
    for _, stage, stage_grad, block_grad in plan_stage_needs(plan):
        total = total + stage_backward(stage, batch, stage_grad, block_grad)
    return total


def block_rows(block: Block, batch: int = 1) -> dict[str, BackwardCost]:
    """Backward MACs keyed as ``measure`` keys the timed items: the variant (its name) and
    each stage (``name/stage``; every stage's input needs a gradient, as when it is timed)."""
    rows = {block.name: block_backward(block, batch)}
    for stage, _, _ in stage_needs(block):
        rows[f"{block.name}/{stage.name}"] = stage_backward(stage, batch)
    return rows


def plan_rows(plan: Plan, label: str, batch: int = 1) -> dict[str, BackwardCost]:
    """Backward MACs keyed as ``measure`` keys a network's items: the network (``label``) and
    each stage (its module path, ``ops.stage_path``), the image needing no gradient."""
    rows = {label: plan_backward(plan, batch)}
    for block, stage, grad, block_grad in plan_stage_needs(plan):
        rows[stage_path(block, stage, True)] = stage_backward(stage, batch, grad, block_grad)
    return rows


def row_backward(macs: int | None, trainable: bool, input_grad: bool) -> BackwardCost:
    """Backward MACs of one ``profile --model`` row of ``macs`` forward MACs: grad-weight when
    it holds parameters (``trainable``), grad-input when its input needs a gradient (both
    operands' when it holds none)."""
    macs = macs or 0
    if trainable:
        return BackwardCost(macs if input_grad else 0, macs)
    return BackwardCost(2 * macs if input_grad else 0, 0)


def model_rows(rows: Iterable[tuple[int | None, bool]]) -> list[BackwardCost]:
    """Backward MACs of a model's rows (forward MACs, holds parameters), in the order they ran:
    the model's input needs no gradient, everything after a row with parameters does."""
    costs, input_grad = [], False
    for macs, trainable in rows:
        costs.append(row_backward(macs, trainable, input_grad))
        input_grad = input_grad or trainable
    return costs
