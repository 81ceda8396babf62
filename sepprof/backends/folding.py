"""What a compiled or exported graph no longer computes: BatchNorm folded into the conv before it.

In inference, ``torch.compile`` with inductor's freezing (sepprof turns it on) and ONNX Runtime's
graph optimisations fold an eval-mode BatchNorm that directly follows a conv into that conv's
weights and bias: MACs are unchanged, and BatchNorm's 2 elementwise ops per element (scale, shift)
become the conv's bias add (1 per element, none more when the conv had a bias already). Training
never folds (BatchNorm uses the batch's statistics). Torch-free: rules on ``ops`` objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sepprof.count.costs import ELEMENTWISE_OPS
from sepprof.spec.ops import BatchNorm, Block, Conv, ConvNd, Op, Plan, Stage

FOLDING_BACKENDS = ("compile", "onnxruntime")


@dataclass(frozen=True)
class Folding:
    """BatchNorms folded into convs, and the elementwise ops that leaves in the running graph."""

    batchnorms: int
    elementwise_removed: int

    def __add__(self, other: Folding) -> Folding:
        return Folding(
            self.batchnorms + other.batchnorms,
            self.elementwise_removed + other.elementwise_removed,
        )


def folds(backend: str, mode: str) -> bool:
    """Whether ``backend`` in ``mode`` folds BatchNorm into convs."""
    return backend in FOLDING_BACKENDS and mode == "inference"


def _pairs(ops: Iterable[Op]) -> Iterator[tuple[Op, BatchNorm]]:
    previous: Op | None = None
    for op in ops:
        if isinstance(op, BatchNorm) and isinstance(previous, Conv | ConvNd):
            yield previous, op
        previous = op


def ops_folding(ops: Iterable[Op], batch: int = 1) -> Folding:
    """BatchNorms directly after a conv, and the elementwise ops folding them removes:
    BatchNorm's per element, less the bias add the conv gains (when it had none)."""
    total = Folding(0, 0)
    for conv, bn in _pairs(ops):
        per_element = ELEMENTWISE_OPS["batchnorm"] - (0 if conv.bias else ELEMENTWISE_OPS["bias"])
        total = total + Folding(1, batch * bn.inp.numel * per_element)
    return total


def stage_folding(stage: Stage, batch: int = 1) -> Folding:
    return ops_folding(stage.ops, batch)


def block_folding(block: Block, batch: int = 1) -> Folding:
    return ops_folding((op for s in block.stages for op in s.ops), batch)


def plan_folding(plan: Plan, batch: int = 1) -> Folding:
    return ops_folding((op for b in plan.blocks for s in b.stages for op in s.ops), batch)


def elementwise_note(backend: str, mode: str, folding: Folding, measured: int | None) -> str | None:
    """The line the elementwise column needs when what runs differs from what is counted;
    ``measured``: BatchNorms the backend's own graph shows folded (None where not inspected)."""
    if not folds(backend, mode) or not folding.batchnorms:
        return None
    how = (
        f"{measured} of {folding.batchnorms} found folded in the optimised graph"
        if measured is not None
        else "inductor's freezing folds them"
    )
    return (
        f"{backend}: {folding.batchnorms} BatchNorm(s) folded into the conv before them ({how}); "
        f"the elementwise column counts the model as written, {folding.elementwise_removed:,} "
        "of those ops do not run (BatchNorm's scale and shift become the conv's bias); "
        "MACs unchanged"
    )


def _measured(env: dict[str, Any], names: Iterable[str]) -> int | None:
    """BatchNorms ONNX Runtime's optimised graphs showed folded, summed over the items
    ``names`` (None for other backends, or when an item was not inspected)."""
    if env.get("backend") != "onnxruntime":
        return None
    checks = env.get("backend_checks", {})
    found = [checks.get(n, {}).get("batchnorms_folded") for n in names]
    return None if None in found else sum(found)


def blocks_note(blocks: Sequence[Block], batch: int, env: dict[str, Any]) -> str | None:
    """The elementwise note for a ``compare`` run's variants, from its environment block
    (``backend``, ``mode`` and, for ONNX Runtime, the folds its graphs showed)."""
    total = Folding(0, 0)
    for block in blocks:
        total = total + block_folding(block, batch)
    measured = _measured(env, [b.name for b in blocks])
    backend, mode = env.get("backend", "eager"), env.get("mode", "inference")
    return elementwise_note(backend, mode, total, measured)


def plan_note(plan: Plan, label: str, batch: int, env: dict[str, Any]) -> str | None:
    """The elementwise note for a network timed as item ``label``."""
    measured = _measured(env, [label])
    backend, mode = env.get("backend", "eager"), env.get("mode", "inference")
    return elementwise_note(backend, mode, plan_folding(plan, batch), measured)
