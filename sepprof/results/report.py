"""report results: everything a report shows, saved beside its markdown as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sepprof.claims import Claim
from sepprof.results.compare import CompareResult
from sepprof.results.profile import ProfileResult
from sepprof.results.schemas import REPORT_SCHEMA
from sepprof.results.sweep import SweepResult


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
        }
