"""Plain result data: what renderers, budgets, reports and ``merge`` read; serialises to JSON.

Counts are integers, times are milliseconds, ratios are plain floats. JSON keys are the contract
in DESIGN.md: they are only ever added, never renamed.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field
from math import sqrt
from typing import Any

from sepprof.units import macs_to_flops

COMPARE_SCHEMA = "sepprof.compare/1"
PROFILE_SCHEMA = "sepprof.profile/1"
SWEEP_SCHEMA = "sepprof.sweep/1"
CHECK_SCHEMA = "sepprof.check/1"
CALIBRATION_SCHEMA = "sepprof.calibration/1"


@dataclass(frozen=True)
class Latency:
    """A timing: median and IQR of per-round medians (ms), calls timed, and the rounds."""

    median: float
    iqr: float
    runs: int
    rounds: tuple[float, ...] = ()
    unstable: bool = False

    @classmethod
    def from_rounds(cls, rounds: list[float], runs: int) -> Latency:
        """Summarise per-round medians (ms); flag rounds that split into two clusters."""
        ordered = sorted(rounds)
        q = (
            statistics.quantiles(ordered, n=4, method="inclusive")
            if len(ordered) > 1
            else [0, 0, 0]
        )
        return cls(statistics.median(ordered), q[2] - q[0], runs, tuple(rounds), split(ordered))

    def to_dict(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "iqr": self.iqr,
            "runs": self.runs,
            "rounds": list(self.rounds),
            "unstable": self.unstable,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Latency:
        return cls(
            float(d["median"]),
            float(d["iqr"]),
            int(d["runs"]),
            tuple(d.get("rounds", ())),
            bool(d.get("unstable", False)),
        )


def split(ordered: list[float], ratio: float = 1.5) -> bool:
    """True when sorted round medians fall into two clusters: the largest gap between neighbours
    is over half the whole range and the slowest round is ``ratio`` x the fastest."""
    if len(ordered) < 2 or ordered[0] <= 0 or ordered[-1] / ordered[0] < ratio:
        return False
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    return max(gaps) > 0.5 * (ordered[-1] - ordered[0])


@dataclass(frozen=True)
class Roof:
    """Where a measured row sits under a device's roofline."""

    attainable_ms: float
    percent: float
    bound: str

    def to_dict(self) -> dict[str, Any]:
        return {"attainable_ms": self.attainable_ms, "percent": self.percent, "bound": self.bound}


@dataclass(frozen=True)
class Row:
    """Costs and measurements of a stage, a variant or a network layer."""

    name: str
    kind: str
    params: int
    norm_params: int
    macs_analytic: int
    elementwise_ops: int
    bytes: int
    shape: str = ""
    detail: str = ""
    macs_traced: int | None = None
    macs_flop_counter: int | None = None
    params_traced: int | None = None
    elementwise_traced: int | None = None
    uncounted_ops: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, Latency] = field(default_factory=dict)
    roofline: dict[str, Roof] = field(default_factory=dict)
    stages: tuple[Row, ...] = ()

    @property
    def flops(self) -> int:
        return macs_to_flops(self.macs_analytic)

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs (2 x MACs) per byte moved."""
        return self.flops / self.bytes if self.bytes else 0.0

    def achieved(self, device: str) -> tuple[float, float] | None:
        """(GFLOP/s, GB/s) reached on ``device``: FLOPs (2 x MACs) and the minimum bytes over
        the median time; None when not timed there."""
        lat = self.latency_ms.get(device)
        if lat is None or not lat.median:
            return None
        seconds = lat.median / 1e3
        return self.flops / seconds / 1e9, self.bytes / seconds / 1e9

    @property
    def traced_ok(self) -> bool | None:
        """None without a trace; else do fvcore (and torch's counter, where run) agree with
        the analytic MACs?"""
        if self.macs_traced is None:
            return None
        torch_ok = self.macs_flop_counter in (None, self.macs_analytic)
        params_ok = self.params_traced in (None, self.params)
        return self.macs_traced == self.macs_analytic and torch_ok and params_ok

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "op": self.detail,
            "output_shape": self.shape,
            "params": self.params,
            "params_batchnorm": self.norm_params,
            "macs": self.macs_analytic,
            "macs_analytic": self.macs_analytic,
            "macs_traced": self.macs_traced,
            "macs_flop_counter": self.macs_flop_counter,
            "params_traced": self.params_traced,
            "flops": self.flops,
            "elementwise_ops": self.elementwise_ops,
            "elementwise_ops_traced": self.elementwise_traced,
            "bytes": self.bytes,
            "intensity": self.intensity,
            "uncounted_ops": dict(self.uncounted_ops),
            "latency_ms": {k: v.to_dict() for k, v in self.latency_ms.items()},
            "roofline": {k: v.to_dict() for k, v in self.roofline.items()},
            "achieved": {
                d: {"gflop_s": rate[0], "gb_s": rate[1]}
                for d in self.latency_ms
                if (rate := self.achieved(d))
            },
        }
        if self.stages:
            d["stages"] = [s.to_dict() for s in self.stages]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Row:
        return cls(
            name=d["name"],
            kind=d.get("kind", ""),
            params=int(d["params"]),
            norm_params=int(d.get("params_batchnorm", 0)),
            macs_analytic=int(d.get("macs_analytic", d.get("macs", 0))),
            elementwise_ops=int(d.get("elementwise_ops", 0)),
            bytes=int(d.get("bytes", 0)),
            shape=d.get("output_shape", ""),
            detail=d.get("op", ""),
            macs_traced=d.get("macs_traced"),
            macs_flop_counter=d.get("macs_flop_counter"),
            params_traced=d.get("params_traced"),
            elementwise_traced=d.get("elementwise_ops_traced"),
            uncounted_ops=dict(d.get("uncounted_ops", {})),
            latency_ms={k: Latency.from_dict(v) for k, v in d.get("latency_ms", {}).items()},
            roofline={k: Roof(**v) for k, v in d.get("roofline", {}).items()},
            stages=tuple(cls.from_dict(s) for s in d.get("stages", ())),
        )


@dataclass(frozen=True)
class Speedup:
    """baseline median / variant median, with the uncertainty propagated from both IQRs."""

    value: float
    error: float

    @classmethod
    def of(cls, baseline: Latency, variant: Latency) -> Speedup:
        value = baseline.median / variant.median
        rel = sqrt(
            (baseline.iqr / 2 / baseline.median) ** 2 + (variant.iqr / 2 / variant.median) ** 2
        )
        return cls(value, value * rel)


@dataclass(frozen=True)
class Comparison:
    """A variant against the baseline: MAC, theory and param ratios, measured speedups."""

    baseline: str
    variant: str
    macs_ratio: float
    theory_ratio: float | None
    params_ratio: float
    speedup: dict[str, Speedup] = field(default_factory=dict)
    traced_ratio: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "variant": self.variant,
            "macs_ratio": self.macs_ratio,
            "macs_ratio_traced": self.traced_ratio,
            "theory_ratio": self.theory_ratio,
            "params_ratio": self.params_ratio,
            "speedup": {k: v.value for k, v in self.speedup.items()},
            "speedup_error": {k: v.error for k, v in self.speedup.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Comparison:
        errors = d.get("speedup_error", {})
        speedup = {k: Speedup(v, errors.get(k, 0.0)) for k, v in d.get("speedup", {}).items()}
        return cls(
            d["baseline"],
            d["variant"],
            d["macs_ratio"],
            d.get("theory_ratio"),
            d["params_ratio"],
            speedup,
            d.get("macs_ratio_traced"),
        )


@dataclass(frozen=True)
class CompareResult:
    """One layer, every variant side by side."""

    environment: dict[str, Any]
    spec: dict[str, Any]
    variants: tuple[Row, ...]
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...] = ()
    schema: str = COMPARE_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "sepprof_version": self.environment.get("sepprof", ""),
            "environment": self.environment,
            "spec": self.spec,
            "variants": [v.to_dict() for v in self.variants],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompareResult:
        return cls(
            d["environment"],
            d["spec"],
            tuple(Row.from_dict(v) for v in d["variants"]),
            tuple(Comparison.from_dict(c) for c in d["comparisons"]),
            tuple(d.get("notes", ())),
        )


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
