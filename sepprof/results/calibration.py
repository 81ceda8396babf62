"""``calibrate --device all``: the calibrations of several devices, as one document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sepprof.results.schemas import CALIBRATION_SET_SCHEMA


@dataclass(frozen=True)
class CalibrationSet:
    """One calibration per device (each a ``calibration.Calibration``)."""

    results: tuple[Any, ...]
    schema: str = CALIBRATION_SET_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "results": [c.to_dict() for c in self.results]}
