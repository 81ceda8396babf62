"""merge results: every machine's timing of each layer, grouped by layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sepprof.results.ratios import Change
from sepprof.results.schemas import MERGE_SCHEMA
from sepprof.results.shares import fraction


@dataclass(frozen=True)
class MergedRow:
    """One variant of one layer as timed on one device of one machine."""

    machine: str
    device: str
    setup: str
    dtype: str
    threads: int | None
    variant: str
    macs: int
    macs_ratio: float
    median_ms: float | None
    iqr_ms: float | None
    speedup: float | None
    speedup_error: float | None
    source: str
    trusted: bool = True  # False: the speedup was contended or unstable (no verdict)

    @property
    def spread(self) -> float | None:
        """The IQR relative to the median (0.05 = ±5%)."""
        return fraction(self.iqr_ms, self.median_ms)

    @property
    def macs_change(self) -> Change:
        """MACs against the layer's first variant: ``8.69x fewer``."""
        return Change.of_count(self.macs_ratio)

    @property
    def speed_change(self) -> Change | None:
        if not self.speedup:
            return None
        return Change.of_speedup(self.speedup, self.speedup_error)

    def to_dict(self) -> dict[str, Any]:
        speed = self.speed_change
        return {
            **self.__dict__,
            "spread": self.spread,
            "macs_change": self.macs_change.to_dict(),
            "speed_change": speed.to_dict() if speed else None,
        }


@dataclass(frozen=True)
class MergeResult:
    """Rows grouped by layer (its spec without the name)."""

    layers: tuple[tuple[dict[str, Any], tuple[MergedRow, ...]], ...]
    sources: tuple[str, ...]
    schema: str = MERGE_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "sources": list(self.sources),
            "layers": [
                {"spec": spec, "rows": [r.to_dict() for r in rows]} for spec, rows in self.layers
            ],
        }
