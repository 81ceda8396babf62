"""How metric values read in every renderer (console, markdown, JUnit)."""

from __future__ import annotations

from typing import Any

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


def ratio(value: float | None) -> str:
    """Five significant digits, so that equal ratios print alike (0.07125, not 0.0712/0.0713)."""
    return "—" if value is None else f"{value:.5g}"


def headroom(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1%}"


VERDICT_WORDS = {"pass": "PASS", "fail": "FAIL", "warn": "WARN"}


def fewer(ratio: float, noun: str) -> str:
    """``8.69x fewer MACs`` for a ratio under 1, ``1.36x more MACs`` above it."""
    if ratio <= 0:
        return f"no {noun}"
    return f"{1 / ratio:.2f}x fewer {noun}" if ratio <= 1 else f"{ratio:.2f}x more {noun}"


def speed(value: float, error: float) -> str:
    """``5.40x ± 0.07 faster``, or ``2.17x ± 0.05 slower`` for a speedup under 1."""
    if value >= 1:
        return f"{value:.2f}x ± {error:.2f} faster"
    return f"{1 / value:.2f}x ± {error / value**2:.2f} slower"


MERGE_HEADER = [
    "machine",
    "device",
    "setup",
    "dtype",
    "threads",
    "variant",
    "MACs ×fewer",
    "ms",
    "speedup",
]


def merge_cells(row: Any) -> list[str]:
    """One merged row (a ``merging.MergedRow``) as the cells of ``MERGE_HEADER``."""
    timed = (
        f"{row.median_ms:.3g} ±{100 * row.iqr_ms / row.median_ms:.0f}%" if row.median_ms else "—"
    )
    speedup = "—"
    if row.speedup:
        speedup = f"{row.speedup:.2f}x" + (
            f" ± {row.speedup_error:.2f}" if row.speedup_error else ""
        )
    return [
        row.machine,
        row.device,
        row.setup,
        row.dtype,
        str(row.threads or "—"),
        row.variant,
        f"{1 / row.macs_ratio:.2f}x",
        timed,
        speedup,
    ]
