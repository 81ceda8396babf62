"""Roofline times of costed ops (the roof itself, ``Roofline``, is plain data in ``results``).

An op's roofline time is max(FLOPs / peak, bytes / bandwidth); a stage runs its ops one after the
other (unfused), so its roofline time is the sum over its ops. The bound is whichever term
dominates that sum. Peak and bandwidth come from ``sepprof calibrate`` on the machine itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from sepprof.count.costs import Cost
from sepprof.results.roofline import Roofline


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
