"""The analytic cost model of DESIGN.md: exact integer MACs, params, elementwise ops and bytes.

Pure functions of ``ops`` objects, no torch. One small rule per op kind, registered in ``RULES``.

Counting rule (also printed by ``--help`` and in reports):
- MACs (multiply-adds; 1 MAC = 2 FLOPs), one rule per op kind:
  conv (1-, 2-, 3-D, any kernel, stride, padding, dilation, groups): N*out_positions*Cout*(Cin/g)*k
  (k = product of kernel sizes); transposed conv from the input side: N*in_positions*Cin*(Cout/g)*k;
  linear N*in*out per token; matmul, bmm, baddbmm, addmm and einsum contractions: the product of
  the batch, output and contracted sizes; attention (scaled_dot_product_attention,
  nn.MultiheadAttention): QK^T + AV = 2*B*H*L*S*d_head, its projections as linear layers.
- params: every parameter once, where it is first used (tied and shared weights once); BatchNorm's
  scale and shift are kept apart as ``norm_params`` (params + norm_params = all parameters).
- elementwise ops, counted separately and never mixed into MACs, per output element unless said:
  BatchNorm 2 (scale, shift), LayerNorm/GroupNorm 5 (+1 weight, +1 bias), conv/linear bias 1, ReLU
  1, ReLU6 2 (min, max), sigmoid 3 (exp, add, divide), SiLU 4 (sigmoid, multiply), hardsigmoid 4,
  hardswish 5, GELU 5, tanh 1, softmax 3 (exp, sum, divide), add/sub/mul/div (residuals, gates,
  attention scaling and masks) 1, max pool k-1 comparisons, average pool k, mean and global
  average pool 1 per input element.
- an op with no rule is not guessed: it is named with its call count, and a row that ran one
  shows "n/a" (JSON null) instead of a number; totals leave such rows out and say so.
- bytes: the minimum an op must move: input + output + weights at the dtype's size, no cache
  effects; a stage or variant is the sum of its ops (unfused: intermediates are written and read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from math import prod

from sepprof.spec.ops import (
    Act,
    Add,
    BatchNorm,
    Block,
    Conv,
    ConvNd,
    Linear,
    Mul,
    Op,
    Plan,
    Pool,
    Stage,
)
from sepprof.units import macs_to_flops

# The counting rule in one line for --help, and in a paragraph for every result's footer.
RULE_HELP = (
    "Counting rule: MACs are multiply-adds (1 MAC = 2 FLOPs) of convs, linear layers, matmuls, "
    "attention (QK^T + AV) and LSTM/GRU/RNN gates; BatchNorm (2/element), bias (1), activations "
    "(ReLU 1, ReLU6 2, sigmoid 3, SiLU 4, hardswish 5, GELU 5), softmax (3), norms, residual "
    "adds, comparisons, masks (1), interpolation and pools are elementwise ops, counted apart "
    "and never mixed into MACs; an op with no rule is named, never 0: its row and the totals "
    "are then a lower bound."
)
COUNTING_RULE = (
    "MACs = multiply-adds (1 MAC = 2 FLOPs) of convolutions (any rank; transposed ones from the "
    "input side), linear layers, matmuls, attention (QK^T + AV = 2*B*H*L*S*d_head) and "
    "recurrent layers (per layer, direction, step and sequence G*(in*H + H*H), G = 4 LSTM, 3 "
    "GRU, 1 RNN, + H*proj). Elementwise ops are counted apart, per element: BatchNorm 2, "
    "LayerNorm/GroupNorm 5 (+1 weight, +1 bias), bias 1, ReLU 1, ReLU6 2, sigmoid 3, SiLU 4, "
    "hardsigmoid 4, hardswish 5, GELU 5, tanh 1, softmax 3, add/sub/mul/div 1, comparisons, "
    "where, masked_fill, neg, exp and cumsum 1, clamp 1 per bound, vector norms 2 per input, "
    "interpolation per output (nearest 0, linear 2, bilinear 4, bicubic 16, trilinear 8), pools "
    "per window, means 1 per input; other math (log, sqrt, pow, floor, minimum...) 1 per "
    "output, reductions (max, argmax, any...) 1 and var/std 4 per input, leaky_relu 2, softplus "
    "and elu 3, sort and unique n*ceil(log2 n) per slice of n, topk ceil(log2 k) per input, "
    "grid_sample 4 (bilinear) or 16 (bicubic) per output, roi_align 5 per bilinear sample, nms 3 "
    "per box + 12 per pair of boxes (an upper bound); roll, indexing, gather and scatter move "
    "data (0). Params = "
    "every parameter once, where first used (BatchNorm's scale and shift listed apart). An op "
    "with no rule is named with its calls, never 0: its row keeps what was counted and, like "
    "the totals, is a lower bound (≥); n/a only where nothing was counted. Bytes = input + "
    "output + weights per op, summed over ops (unfused)."
)

# Ops per element for the ops the analytic model builds (``ops.ActKind`` and the rest of
# ``RULES``); the tracer has its own table for every op it meets (``handles``).
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
        # field by field, without dataclasses.astuple's deep copy (a model sums one per call)
        return Cost(
            self.macs + other.macs,
            self.params + other.params,
            self.norm_params + other.norm_params,
            self.eltwise + other.eltwise,
            self.bytes + other.bytes,
        )

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


def _convnd(op: ConvNd) -> tuple[int, int, int]:
    out = op.out
    k = prod(op.k)
    weights = op.cout * (op.inp.c // op.groups) * k + (op.cout if op.bias else 0)
    bias_ops = out.numel * ELEMENTWISE_OPS["bias"] if op.bias else 0
    if op.transposed:
        return op.inp.numel * (op.cout // op.groups) * k, weights, bias_ops
    return out.numel * (op.inp.c // op.groups) * k, weights, bias_ops


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
    ConvNd: _convnd,
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


def matmul_macs(batch: int, m: int, k: int, n: int) -> int:
    """A (batched) matrix product, ``batch`` times (m x k) @ (k x n): one MAC per term."""
    return batch * m * k * n


def attention_macs(heads: int, length: int, source: int, d_qk: int, d_v: int | None = None) -> int:
    """Attention over ``heads`` (batch x heads) of ``length`` queries and ``source`` keys:
    QK^T (L x d @ d x S) plus AV (L x S @ S x d_v) = 2*B*H*L*S*d_head when d_v = d_qk."""
    return matmul_macs(heads, length, d_qk, source) + matmul_macs(
        heads, length, source, d_qk if d_v is None else d_v
    )


def separable_theory_ratio(cout: int, k: int) -> float:
    """MobileNets' cost ratio of depthwise-separable to standard conv: 1/Cout + 1/k^2."""
    return 1 / cout + 1 / (k * k)


def theory_ratio(baseline_kind: str, kind: str, name: str, cout: int, k: int) -> float | None:
    """The textbook cost ratio of a variant to a standard baseline, where one exists:
    1/Cout + 1/k^2 (separable), 1/g (``grouped:g``)."""
    if baseline_kind != "standard":
        return None
    if kind == "separable":
        return separable_theory_ratio(cout, k)
    if kind == "grouped":
        return 1 / int(name.split(":")[1])
    return None
