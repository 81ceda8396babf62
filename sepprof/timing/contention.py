"""Contention: how many of this process's cores other processes kept busy, before, during and
after timing, and what that means for the thread count and for trusting a verdict.

On a 2-core machine with one core busy in another process, a 2-thread conv took 20-32 ms instead
of 0.13 ms (an OpenMP thread waits at every barrier for its descheduled partner) and the
256-channel speedup read 0.8x to 5.6x at random, while at 1 thread it stayed as on a quiet
machine. So the default thread count is the free cores, and a measurement during which other
processes took the cores it used gives no verdict. Readings come from Linux's /proc/stat (the
CPUs this process may run on, hypervisor steal included) minus this process's own CPU time, which,
unlike the load average, does not remember sepprof's own previous runs. Pure Python, no torch.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

from sepprof.timing.options import default_threads

TOLERANCE = 0.25  # cores of background work ignored (daemons, the terminal, sepprof's parent)
_USER, _NICE, _SYSTEM, _IRQ, _SOFTIRQ, _STEAL = 0, 1, 2, 5, 6, 7


@dataclass(frozen=True)
class Sample:
    """Busy CPU seconds of this process's CPUs (every process), this process's own CPU seconds,
    and when, in seconds."""

    busy: float
    own: float
    at: float


def _allowed() -> set[int] | None:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:
        return None


def _busy_seconds(text: str, cpus: set[int] | None) -> float | None:
    """Busy seconds in a /proc/stat text, summed over ``cpus`` (all CPUs when None)."""
    total, found = 0, False
    for line in text.splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu"):
            continue
        index = name[3:]
        if (cpus is None and index) or (cpus is not None and (not index or int(index) not in cpus)):
            continue
        values = [int(v) for v in fields] + [0] * 8
        total += sum(values[i] for i in (_USER, _NICE, _SYSTEM, _IRQ, _SOFTIRQ, _STEAL))
        found = True
    return total / os.sysconf("SC_CLK_TCK") if found else None


def sample() -> Sample | None:
    """The CPU counters now, or None where /proc/stat cannot be read (not Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            busy = _busy_seconds(f.read(), _allowed())
    except (OSError, ValueError):
        return None
    if busy is None:
        return None
    return Sample(busy, time.process_time(), time.monotonic())


def others_between(a: Sample | None, b: Sample | None) -> float | None:
    """Cores other processes kept busy between two samples (never below 0)."""
    if a is None or b is None or b.at <= a.at:
        return None
    return max(0.0, (b.busy - a.busy) - (b.own - a.own)) / (b.at - a.at)


_last: tuple[float, float | None] | None = None  # (when, cores) of the latest reading


def others_cpu(window: float = 0.2, reuse: float = 0.0) -> float | None:
    """Cores other processes kept busy over a short ``window`` of seconds from now, or the
    latest reading when it ended under ``reuse`` seconds ago (a sweep's timings follow each
    other: the last one's "after" is the next one's "before")."""
    global _last
    if _last is not None and time.monotonic() - _last[0] < reuse:
        return _last[1]
    first = sample()
    time.sleep(window)
    cores = others_between(first, sample())
    _last = (time.monotonic(), cores)
    return cores


def free_cores(others: float | None, cores: int | None = None) -> int:
    """The cores left to sepprof (at least 1) when others keep ``others`` cores busy."""
    cores = cores or default_threads()
    if others is None:
        return cores
    return max(1, cores - max(0, math.ceil(others - TOLERANCE)))


@dataclass(frozen=True)
class Threads:
    """The thread count timing uses, what was asked for (None: the default) and why."""

    used: int
    requested: int | None
    cores: int
    others: float | None

    @property
    def oversubscribed(self) -> bool:
        """An explicit ``--threads`` above the cores other processes left free."""
        return self.requested is not None and self.requested > free_cores(self.others, self.cores)

    @property
    def note(self) -> str:
        """One line for the header: how many threads and why."""
        busy = f"other processes kept {self.others:.1f} of {self.cores} cores busy"
        if self.oversubscribed:
            free = free_cores(self.others, self.cores)
            return (
                f"{self.used} threads as asked, above the {free} free core(s): {busy}, so "
                "threads will wait for each other and the timing may not be trusted"
            )
        if self.requested is not None:
            return f"{self.used} threads as asked"
        if self.used < self.cores:
            return f"{self.used} of {self.cores} cores (the free ones): {busy} before timing"
        return f"{self.used} threads, every core"

    def to_env(self) -> dict[str, Any]:
        """``threads`` used; ``threads_requested`` is ``--threads`` or, by default, every core
        (``threads_default`` true), so the two differ exactly when busy cores lowered it."""
        return {
            "threads": self.used,
            "threads_requested": self.requested or self.cores,
            "threads_default": self.requested is None,
            "threads_note": self.note,
            "threads_oversubscribed": self.oversubscribed,
            "cores": self.cores,
        }


def choose_threads(requested: int | None, others: float | None) -> Threads:
    """``requested`` when given (honoured even above the free cores, and flagged), else the free
    cores."""
    cores = default_threads()
    used = requested if requested is not None else free_cores(others, cores)
    return Threads(used, requested, cores, others)


@dataclass(frozen=True)
class Contention:
    """Cores other processes kept busy just before, during and just after one device's timing,
    with the threads that timing used."""

    device: str
    threads: int
    cores: int
    before: float | None
    during: float | None
    after: float | None = None

    @property
    def spare(self) -> float:
        """Cores timing left idle: CUDA timing keeps one CPU thread busy launching kernels."""
        return self.cores - (self.threads if self.device == "cpu" else 1)

    @property
    def reason(self) -> str:
        """Why this timing cannot be trusted (empty when it can)."""
        if self.during is None or self.during <= self.spare + TOLERANCE:
            return ""
        advice = (
            "rerun on a quiet machine, or with --threads 1"
            if self.threads > 1 and self.device == "cpu"
            else "rerun on a quiet machine"
        )
        return (
            f"contended: other processes kept {self.during:.1f} of {self.cores} cores busy while "
            f"{self.device} was timed at {self.threads} thread(s); {advice}"
        )

    def to_dict(self) -> dict[str, float | None]:
        return {"before": self.before, "during": self.during, "after": self.after}


class Meter:
    """Others' CPU use over a stretch of timing: ``start()``, then ``stop()`` for the cores."""

    def __init__(self) -> None:
        self._first: Sample | None = None

    def start(self) -> Meter:
        self._first = sample()
        return self

    def stop(self) -> float | None:
        return others_between(self._first, sample())
