"""The store's schema (SQLAlchemy Core): a version table and three tables of runs, each run's
budgets and each budget's metrics. Every table is named ``sepprof_*``."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

STORE_NAME = "sepprof history"  # what the version table's row says: this is a sepprof store
SCHEMA_VERSION = 2  # bumped by each step in ``migrations.STEPS``

metadata = MetaData()

schema = Table(
    "sepprof_schema",
    metadata,
    Column("store", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
)

runs = Table(
    "sepprof_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("commit", String(80)),
    Column("branch", Text),
    Column("created", String(40), nullable=False),  # ISO 8601, UTC
    Column("machine", String(12), nullable=False),  # Machine.id: the hash of the four below
    Column("cpu", Text, nullable=False),
    Column("cores", Integer, nullable=False),
    Column("torch", Text, nullable=False),
    Column("device", Text, nullable=False),
    Column("sepprof", Text, nullable=False),
    Column("budget_file", Text, nullable=False),
    Column("passed", Boolean, nullable=False),
    Index("ix_sepprof_runs_branch_machine", "branch", "machine"),
)

budgets = Table(
    "sepprof_budgets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("sepprof_runs.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("config", Text, nullable=False),
    Column("variant", Text),
    Column("status", String(16), nullable=False),
)

metrics = Table(
    "sepprof_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("budget_id", Integer, ForeignKey("sepprof_budgets.id"), nullable=False, index=True),
    Column("metric", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("low", Float),  # the 95% interval of a timed metric (schema 2)
    Column("high", Float),
    Column("limit", Float),
    Column("status", String(16)),
)
