"""check results: one verdict per budget metric, and the metrics a baseline stores."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sepprof.results.schemas import CHECK_SCHEMA


@dataclass(frozen=True)
class Verdict:
    """One metric of one budget against its limit."""

    budget: str
    metric: str
    limit: float
    actual: float | None
    headroom: float | None
    status: str  # "pass", "fail" or "warn"
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
        }
