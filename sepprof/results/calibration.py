"""A device's calibration (its measured peak and bandwidths) and ``calibrate --device all``'s set of
them, as one document."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sepprof.results.roofline import Roofline
from sepprof.results.schemas import CALIBRATION_SCHEMA, CALIBRATION_SET_SCHEMA


@dataclass(frozen=True)
class Calibration:
    """A device's measured peak and bandwidths, with every measurement that went into them."""

    device: str
    device_name: str
    dtype: str
    threads: int
    torch: str
    peak_flops: float
    peak_source: str
    dram_bandwidth: float
    cache_bandwidth: float | None
    cache_bytes: int | None
    flops: dict[str, float] = field(default_factory=dict)
    bandwidths: dict[str, float] = field(default_factory=dict)
    created: str = ""
    schema: str = CALIBRATION_SCHEMA
    other_cpu_cores: dict[str, float | None] = field(default_factory=dict)
    contention: str = ""  # why it was measured under contention (empty: it was not)

    def roofline(self) -> Roofline:
        """The roof ``compare`` and reports use: peak and DRAM bandwidth."""
        return Roofline(self.peak_flops, self.dram_bandwidth, "DRAM")

    @property
    def ridge(self) -> float:
        """Intensity (FLOP/byte) where the DRAM roof turns from memory- to compute-bound."""
        return self.roofline().ridge

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ridge": self.ridge}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class CalibrationSet:
    """One calibration per device (each a ``Calibration``)."""

    results: tuple[Any, ...]
    schema: str = CALIBRATION_SET_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "results": [c.to_dict() for c in self.results]}
