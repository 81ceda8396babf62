"""How to time: plain options, validated where they are made, importable without torch (so
analytic commands stay fast). The CLI and the Python API refuse the same inputs, naming the flag."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from sepprof.errors import UserError

MAX_MIN_TIME = 60.0  # seconds per item per round
ROUNDS = 7  # the fewest whose bootstrap 95% interval leaves out the extreme ratios
MAX_ROUNDS = 1000
MAX_PROCESSES = 50
TIMING_CAP = 600.0  # seconds of timing one command (one process) may spend, all calls together

# A progress reporter: called with a step's name and item count, returns the call that ends it.
Progress = Callable[[str, int], Callable[[], None]]

_deadline: float | None = None


@dataclass(frozen=True)
class TimingOptions:
    """How to time: devices, threads, dtype, memory format, rounds, per-round budget and worker
    processes (``processes``). ``threads=None`` means every free core, chosen when timing starts."""

    devices: tuple[str, ...] = ("cpu",)
    threads: int | None = None
    dtype: str = "fp32"
    memory_format: str = "contiguous"
    min_time: float = 0.05
    rounds: int = ROUNDS
    allocator: str = "tuned"
    backend: str = "eager"
    mode: str = "inference"
    processes: int = 1

    def __post_init__(self) -> None:
        _choice("--dtype", self.dtype, ("fp32", "fp16", "bf16"))
        _choice("--memory-format", self.memory_format, ("contiguous", "channels_last"))
        _choice("--allocator", self.allocator, ("tuned", "system"))
        _choice("--backend", self.backend, ("eager", "compile", "onnxruntime"))
        _choice("--mode", self.mode, ("inference", "train"))
        for device in self.devices:
            _choice("--device", device, ("cpu", "cuda", "all"))
        if not self.devices:
            raise UserError("--device: no device given (valid: cpu, cuda, all)")
        _within("--rounds", self.rounds, 1, MAX_ROUNDS)
        _within("--processes", self.processes, 1, MAX_PROCESSES)
        if self.threads is not None:
            _within("--threads", self.threads, 1, machine_cpus(), "this machine's CPUs")
        if not _number(self.min_time) or not 0 < self.min_time <= MAX_MIN_TIME:
            raise UserError(
                f"--min-time: must be a number of seconds in (0, {MAX_MIN_TIME:g}] "
                f"(got {self.min_time!r})"
            )

    def thread_count(self) -> int:
        """The threads asked for, else every core this process may run on (``time_all`` lowers
        the default to the free cores when other processes hold some)."""
        return self.threads or default_threads()


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _choice(flag: str, value: object, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise UserError(f"{flag}: unknown value {value!r} (valid: {', '.join(valid)})")


def _within(flag: str, value: object, low: int, high: int, what: str = "") -> None:
    """Refuse a non-integer or one outside [low, high], naming the flag."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        limit = f"{high} ({what})" if what else str(high)
        raise UserError(f"{flag}: must be a whole number from {low} to {limit} (got {value!r})")


def default_threads() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_cpus() -> int:
    """Every CPU of the machine (the ceiling for ``--threads``)."""
    return max(os.cpu_count() or 1, default_threads())


def start_timing_clock(cap: float = TIMING_CAP) -> None:
    """Start the one timing budget every measurement of this command shares (the CLI calls it
    once per process; without it each measurement has the cap to itself)."""
    global _deadline
    _deadline = time.monotonic() + cap


def timing_left() -> float:
    """Seconds of timing left to this command: the cap, or what the shared clock leaves."""
    if _deadline is None:
        return TIMING_CAP
    return max(0.0, _deadline - time.monotonic())
