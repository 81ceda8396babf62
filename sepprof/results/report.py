"""report results: everything a report shows, saved beside its markdown as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sepprof.results.backends import BackendMatrix
from sepprof.results.claims import Claim
from sepprof.results.compare import CompareResult
from sepprof.results.history import HistoryResult
from sepprof.results.latency import Latency, Speedup
from sepprof.results.profile import ProfileResult
from sepprof.results.rows import Row
from sepprof.results.schemas import REPORT_SCHEMA
from sepprof.results.sweep import SweepResult


def _during(load: Any) -> float | None:
    """Cores others used during timing, from the environment's ``other_cpu_cores``."""
    return load.get("during") if isinstance(load, dict) else load


@dataclass(frozen=True)
class Report:
    """Everything a report shows, as plain results (saved beside the markdown as JSON)."""

    environment: dict[str, Any]
    command: str
    created: str
    main: CompareResult
    layers: tuple[CompareResult, ...]
    sweep: SweepResult
    calibrations: dict[str, Any]
    networks: tuple[ProfileResult, ...]
    claims: tuple[Claim, ...]
    backends: BackendMatrix | None = None
    history: HistoryResult | None = None  # report --history STORE

    def _results(self) -> list[CompareResult | ProfileResult]:
        return [self.main, *self.layers, *self.sweep.points, *self.networks]

    def latencies(self) -> list[Latency]:
        """Every timing the report rests on: variants, stages, layers and whole networks."""
        rows: list[Row] = []
        for r in [self.main, *self.layers, *self.sweep.points]:
            rows += [x for v in r.variants for x in (v, *v.stages)]
        for n in self.networks:
            rows += [*n.layers, n.totals, *([n.before] if n.before else [])]
        return [lat for row in rows for lat in row.latency_ms.values()]

    @property
    def unstable(self) -> int:
        """How many timings had rounds that split into two clusters."""
        return sum(lat.unstable for lat in self.latencies())

    def speedups(self) -> list[Speedup]:
        return [
            s
            for r in [self.main, *self.layers, *self.sweep.points]
            for c in r.comparisons
            for s in c.speedup.values()
        ]

    @property
    def untrusted(self) -> int:
        """How many speedups carry no verdict (timed under contention, or unstable)."""
        return sum(not s.trusted for s in self.speedups())

    @property
    def busy_cores(self) -> float | None:
        """The most cores other processes kept busy while any of the report's timings ran."""
        loads = [_during(r.environment.get("other_cpu_cores")) for r in self._results()]
        known = [x for x in loads if x is not None]
        return max(known) if known else None

    @property
    def busy(self) -> bool:
        """Was any timing contended (other processes on the cores it needed)?"""
        return any(r.environment.get("contention") for r in self._results()) or any(
            lat.contention for lat in self.latencies()
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "sepprof_version": self.environment.get("sepprof", ""),
            "environment": self.environment,
            "command": self.command,
            "created": self.created,
            "main": self.main.to_dict(),
            "layers": [c.to_dict() for c in self.layers],
            "sweep": self.sweep.to_dict(),
            "calibrations": {d: c.to_dict() if c else None for d, c in self.calibrations.items()},
            "networks": [n.to_dict() for n in self.networks],
            "claims": [c.to_dict() for c in self.claims],
            "backends": self.backends.to_dict() if self.backends else None,
            "history": self.history.to_dict() if self.history else None,
            "timings": len(self.latencies()),
            "unstable": self.unstable,
            "speedups": len(self.speedups()),
            "untrusted": self.untrusted,
            "busy_cores": self.busy_cores,
            "busy": self.busy,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        """A report read back from its report.json (to render it again without measuring)."""
        from sepprof.results.calibration import Calibration

        cals = d.get("calibrations", {})
        backends, history = d.get("backends"), d.get("history")
        return cls(
            d["environment"],
            d["command"],
            d["created"],
            CompareResult.from_dict(d["main"]),
            tuple(CompareResult.from_dict(c) for c in d["layers"]),
            SweepResult.from_dict(d["sweep"]),
            {k: Calibration.from_dict(c) if c else None for k, c in cals.items()},
            tuple(ProfileResult.from_dict(n) for n in d["networks"]),
            tuple(Claim(**c) for c in d["claims"]),
            BackendMatrix.from_dict(backends) if backends else None,
            HistoryResult.from_dict(history) if history else None,
        )
