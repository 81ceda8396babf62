"""Ratios said one way: a factor of at least 1 and a direction ("8.69x fewer", "1.36x more",
"4.85x faster", "2.03x slower"), so that no output prints a ratio under 1 in words."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Change:
    """``factor`` (>= 1) times ``direction`` ("fewer", "more", "same", "none" for a zero
    count), with the error of the factor where the ratio was measured."""

    factor: float
    direction: str
    error: float | None = None

    @classmethod
    def of_count(cls, ratio: float) -> Change:
        """A count's ratio new / old: under 1 is fewer, over 1 is more."""
        if ratio <= 0:
            return cls(0.0, "none")
        if ratio == 1:
            return cls(1.0, "same")
        return cls(1 / ratio, "fewer") if ratio < 1 else cls(ratio, "more")

    @classmethod
    def of_speedup(cls, value: float, error: float | None = None) -> Change:
        """A speedup old time / new time: at least 1 is faster, under 1 slower (the error
        propagated to the inverse, error / value²)."""
        if value == 1:
            return cls(1.0, "same", error)
        if value > 1:
            return cls(value, "faster", error)
        slower_error = None if error is None else error / value**2
        return cls(1 / value, "slower", slower_error)

    @classmethod
    def of_times(cls, new_ms: float, old_ms: float) -> Change:
        """How a new time compares with an old one (no error known)."""
        return cls.of_speedup(old_ms / new_ms)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Change:
        return cls(float(d["factor"]), str(d["direction"]), d.get("error"))
