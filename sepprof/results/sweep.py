"""sweep results: one compare result per grid point."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # Per kernel size, the textbook MAC reduction 1 / (1/Cout + 1/k²) sampled over the swept
    # Cout range: (Cout, reduction) pairs, the line a chart draws beside the measured speedups.
    theory_curve: dict[int, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    schema: str = SWEEP_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        points = []
        for p in self.points:
            d = p.to_dict()
            for key in ("environment", "schema", "sepprof_version", "counting_rule"):
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
            "theory_curve": {str(k): [list(p) for p in c] for k, c in self.theory_curve.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepResult:
        env = d["environment"]
        points = tuple(
            CompareResult.from_dict({**p, "environment": {**env, **p.get("conditions", {})}})
            for p in d["points"]
        )
        curves = {
            int(k): tuple((float(x), float(y)) for x, y in c)
            for k, c in d.get("theory_curve", {}).items()
        }
        return cls(env, d["grid"], points, tuple(d.get("notes", ())), curves)
