"""profile results: a network's layer rows, its by-type summary and totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sepprof.results.rows import Row
from sepprof.results.schemas import PROFILE_SCHEMA


@dataclass(frozen=True)
class TypeShare:
    """One line of the by-type summary (MobileNets' Table 2, computed and measured)."""

    kind: str
    layers: int
    macs: int
    params: int
    elementwise_ops: int
    time_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "layers": self.layers,
            "macs": self.macs,
            "params": self.params,
            "elementwise_ops": self.elementwise_ops,
            "time_ms": dict(self.time_ms),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TypeShare:
        return cls(
            d["kind"],
            d["layers"],
            d["macs"],
            d["params"],
            d["elementwise_ops"],
            dict(d.get("time_ms", {})),
        )


@dataclass(frozen=True)
class ProfileResult:
    """A network: one row per layer (stage), a by-type summary and totals.

    ``totals.latency_ms`` is the whole network timed as one call; ``before`` holds the totals of
    the network as written when ``--as`` rewrote it.
    """

    environment: dict[str, Any]
    network: dict[str, Any]
    layers: tuple[Row, ...]
    by_type: tuple[TypeShare, ...]
    totals: Row
    before: Row | None = None
    notes: tuple[str, ...] = ()
    schema: str = PROFILE_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "sepprof_version": self.environment.get("sepprof", ""),
            "environment": self.environment,
            "network": self.network,
            "layers": [r.to_dict() for r in self.layers],
            "by_type": [t.to_dict() for t in self.by_type],
            "totals": self.totals.to_dict(),
            "before": self.before.to_dict() if self.before else None,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProfileResult:
        return cls(
            d["environment"],
            d["network"],
            tuple(Row.from_dict(r) for r in d["layers"]),
            tuple(TypeShare.from_dict(t) for t in d["by_type"]),
            Row.from_dict(d["totals"]),
            Row.from_dict(d["before"]) if d.get("before") else None,
            tuple(d.get("notes", ())),
        )
