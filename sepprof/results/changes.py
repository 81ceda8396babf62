"""Steps in a series: their size, direction, whether they are worse, and whether they are larger
than the runs' 95% intervals (``history --changes``); and when a run stepped the wrong way since
the last one (``check --fail-on-change``)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from sepprof.results.runs import Machine, Point, Series, Value


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _widths(points: tuple[Point, ...]) -> float | None:
    """The median half-width of the points' intervals; None when one has none."""
    widths = [p.value.half_width for p in points]
    known = [w for w in widths if w is not None]
    return _median(known) if known and len(known) == len(widths) else None


@dataclass(frozen=True)
class Change:
    """A step in a series between two consecutive runs (``before``, ``after``). ``method``:
    ``exact`` (a plain comparison of consecutive values) or ``pelt`` (a change point of a timed
    series; ``from_value`` and ``to_value`` are then the medians of the segments on each side,
    and ``beyond_intervals`` says whether the step is larger than the runs' 95% intervals)."""

    budget: str
    metric: str
    machine: Machine | None
    before: Point
    after: Point
    from_value: float
    to_value: float
    lower_is_better: bool
    method: str
    beyond_intervals: bool | None = None

    @classmethod
    def exact(cls, series: Series, index: int) -> Change:
        """The step from point ``index - 1`` to point ``index``."""
        before, after = series.points[index - 1], series.points[index]
        values = (before.value.value, after.value.value)
        return cls(
            series.budget,
            series.metric,
            series.machine,
            before,
            after,
            *values,
            series.lower_is_better,
            "exact",
        )

    @classmethod
    def segments(cls, series: Series, start: int, index: int, end: int) -> Change:
        """The step at ``index`` between segments ``[start, index)`` and ``[index, end)``."""
        left, right = series.points[start:index], series.points[index:end]
        low = _median([p.value.value for p in left])
        high = _median([p.value.value for p in right])
        was, now = _widths(left), _widths(right)
        beyond = None if was is None or now is None else abs(high - low) > was + now
        return cls(
            series.budget,
            series.metric,
            series.machine,
            left[-1],
            right[0],
            low,
            high,
            series.lower_is_better,
            "pelt",
            beyond,
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any], series: tuple[Series, ...]) -> Change:
        """A change read back (a report's JSON): its points found in its series by run id."""
        owner = next(
            s
            for s in series
            if s.budget == d["budget"]
            and s.metric == d["metric"]
            and (s.machine.id if s.machine else None) == d["machine"]
        )
        points = {p.run: p for p in owner.points}
        before, after = points[d["before"]["run"]], points[d["after"]["run"]]
        return cls(
            d["budget"],
            d["metric"],
            owner.machine,
            before,
            after,
            d["from"],
            d["to"],
            owner.lower_is_better,
            d["method"],
            d["beyond_intervals"],
        )

    @property
    def size(self) -> float:
        return self.to_value - self.from_value

    @property
    def relative(self) -> float | None:
        return self.size / self.from_value if self.from_value else None

    @property
    def direction(self) -> str:
        return "up" if self.size > 0 else "down"

    @property
    def worse(self) -> bool:
        return (self.size > 0) == self.lower_is_better

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "metric": self.metric,
            "machine": self.machine.id if self.machine else None,
            "before": {"run": self.before.run, "commit": self.before.commit},
            "after": {"run": self.after.run, "commit": self.after.commit},
            "from": self.from_value,
            "to": self.to_value,
            "size": self.size,
            "relative": self.relative,
            "direction": self.direction,
            "worse": self.worse,
            "method": self.method,
            "beyond_intervals": self.beyond_intervals,
        }


def separated(before: Value, now: Value, lower_is_better: bool) -> bool | None:
    """Whether ``now``'s 95% interval lies wholly on the worse side of ``before``'s (None when
    either has no interval)."""
    if None in (before.low, before.high, now.low, now.high):
        return None
    if lower_is_better:
        return now.low > before.high  # type: ignore[operator]
    return now.high < before.low  # type: ignore[operator]


def stepped_worse(before: Value, now: Value, timed: bool, lower_is_better: bool) -> bool:
    """``--fail-on-change``: an exact metric stepped the wrong way at all; a timed one only when
    the intervals separate."""
    if timed:
        return bool(separated(before, now, lower_is_better))
    rise = now.value > before.value
    return rise if lower_is_better else now.value < before.value
