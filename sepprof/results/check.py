"""check results: one verdict per budget metric, and the metrics a baseline stores."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sepprof.results.drift import Drift, widen
from sepprof.results.latency import Latency, Speedup, hierarchical_interval
from sepprof.results.schemas import CHECK_SCHEMA

if TYPE_CHECKING:
    from sepprof.results.profile import ProfileResult


@dataclass(frozen=True)
class Verdict:
    """One metric of one budget against its limit."""

    budget: str
    metric: str
    limit: float
    actual: float | None
    headroom: float | None
    status: str  # "pass", "fail", "warn" or "inconclusive"
    note: str = ""
    low: float | None = None  # a timed metric's 95% interval, when it was judged by it
    high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Measured:
    """What one budget measured beyond the metrics it is judged on (kept by ``--history``):
    its config and variant as the budget names them, the bytes it moves, and the 95% interval
    ``(low, high)`` of each timed metric that has one."""

    config: str
    variant: str | None
    bytes: int
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        intervals = {k: list(v) for k, v in self.intervals.items()}
        return {**asdict(self), "intervals": intervals}


def timed_intervals(
    device: str,
    measured: Latency,
    standard: Latency | None,
    drift: Mapping[str, Drift] | None = None,
) -> dict[str, tuple[float, float]]:
    """95% intervals of a budget's timed metrics on ``device``: the latency's (a bootstrap of
    its round medians by process, as the speedup's is of its per-round ratios) and the paired
    speedup's, each widened by this machine's ``drift`` of that kind (``latency``,
    ``speedup``)."""
    drift = drift or {}
    out: dict[str, tuple[float, float]] = {}
    if len(measured.rounds) >= 2:
        low, high = hierarchical_interval(measured.groups(list(measured.rounds)))
        out[f"latency_ms.{device}"] = widen(measured.median, low, high, drift.get("latency"))
    if standard is not None:
        speedup = Speedup.of(standard, measured, drift.get("speedup"))
        if speedup.low is not None and speedup.high is not None:
            out[f"speedup.{device}"] = (speedup.low, speedup.high)
    return out


def time_share_metrics(
    profile: ProfileResult, wanted: Iterable[tuple[str, str]]
) -> tuple[dict[str, float], dict[str, str], dict[str, tuple[float, float]]]:
    """Each wanted ``(kind, device)``'s share of the summed layer time of a profile whose layers
    were timed (``time_share.<kind>.<device>``: the share the by-type table prints), a note on
    what it sums, its 95% interval (``ProfileResult.type_time_intervals``) and, under
    ``untrusted.<metric>``, why its timing cannot carry a verdict (a layer timed under
    contention). A type with no layer timed there has a share of 0."""
    metrics: dict[str, float] = {}
    notes: dict[str, str] = {}
    intervals: dict[str, tuple[float, float]] = {}
    wanted = list(wanted)
    bounds = profile.type_time_intervals if wanted else {}
    types = dict(zip((t.kind for t in profile.by_type), profile.by_type, strict=True))
    shares = dict(zip(types, profile.type_shares, strict=True))
    for kind, device in wanted:
        key = f"time_share.{kind}.{device}"
        timed = [r for r in profile.layers if device in r.latency_ms]
        if not timed:
            notes[key] = f"no layer was timed on {device}: no time share"
            continue
        total = sum(r.latency_ms[device].median for r in timed)
        own = types[kind].time_ms.get(device) if kind in types else None
        value = shares[kind].time.get(device) if kind in shares else None
        if own is None or value is None:
            metrics[key] = 0.0
            notes[key] = f"no {kind} layer among the {len(timed)} layers timed on {device}"
        else:
            metrics[key] = value
            count = sum(r.kind == kind for r in timed)
            notes[key] = (
                f"{count} {kind} layers: {own:.3g} of {total:.3g} ms summed over "
                f"{len(timed)} layers timed alone"
            )
        interval = bounds.get(kind, {}).get(device)
        if interval is not None and own is not None:
            intervals[key] = interval
        doubt = next(
            (r.latency_ms[device].contention for r in timed if r.latency_ms[device].contention), ""
        )
        if doubt:
            notes[f"untrusted.{key}"] = doubt
    return metrics, notes, intervals


@dataclass(frozen=True)
class CheckResult:
    """Every verdict, and the metrics measured (what a baseline file stores)."""

    environment: dict[str, Any]
    budget_file: str
    verdicts: tuple[Verdict, ...]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: dict[str, dict[str, str]] = field(default_factory=dict)
    baseline: str | None = None
    messages: tuple[str, ...] = ()
    measured: dict[str, Measured] = field(default_factory=dict)
    schema: str = CHECK_SCHEMA

    @property
    def passed(self) -> bool:
        return all(v.status != "fail" for v in self.verdicts)

    @property
    def failed(self) -> int:
        """How many budget metrics were exceeded."""
        return sum(v.status == "fail" for v in self.verdicts)

    @property
    def warned(self) -> int:
        return sum(v.status == "warn" for v in self.verdicts)

    @property
    def inconclusive(self) -> int:
        """Timed budgets that could give no verdict (contended or unstable timing)."""
        return sum(v.status == "inconclusive" for v in self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "sepprof_version": self.environment.get("sepprof", ""),
            "environment": self.environment,
            "budget_file": self.budget_file,
            "passed": self.passed,
            "failed": self.failed,
            "warned": self.warned,
            "inconclusive": self.inconclusive,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "metrics": self.metrics,
            "notes": self.notes,
            "baseline": self.baseline,
            "messages": list(self.messages),
            "measured": {k: m.to_dict() for k, m in self.measured.items()},
        }
