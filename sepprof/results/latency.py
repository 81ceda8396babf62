"""Latency measurements and speedups: the statistics of timing rounds, in one place.

A speedup comes from paired rounds: each round times the baseline and the variant back to back,
so a burst of noise hits both sides of that round's ratio; the speedup is the median of the
per-round ratios. Rounds come from one or several worker processes; the 95% interval is a
hierarchical bootstrap (resample the processes, then the rounds within each; fixed seed: the same
rounds always give the same interval), widened by the drift this machine showed between earlier
commands (``results.drift``), since one command cannot see minute-scale drift in its own samples.
A speedup is trusted only when neither side was timed under contention, its interval separates
the variants (it leaves out 1.0x) and every process's estimate lies inside it; otherwise it
carries the reason and no verdict is printed.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from dataclasses import dataclass, replace
from math import sqrt
from typing import Any

from sepprof.results.drift import Drift, widen

MIN_ROUNDS = 3  # paired rounds below which a speedup's stability cannot be judged
SEED = 13
HIERARCHICAL = "hierarchical bootstrap: processes, then rounds"
ROUNDS_ONLY = "bootstrap of rounds (one process: between-process spread not sampled)"
INCONCLUSIVE = "inconclusive"  # a reason's first word: measured fine, but 1.0x is in the interval


@dataclass(frozen=True)
class Latency:
    """A timing: median and IQR of per-round medians (ms), calls timed, and the rounds."""

    median: float
    iqr: float
    runs: int
    rounds: tuple[float, ...] = ()
    unstable: bool = False
    contention: str = ""  # why the timing cannot be trusted (empty: it can)
    processes: tuple[int, ...] = ()  # rounds per worker process, in order (empty: one process)

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
            "processes": list(self.processes),
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
            tuple(int(n) for n in d.get("processes", ())),
        )

    def groups(self, values: list[float]) -> list[list[float]]:
        """``values`` (one per round) split by the process that timed each round."""
        return by_process(values, self.processes)

    def contended(self, reason: str) -> Latency:
        """This latency, marked as timed under contention (``reason`` empty: unchanged)."""
        return replace(self, contention=self.contention or reason) if reason else self


def pool(parts: list[Latency]) -> Latency:
    """One latency from the rounds of several worker processes (rounds kept in order, and how
    many each process timed). Whether the rounds split in two is judged on every round relative
    to its own process's median: levels that differ between processes are what the hierarchical
    interval is for, not a split."""
    rounds = [r for p in parts for r in p.rounds]
    pooled = Latency.from_rounds(rounds, sum(p.runs for p in parts))
    if len(parts) > 1:
        sizes = tuple(len(p.rounds) for p in parts)
        pooled = replace(pooled, processes=sizes, unstable=split(sorted(_levelled(parts))))
    return pooled.contended(next((p.contention for p in parts if p.contention), ""))


def _levelled(parts: list[Latency]) -> list[float]:
    """Every round divided by its own process's median round (processes with rounds only)."""
    out = []
    for p in parts:
        middle = statistics.median(p.rounds) if p.rounds else 0.0
        out += [r / middle for r in p.rounds] if middle > 0 else []
    return out


def by_process(values: list[float], processes: tuple[int, ...]) -> list[list[float]]:
    """``values`` split into consecutive groups of ``processes`` sizes (one group when the
    sizes do not add up to the values: one process)."""
    if len(processes) < 2 or sum(processes) != len(values):
        return [list(values)]
    groups, start = [], 0
    for n in processes:
        groups.append(list(values[start : start + n]))
        start += n
    return groups


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
    return _percentiles(medians, level)


def hierarchical_interval(
    groups: list[list[float]], level: float = 0.95, seed: int = SEED
) -> tuple[float, float]:
    """Percentile interval of the pooled median when values come in groups (worker processes):
    each resample draws the groups with replacement, then the values within each drawn group
    (deterministic: fixed seed). One group is the plain bootstrap of its values."""
    if len(groups) < 2:
        return bootstrap_interval(groups[0], level, seed)
    rng = random.Random(seed)
    n = sum(len(g) for g in groups)
    resamples = max(400, min(2000, 200_000 // n))
    medians = []
    for _ in range(resamples):
        drawn = [groups[rng.randrange(len(groups))] for _ in groups]
        medians.append(statistics.median([v for g in drawn for v in rng.choices(g, k=len(g))]))
    return _percentiles(sorted(medians), level)


def _percentiles(ordered: list[float], level: float) -> tuple[float, float]:
    """The two-sided ``level`` percentile interval of sorted resampled statistics."""
    tail = (1 - level) / 2 * (len(ordered) - 1)
    return ordered[math.floor(tail)], ordered[math.ceil(len(ordered) - 1 - tail)]


@dataclass(frozen=True)
class Speedup:
    """baseline time / variant time: the median of per-round ratios, its 95% interval
    (``low``-``high``; ``error`` is half its width), and whether it can carry a verdict; with
    what a reader needs to recompute the interval: the rounds, how many each process timed,
    each process's estimate, the method and the drift added."""

    value: float
    error: float
    low: float | None = None
    high: float | None = None
    trusted: bool = True
    reason: str = ""  # "contended: ..." or "unstable: ...", with what to do
    ratios: tuple[float, ...] = ()
    processes: tuple[int, ...] = ()  # rounds per worker process (empty: one process)
    per_process: tuple[float, ...] = ()  # each process's median ratio
    method: str = ""
    drift: Drift | None = None

    @property
    def doubt(self) -> str:
        """One word for a table cell in place of a verdict: contended, unstable (or empty)."""
        return "" if self.trusted else self.reason.split(":", 1)[0]

    @classmethod
    def of(cls, baseline: Latency, variant: Latency, drift: Drift | None = None) -> Speedup:
        """From paired rounds when both sides have them, else from the medians (untrusted)."""
        n = len(baseline.rounds)
        if n and n == len(variant.rounds) and all(r > 0 for r in variant.rounds):
            ratios = [b / v for b, v in zip(baseline.rounds, variant.rounds, strict=True)]
            processes = baseline.processes if baseline.processes == variant.processes else ()
            contention = baseline.contention or variant.contention
            return cls.paired(ratios, contention, processes, drift)
        return cls._unpaired(baseline, variant)

    @classmethod
    def paired(
        cls,
        ratios: list[float],
        contention: str = "",
        processes: tuple[int, ...] = (),
        drift: Drift | None = None,
    ) -> Speedup:
        """The median of per-round ratios with its interval (hierarchical over processes,
        widened by the drift), judged for trust."""
        value = statistics.median(ratios)
        groups = by_process(ratios, processes)
        low, high = widen(value, *hierarchical_interval(groups), drift)
        medians = tuple(statistics.median(g) for g in groups) if len(groups) > 1 else ()
        reason = contention or _instability(ratios, value, low, high, medians)
        method = HIERARCHICAL if len(groups) > 1 else ROUNDS_ONLY
        return cls(
            value, (high - low) / 2, low, high, not reason, reason, tuple(ratios),
            processes if len(groups) > 1 else (), medians, method, drift,
        )  # fmt: skip

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
            "processes": list(self.processes),
            "per_process": list(self.per_process),
            "method": self.method,
            "drift": self.drift.to_dict() if self.drift else None,
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
            tuple(int(n) for n in d.get("processes", ())),
            tuple(float(v) for v in d.get("per_process", ())),
            str(d.get("method", "")),
            Drift.from_dict(d.get("drift")),
        )


def _instability(
    ratios: list[float], value: float, low: float, high: float, medians: tuple[float, ...] = ()
) -> str:
    """Why per-round ratios cannot carry a verdict (empty when they can): too few rounds, the
    worker processes disagree beyond the interval, or the interval does not separate the
    variants (it holds 1.0x)."""
    if len(ratios) < MIN_ROUNDS:
        return (
            f"unstable: only {len(ratios)} paired round(s), at least {MIN_ROUNDS} are needed "
            "to judge a speedup; use more --rounds"
        )
    slack = (high - low) / 2  # a process just past an end is noise; half a width past is not
    outside = [m for m in medians if not low - slack <= m <= high + slack]
    if outside:
        shown = ", ".join(f"{m:.2f}x" for m in medians)
        return (
            f"unstable: the worker processes disagree ({shown}), beyond the 95% interval "
            f"{low:.2f}x-{high:.2f}x; rerun on a quiet machine or with more --processes"
        )
    if low <= 1 <= high:
        return (
            f"{INCONCLUSIVE}: the 95% interval {low:.2f}x-{high:.2f}x holds 1.0x, so it does "
            "not separate the variants; rerun with more --rounds or --processes"
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
    device: str, measured: Latency, standard: Latency | None, drift: Drift | None = None
) -> tuple[dict[str, float], dict[str, str]]:
    """A budget's timed metrics on ``device`` and their notes: latency (and how noisy), speedup
    over the standard rewrite when timed, and, under ``untrusted.<metric>``, why one cannot
    carry a verdict (``spec.verdicts.judge`` then calls it inconclusive)."""
    key = f"latency_ms.{device}"
    noise = f"±{100 * measured.iqr / measured.median:.0f}% IQR over {len(measured.rounds)} rounds"
    metrics = {key: measured.median}
    notes = {key: noise + (", unstable rounds" if measured.unstable else "")}
    if latency_doubt(measured):
        notes[f"untrusted.{key}"] = latency_doubt(measured)
    if standard is None:
        return metrics, notes
    speedup = Speedup.of(standard, measured, drift)
    key = f"speedup.{device}"
    metrics[key] = speedup.value
    interval = (
        f", 95% interval {speedup.low:.2f}x-{speedup.high:.2f}x"
        if speedup.low is not None and speedup.high is not None
        else f", ±{speedup.error:.2f}"
    )
    notes[key] = f"standard {standard.median:.3g} ms / {measured.median:.3g} ms{interval}"
    if not speedup.trusted and speedup.doubt != INCONCLUSIVE:  # a budget judges the interval
        notes[f"untrusted.{key}"] = speedup.reason
    return metrics, notes
