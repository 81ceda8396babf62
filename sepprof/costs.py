"""The analytic cost model of DESIGN.md: exact integer MACs, params, elementwise ops and bytes.

Pure functions of ``ops`` objects, no torch. One small rule per op kind, registered in ``RULES``.

Counting rule (also printed by ``--help`` and in reports):
- MACs: convolutions and fully connected layers only, N*Ho*Wo*Cout*(Cin/g)*k^2 and N*in*out.
- params: conv and linear weights and biases (the cost model's count); BatchNorm's scale and
  shift are kept apart as ``norm_params`` (params + norm_params = ``module.parameters()``).
- elementwise ops, counted separately and never mixed into MACs, per output element unless said:
  BatchNorm 2 (scale, shift), conv/linear bias 1, ReLU 1, ReLU6 2 (min, max), sigmoid 3
  (exp, add, divide), SiLU 4 (sigmoid, multiply), hardswish 5, residual add 1, gate multiply 1,
  max pool k^2-1 comparisons, average pool k^2, global average pool 1 per input element.
- bytes: the minimum an op must move: input + output + weights at the dtype's size, no cache
  effects; a stage or variant is the sum of its ops (unfused: intermediates are written and read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass

from sepprof.ops import Act, Add, BatchNorm, Block, Conv, Linear, Mul, Op, Plan, Pool, Stage
from sepprof.units import macs_to_flops

ELEMENTWISE_OPS = {
    "batchnorm": 2,
    "bias": 1,
    "relu": 1,
    "relu6": 2,
    "sigmoid": 3,
    "silu": 4,
    "hardswish": 5,
    "add": 1,
    "mul": 1,
}


@dataclass(frozen=True)
class Cost:
    """Analytic cost of an op, stage, block or network at a given batch and dtype size."""

    macs: int = 0
    params: int = 0
    norm_params: int = 0
    eltwise: int = 0
    bytes: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    @property
    def all_params(self) -> int:
        """Every trainable parameter: conv/linear weights and biases plus BatchNorm's."""
        return self.params + self.norm_params

    @property
    def flops(self) -> int:
        """FLOPs of the MACs (2 per MAC); elementwise ops are not included."""
        return macs_to_flops(self.macs)

    @property
    def intensity(self) -> float:
        """Arithmetic intensity as DESIGN.md defines it: FLOPs (2 x MACs) per byte moved."""
        return self.flops / self.bytes if self.bytes else 0.0


def _conv(op: Conv) -> tuple[int, int, int]:
    out = op.out
    per_out = (op.inp.c // op.groups) * op.k * op.k
    weights = op.cout * per_out + (op.cout if op.bias else 0)
    bias_ops = out.numel * ELEMENTWISE_OPS["bias"] if op.bias else 0
    return out.numel * per_out, weights, bias_ops


def _linear(op: Linear) -> tuple[int, int, int]:
    fin = op.inp.numel
    bias = op.fout if op.bias else 0
    return fin * op.fout, fin * op.fout + bias, bias * ELEMENTWISE_OPS["bias"]


def _batchnorm(op: BatchNorm) -> tuple[int, int, int]:
    return 0, 0, op.inp.numel * ELEMENTWISE_OPS["batchnorm"]


def _act(op: Act) -> tuple[int, int, int]:
    return 0, 0, op.inp.numel * ELEMENTWISE_OPS[op.fn]


def _pool(op: Pool) -> tuple[int, int, int]:
    if op.global_:
        return 0, 0, op.inp.numel
    window = op.k * op.k
    return 0, 0, op.out.numel * (window - 1 if op.fn == "max" else window)


def _add(op: Add) -> tuple[int, int, int]:
    return 0, 0, op.inp.numel * ELEMENTWISE_OPS["add"]


def _mul(op: Mul) -> tuple[int, int, int]:
    return 0, 0, op.inp.numel * ELEMENTWISE_OPS["mul"]


RULES: dict[type, Callable[..., tuple[int, int, int]]] = {
    Conv: _conv,
    Linear: _linear,
    BatchNorm: _batchnorm,
    Act: _act,
    Pool: _pool,
    Add: _add,
    Mul: _mul,
}


def moved_elements(op: Op) -> int:
    """Activation elements an op reads and writes per sample (weights not included)."""
    if isinstance(op, Add):
        return 3 * op.inp.numel
    if isinstance(op, Mul):
        return 2 * op.inp.numel + op.inp.c
    return op.inp.numel + op.out.numel


def op_cost(op: Op, batch: int = 1, itemsize: int = 4) -> Cost:
    """Cost of one op for ``batch`` samples with elements of ``itemsize`` bytes."""
    macs, params, eltwise = RULES[type(op)](op)
    norm_params = 2 * op.inp.c if isinstance(op, BatchNorm) else 0
    moved = (batch * moved_elements(op) + params + norm_params) * itemsize
    return Cost(batch * macs, params, norm_params, batch * eltwise, moved)


def total(ops: Iterable[Op], batch: int = 1, itemsize: int = 4) -> Cost:
    """Sum of ``op_cost`` over ops: totals are always sums of leaves."""
    result = Cost()
    for op in ops:
        result = result + op_cost(op, batch, itemsize)
    return result


def stage_cost(stage: Stage, batch: int = 1, itemsize: int = 4) -> Cost:
    return total(stage.ops, batch, itemsize)


def block_cost(block: Block, batch: int = 1, itemsize: int = 4) -> Cost:
    return total((op for s in block.stages for op in s.ops), batch, itemsize)


def plan_cost(plan: Plan, batch: int = 1, itemsize: int = 4) -> Cost:
    return total((op for b in plan.blocks for s in b.stages for op in s.ops), batch, itemsize)


def separable_theory_ratio(cout: int, k: int) -> float:
    """MobileNets' cost ratio of depthwise-separable to standard conv: 1/Cout + 1/k^2."""
    return 1 / cout + 1 / (k * k)
