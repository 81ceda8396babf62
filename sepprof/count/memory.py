"""Memory estimates: what a layer or network needs before any of it is allocated (checked against
the free memory by ``environment.check_memory``)."""

from __future__ import annotations

from sepprof.count.costs import op_cost
from sepprof.spec.ops import Block, Conv, Op, Shape

# oneDNN (PyTorch's CPU convolution) copies a conv's input and output into a blocked layout
# whose channels are padded to a multiple of 16 (AVX-512 fp32): a 1-channel 8192x8192 conv holds
# 16x its input twice over (9.2 GB measured, for a 0.27 GB input).
CHANNEL_BLOCK = 16
# What PyTorch allocates for itself on the first forward pass (thread pools, oneDNN caches).
RUNTIME_BYTES = 16 << 20


def _padded(shape: Shape) -> int:
    """Elements of an activation in oneDNN's channel-blocked layout."""
    return -(-shape.c // CHANNEL_BLOCK) * CHANNEL_BLOCK * shape.h * shape.w


def op_bytes(op: Op, batch: int, itemsize: int) -> int:
    """Activation bytes alive while ``op`` runs: its input and output and, for a convolution,
    their channel-padded blocked copies."""
    elements = op.inp.numel + op.out.numel
    if isinstance(op, Conv):
        elements += _padded(op.inp) + _padded(op.out)
    return batch * elements * itemsize


def estimate_bytes(ops: list[Op], batch: int, itemsize: int) -> int:
    """Peak bytes to run ops one after the other (a forward pass, or its trace): every weight,
    the first input (held by the caller throughout), the largest op's working set
    (``op_bytes``) and PyTorch's own runtime. Within 2x of the measured peak RSS
    (tests/test_guards.py)."""
    return _working_bytes(ops, batch, itemsize) + RUNTIME_BYTES


def _working_bytes(ops: list[Op], batch: int, itemsize: int) -> int:
    """``estimate_bytes`` without PyTorch's runtime (counted once however many blocks run)."""
    if not ops:
        return 0
    weights = sum(op_cost(op, batch, itemsize).all_params for op in ops) * itemsize
    first = batch * ops[0].inp.numel * itemsize
    return weights + first + max(op_bytes(op, batch, itemsize) for op in ops)


def blocks_bytes(blocks: list[Block], batch: int, itemsize: int, stages: bool = True) -> int:
    """Memory to time ``blocks`` side by side: each block's modules and its largest op, plus,
    with ``stages``, the random inputs made for every stage (its own and its block's)."""
    total = RUNTIME_BYTES + sum(
        _working_bytes([op for s in b.stages for op in s.ops], batch, itemsize) for b in blocks
    )
    if stages:
        total += sum(
            (s.inp.numel + b.inp.numel) * batch * itemsize for b in blocks for s in b.stages
        )
    return total
