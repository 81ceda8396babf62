"""compare results: one layer, every variant side by side, and each variant against the first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sepprof.results.drift import Drift
from sepprof.results.latency import Speedup
from sepprof.results.ratios import Change
from sepprof.results.rows import Row
from sepprof.results.schemas import COMPARE_SCHEMA, COMPARE_SET_SCHEMA


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

    @property
    def macs_change(self) -> Change:
        """The MAC ratio in one direction: ``8.69x fewer`` or ``1.36x more``."""
        return Change.of_count(self.macs_ratio)

    @property
    def params_change(self) -> Change:
        return Change.of_count(self.params_ratio)

    @property
    def theory_change(self) -> Change | None:
        return None if self.theory_ratio is None else Change.of_count(self.theory_ratio)

    @property
    def speed_change(self) -> dict[str, Change]:
        """Each device's speedup in one direction: ``4.85x faster`` or ``2.03x slower``."""
        return {d: Change.of_speedup(s.value, s.error) for d, s in self.speedup.items()}

    @property
    def realised(self) -> dict[str, float]:
        """Per device, the fraction of the MAC cut that shows up as speed: speedup x MAC ratio
        (1.0 = the time fell as much as the MACs)."""
        return {d: s.value * self.macs_ratio for d, s in self.speedup.items()}

    @property
    def realised_interval(self) -> dict[str, list[float] | None]:
        """The 95% interval of ``realised`` per device (the speedup's interval x MAC ratio)."""
        return {
            d: None
            if s.low is None or s.high is None
            else [s.low * self.macs_ratio, s.high * self.macs_ratio]
            for d, s in self.speedup.items()
        }

    def to_dict(self) -> dict[str, Any]:
        theory = self.theory_change
        return {
            "baseline": self.baseline,
            "variant": self.variant,
            "macs_ratio": self.macs_ratio,
            "macs_ratio_traced": self.traced_ratio,
            "theory_ratio": self.theory_ratio,
            "params_ratio": self.params_ratio,
            "speedup": {k: v.value for k, v in self.speedup.items()},
            "speedup_error": {k: v.error for k, v in self.speedup.items()},
            "speedup_low": {k: v.low for k, v in self.speedup.items()},
            "speedup_high": {k: v.high for k, v in self.speedup.items()},
            "speedup_trusted": {k: v.trusted for k, v in self.speedup.items()},
            "speedup_reason": {k: v.reason for k, v in self.speedup.items()},
            "speedup_rounds": {k: list(v.ratios) for k, v in self.speedup.items()},
            "speedup_processes": {k: list(v.processes) for k, v in self.speedup.items()},
            "speedup_per_process": {k: list(v.per_process) for k, v in self.speedup.items()},
            "speedup_method": {k: v.method for k, v in self.speedup.items()},
            "speedup_drift": {
                k: v.drift.to_dict() if v.drift else None for k, v in self.speedup.items()
            },
            "macs_change": self.macs_change.to_dict(),
            "params_change": self.params_change.to_dict(),
            "theory_change": theory.to_dict() if theory else None,
            "speed_change": {k: v.to_dict() for k, v in self.speed_change.items()},
            "realised": self.realised,
            "realised_interval": self.realised_interval,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Comparison:
        speedup = {k: _speedup(d, k) for k in d.get("speedup", {})}
        return cls(
            d["baseline"],
            d["variant"],
            d["macs_ratio"],
            d.get("theory_ratio"),
            d["params_ratio"],
            speedup,
            d.get("macs_ratio_traced"),
        )


def _speedup(d: dict[str, Any], device: str) -> Speedup:
    """A device's speedup from a comparison's JSON (files older than paired rounds: trusted)."""

    def get(key: str, default: Any = None) -> Any:
        return d.get(key, {}).get(device, default)

    return Speedup(
        d["speedup"][device],
        get("speedup_error", 0.0),
        get("speedup_low"),
        get("speedup_high"),
        get("speedup_trusted", True),
        get("speedup_reason", ""),
        tuple(get("speedup_rounds", ())),
        tuple(int(n) for n in get("speedup_processes", ())),
        tuple(float(v) for v in get("speedup_per_process", ())),
        get("speedup_method", ""),
        Drift.from_dict(get("speedup_drift")),
    )


@dataclass(frozen=True)
class CompareResult:
    """One layer, every variant side by side."""

    environment: dict[str, Any]
    spec: dict[str, Any]
    variants: tuple[Row, ...]
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...] = ()
    counting_rule: str = ""  # the rule the counts follow, as printed under them
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
            "counting_rule": self.counting_rule,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompareResult:
        return cls(
            d["environment"],
            d["spec"],
            tuple(Row.from_dict(v) for v in d["variants"]),
            tuple(Comparison.from_dict(c) for c in d["comparisons"]),
            tuple(d.get("notes", ())),
            d.get("counting_rule", ""),
        )


def _ratio(value: int | None, baseline: int | None) -> float | None:
    return value / baseline if value is not None and baseline else None


def comparisons(
    rows: tuple[Row, ...],
    theory: Mapping[str, float | None],
    drift: Mapping[str, Drift] | None = None,
) -> list[Comparison]:
    """Each variant against the first: MAC and params ratios, measured speedups (their
    intervals widened by each device's ``drift``), and the textbook ratio ``theory`` gives for
    the variant's name (from the cost model)."""
    base = rows[0]
    out = []
    for row in rows[1:]:
        speedup = {
            dev: Speedup.of(base.latency_ms[dev], lat, (drift or {}).get(dev))
            for dev, lat in row.latency_ms.items()
            if dev in base.latency_ms
        }
        out.append(
            Comparison(
                base.name,
                row.name,
                row.macs_analytic / base.macs_analytic,
                theory.get(row.name),
                row.params / base.params,
                speedup,
                _ratio(row.macs_traced, base.macs_traced),
            )
        )
    return out


@dataclass(frozen=True)
class CompareSet:
    """``compare --config``: one compare result per layer of a layers file, as one document."""

    source: str
    results: tuple[CompareResult, ...]
    schema: str = COMPARE_SET_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        first = self.results[0].environment if self.results else {}
        return {
            "schema": self.schema,
            "sepprof_version": first.get("sepprof", ""),
            "source": self.source,
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompareSet:
        return cls(d["source"], tuple(CompareResult.from_dict(r) for r in d["results"]))
