"""Typer wiring of results history: the ``history`` command, and the ``--history`` flags that
``check`` (keep this run) and ``report`` (add a history section) take, handed to them as one
``Kept`` value. The work is in ``sepprof.commands.history``; nothing here imports torch."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from sepprof.cli_options import Flags, emit, epilog, opt, options, shared, writable
from sepprof.errors import UserError

STORE = "an SQLite file (created when missing) or a postgresql:// URL"
OPTIONS: dict[str, tuple[Any, Any]] = {
    "history": (str | None, opt(None, "--history", "STORE", f"Keep this run in STORE: {STORE}.")),
    "commit": (str | None, opt(None, "--commit", "SHA", "The run's commit (default: git's HEAD).")),
    "branch": (
        str | None,
        opt(None, "--branch", "NAME", "The run's branch (default: GitHub's, else git's)."),
    ),
    "fail_on_change": (
        bool,
        opt(False, "--fail-on-change", "", "Exit 1 if a metric stepped the wrong way (see help)."),
    ),
}
REPORT_STORE = opt(None, "--history", "STORE", "Add MACs by commit and their steps from STORE.")


def read(store: str | None) -> Any:
    """The history a report shows (MACs), read before any measuring (None without a store)."""
    from sepprof.commands.history import history

    return None if store is None else history(store)


@dataclass(frozen=True)
class Kept:
    """The history flags a command was given."""

    store: str | None = None
    commit: str | None = None
    branch: str | None = None
    fail_on_change: bool = False

    def open(self) -> Any:
        """The store this run is kept in, opened before any measuring (None without one)."""
        given = [f for f, v in (("--commit", self.commit), ("--branch", self.branch)) if v]
        given += ["--fail-on-change"] if self.fail_on_change else []
        if given and self.store is None:
            raise UserError(f"{', '.join(given)}: needs --history STORE")
        if self.store is None:
            return None
        from sepprof.commands.history import open_for_check

        return open_for_check(self.store)

    def record(self, result: Any, opened: Any) -> Any:
        """``result`` kept in the store (with ``--fail-on-change``'s verdicts)."""
        if opened is None:
            return result
        from sepprof.commands.history import record

        try:
            run = dict(commit=self.commit, branch=self.branch, fail_on_change=self.fail_on_change)
            return record(result, opened, **run)
        finally:
            opened.close()


def history_flags(
    *names: str, **defaults: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the history options ``names`` to a command (``defaults`` replaces a declaration); it
    receives them as ``kept``."""
    return options(OPTIONS, names, defaults, "kept", _kept)


def _kept(values: dict[str, Any]) -> Any:
    return Kept(values.pop("history"), **values)


@shared("as_json", "wide")
def history(
    store: str = opt(..., "--history", "STORE", f"The store: {STORE}."),
    budget: str | None = opt(None, "--budget", "NAME", "Only this budget."),
    metric: str = opt("macs", "--metric", "METRIC", "macs, params, bytes, latency or speedup."),
    branch: str | None = opt(None, "--branch", "NAME", "Only runs on this branch."),
    last: int | None = opt(None, "--last", "N", "Only the last N runs."),
    changes: bool = opt(False, "--changes", "", "List the steps: where, how large (see help)."),
    plot: Path | None = opt(None, "--plot", "FILE.png", "Also draw the chart (.png or .svg)."),
    flags: Flags = None,  # type: ignore[assignment]
) -> None:
    """Every run that `check --history` kept: a metric per commit, oldest first, per budget
    (and per machine for latency and speedup), with its 95% interval, limit and decision.

    --changes lists the steps: exact metrics (MACs, params, bytes) wherever two runs differ;
    latency and speedup at change points (ruptures' PELT), saying whether a step is larger
    than the runs' intervals. --plot draws it, with the budget line and the steps marked."""
    from sepprof.commands import history as cmd
    from sepprof.render.history import history_view

    writable(("--plot", plot))
    timed_steps = changes or flags.as_json or plot is not None  # ruptures only when shown
    query = dict(budget=budget, metric=metric, branch=branch, last=last, timed_steps=timed_steps)
    result = cmd.history(store, **query)
    emit(result, flags.as_json, lambda r: history_view(r, changes, flags.wide))
    if plot is not None:
        print(f"chart written to {cmd.write_chart(result, plot)}", file=sys.stderr)


def register(app: typer.Typer) -> None:
    """Add ``history`` to the app."""
    examples = (
        "sepprof check budgets.yaml --history runs.db --fail-on-change",
        "sepprof history --history runs.db --changes --plot macs.png",
        "sepprof history --history postgresql://ci@db/sepprof --metric latency --last 50",
    )
    app.command(epilog=epilog(*examples))(history)
