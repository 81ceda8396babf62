"""The history chart (matplotlib, Agg backend): one panel per series, the metric per commit
(oldest left) with its 95% interval where timed, the budget's limit as a dashed line, and each
step found marked between the two commits, with its size."""

from __future__ import annotations

import io
from typing import Any

from sepprof.render.history import commit_name, series_title, step_text
from sepprof.render.plots import _pyplot
from sepprof.results.changes import Change
from sepprof.results.history import HistoryResult
from sepprof.results.runs import Series
from sepprof.units import human

MAX_TICKS = 24  # commit labels on an axis; more runs are labelled every n-th
MAX_BARS = 60  # runs drawn with error bars; more are drawn as a band
BLUE = "#1f77b4"
LABELS = {"macs": "MACs", "params": "parameters", "bytes": "bytes moved"}


def history_png(result: HistoryResult, fmt: str = "png") -> bytes:
    """The chart as PNG (or SVG) bytes."""
    plt = _pyplot()
    panels = list(result.series) or [None]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8.4, 0.6 + 2.6 * len(panels)), squeeze=False)
    for ax, series in zip(axes[:, 0], panels, strict=True):
        if series is None:
            ax.text(0.5, 0.5, "no runs", ha="center", va="center", transform=ax.transAxes)
            continue
        steps = [c for c in result.changes if _same(series, c)]
        draw_series(ax, series, steps)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format=fmt, bbox_inches="tight", metadata=_metadata(fmt))
    plt.close(fig)
    return out.getvalue()


def _metadata(fmt: str) -> dict[str, Any]:
    return {"Date": None} if fmt == "svg" else {}


def _same(series: Series, change: Change) -> bool:
    return (change.budget, change.metric, change.machine) == (
        series.budget,
        series.metric,
        series.machine,
    )


def draw_series(ax: Any, series: Series, steps: list[Change]) -> None:
    """One series: values (and intervals), the limit, the steps, commit labels."""
    xs = list(range(len(series.points)))
    ys = [p.value.value for p in series.points]
    _values(ax, series, xs, ys)
    _limit(ax, series, xs)
    index = {p.run: i for i, p in enumerate(series.points)}
    for change in steps:
        _step(ax, index[change.after.run], change)
    _ticks(ax, series)
    ax.set_ylabel(_label(series.metric))
    ax.yaxis.set_major_formatter(_human_formatter())
    ax.set_title(series_title(series), fontsize=9, loc="left")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)


def _values(ax: Any, series: Series, xs: list[int], ys: list[float]) -> None:
    lows = [p.value.low if p.value.low is not None else p.value.value for p in series.points]
    highs = [p.value.high if p.value.high is not None else p.value.value for p in series.points]
    if not any(p.value.half_width for p in series.points):
        # an exact metric holds its value until the next run: drawn as steps between runs
        ax.plot(xs, ys, "o-", ms=3, lw=1, color=BLUE, drawstyle="steps-mid", label="per run")
    elif len(xs) <= MAX_BARS:
        below = [y - lo for y, lo in zip(ys, lows, strict=True)]
        above = [hi - y for y, hi in zip(ys, highs, strict=True)]
        bars = {"fmt": "o-", "ms": 3, "lw": 1, "capsize": 2, "color": BLUE}
        ax.errorbar(xs, ys, yerr=[below, above], **bars, label="median, 95% interval")
    else:
        ax.fill_between(xs, lows, highs, color=BLUE, alpha=0.25, lw=0, label="95% interval")
        ax.plot(xs, ys, "-", lw=0.8, color=BLUE, label="median")
    _view(ax, lows, highs, series)


def _view(ax: Any, lows: list[float], highs: list[float], series: Series) -> None:
    """The y range of the values; it takes in the budget's limit only where that is near (a
    far limit would flatten the values into a line), else the legend says it is off the chart."""
    low, high = min(lows), max(highs)
    span = (high - low) or abs(high) or 1.0
    limits = [p.value.limit for p in series.points if p.value.limit is not None]
    near = [v for v in limits if low - 2 * span <= v <= high + 2 * span]
    low, high = min([low, *near]), max([high, *near])
    pad = 0.08 * ((high - low) or span)
    ax.set_ylim(low - pad, high + pad)


def _limit(ax: Any, series: Series, xs: list[int]) -> None:
    """The budget's limit where it set one (a dashed step line: limits change with the file)."""
    limits = [p.value.limit for p in series.points]
    if all(v is None for v in limits):
        return
    kind = "max" if series.lower_is_better else "min"
    values = [float("nan") if v is None else v for v in limits]
    bottom, top = ax.get_ylim()
    shown = [v for v in values if bottom <= v <= top]
    last = next(v for v in reversed(limits) if v is not None)
    off = "" if shown else f" {human(last, 3)}, off the chart"
    label = f"budget ({kind}){off}"
    ax.step(xs, values, where="mid", color="#d62728", ls="--", lw=1.2, label=label)
    ax.set_ylim(bottom, top)  # drawing a far limit must not widen the view


def _step(ax: Any, after: int, change: Change) -> None:
    """A step between runs ``after - 1`` and ``after``: a vertical line and its size."""
    color = "#d62728" if change.worse else "#2ca02c"
    ax.axvline(after - 0.5, color=color, ls=":", lw=1.4)
    text = f"{step_text(change)} at {commit_name(change.after.commit)}"
    ax.annotate(
        text,
        (after - 0.5, 1),
        xycoords=("data", "axes fraction"),
        fontsize=7,
        color=color,
        xytext=(3, -12),
        textcoords="offset points",
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1},
    )


def _ticks(ax: Any, series: Series) -> None:
    every = max(1, -(-len(series.points) // MAX_TICKS))
    ticks = list(range(0, len(series.points), every))
    names = [commit_name(series.points[i].commit) for i in ticks]
    ax.set_xticks(ticks, names, rotation=40, ha="right", fontsize=7)
    ax.set_xlim(-0.6, len(series.points) - 0.4)
    ax.set_xlabel("commit (oldest first)", fontsize=8)


def _label(key: str) -> str:
    if key.startswith("latency_ms."):
        return f"latency ms ({key.split('.', 1)[1]})"
    if key.startswith("speedup."):
        return f"speedup x ({key.split('.', 1)[1]})"
    return LABELS.get(key, key)


def _human_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: human(v, 3))


def alt_text(result: HistoryResult) -> str:
    """What the chart shows, for a report's image."""
    steps = len(result.changes)
    return (
        f"Line charts, one per budget, of {result.query.get('metric')} over "
        f"{len(result.runs)} runs by commit, with the budget's limit dashed and {steps} "
        "step(s) marked by dotted lines."
    )
