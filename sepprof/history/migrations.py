"""Each schema version's step, in order. A new store gets the current schema at once; a store at
version N opens with this sepprof after steps N+1 .. ``SCHEMA_VERSION`` run, in one transaction
with the version's update (a failed step leaves it at N). Steps use Alembic's operations, so
each is written once for SQLite and PostgreSQL.

- 1: runs, budgets, metrics (value, limit, decision).
- 2: the 95% interval of timed metrics (``sepprof_metrics.low``, ``.high``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Connection, Float, insert, update

from sepprof.history.tables import SCHEMA_VERSION, STORE_NAME, metadata, schema


def _intervals(ops: Any) -> None:
    """2: the 95% interval (low, high) of timed metrics; older runs have none."""
    ops.add_column("sepprof_metrics", Column("low", Float))
    ops.add_column("sepprof_metrics", Column("high", Float))


STEPS: dict[int, Callable[[Any], None]] = {2: _intervals}


def create(conn: Connection) -> None:
    """The current schema, and the row that makes it a sepprof store."""
    metadata.create_all(conn)
    conn.execute(insert(schema).values(store=STORE_NAME, version=SCHEMA_VERSION))


def upgrade(conn: Connection, found: int) -> None:
    """Run the steps after version ``found``, then record the current version."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    ops = Operations(MigrationContext.configure(conn))
    for version in range(found + 1, SCHEMA_VERSION + 1):
        STEPS[version](ops)
    conn.execute(update(schema).where(schema.c.store == STORE_NAME).values(version=SCHEMA_VERSION))
