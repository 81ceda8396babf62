"""fvcore's count of the same module: the peer tool the design names, run beside sepprof's own
tracer as an independent check of the MACs of convolutions, linear layers and matmuls.

fvcore traces with ``torch.jit.trace`` and its own per-op formulas (``fvcore.nn.jit_handles``),
sharing no code with ``handles``/``costs``. Only its multiply-add ops are kept: its defaults
also count normalisation and upsampling as "flops", which sepprof keeps apart as elementwise
work. When fvcore meets a MAC-doing op it has no formula for (attention kernels), its total would
be short, so the check is skipped and says which op.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

MAC_WORDS = ("conv", "linear", "mm", "matmul", "einsum", "attention")


@dataclass(frozen=True)
class PeerCount:
    """fvcore's MACs (None when it could not count every MAC-doing op) and why not."""

    macs: int | None
    skipped: dict[str, int]


def _conv_mode(inputs: list, outputs: list) -> int:
    """``aten::_convolution_mode`` (padding='same'/'valid'): fvcore's conv formula, never
    transposed (this op has no transposed argument; fvcore's own handle would read ``groups``)."""
    from fvcore.nn.jit_handles import conv_flop_count, get_shape

    x, w = (get_shape(v) for v in inputs[:2])
    return conv_flop_count(x, w, get_shape(outputs[0]), transposed=False)


def _fvcore_nn() -> Any:
    """``fvcore.nn``, imported without the one warning its import raises: its ``__init__``
    imports ``focal_loss``, which calls ``torch.jit.script`` at import, and torch warns that
    ``torch.jit.script`` is deprecated (a FutureWarning, shown by default, from torch 2.14; a
    hidden DeprecationWarning before). sepprof never uses those losses; other warnings pass."""
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning):
            warnings.filterwarnings(
                "ignore", message=r"`torch\.jit\.script` is deprecated", category=category
            )
        import fvcore.nn
    return fvcore.nn


def _handles() -> dict[str, Any]:
    j = _fvcore_nn().jit_handles

    return {
        "aten::_convolution": j.conv_flop_jit,
        "aten::_convolution_mode": _conv_mode,
        "aten::linear": j.linear_flop_jit,
        "aten::addmm": j.addmm_flop_jit,
        "aten::mm": j.matmul_flop_jit,
        "aten::matmul": j.matmul_flop_jit,
        "aten::bmm": j.bmm_flop_jit,
        "aten::einsum": j.einsum_flop_jit,
    }


def fvcore_macs(module: Any, inputs: tuple) -> PeerCount:
    """Multiply-adds of one forward pass of ``module`` on ``inputs`` as fvcore counts them
    (fvcore's "flop" is one multiply-add)."""
    import torch

    analysis = _fvcore_nn().FlopCountAnalysis(module, inputs)
    analysis._op_handles = _handles()  # only MAC ops: the rest is elementwise, counted apart
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with torch.no_grad():
        total = analysis.total()
    skipped = {
        op: n
        for op, n in analysis.unsupported_ops().items()
        if any(word in op for word in MAC_WORDS)
    }
    return PeerCount(None if skipped else int(total), dict(skipped))


def fvcore_block(block: Any, batch: int) -> PeerCount:
    """fvcore's MACs of a ``compare`` variant built as sepprof builds it."""
    from sepprof.models.variants import build_block, random_input

    return fvcore_macs(build_block(block).eval(), (random_input(batch, block.inp),))


def fvcore_plan(plan: Any, batch: int) -> PeerCount:
    """fvcore's MACs of a whole network built from its plan."""
    from sepprof.models.variants import build_plan, random_input

    return fvcore_macs(build_plan(plan).eval(), (random_input(batch, plan.inp),))


def skipped_note(peers: dict[str, PeerCount]) -> list[str]:
    """One note naming the MAC ops fvcore could not count (its check skipped there)."""
    ops: dict[str, int] = {}
    for peer in peers.values():
        for op, n in peer.skipped.items():
            ops[op] = ops.get(op, 0) + n
    if not ops:
        return []
    named = ", ".join(f"{op} x{n}" for op, n in sorted(ops.items()))
    return [f"fvcore has no formula for {named}: its cross-check is skipped there"]
