"""sweep results: one compare result per grid point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sepprof.results.compare import CompareResult
from sepprof.results.schemas import SWEEP_SCHEMA

# What differs from point to point of one sweep: the load it was timed under.
CONDITIONS = ("other_cpu_cores", "contention", "threads", "threads_note")


@dataclass(frozen=True)
class SweepResult:
    """One compare result per grid point (each without its own environment block)."""

    environment: dict[str, Any]
    grid: dict[str, list[int]]
    points: tuple[CompareResult, ...]
    notes: tuple[str, ...] = ()
    schema: str = SWEEP_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        points = []
        for p in self.points:
            d = p.to_dict()
            for key in ("environment", "schema", "sepprof_version"):
                d.pop(key)
            conditions = {k: p.environment[k] for k in CONDITIONS if k in p.environment}
            points.append({**d, "conditions": conditions} if conditions else d)
        return {
            "schema": self.schema,
            "sepprof_version": self.environment.get("sepprof", ""),
            "environment": self.environment,
            "grid": self.grid,
            "points": points,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepResult:
        env = d["environment"]
        points = tuple(
            CompareResult.from_dict({**p, "environment": {**env, **p.get("conditions", {})}})
            for p in d["points"]
        )
        return cls(env, d["grid"], points, tuple(d.get("notes", ())))
