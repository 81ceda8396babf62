"""Backends and modes side by side: the worked example and a network timed on each backend
(eager, compile, onnxruntime) for inference and a training step, for the report's section and
its claim "do specialised kernels change the verdict?"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sepprof.results.latency import Speedup

BACKENDS_SCHEMA = "sepprof.backends/1"


@dataclass(frozen=True)
class BackendRun:
    """One subject (the worked example, a network) timed on one backend in one mode."""

    subject: str
    backend: str
    mode: str
    device: str
    latency_ms: dict[str, float]
    speedup: Speedup | None = None
    macs_ratio: float | None = None
    compile_seconds: float | None = None
    notes: tuple[str, ...] = ()

    @property
    def setup(self) -> str:
        return f"{self.backend} {self.mode}"

    @property
    def realised(self) -> float | None:
        """Fraction of the MAC cut that shows up as speed (speedup x MAC ratio; 1.0 = all)."""
        if self.speedup is None or self.macs_ratio is None:
            return None
        return self.speedup.value * self.macs_ratio

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "backend": self.backend,
            "mode": self.mode,
            "device": self.device,
            "latency_ms": dict(self.latency_ms),
            "speedup": self.speedup.to_dict() if self.speedup else None,
            "macs_ratio": self.macs_ratio,
            "realised": self.realised,
            "compile_seconds": self.compile_seconds,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BackendRun:
        speedup = d.get("speedup")
        return cls(
            d["subject"],
            d["backend"],
            d["mode"],
            d["device"],
            {k: float(v) for k, v in d.get("latency_ms", {}).items()},
            Speedup.from_dict(speedup) if speedup else None,
            d.get("macs_ratio"),
            d.get("compile_seconds"),
            tuple(d.get("notes", ())),
        )


@dataclass(frozen=True)
class BackendMatrix:
    """Every run, and each backend/mode left out with the reason (no compiler, no ORT)."""

    runs: tuple[BackendRun, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    schema: str = BACKENDS_SCHEMA

    def of(self, subject: str) -> tuple[BackendRun, ...]:
        return tuple(r for r in self.runs if r.subject == subject)

    def speedup_over_eager(self, run: BackendRun, name: str) -> float | None:
        """How much faster ``name`` ran on ``run``'s backend than eager in the same mode."""
        eager = next(
            (
                r
                for r in self.runs
                if r.subject == run.subject and r.mode == run.mode and r.backend == "eager"
            ),
            None,
        )
        if eager is None or not run.latency_ms.get(name) or name not in eager.latency_ms:
            return None
        return eager.latency_ms[name] / run.latency_ms[name]

    def over_eager(self, run: BackendRun) -> dict[str, float]:
        """Each timed item's speedup over eager in the same mode."""
        ratios = {n: self.speedup_over_eager(run, n) for n in run.latency_ms}
        return {n: r for n, r in ratios.items() if r is not None}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "runs": [{**r.to_dict(), "over_eager": self.over_eager(r)} for r in self.runs],
            "skipped": dict(self.skipped),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BackendMatrix:
        runs = tuple(BackendRun.from_dict(r) for r in d.get("runs", ()))
        return cls(runs, dict(d.get("skipped", {})))
