"""Latency measurements and speedups: the statistics of timing rounds, in one place.

A speedup comes from paired rounds: each round times the baseline and the variant back to back,
so a burst of noise or a drift hits both sides of that round's ratio; the speedup is the median
of the per-round ratios, with a bootstrap 95% interval (fixed seed: the same rounds always give
the same interval). A speedup is trusted only when neither side was timed under contention and
the interval is narrow; otherwise it carries the reason and no verdict is printed.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from dataclasses import dataclass, replace
from math import sqrt
from typing import Any

MIN_ROUNDS = 3  # paired rounds below which a speedup's stability cannot be judged
MAX_HALF_WIDTH = 0.10  # widest trusted 95% interval, as a fraction of the speedup (±10%)
SEED = 13


@dataclass(frozen=True)
class Latency:
    """A timing: median and IQR of per-round medians (ms), calls timed, and the rounds."""

    median: float
    iqr: float
    runs: int
    rounds: tuple[float, ...] = ()
    unstable: bool = False
    contention: str = ""  # why the timing cannot be trusted (empty: it can)

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

    @property
    def spread(self) -> float | None:
        """The IQR relative to the median (0.05 = ±5%); None for a zero median."""
        return self.iqr / self.median if self.median else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "iqr": self.iqr,
            "spread": self.spread,
            "runs": self.runs,
            "rounds": list(self.rounds),
            "unstable": self.unstable,
            "contention": self.contention,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Latency:
        return cls(
            float(d["median"]),
            float(d["iqr"]),
            int(d["runs"]),
            tuple(d.get("rounds", ())),
            bool(d.get("unstable", False)),
            str(d.get("contention", "")),
        )

    def contended(self, reason: str) -> Latency:
        """This latency, marked as timed under contention (``reason`` empty: unchanged)."""
        return replace(self, contention=self.contention or reason) if reason else self


def pool(parts: list[Latency]) -> Latency:
    """One latency from the rounds of several worker processes (rounds kept in order)."""
    rounds = [r for p in parts for r in p.rounds]
    pooled = Latency.from_rounds(rounds, sum(p.runs for p in parts))
    return pooled.contended(next((p.contention for p in parts if p.contention), ""))


def split(ordered: list[float], ratio: float = 1.5) -> bool:
    """True when sorted round medians fall into two clusters: the largest gap between neighbours
    is over half the whole range and the slowest round is ``ratio`` x the fastest."""
    if len(ordered) < 2 or ordered[0] <= 0 or ordered[-1] / ordered[0] < ratio:
        return False
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    return max(gaps) > 0.5 * (ordered[-1] - ordered[0])


def bootstrap_interval(
    values: list[float], level: float = 0.95, seed: int = SEED
) -> tuple[float, float]:
    """Percentile bootstrap interval of the median of ``values`` (deterministic: fixed seed)."""
    rng = random.Random(seed)
    n = len(values)
    resamples = max(200, min(2000, 200_000 // n))
    medians = sorted(statistics.median(rng.choices(values, k=n)) for _ in range(resamples))
    tail = (1 - level) / 2 * (resamples - 1)
    return medians[math.floor(tail)], medians[math.ceil(resamples - 1 - tail)]


@dataclass(frozen=True)
class Speedup:
    """baseline time / variant time: the median of per-round ratios, its 95% interval
    (``low``-``high``; ``error`` is half its width), and whether it can carry a verdict."""

    value: float
    error: float
    low: float | None = None
    high: float | None = None
    trusted: bool = True
    reason: str = ""  # "contended: ..." or "unstable: ...", with what to do
    ratios: tuple[float, ...] = ()

    @property
    def doubt(self) -> str:
        """One word for a table cell in place of a verdict: contended, unstable (or empty)."""
        return "" if self.trusted else self.reason.split(":", 1)[0]

    @classmethod
    def of(cls, baseline: Latency, variant: Latency) -> Speedup:
        """From paired rounds when both sides have them, else from the medians (untrusted)."""
        n = len(baseline.rounds)
        if n and n == len(variant.rounds) and all(r > 0 for r in variant.rounds):
            ratios = [b / v for b, v in zip(baseline.rounds, variant.rounds, strict=True)]
            return cls.paired(ratios, baseline.contention or variant.contention)
        return cls._unpaired(baseline, variant)

    @classmethod
    def paired(cls, ratios: list[float], contention: str = "") -> Speedup:
        """The median of per-round ratios with its bootstrap interval, judged for trust."""
        value = statistics.median(ratios)
        low, high = bootstrap_interval(ratios)
        reason = contention or _instability(ratios, value, low, high)
        return cls(value, (high - low) / 2, low, high, not reason, reason, tuple(ratios))

    @classmethod
    def _unpaired(cls, baseline: Latency, variant: Latency) -> Speedup:
        """Median over median, the uncertainty propagated from both IQRs (no rounds to pair)."""
        value = baseline.median / variant.median
        rel = sqrt(
            (baseline.iqr / 2 / baseline.median) ** 2 + (variant.iqr / 2 / variant.median) ** 2
        )
        reason = baseline.contention or variant.contention
        if not reason and baseline.rounds != variant.rounds:
            reason = (
                "unstable: baseline and variant were not timed in the same rounds; "
                "time them in one command"
            )
        return cls(value, value * rel, trusted=not reason, reason=reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "error": self.error,
            "low": self.low,
            "high": self.high,
            "trusted": self.trusted,
            "reason": self.reason,
            "ratios": list(self.ratios),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Speedup:
        return cls(
            float(d["value"]),
            float(d.get("error", 0.0)),
            d.get("low"),
            d.get("high"),
            bool(d.get("trusted", True)),
            str(d.get("reason", "")),
            tuple(d.get("ratios", ())),
        )


def _instability(ratios: list[float], value: float, low: float, high: float) -> str:
    """Why per-round ratios are too few or too spread for a verdict (empty when they are not)."""
    if len(ratios) < MIN_ROUNDS:
        return (
            f"unstable: only {len(ratios)} paired round(s), at least {MIN_ROUNDS} are needed "
            "to judge a speedup; use more --rounds"
        )
    if value > 0 and (high - low) / 2 > MAX_HALF_WIDTH * value:
        return (
            f"unstable: per-round speedups spread {low:.2f}x-{high:.2f}x (95% interval, over "
            f"±{MAX_HALF_WIDTH:.0%}); rerun on a quiet machine or with more --rounds or --repeat"
        )
    return ""


def in_sequence(parts: list[Latency]) -> Latency:
    """Latency of items run one after the other (a layers file): round by round sums, so the
    rounds stay paired with another sum's; contention carried over."""
    rounds = [sum(r) for r in zip(*(p.rounds for p in parts), strict=True)]
    summed = Latency.from_rounds(rounds, sum(p.runs for p in parts))
    return summed.contended(next((p.contention for p in parts if p.contention), ""))


def latency_doubt(latency: Latency) -> str:
    """Why a latency cannot carry a budget verdict (empty when it can)."""
    if latency.contention:
        return latency.contention
    if latency.unstable:
        return "unstable: its rounds fall into two clusters; rerun on a quiet machine"
    return ""


def budget_metrics(
    device: str, measured: Latency, standard: Latency | None
) -> tuple[dict[str, float], dict[str, str]]:
    """A budget's timed metrics on ``device`` and their notes: latency (and how noisy), speedup
    over the standard rewrite when timed, and, under ``untrusted.<metric>``, why one cannot
    carry a verdict (``budgets.judge`` then calls it inconclusive)."""
    key = f"latency_ms.{device}"
    noise = f"±{100 * measured.iqr / measured.median:.0f}% IQR over {len(measured.rounds)} rounds"
    metrics = {key: measured.median}
    notes = {key: noise + (", unstable rounds" if measured.unstable else "")}
    if latency_doubt(measured):
        notes[f"untrusted.{key}"] = latency_doubt(measured)
    if standard is None:
        return metrics, notes
    speedup = Speedup.of(standard, measured)
    key = f"speedup.{device}"
    metrics[key] = speedup.value
    interval = (
        f", 95% interval {speedup.low:.2f}x-{speedup.high:.2f}x"
        if speedup.low is not None and speedup.high is not None
        else f", ±{speedup.error:.2f}"
    )
    notes[key] = f"standard {standard.median:.3g} ms / {measured.median:.3g} ms{interval}"
    if not speedup.trusted:
        notes[f"untrusted.{key}"] = speedup.reason
    return metrics, notes
