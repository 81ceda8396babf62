"""merge results: every machine's timing of each layer, grouped by layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sepprof.results.schemas import MERGE_SCHEMA


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
                {"spec": spec, "rows": [r.__dict__ for r in rows]} for spec, rows in self.layers
            ],
        }
