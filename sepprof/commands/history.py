"""``sepprof history`` and ``check --history``: every CI run kept in a store (an SQLite file or a
PostgreSQL URL), a metric's history read back with the commits where it stepped, and
``--fail-on-change`` (a run that stepped the wrong way since the last one on its branch and
machine fails). Imports no torch."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sepprof.environment import version
from sepprof.errors import UserError, printable
from sepprof.files import write_atomic
from sepprof.history.changes import find_changes, lower_is_better
from sepprof.history.records import append, budget_names, last_run, read_runs, selected
from sepprof.history.store import Store, open_store
from sepprof.results.changes import stepped_worse
from sepprof.results.check import CheckResult, Verdict
from sepprof.results.history import HistoryResult
from sepprof.results.runs import Machine, Run, Value, budget_values, is_timed, run_of_check
from sepprof.results.runs import series_of as runs_series
from sepprof.units import human

METRICS = {"macs": "macs", "params": "params", "bytes": "bytes"}
METRICS |= {"latency": "latency_ms.", "speedup": "speedup."}  # timed: one key per device
MAX_COMMIT = 80  # characters of --commit the store keeps


def open_for_check(store: str) -> Store:
    """The store ``check --history`` appends to, opened (created, migrated) before measuring,
    so that a store that cannot be used stops the run before its minutes of timing."""
    return open_store(store, create=True)


def history(
    store: str,
    *,
    budget: str | None = None,
    metric: str = "macs",
    branch: str | None = None,
    last: int | None = None,
    timed_steps: bool = True,
) -> HistoryResult:
    """One metric of every budget (or ``budget``) over the stored runs, oldest first, with the
    steps found in it (in a timed metric only with ``timed_steps``: that loads ruptures)."""
    key = metric_key(metric)
    if last is not None and last < 1:
        raise UserError(f"--last: must be >= 1 (got {last})")
    opened = open_store(store, create=False)
    try:
        names, runs = _read(opened, budget, key, branch, last)
    finally:
        opened.close()
    series = runs_series(runs, lower_is_better)
    searched = [s for s in series if timed_steps or not s.timed]
    changes = tuple(c for s in searched for c in find_changes(s))
    query = {"budget": budget, "metric": metric, "branch": branch, "last": last}
    head = (opened.name, opened.version, query, tuple(runs), series)
    return HistoryResult(*head, changes, version("sepprof") or "dev", tuple(names))


def metric_key(metric: str) -> str:
    """The stored key (or key prefix) of a ``--metric`` name."""
    if metric not in METRICS:
        raise UserError(f"--metric: unknown metric {metric!r} (valid: {', '.join(METRICS)})")
    return METRICS[metric]


def _read(
    store: Store, budget: str | None, key: str, branch: str | None, last: int | None
) -> tuple[list[str], list[Run]]:
    """The store's budget names and the selected runs (none from an empty store)."""
    if not store.version:
        return [], []
    with store.reading() as conn:
        names = budget_names(conn)
        if budget is not None and budget not in names:
            known = ", ".join(map(repr, names)) or "none yet"
            raise UserError(f"--budget: no budget {budget!r} in {store.shown} (budgets: {known})")
        return names, read_runs(conn, selected(branch, last), budget, key)


def record(
    result: CheckResult,
    store: Store,
    *,
    commit: str | None = None,
    branch: str | None = None,
    fail_on_change: bool = False,
) -> CheckResult:
    """Append ``result`` to the store as one run (in one transaction); with ``fail_on_change``,
    first add a failing verdict for each metric that stepped the wrong way since the last run
    on the same branch and machine."""
    commit = _commit(commit)
    branch = branch or default_branch()
    machine = machine_of(result.environment)
    with store.writing() as conn:
        previous = last_run(conn, branch, machine.id) if fail_on_change else None
        result = _judged(result, previous, commit) if fail_on_change else result
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        run_id = append(conn, run_of_check(result, commit, branch, machine, created))
    line = (
        f"history: run {run_id} ({_name(commit)} on {branch or 'no branch'}) kept in {store.name}"
    )
    return replace(result, messages=(*result.messages, line))


def _judged(result: CheckResult, previous: Run | None, commit: str | None) -> CheckResult:
    """``result`` with ``--fail-on-change``'s verdicts and a line saying what it compared with."""
    if previous is None:
        note = "history: no earlier run on this branch and machine; nothing to compare with"
        return replace(result, messages=(*result.messages, note))
    verdicts = change_verdicts(result, previous, commit)
    note = (
        f"history: compared with run {previous.id} ({_name(previous.commit)}): "
        f"{len(verdicts)} metric(s) stepped the wrong way"
    )
    messages = (*result.messages, note)
    return replace(result, verdicts=(*result.verdicts, *verdicts), messages=messages)


def change_verdicts(result: CheckResult, previous: Run, commit: str | None) -> list[Verdict]:
    """A failing verdict per metric that stepped the wrong way since ``previous``: an exact one
    that rose at all, a timed one whose 95% interval now lies wholly on the worse side."""
    out = []
    for name in result.metrics:
        before = previous.budget(name)
        if before is None:
            continue
        for key, now in budget_values(result, name).items():
            was = before.metrics.get(key)
            if was is not None and stepped_worse(was, now, is_timed(key), lower_is_better(key)):
                out.append(_verdict(name, key, was, now, (previous, commit)))
    return out


def _verdict(budget: str, key: str, was: Value, now: Value, commits: tuple[Run, Any]) -> Verdict:
    previous, commit = commits
    change = f"{(now.value / was.value - 1):+.1%}" if was.value else "from 0"
    rule = "its 95% intervals separate" if is_timed(key) else "any rise fails"
    note = (
        f"{_shown(key, was)} at {_name(previous.commit)} (run {previous.id}), "
        f"{_shown(key, now)} at {_name(commit)}: {change}; {rule} with --fail-on-change"
    )
    return Verdict(budget, f"{key} change", was.value, now.value, None, "fail", note)


def _shown(key: str, value: Value) -> str:
    unit = " ms" if key.startswith("latency_ms.") else "x" if key.startswith("speedup.") else ""
    if value.low is None or value.high is None:
        return f"{human(value.value, 4)}{unit}"
    return f"{human(value.value, 4)}{unit} [{human(value.low, 4)}, {human(value.high, 4)}]"


def _name(commit: str | None) -> str:
    return f"commit {printable(commit)}" if commit else "no commit"


def machine_of(environment: dict[str, Any]) -> Machine:
    """This machine's fingerprint: CPU model, cores, torch version, device (the GPU's name
    when one was used, else cpu)."""
    cpu = str(environment.get("cpu") or "unknown")
    torch = str(environment.get("torch") or "none")
    return Machine(cpu, os.cpu_count() or 0, torch, str(environment.get("gpu") or "cpu"))


def _commit(commit: str | None) -> str | None:
    """``--commit``, else ``git rev-parse HEAD`` where this is a git checkout."""
    if commit is not None and not 0 < len(commit) <= MAX_COMMIT:
        raise UserError(f"--commit: must be 1 to {MAX_COMMIT} characters (got {len(commit)})")
    return commit or git("rev-parse", "HEAD")


def default_branch() -> str | None:
    """The branch of this run: GitHub's (a pull request's source), else git's current one."""
    for name in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"):
        if os.environ.get(name):
            return os.environ[name]
    found = git("rev-parse", "--abbrev-ref", "HEAD")
    return found if found != "HEAD" else None


def git(*args: str) -> str | None:
    """What a git command prints, or None (not a checkout, no git)."""
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else None


def write_chart(result: HistoryResult, path: Path) -> Path:
    """The history chart as a PNG at ``path`` (written atomically)."""
    from sepprof.render.history_chart import history_png

    keep_matplotlib_cache()
    fmt = "svg" if path.suffix.lower() == ".svg" else "png"
    return write_atomic(path, history_png(result, fmt), "--plot")


def keep_matplotlib_cache() -> None:
    """matplotlib's config and font cache in sepprof's cache folder, not the user's home."""
    from sepprof.timing.calibration import cache_dir

    os.environ.setdefault("MPLCONFIGDIR", str(cache_dir() / "matplotlib"))
