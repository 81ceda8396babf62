"""The roofline model: attainable speed = min(peak FLOP/s, intensity x bandwidth). Pure math.

An op's roofline time is max(FLOPs / peak, bytes / bandwidth); a stage runs its ops one after the
other (unfused), so its roofline time is the sum over its ops. The bound is whichever term
dominates that sum. Peak and bandwidth come from ``sepprof calibrate`` on the machine itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sepprof.count.costs import Cost


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


def op_times(cost: Cost, roof: Roofline) -> tuple[float, float]:
    """(compute seconds, memory seconds) of one op's cost at the roof; elementwise ops are
    memory-bound, so their compute term is left out, as FLOPs are 2 x MACs everywhere."""
    return cost.flops / roof.peak_flops, cost.bytes / roof.bandwidth


def roof_time(costs: Iterable[Cost], roof: Roofline) -> tuple[float, str]:
    """Roofline time in seconds of ops run one after the other, and which bound dominates."""
    compute_bound = memory_bound = 0.0
    for cost in costs:
        compute, memory = op_times(cost, roof)
        if memory > compute:
            memory_bound += memory
        else:
            compute_bound += compute
    return compute_bound + memory_bound, "memory" if memory_bound > compute_bound else "compute"
