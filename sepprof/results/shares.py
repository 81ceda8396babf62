"""Shares of a whole: each part's fraction of the MACs, the params and, per device, the time of
the parts it is listed with (a variant's stages, a network's layers or layer types)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Part = tuple[int | None, int | None, dict[str, float]]  # (MACs, params, {device: ms})


@dataclass(frozen=True)
class Shares:
    """One part's fractions (0..1) of its whole; None where the whole is zero or unknown."""

    macs: float | None
    params: float | None
    time: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"macs": self.macs, "params": self.params, "time": dict(self.time)}


def fraction(part: float | None, whole: float | None) -> float | None:
    """``part / whole``, or None when either is unknown or the whole is zero."""
    return part / whole if part is not None and whole else None


def shares_of(parts: Sequence[Part]) -> tuple[Shares, ...]:
    """Every part's share of the sum of all parts (time: per device, over the parts timed)."""
    macs = sum(m or 0 for m, _, _ in parts)
    params = sum(p or 0 for _, p, _ in parts)
    devices = {d for _, _, t in parts for d in t}
    time = {d: sum(t.get(d, 0.0) for _, _, t in parts) for d in devices}
    return tuple(
        Shares(
            fraction(m, macs),
            fraction(p, params),
            {d: s for d, ms in t.items() if (s := fraction(ms, time[d])) is not None},
        )
        for m, p, t in parts
    )
