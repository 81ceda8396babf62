"""Latency measurements and speedups: the statistics of timing rounds, in one place."""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from math import sqrt
from typing import Any


@dataclass(frozen=True)
class Latency:
    """A timing: median and IQR of per-round medians (ms), calls timed, and the rounds."""

    median: float
    iqr: float
    runs: int
    rounds: tuple[float, ...] = ()
    unstable: bool = False

    @classmethod
    def from_rounds(cls, rounds: list[float], runs: int) -> Latency:
        """Summarise per-round medians (ms); flag rounds that split into two clusters."""
        ordered = sorted(rounds)
        q = (
            statistics.quantiles(ordered, n=4, method="inclusive")
            if len(ordered) > 1
            else [0, 0, 0]
        )
        return cls(statistics.median(ordered), q[2] - q[0], runs, tuple(rounds), split(ordered))

    def to_dict(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "iqr": self.iqr,
            "runs": self.runs,
            "rounds": list(self.rounds),
            "unstable": self.unstable,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Latency:
        return cls(
            float(d["median"]),
            float(d["iqr"]),
            int(d["runs"]),
            tuple(d.get("rounds", ())),
            bool(d.get("unstable", False)),
        )


def split(ordered: list[float], ratio: float = 1.5) -> bool:
    """True when sorted round medians fall into two clusters: the largest gap between neighbours
    is over half the whole range and the slowest round is ``ratio`` x the fastest."""
    if len(ordered) < 2 or ordered[0] <= 0 or ordered[-1] / ordered[0] < ratio:
        return False
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    return max(gaps) > 0.5 * (ordered[-1] - ordered[0])


@dataclass(frozen=True)
class Speedup:
    """baseline median / variant median, with the uncertainty propagated from both IQRs."""

    value: float
    error: float

    @classmethod
    def of(cls, baseline: Latency, variant: Latency) -> Speedup:
        value = baseline.median / variant.median
        rel = sqrt(
            (baseline.iqr / 2 / baseline.median) ** 2 + (variant.iqr / 2 / variant.median) ** 2
        )
        return cls(value, value * rel)
