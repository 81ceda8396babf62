"""The roofline model: attainable speed = min(peak FLOP/s, intensity x bandwidth). Pure math, in
``results`` so that a chart draws the roof from the result alone."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Roofline:
    """A device's measured roof: peak FLOP/s and the memory bandwidth the roof assumes."""

    peak_flops: float
    bandwidth: float
    bandwidth_level: str = "DRAM"

    @property
    def ridge(self) -> float:
        """Intensity (FLOP/byte) where memory-bound turns compute-bound."""
        return self.peak_flops / self.bandwidth

    def attainable(self, intensity: float) -> float:
        """Attainable FLOP/s at an arithmetic intensity."""
        return min(self.peak_flops, intensity * self.bandwidth)

    def curve(self, low: float, high: float, points: int = 101) -> tuple[list[float], list[float]]:
        """The roof a chart draws: ``points`` (>= 2) intensities spaced evenly on a log axis from
        ``low`` to ``high``, and the attainable FLOP/s at each (the same ``attainable`` the
        tables use)."""
        xs = [low * (high / low) ** (i / (points - 1)) for i in range(points)]
        return xs, [self.attainable(x) for x in xs]
