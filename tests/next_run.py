"""The printed interval is one for the next command's estimate: each log distance of a
command's own interval from its value, times sqrt(2) (``results.drift.widen``). These undo and
redo that by hand, so tests can state the own interval (bootstrap ends, worked by hand)."""

from __future__ import annotations

import math

ROOT2 = math.sqrt(2)


def own(value: float, end: float) -> float:
    """The end of the command's own interval that a printed end came from."""
    return value * (end / value) ** (1 / ROOT2)


def own_interval(speedup) -> tuple[float, float]:
    return own(speedup.value, speedup.low), own(speedup.value, speedup.high)


def next_run(value: float, low: float, high: float) -> tuple[float, float]:
    """The printed interval for an own interval ``low``-``high`` around ``value``."""
    return value * (low / value) ** ROOT2, value * (high / value) ** ROOT2
