"""What ``sepprof history`` prints: a table per series (the metric per commit, oldest first, its
95% interval where timed, the budget's limit and decision, and the step that landed on a run),
the steps found with ``--changes``; and the history section of a report (markdown)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from sepprof.errors import console_text, markdown_text, printable
from sepprof.render.fit import new_table
from sepprof.render.formats import metric_value
from sepprof.results.changes import Change
from sepprof.results.history import HistoryResult
from sepprof.results.runs import Point, Series

STYLES = {"pass": "green", "fail": "bold red", "warn": "yellow", "inconclusive": "yellow"}
NAMES = {"macs": "MACs", "params": "params", "bytes": "bytes", "latency": "latency"}
NAMES |= {"speedup": "speedup"}
TABLE_ROWS = 40  # runs a series' table shows unless --last is given (JSON and charts: all)


def commit_name(commit: str | None) -> str:
    """A commit as tables show it: a full hash cut to 10 characters."""
    if not commit:
        return "—"
    return commit[:10] if len(commit) == 40 else commit


def series_title(series: Series) -> str:
    where = f" on {series.machine.describe()}" if series.machine else ""
    return f"{series.budget}: {series.metric}{where}"


def interval(key: str, point: Point) -> str:
    v = point.value
    if v.low is None or v.high is None:
        return "—"
    return f"{metric_value(key, v.low)} – {metric_value(key, v.high)}"


def step_text(change: Change | None) -> str:
    """``+30.6% up`` (``from 0``: no relative size)."""
    if change is None:
        return ""
    size = f"{change.relative:+.1%}" if change.relative is not None else "from 0"
    return f"{size} {'worse' if change.worse else 'better'}"


def history_view(
    result: HistoryResult, changes: bool = False, wide: bool = False
) -> RenderableType:
    """A table per series, then (``changes``) the steps found."""
    what = NAMES.get(result.query.get("metric", ""), result.query.get("metric", ""))
    head = Text(f"History of {what} in {printable(result.store)}: ", style="bold")
    head.append(f"{len(result.runs)} runs" + _filters(result))
    if not result.runs:
        hint = "'sepprof check BUDGETS --history STORE' keeps one per run"
        return Group(head, Text(f"No runs yet: {hint}.", style="dim"))
    if not result.series:
        return Group(head, Text(f"No budget recorded {what} in these runs.", style="dim"))
    parts: list[RenderableType] = [head]
    parts += [_series_table(s, result, wide) for s in result.series]
    if changes:
        parts.append(changes_table(result, wide))
    return Group(*parts)


def _filters(result: HistoryResult) -> str:
    q = result.query
    said = [f"budget {q['budget']}" if q.get("budget") else ""]
    said += [f"branch {q['branch']}" if q.get("branch") else ""]
    said += [f"the last {q['last']}" if q.get("last") else ""]
    shown = ", ".join(printable(s) for s in said if s)
    return f" ({shown})" if shown else ""


def _series_table(series: Series, result: HistoryResult, wide: bool) -> RenderableType:
    landed = {c.after.run: c for c in result.changes if _owns(series, c)}
    timed = any(p.value.low is not None for p in series.points)
    table = new_table(console_text(series_title(series)), wide)
    table.add_column("run", justify="right", no_wrap=True)
    table.add_column("commit", no_wrap=True)
    table.add_column("branch", priority=2)
    table.add_column("date", no_wrap=True, priority=3)
    table.add_column(series.metric, justify="right", no_wrap=True)
    if timed:
        table.add_column("95% interval", justify="right", no_wrap=True)
    table.add_column("limit", justify="right", no_wrap=True, priority=1)
    table.add_column("decision", no_wrap=True, priority=1)
    table.add_column("step", no_wrap=True)
    shown = series.points if result.query.get("last") else series.points[-TABLE_ROWS:]
    for p in shown:
        table.add_row(*_cells(series, p, timed, landed.get(p.run)))
    if len(shown) == len(series.points):
        return table
    left = len(series.points) - len(shown)
    note = f"the {left} older runs are not shown: --last N shows N runs, --json and --plot all"
    return Group(table, Text(note, style="dim"))


def _cells(series: Series, p: Point, timed: bool, change: Change | None) -> list[str | Text]:
    key, status = series.metric, p.value.status
    cells: list[str | Text] = [str(p.run), console_text(commit_name(p.commit))]
    cells += [console_text(p.branch or "—"), p.created[:16].replace("T", " ")]
    cells.append(metric_value(key, p.value.value))
    cells += [interval(key, p)] if timed else []
    cells.append(metric_value(key, p.value.limit) if p.value.limit is not None else "—")
    cells.append(Text(status, style=STYLES.get(status, "")) if status else Text("—"))
    style = "" if change is None else "bold red" if change.worse else "green"
    cells.append(Text(step_text(change), style=style))
    return cells


def _owns(series: Series, change: Change) -> bool:
    return (change.budget, change.metric, change.machine) == (
        series.budget,
        series.metric,
        series.machine,
    )


def changes_table(result: HistoryResult, wide: bool = False) -> RenderableType:
    """Each step: where (commit before and after), from and to, size, and for timed metrics
    whether it is larger than the runs' intervals."""
    if not result.changes:
        return Text(f"No steps found in {len(result.series)} series.", style="dim")
    table = new_table("Steps (--changes)", wide)
    for name in ("budget", "metric", "before", "after"):
        table.add_column(name, no_wrap=name != "budget")
    for name in ("from", "to", "step"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("beyond intervals", no_wrap=True, priority=1)
    for c in result.changes:
        table.add_row(*map(console_text, change_cells(c)))
    return table


def change_cells(c: Change) -> list[str]:
    """A step's cells, as plain text (each view escapes them for its format)."""
    beyond = {True: "yes", False: "no", None: "—"}[c.beyond_intervals]
    cells = [c.budget, c.metric, commit_name(c.before.commit), commit_name(c.after.commit)]
    cells += [metric_value(c.metric, c.from_value), metric_value(c.metric, c.to_value)]
    return [*cells, step_text(c), beyond]


def history_markdown(result: HistoryResult, images: dict[str, tuple[str, str]]) -> str:
    """The report's history section: the chart and the steps found."""
    what = NAMES.get(result.query.get("metric", ""), "")
    parts = [f"## History: {what} by commit\n\n"]
    parts.append(f"{len(result.runs)} runs in `{markdown_text(result.store)}`.\n\n")
    if "history" in images:
        png, alt = images["history"]
        svg = png.removesuffix(".png") + ".svg"
        parts.append(f"![{alt}]({png})\n\n<sub>[SVG]({svg})</sub>\n\n")
    if not result.changes:
        return "".join(parts) + "No steps found.\n\n"
    header = "| budget | metric | before | after | from | to | step | beyond intervals |\n"
    header += "| :--- | :--- | :--- | :--- | ---: | ---: | ---: | :--- |\n"
    rows = [f"| {' | '.join(map(markdown_text, change_cells(c)))} |\n" for c in result.changes]
    return "".join(parts) + header + "".join(rows) + "\n"
