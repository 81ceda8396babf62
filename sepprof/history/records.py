"""Runs in and out of a store: a run is written in the caller's one transaction (whole or not at
all); runs are read back oldest first, by branch, budget, metric and the last N."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Select, and_, func, insert, select

from sepprof.history.tables import budgets, metrics, runs
from sepprof.results.runs import BudgetRun, Machine, Run, Value

RUN_FIELDS = ("commit", "branch", "created", "sepprof", "budget_file", "passed")


def append(conn: Connection, run: Run) -> int:
    """Insert a run with its budgets and metrics; its id (runs are numbered in write order)."""
    machine = {"machine": run.machine.id, **vars(run.machine)}
    fields = {f: getattr(run, f) for f in RUN_FIELDS}
    run_id = conn.execute(insert(runs).values(**fields, **machine)).inserted_primary_key[0]
    for budget in run.budgets:
        row = {"run_id": run_id, "name": budget.name, "config": budget.config}
        row |= {"variant": budget.variant, "status": budget.status}
        budget_id = conn.execute(insert(budgets).values(**row)).inserted_primary_key[0]
        values = [_metric_row(budget_id, k, v) for k, v in budget.metrics.items()]
        if values:
            conn.execute(insert(metrics), values)
    return int(run_id)


def _metric_row(budget_id: int, key: str, value: Value) -> dict[str, Any]:
    return {"budget_id": budget_id, "metric": key, **vars(value)}


def last_run(conn: Connection, branch: str | None, machine: str) -> Run | None:
    """The latest run on ``branch`` (None: runs without one) and ``machine``."""
    same = runs.c.branch.is_(None) if branch is None else runs.c.branch == branch
    query = select(runs).where(same, runs.c.machine == machine)
    found = read_runs(conn, query.order_by(runs.c.id.desc()).limit(1))
    return found[0] if found else None


def selected(branch: str | None = None, last: int | None = None) -> Select:
    """The runs on ``branch`` (every branch when None), only the last ``last`` of them."""
    query = select(runs)
    if branch is not None:
        query = query.where(runs.c.branch == branch)
    if last is not None:
        return query.order_by(runs.c.id.desc()).limit(last)
    return query.order_by(runs.c.id)


def read_runs(
    conn: Connection, query: Select, budget: str | None = None, metric: str | None = None
) -> list[Run]:
    """The runs ``query`` selects, oldest first, with their budgets (only ``budget`` when
    given) and those budgets' metrics (only keys equal to ``metric``, or starting with it when
    it ends with a dot)."""
    rows = sorted(conn.execute(query).all(), key=lambda r: r.id)
    if not rows:
        return []
    ids = query.with_only_columns(runs.c.id).subquery()
    found = conn.execute(_budget_rows(select(ids.c.id), budget, metric)).all()
    by_run: dict[int, dict[int, BudgetRun]] = {r.id: {} for r in rows}
    for row in found:
        _add(by_run[row.run_id], row)
    return [_run(r, tuple(by_run[r.id].values())) for r in rows]


def _budget_rows(ids: Select, budget: str | None, metric: str | None) -> Select:
    """Budgets of the runs ``ids`` joined with their (matching) metrics, in write order."""
    on = metrics.c.budget_id == budgets.c.id
    if metric is not None:
        match = metrics.c.metric.startswith(metric, autoescape=True)
        on = and_(on, match if metric.endswith(".") else metrics.c.metric == metric)
    cols = [budgets.c.id.label("budget_id"), budgets.c.run_id, budgets.c.name, budgets.c.config]
    cols += [budgets.c.variant, budgets.c.status.label("budget_status")]
    cols += [metrics.c.metric, metrics.c.value, metrics.c.low, metrics.c.high]
    cols += [metrics.c.limit, metrics.c.status]
    query = select(*cols).select_from(budgets.outerjoin(metrics, on))
    query = query.where(budgets.c.run_id.in_(ids))
    if budget is not None:
        query = query.where(budgets.c.name == budget)
    return query.order_by(budgets.c.id, metrics.c.id)


def _add(budgets_of_run: dict[int, BudgetRun], row: Any) -> None:
    """Fold one joined row into its run's budgets."""
    budget = budgets_of_run.get(row.budget_id)
    if budget is None:
        plain = (row.name, row.config, row.variant, row.budget_status)
        budget = budgets_of_run[row.budget_id] = BudgetRun(*plain, {})
    if row.metric is not None:
        budget.metrics[row.metric] = Value(row.value, row.low, row.high, row.limit, row.status)


def _run(row: Any, kept: Iterable[BudgetRun]) -> Run:
    machine = Machine(row.cpu, row.cores, row.torch, row.device)
    plain = (row.commit, row.branch, row.created)
    return Run(*plain, machine, row.sepprof, row.budget_file, bool(row.passed), tuple(kept), row.id)


def budget_names(conn: Connection) -> list[str]:
    """Every budget name in the store, in the order first written."""
    query = select(budgets.c.name).group_by(budgets.c.name).order_by(func.min(budgets.c.id))
    return list(conn.execute(query).scalars())
