"""Rich output for people: the console, and the cells and footer every table shares.

Renderers format finished results; they compute nothing. Each command's view lives in a module
named after it (``render/compare.py``, ``render/profile.py``, ...); they are also reachable from
here (``console.compare_view``) for callers written before the split.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterable
from importlib import import_module
from typing import Any

from rich.console import Console, RenderableType
from rich.text import Text

from sepprof.render.fit import FitTable, new_table
from sepprof.render.formats import count, number, spread
from sepprof.results import Latency, Row

__all__ = ["FitTable", "count", "new_table"]


_VIEWS = {
    "compare_view": "sepprof.render.compare",
    "profile_view": "sepprof.render.profile",
    "sweep_view": "sepprof.render.sweep",
    "check_view": "sepprof.render.check",
    "merge_view": "sepprof.render.merge",
    "calibration_view": "sepprof.render.calibrate",
}


def __getattr__(name: str) -> Any:
    if name in _VIEWS:
        return getattr(import_module(_VIEWS[name]), name)
    raise AttributeError(f"module 'sepprof.render.console' has no attribute {name!r}")


class _Uncropped(Console):
    """A console that never crops a line at the terminal's width: tables fit it by themselves,
    and ``--wide`` asks for lines longer than the terminal (the terminal wraps them)."""

    def print(self, *objects: Any, crop: bool = False, **kwargs: Any) -> None:
        super().print(*objects, crop=crop, **kwargs)


def console(stderr: bool = False) -> Console:
    """A console that follows NO_COLOR and the terminal, and is wide enough when piped."""
    stream = sys.stderr if stderr else sys.stdout
    wide = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    return _Uncropped(file=stream, width=wide, highlight=False)


def to_text(renderable: RenderableType, width: int = 160) -> str:
    """Render to plain text (tests, markdown code blocks) at ``width`` columns."""
    buf = io.StringIO()
    out = Console(file=buf, width=width, no_color=True, highlight=False, color_system=None)
    out.print(renderable, crop=False)
    return buf.getvalue()


UNSTABLE = "* unstable: the rounds split into two clusters"


def ms(lat: Latency | None) -> Text:
    """``1.23 ±5%``, marked ``*`` when the rounds split into two clusters (see ``UNSTABLE``)."""
    if lat is None:
        return Text("—", style="dim")
    text = Text(f"{lat.median:.3g} {spread(lat)}".rstrip())
    if lat.unstable:
        text.append("*", style="bold yellow")
    return text


def unstable_note(rows: Iterable[Row]) -> list[Text]:
    """The legend of the ``*`` mark, when any timing (of a row or its stages) carries it."""
    flat = [x for row in rows for x in (row, *row.stages)]
    marked = any(lat.unstable for row in flat for lat in row.latency_ms.values())
    return [Text(UNSTABLE, style="yellow")] if marked else []


def traced_cell(row: Row, units: str) -> Text:
    """✓ when the tracer and its peers (torch's counter, fvcore) agree with the analytic MACs,
    else the first count that differs, named by who counted it."""
    if row.traced_ok is None:
        return Text("—", style="dim")
    if row.traced_ok:
        return Text("✓", style="green")
    counts = (("", row.macs_traced), ("torch ", row.macs_flop_counter))
    counts += (("fvcore ", row.macs_fvcore),)
    for who, macs in counts:
        if macs is not None and macs != row.macs_analytic:
            return Text(f"✗ {who}{count(macs, units)}", style="bold red")
    return Text(f"✗ params {number(row.params_traced)}", style="bold red")


def devices_of(rows: Iterable[Row]) -> list[str]:
    """The devices any row was timed on, in first-seen order."""
    seen: list[str] = []
    for row in rows:
        seen += [d for d in row.latency_ms if d not in seen]
    return seen


def traced_any(rows: Iterable[Row]) -> bool:
    return any(row.traced_ok is not None for row in rows)


def uncounted(rows: Iterable[Row]) -> Text | None:
    """The ops the tracer could not count, by name; None when every op was counted."""
    ops: dict[str, int] = {}
    for row in rows:
        for name, n in row.uncounted_ops.items():
            ops[name] = ops.get(name, 0) + n
    if not ops:
        return None
    listed = ", ".join(f"{k} ×{v}" for k, v in sorted(ops.items()))
    return Text(
        f"ops the tracer could not count (rows that ran them keep what was counted and are a "
        f"lower bound, ≥; n/a only where nothing was, never 0): {listed}",
        style="yellow",
    )


def footer(rows: Iterable[Row], notes: Iterable[str], rule: str) -> list[Text]:
    """What closes every result: uncounted ops by name, the notes, the counting rule."""
    extra = uncounted(rows)
    return [
        *([extra] if extra else []),
        *(Text(n, style="dim") for n in notes),
        *([Text(rule, style="dim")] if rule else []),
    ]
