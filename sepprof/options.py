"""How to time: plain options, importable without torch (so analytic commands stay fast)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class TimingOptions:
    """How to time: devices, threads, dtype, memory format, rounds and per-round budget."""

    devices: tuple[str, ...] = ("cpu",)
    threads: int | None = None
    dtype: str = "fp32"
    memory_format: str = "contiguous"
    min_time: float = 0.05
    rounds: int = 5
    allocator: str = "tuned"
    backend: str = "eager"
    mode: str = "inference"

    def thread_count(self) -> int:
        return self.threads or default_threads()


def default_threads() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
