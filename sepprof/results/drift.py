"""Drift: how far this machine's timings move between commands, learned from its earlier runs.

Within one command the rounds (and the worker processes) agree; between commands a minute apart
they do not: on the development VM the worked example's speedup sat near 5.9x for a minute, then
near 5.2x for 30 s, with nothing in the machine's own CPU meter (DESIGN.md, "Where that variation
lives"). One command cannot see that in its own samples, so its interval is widened by the drift
learned from earlier commands on this machine: for every measurement key timed more than once,
how far each run's estimate sat from the key's mean, less what each run's own interval already
explains. Small, fast items drift more than large ones (on the development VM a 50 us layer
moved ±40% between commands where the worked example moved ±10%), so an item timed often enough
learns its own drift, and only an item without its own history borrows the machine's pooled
one. The printed interval is then one for the next command's estimate (a prediction
interval: ``widen``), which is what a user compares it with. Pure arithmetic; the runs are
stored by ``timing.drift``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

Z95 = 1.959964  # two-sided 95% normal quantile
NEXT_RUN = math.sqrt(2)  # this estimate minus the next one: two draws of the same spread
MIN_DEGREES = 3  # repeat runs (runs beyond the first of each key) needed to learn a drift


@dataclass(frozen=True)
class Run:
    """One stored estimate: what was timed (``key``), the log of its value, and the log
    half-width of its own 95% interval."""

    key: str
    log_value: float
    log_half: float


@dataclass(frozen=True)
class Drift:
    """The between-command spread to add to a command's own interval: a relative standard
    deviation on the log scale (None: not learned yet), and where it comes from."""

    sigma: float | None
    repeats: int = 0  # runs that repeated an earlier key (the degrees of freedom)
    keys: int = 0
    own: bool = False  # learned from this item's own runs (else pooled over the machine's)

    @property
    def source(self) -> str:
        if self.sigma is None:
            return (
                f"drift not learned yet ({self.repeats} repeat run(s) of a timed item on this "
                f"machine, {MIN_DEGREES} needed): the interval covers this command's processes "
                "only; `sepprof calibrate` probes it"
            )
        what = "this item" if self.own else f"{self.keys} timed item(s)"
        return (
            f"drift ±{Z95 * self.sigma:.1%} (95%) learned from {self.repeats} repeat run(s) of "
            f"{what} on this machine"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "repeats": self.repeats, "keys": self.keys, "own": self.own}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Drift | None:
        if not d:
            return None
        keys = int(d.get("keys", 0))
        return cls(d.get("sigma"), int(d.get("repeats", 0)), keys, bool(d.get("own", False)))


def learn(runs: Iterable[Run], item: str = "") -> Drift:
    """The drift of the item whose keys start with ``item`` when it was timed often enough
    (``MIN_DEGREES`` repeats), else the drift pooled over all the machine's keys."""
    runs = list(runs)
    if item:
        own = _pooled([r for r in runs if r.key.startswith(item)])
        if own.sigma is not None:
            return replace(own, own=True)
    return _pooled(runs)


def _pooled(runs: list[Run]) -> Drift:
    """Pooled between-run variance of keys timed more than once, less the mean within-run
    variance (each run's half-width / 1.96, squared), floored at 0."""
    by_key: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        by_key[run.key].append(run)
    repeated = [rs for rs in by_key.values() if len(rs) > 1]
    degrees = sum(len(rs) - 1 for rs in repeated)
    if degrees < MIN_DEGREES:
        return Drift(None, degrees, len(repeated))
    squares = 0.0
    within = []
    for rs in repeated:
        mean = sum(r.log_value for r in rs) / len(rs)
        squares += sum((r.log_value - mean) ** 2 for r in rs)
        within += [(r.log_half / Z95) ** 2 for r in rs]
    between = squares / degrees - sum(within) / len(within)
    return Drift(math.sqrt(max(0.0, between)), degrees, len(repeated))


def widen(value: float, low: float, high: float, drift: Drift | None) -> tuple[float, float]:
    """A command's own interval made a 95% interval for the *next* command's estimate: the
    drift added in quadrature on the log scale (each side keeps its own width), then every log
    distance times sqrt(2), since the next command's estimate carries the same own noise and
    drift again (the difference of two such estimates has twice the variance of one).

    Without a learned drift only the factor applies: the next command's processes still differ
    from this one's."""
    extra = 0.0
    if drift is not None and drift.sigma is not None:
        extra = (Z95 * drift.sigma) ** 2
    if value <= 0 or low <= 0:
        return low, high
    below = NEXT_RUN * math.sqrt(math.log(value / low) ** 2 + extra)
    above = NEXT_RUN * math.sqrt(math.log(high / value) ** 2 + extra)
    return value * math.exp(-below), value * math.exp(above)
