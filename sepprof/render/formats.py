"""How numbers read in every renderer (console, markdown, JUnit): one function per kind of number,
so that the unit choice, the spread and the ratio wording are written once."""

from __future__ import annotations

from typing import Any

from sepprof.errors import console_text, markdown_text, printable
from sepprof.results.latency import Latency
from sepprof.results.ratios import Change
from sepprof.units import human, macs_to_flops

__all__ = ["console_text", "markdown_text", "printable"]  # user text, escaped per medium


def unit_name(units: str) -> str:
    """The column name of a count: ``MACs``, or ``FLOPs`` with ``--units flops``."""
    return "FLOPs" if units == "flops" else "MACs"


def count(value: int | None, units: str = "macs") -> str:
    """A MAC count in the chosen unit with four significant digits; None is ``n/a``."""
    if value is None:
        return "n/a"
    return human(macs_to_flops(value) if units == "flops" else value, 4)


def bound(value: int | None, complete: bool, units: str = "macs") -> str:
    """``count``, as ``≥ 3.846G`` when it is a lower bound (an op with no counting rule ran)."""
    text = count(value, units)
    return text if complete or value is None else f"≥ {text}"


def training_step(row: Any, units: str = "macs") -> str | None:
    """``training step 3.6M MACs = 1.2M forward + 2.4M backward (torch's counter agrees)``:
    ``--mode train``'s counts of a row, timed or not; None where the backward was not counted."""
    if row.macs_backward is None:
        return None
    unit = unit_name(units)
    complete = getattr(row, "complete", True)
    text = (
        f"training step {bound(row.macs_train, complete, units)} {unit} = "
        f"{bound(row.macs_analytic, complete, units)} forward + "
        f"{bound(row.macs_backward, complete, units)} backward"
    )
    peer = row.macs_backward_flop_counter
    if peer is None:
        return text
    if peer == row.macs_backward:
        return f"{text} (torch's counter agrees)"
    return f"{text} (torch's counter: {count(peer, units)} backward)"


def number(value: float | None, digits: int = 3) -> str:
    """A count (params, bytes, ops) with a K/M/G/T suffix."""
    return human(value, digits)


def spread(lat: Latency) -> str:
    """The relative IQR of a timing: ``±5%`` (empty for a zero median)."""
    return "" if lat.spread is None else f"±{100 * lat.spread:.0f}%"


def ms(lat: Latency | None) -> str:
    """``1.23 ±5%``: median milliseconds and the relative IQR of the rounds."""
    if lat is None:
        return "—"
    return f"{lat.median:.3g} {spread(lat)}".rstrip()


def share(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage: ``3.4%``; ``—`` when unknown."""
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def metric_value(metric: str, value: float | None) -> str:
    """``568.7M`` for counts, ``12.3 ms`` for latency, ``5.20x`` for speedup, ``+1.2%`` for
    regressions."""
    if value is None:
        return "n/a"
    if metric.startswith("latency_ms"):
        return f"{value:.3g} ms"
    if metric.startswith("speedup"):
        return f"{value:.2f}x"
    if metric.startswith("time_share"):
        return f"{value:.1%}"
    if metric.startswith("regression"):
        return f"{value:+.1%}"
    return human(value, 4)


def share_span(span: tuple[float, float] | None) -> str:
    """``, 95% 20.1%-25.7%``: a share's interval after the share (empty without one)."""
    return f", 95% {span[0]:.1%}-{span[1]:.1%}" if span else ""


def ratio(value: float | None) -> str:
    """Five significant digits, so that equal ratios print alike (0.07125, not 0.0712/0.0713)."""
    return "—" if value is None else f"{value:.5g}"


def headroom(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1%}"


VERDICT_WORDS = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "inconclusive": "INCONCLUSIVE"}


def change(c: Change | None, noun: str = "") -> str:
    """A count ratio in one direction: ``8.69x fewer MACs``, ``1.36x more params``."""
    if c is None:
        return "—"
    words = {
        "none": f"no {noun}",
        "same": f"same {noun}",
    }.get(c.direction, f"{c.factor:.2f}x {c.direction} {noun}")
    return words.strip()


def speed(c: Change | None, doubt: str = "") -> str:
    """A speedup in one direction: ``5.40x ± 0.07 faster`` or ``2.17x ± 0.05 slower``; with a
    ``doubt`` (contended, unstable) no verdict: ``no verdict (contended)``."""
    if doubt:
        return f"{doubt}: no verdict"
    if c is None:
        return "—"
    error = f" ± {c.error:.2f}" if c.error else ""
    return f"{c.factor:.2f}x{error}" + ("" if c.direction == "same" else f" {c.direction}")


def speed_of(comp: Any, device: str) -> str:
    """A comparison's speed on ``device`` (``—`` when not timed there)."""
    s = comp.speedup.get(device)
    return speed(comp.speed_change.get(device), s.doubt if s else "")


def verdict_on(comp: Any, device: str) -> str:
    """A headline's speed on ``device``: ``5.40x ± 0.07 faster on cpu``, or ``no speed verdict
    on cpu (unstable)`` when the timing cannot carry one."""
    doubt = comp.speedup[device].doubt
    if doubt:
        return f"no speed verdict on {device} ({doubt})"
    return f"{speed(comp.speed_change[device])} on {device}"


def why_no_verdict(comp: Any) -> list[str]:
    """Why each speed verdict withheld as unstable was withheld and what to do, one line per
    device: ``cpu unstable: per-round speedups spread 4.3x-6.1x (...); rerun on a quiet machine
    ...``. Contention is the machine's, said once per device with the other notes."""
    lines = []
    for device, s in comp.speedup.items():
        if s.doubt and s.doubt != "contended":
            detail = s.reason.partition(": ")[2]
            lines.append(f"{device} {s.doubt}: {detail}" if detail else f"{device}: {s.doubt}")
    return lines


MERGE_HEADER = ["machine", "device", "setup", "dtype", "threads", "variant", "MACs", "ms", "speed"]


def merge_cells(row: Any) -> list[str]:
    """One merged row (a ``results.MergedRow``) as the cells of ``MERGE_HEADER``."""
    timed = ms(Latency(row.median_ms, row.iqr_ms or 0.0, 0)) if row.median_ms else "—"
    return [
        row.machine,
        row.device,
        row.setup,
        row.dtype,
        str(row.threads or "—"),
        row.variant,
        change(row.macs_change),
        timed,
        speed(row.speed_change, "" if row.trusted else "contended, unstable or inconclusive"),
    ]


def rounds_of(lat: Latency | None) -> str:
    """``21 rounds (3 processes)``: how many rounds a latency pools, and from how many worker
    processes when more than one."""
    n = len(lat.rounds) if lat else 0
    processes = len(lat.processes) if lat else 0
    return f"{n} rounds" + (f" ({processes} processes)" if processes > 1 else "")
