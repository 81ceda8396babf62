"""Runs as ``check --history`` keeps them, and one metric's series over them: per budget, and
per machine for timed metrics (exact ones are the same on any machine)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sepprof.results.check import CheckResult, Verdict

# metric keys measured with an interval, per device
TIMED = ("latency_ms.", "speedup.", "time_share.")


def is_timed(key: str) -> bool:
    return key.startswith(TIMED)


@dataclass(frozen=True)
class Machine:
    """Where a run was measured: the fingerprint that timed series are kept apart by."""

    cpu: str
    cores: int
    torch: str
    device: str

    @property
    def id(self) -> str:
        """12 hex digits of a hash of the fingerprint."""
        text = f"{self.cpu}|{self.cores}|{self.torch}|{self.device}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def describe(self) -> str:
        return f"{self.cpu}, {self.cores} cores, torch {self.torch}, {self.device}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Machine:
        return cls(str(d["cpu"]), int(d["cores"]), str(d["torch"]), str(d["device"]))


@dataclass(frozen=True)
class Value:
    """One metric of one budget in one run: its value, its 95% interval where it was timed,
    the budget's limit on it and the decision (pass, fail, warn, inconclusive; None where the
    budget sets no limit on it)."""

    value: float
    low: float | None = None
    high: float | None = None
    limit: float | None = None
    status: str | None = None

    @property
    def half_width(self) -> float | None:
        return None if self.low is None or self.high is None else (self.high - self.low) / 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BudgetRun:
    """One budget of a run: its config and variant as the budget names them, its decision
    (the worst of its verdicts) and its metrics by key (``macs``, ``latency_ms.cpu``, ...)."""

    name: str
    config: str
    variant: str | None
    status: str
    metrics: dict[str, Value]

    def to_dict(self) -> dict[str, Any]:
        metrics = {k: v.to_dict() for k, v in self.metrics.items()}
        return {**asdict(self), "metrics": metrics}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BudgetRun:
        metrics = {k: Value(**v) for k, v in d["metrics"].items()}
        return cls(d["name"], d["config"], d.get("variant"), d["status"], metrics)


@dataclass(frozen=True)
class Run:
    """One ``check --history`` invocation, as stored (``id`` is the store's, in write order)."""

    commit: str | None
    branch: str | None
    created: str  # ISO 8601, UTC
    machine: Machine
    sepprof: str
    budget_file: str
    passed: bool
    budgets: tuple[BudgetRun, ...]
    id: int | None = None

    def budget(self, name: str) -> BudgetRun | None:
        return next((b for b in self.budgets if b.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        fields = ("id", "commit", "branch", "created", "sepprof", "budget_file", "passed")
        return {
            **{f: getattr(self, f) for f in fields},
            "machine": self.machine.to_dict(),
            "budgets": [b.to_dict() for b in self.budgets],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Run:
        budgets = tuple(BudgetRun.from_dict(b) for b in d["budgets"])
        machine = Machine.from_dict(d["machine"])
        plain = (d["commit"], d["branch"], d["created"])
        return cls(*plain, machine, d["sepprof"], d["budget_file"], d["passed"], budgets, d["id"])


@dataclass(frozen=True)
class Point:
    """A series' value in one run."""

    run: int
    commit: str | None
    branch: str | None
    created: str
    value: Value

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "value": self.value.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Point:
        return cls(d["run"], d["commit"], d["branch"], d["created"], Value(**d["value"]))


@dataclass(frozen=True)
class Series:
    """One budget's metric over the runs, oldest first. Timed metrics are kept per machine
    (``machine``); exact ones (MACs, params, bytes) are the same anywhere, so ``None``."""

    budget: str
    metric: str
    machine: Machine | None
    lower_is_better: bool
    points: tuple[Point, ...]

    @property
    def timed(self) -> bool:
        return is_timed(self.metric)

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "metric": self.metric,
            "machine": self.machine.to_dict() if self.machine else None,
            "lower_is_better": self.lower_is_better,
            "points": [p.to_dict() for p in self.points],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Series:
        machine = Machine.from_dict(d["machine"]) if d.get("machine") else None
        points = tuple(Point.from_dict(p) for p in d["points"])
        return cls(d["budget"], d["metric"], machine, d["lower_is_better"], points)


SEVERITY = ("pass", "warn", "inconclusive", "fail")  # a budget's decision: its worst verdict


def decision(verdicts: list[Verdict]) -> str:
    """A budget's decision: the worst of its verdicts (pass when it has none)."""
    return max((v.status for v in verdicts), key=SEVERITY.index, default="pass")


def budget_values(result: CheckResult, budget: str) -> dict[str, Value]:
    """A budget's metrics in a check result, each with its interval, limit and decision (bytes
    too, which no budget limits)."""
    measured = result.measured.get(budget)
    values = dict(result.metrics.get(budget, {}))
    if measured is not None:
        values["bytes"] = measured.bytes
    intervals = measured.intervals if measured is not None else {}
    verdicts = {v.metric: v for v in result.verdicts if v.budget == budget}
    out = {}
    for key, value in values.items():
        low, high = intervals.get(key, (None, None))
        verdict = verdicts.get(key)
        limit, status = (verdict.limit, verdict.status) if verdict else (None, None)
        out[key] = Value(value, low, high, limit, status)
    return out


def run_of_check(
    result: CheckResult, commit: str | None, branch: str | None, machine: Machine, created: str
) -> Run:
    """The run a check result is kept as."""
    kept = []
    for name in result.metrics:
        measured = result.measured.get(name)
        config, variant = (measured.config, measured.variant) if measured else ("", None)
        status = decision([v for v in result.verdicts if v.budget == name])
        kept.append(BudgetRun(name, config, variant, status, budget_values(result, name)))
    version = str(result.environment.get("sepprof", ""))
    plain = (commit, branch, created, machine, version, result.budget_file, result.passed)
    return Run(*plain, tuple(kept))


def series_of(runs: list[Run], lower_is_better: Callable[[str], bool]) -> tuple[Series, ...]:
    """Every budget's series of each metric key in ``runs`` (timed ones per machine), in the
    order they first appear; points oldest first."""
    found: dict[tuple[str, str, str | None], list[Point]] = {}
    machines: dict[str | None, Machine | None] = {None: None}
    for run in runs:
        for budget in run.budgets:
            for key, value in budget.metrics.items():
                machine = run.machine if is_timed(key) else None
                machines[machine.id if machine else None] = machine
                where = (budget.name, key, machine.id if machine else None)
                point = Point(run.id or 0, run.commit, run.branch, run.created, value)
                found.setdefault(where, []).append(point)
    return tuple(
        Series(name, key, machines[m], lower_is_better(key), tuple(points))
        for (name, key, m), points in found.items()
    )
