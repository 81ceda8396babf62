"""Resource guards: estimate the memory a layer or network needs before allocating any of it."""

from __future__ import annotations

import os
import sys

from sepprof.costs import op_cost
from sepprof.errors import UserError
from sepprof.ops import Block, Conv, Op
from sepprof.units import human


def estimate_bytes(ops: list[Op], batch: int, itemsize: int) -> int:
    """Peak bytes to run ops one by one: all weights, plus the largest op's input, output and
    convolution workspace (an im2col buffer of (Cin/g)*k^2 x Ho*Wo per sample)."""
    weights = sum(op_cost(op, batch, itemsize).all_params for op in ops) * itemsize
    peak = 0
    for op in ops:
        workspace = 0
        if isinstance(op, Conv) and op.k > 1:
            workspace = op.inp.c * op.k * op.k * op.out.h * op.out.w
        peak = max(peak, batch * (op.inp.numel + op.out.numel + workspace) * itemsize)
    return weights + peak


def free_bytes(device: str) -> int:
    """Memory available now on ``device`` (MemAvailable on Linux CPUs)."""
    if device == "cuda":
        import torch

        return torch.cuda.mem_get_info()[0]
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    if sys.platform != "win32" and hasattr(os, "sysconf"):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return 1 << 62


def check_memory(
    what: str, needed: int, device: str, hint: str = "use a smaller --batch or --size"
) -> None:
    """Refuse to allocate more than half of the memory free on ``device``."""
    free = free_bytes(device)
    if needed > free // 2:
        raise UserError(
            f"{what} needs about {human(needed)}B on {device} but only {human(free)}B are free; "
            f"refusing to allocate more than half of free memory ({hint})"
        )


def blocks_bytes(blocks: list[Block], batch: int, itemsize: int, stages: bool = True) -> int:
    """Memory to time ``blocks`` side by side: each block's modules and its largest op, plus,
    with ``stages``, the random inputs made for every stage (its own and its block's)."""
    total = sum(
        estimate_bytes([op for s in b.stages for op in s.ops], batch, itemsize) for b in blocks
    )
    if stages:
        total += sum(
            (s.inp.numel + b.inp.numel) * batch * itemsize for b in blocks for s in b.stages
        )
    return total
