"""profile results: a network's layer rows, its by-type summary and totals."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sepprof.results.ratios import Change
from sepprof.results.rows import Row
from sepprof.results.schemas import PROFILE_SCHEMA
from sepprof.results.shares import Part, Shares, fraction, shares_of


@dataclass(frozen=True)
class TypeShare:
    """One line of the by-type summary (MobileNets' Table 2, computed and measured)."""

    kind: str
    layers: int
    macs: int
    params: int
    elementwise_ops: int
    time_ms: dict[str, float] = field(default_factory=dict)

    def part(self) -> Part:
        return self.macs, self.params, dict(self.time_ms)

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
    counting_rule: str = ""  # the rule the counts follow, as printed under them
    schema: str = PROFILE_SCHEMA

    @property
    def layer_shares(self) -> tuple[Shares, ...]:
        """Each layer's share of the network's MACs, params and summed layer times."""
        return shares_of([r.part() for r in self.layers])

    @property
    def type_shares(self) -> tuple[Shares, ...]:
        """Each layer type's share of MACs, params and time (MobileNets' Table 2)."""
        return shares_of([t.part() for t in self.by_type])

    @cached_property  # a bootstrap per type and device: once per result, however often read
    def type_time_intervals(self) -> dict[str, dict[str, tuple[float, float]]]:
        """Per layer type and device, a 95% interval of its share of the summed layer time, for
        the next run: every layer was timed in the same rounds, so each round gives one share
        (the type's time over all layers' time in that round); their bootstrap interval (over
        processes, then rounds) is widened as ``drift.widen`` widens a speedup's. Empty where
        the layers' rounds do not line up."""
        from sepprof.results.drift import widen
        from sepprof.results.latency import by_process, hierarchical_interval

        out: dict[str, dict[str, tuple[float, float]]] = {}
        for device in sorted({d for r in self.layers for d in r.latency_ms}):
            timed = [r for r in self.layers if device in r.latency_ms]
            lengths = {len(r.latency_ms[device].rounds) for r in timed}
            if len(lengths) != 1 or lengths == {0}:
                continue
            (n,) = lengths
            totals = [sum(r.latency_ms[device].rounds[i] for r in timed) for i in range(n)]
            processes = timed[0].latency_ms[device].processes
            for kind in {r.kind for r in timed}:
                own = [
                    sum(r.latency_ms[device].rounds[i] for r in timed if r.kind == kind) / t
                    for i, t in enumerate(totals)
                ]
                if not all(v > 0 for v in own):
                    continue
                low, high = hierarchical_interval(by_process(own, processes))
                # the rounds' relative spread, about the share the tables print
                value, middle = self._time_share(kind, device, timed), statistics.median(own)
                low, high = value * low / middle, value * high / middle
                low, high = widen(value, low, high, None)
                out.setdefault(kind, {})[device] = (low, min(high, 1.0))  # a share: at most all
        return out

    @staticmethod
    def _time_share(kind: str, device: str, timed: list[Row]) -> float:
        """The share the tables print: the type's summed median times over all layers'."""
        total = sum(r.latency_ms[device].median for r in timed)
        return sum(r.latency_ms[device].median for r in timed if r.kind == kind) / total

    @property
    def layer_time_sum_ms(self) -> dict[str, float]:
        """Per device, the sum of the layer times (beside ``totals.latency_ms``, the whole
        network timed as one call: they need not agree)."""
        devices = {d for r in self.layers for d in r.latency_ms}
        return {
            d: sum(r.latency_ms[d].median for r in self.layers if d in r.latency_ms)
            for d in sorted(devices)
        }

    @property
    def reference_deviation(self) -> dict[str, float]:
        """How far the counted totals sit from the published figures (0.01 = 1% above); the
        params include BatchNorm's, as published tables do."""
        ref = self.network.get("reference") or {}
        counted = {
            "macs": self.totals.macs_analytic,
            "params": self.totals.params + self.totals.norm_params,
        }
        return {k: v / ref[k] - 1 for k, v in counted.items() if ref.get(k)}

    @property
    def as_change(self) -> dict[str, Any] | None:
        """After ``--as``, the rewritten network against the network as written: MACs, params
        and, per device timed, time."""
        now, was = self.totals, self.before
        if was is None:
            return None
        times = {
            d: Change.of_times(lat.median, was.latency_ms[d].median)
            for d, lat in now.latency_ms.items()
            if d in was.latency_ms and lat.median
        }
        return {
            "macs": Change.of_count(fraction(now.macs_analytic, was.macs_analytic) or 0.0),
            "params": Change.of_count(fraction(now.params, was.params) or 0.0),
            "time": times,
        }

    def to_dict(self) -> dict[str, Any]:
        change = self.as_change

        return {
            "schema": self.schema,
            "sepprof_version": self.environment.get("sepprof", ""),
            "environment": self.environment,
            "network": self.network,
            "layers": [
                {**r.to_dict(), "share": s.to_dict()}
                for r, s in zip(self.layers, self.layer_shares, strict=True)
            ],
            "by_type": [
                {
                    **t.to_dict(),
                    "share": s.to_dict(),
                    "time_share_interval": {
                        d: list(v) for d, v in self.type_time_intervals.get(t.kind, {}).items()
                    },
                }
                for t, s in zip(self.by_type, self.type_shares, strict=True)
            ],
            "totals": {**self.totals.to_dict(), "layer_time_sum_ms": self.layer_time_sum_ms},
            "before": self.before.to_dict() if self.before else None,
            "reference_deviation": self.reference_deviation,
            "as_change": None
            if change is None
            else {
                "macs": change["macs"].to_dict(),
                "params": change["params"].to_dict(),
                "time": {d: c.to_dict() for d, c in change["time"].items()},
            },
            "notes": list(self.notes),
            "counting_rule": self.counting_rule,
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
            d.get("counting_rule", ""),
        )
