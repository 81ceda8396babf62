"""Where a series stepped. Exact metrics (MACs, params, bytes) step wherever two consecutive
runs differ: a plain comparison. Timed metrics are noisy: their change points are found by
ruptures' PELT search with the least-squares cost (``KernelCPD`` with the linear kernel, whose
cost is the sum of squared deviations from each segment's mean, as ``Pelt(model="l2")``, but
compiled: 1,000 runs take milliseconds) on the series divided by its noise, with a BIC-like
penalty ``PENALTY * log(n)`` per change point and at least ``MIN_SIZE`` runs in every segment.
The search sees the series through a running median of three runs, which keeps steps and
removes a single outlying run, so that one slow run is not a step (two in a row may be).

The noise is the larger of two robust estimates: the spread of consecutive differences (the
median absolute deviation of the first differences / sqrt(2), scaled to a standard deviation;
unaffected by a few steps) and the runs' own 95% intervals (median half-width / 1.96)."""

from __future__ import annotations

import itertools
import math
import statistics

from sepprof.results.changes import Change
from sepprof.results.runs import Series
from sepprof.spec.budgets import metric_of

PENALTY = 4.0  # x log(n) per change point, on the series in units of its noise
MIN_SIZE = 2  # runs in a segment: a step needs two runs on each side
MAD_TO_SD = 1.4826  # a normal distribution's standard deviation per median absolute deviation
FLOOR = 0.005  # the least noise assumed, as a fraction of the series' median (0.5%)
EXACT_LOWER_IS_BETTER = {"bytes": True}  # exact metrics sepprof keeps but budgets do not limit


def lower_is_better(key: str) -> bool:
    """The direction of a metric key (``macs``, ``latency_ms.cpu``, ``speedup.cuda``)."""
    return EXACT_LOWER_IS_BETTER.get(key) or metric_of(key).lower_is_better


def find_changes(series: Series) -> list[Change]:
    """The steps of a series, oldest first."""
    if series.timed:
        return change_points(series)
    values = [p.value.value for p in series.points]
    return [Change.exact(series, i) for i in range(1, len(values)) if values[i] != values[i - 1]]


def change_points(series: Series) -> list[Change]:
    """PELT's change points of a timed series (none in fewer than 2 x ``MIN_SIZE`` runs)."""
    values = [p.value.value for p in series.points]
    if len(values) < 2 * MIN_SIZE or len(set(values)) == 1:
        return []
    sigma = noise(series) or 1.0  # a series around 0 with no spread and no intervals
    import numpy as np
    import ruptures

    signal = np.asarray(smoothed(values), dtype=float).reshape(-1, 1) / sigma
    search = ruptures.KernelCPD(kernel="linear", min_size=MIN_SIZE, jump=1).fit(signal)
    bounds = [0, *map(int, search.predict(pen=PENALTY * math.log(len(values))))]
    return [
        Change.segments(series, bounds[i - 1], bounds[i], bounds[i + 1])
        for i in range(1, len(bounds) - 1)
    ]


def smoothed(values: list[float]) -> list[float]:
    """A running median of three (the ends kept): a lone outlier goes, a step stays."""
    middle = [statistics.median(values[i - 1 : i + 2]) for i in range(1, len(values) - 1)]
    return [values[0], *middle, values[-1]]


def noise(series: Series) -> float:
    """The series' noise as a standard deviation, at least ``FLOOR`` of its median."""
    values = [p.value.value for p in series.points]
    diffs = [b - a for a, b in itertools.pairwise(values)]
    spread = 0.0
    if len(diffs) >= 2:
        center = statistics.median(diffs)
        spread = MAD_TO_SD * statistics.median(abs(d - center) for d in diffs) / math.sqrt(2)
    widths = [p.value.half_width for p in series.points if p.value.half_width is not None]
    own = statistics.median(widths) / 1.96 if widths else 0.0
    return max(spread, own, FLOOR * abs(statistics.median(values)))
