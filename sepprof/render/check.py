"""What ``sepprof check`` prints: one row per budget metric, then how many failed."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from sepprof.errors import console_text
from sepprof.render.fit import new_table
from sepprof.render.formats import VERDICT_WORDS, headroom, metric_value
from sepprof.results import CheckResult

STYLES = {"pass": "green", "fail": "bold red", "warn": "yellow", "inconclusive": "yellow"}


def check_view(result: CheckResult, wide: bool = False) -> RenderableType:
    """The budget table: budget, metric, limit, actual, headroom, verdict; notes under it."""
    table = new_table(f"Budgets in {console_text(result.budget_file)}", wide)
    table.add_column("budget")
    table.add_column("metric", no_wrap=True)
    for name in ("limit", "actual", "headroom"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for v in result.verdicts:
        table.add_row(
            console_text(v.budget),  # user text: no markup, no control codes
            v.metric,
            metric_value(v.metric, v.limit),
            metric_value(v.metric, v.actual),
            headroom(v.headroom),
            Text(VERDICT_WORDS[v.status] + ("*" if v.note else ""), style=STYLES[v.status]),
        )
    notes = [
        Text(f"* {v.budget}, {v.metric}: {v.note}", style="dim") for v in result.verdicts if v.note
    ]
    summary = Text(f"{len(result.verdicts)} checks: ", style="bold")
    summary.append(f"{result.failed} failed", style="bold red" if result.failed else "green")
    summary.append(f", {result.warned} warnings" if result.warned else "")
    summary.append(f", {result.inconclusive} inconclusive" if result.inconclusive else "")
    return Group(table, *notes, summary)
