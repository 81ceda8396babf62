"""How metric values read in every renderer (console, markdown, JUnit)."""

from __future__ import annotations

from sepprof.units import human


def metric_value(metric: str, value: float | None) -> str:
    """``568.7M`` for counts, ``12.3 ms`` for latency, ``5.20x`` for speedup, ``+1.2%`` for
    regressions."""
    if value is None:
        return "n/a"
    if metric.startswith("latency_ms"):
        return f"{value:.3g} ms"
    if metric.startswith("speedup"):
        return f"{value:.2f}x"
    if metric.startswith("regression"):
        return f"{value:+.1%}"
    return human(value, 4)


def headroom(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1%}"


VERDICT_WORDS = {"pass": "PASS", "fail": "FAIL", "warn": "WARN"}
