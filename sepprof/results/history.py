"""history results: what ``sepprof history`` shows (the runs, the metric's series, the steps)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sepprof.results.changes import Change
from sepprof.results.runs import Run, Series
from sepprof.results.schemas import HISTORY_SCHEMA


@dataclass(frozen=True)
class HistoryResult:
    """What ``sepprof history`` shows: the runs selected (oldest first), the metric's series
    and the steps found in them."""

    store: str
    store_schema: int
    query: dict[str, Any]
    runs: tuple[Run, ...]
    series: tuple[Series, ...]
    changes: tuple[Change, ...] = ()
    sepprof_version: str = ""
    budgets: tuple[str, ...] = field(default=())
    schema: str = HISTORY_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "sepprof_version": self.sepprof_version,
            "store": self.store,
            "store_schema": self.store_schema,
            "query": self.query,
            "budgets": list(self.budgets),
            "runs": [r.to_dict() for r in self.runs],
            "series": [s.to_dict() for s in self.series],
            "changes": [c.to_dict() for c in self.changes],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HistoryResult:
        """Read back from a report's report.json (change points are found again from the
        series only by ``sepprof history``; here they are rebuilt from the points)."""
        series = tuple(Series.from_dict(s) for s in d["series"])
        changes = tuple(Change.from_dict(c, series) for c in d["changes"])
        runs = tuple(Run.from_dict(r) for r in d["runs"])
        head = (d["store"], d["store_schema"], d["query"], runs, series, changes)
        return cls(*head, d.get("sepprof_version", ""), tuple(d.get("budgets", ())))
