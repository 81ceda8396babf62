"""Stores that cannot be used are one line, exit 2, and left as they were; an old schema migrates,
a newer one is refused; a locked store waits, then says so."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    select,
    update,
)
from test_history import MACS_224, project


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error_line(run, *parts: str) -> None:
    assert run.code == 2, run.err
    assert run.err.count("\n") == 1 and run.err.startswith("error: "), run.err
    assert "Traceback" not in run.err
    for part in parts:
        assert part in run.err, run.err


JUNK = [
    pytest.param(b"not a database, just some text\n" * 40, id="text"),
    pytest.param(bytes(range(256)) * 8, id="binary"),
    pytest.param(b"SQLite format 3\x00" + b"\xff" * 4000, id="bad-header"),
]


@pytest.mark.parametrize("content", JUNK)
def test_a_junk_file_is_one_line_exit_2_and_unchanged(cli, tmp_path, content):
    junk = tmp_path / "runs.db"
    junk.write_bytes(content)
    before = digest(junk)
    budgets = project(tmp_path)
    problem = f"--history {junk}: not a sepprof store (not an SQLite database)"
    one_error_line(cli("check", budgets, "--history", junk), problem)
    one_error_line(cli("history", "--history", junk), problem)
    assert digest(junk) == before
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["budgets.yaml", "layers.yaml", "one.yaml", "runs.db"]


def test_a_corrupt_store_is_one_line_exit_2_and_unchanged(cli, tmp_path):
    store = tmp_path / "runs.db"
    budgets = project(tmp_path)
    assert cli("check", budgets, "--history", store).code == 0
    with open(store, "r+b") as f:
        f.seek(100)  # past SQLite's header, into the first page
        f.write(b"\xff" * 3000)
    before = digest(store)
    one_error_line(cli("history", "--history", store), "corrupt SQLite database (database disk")
    one_error_line(cli("check", budgets, "--history", store), "corrupt SQLite database")
    assert digest(store) == before


def test_an_sqlite_database_of_something_else_is_refused_and_unchanged(cli, tmp_path):
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('ada')")
    before = digest(other)
    run = cli("check", project(tmp_path), "--history", other)
    one_error_line(run, "not a sepprof store (it holds other tables: users)")
    assert digest(other) == before


def test_paths_that_are_not_stores(cli, tmp_path):
    one_error_line(cli("history", "--history", tmp_path / "none.db"), "none.db: file not found")
    assert not (tmp_path / "none.db").exists()  # reading never creates a store
    one_error_line(cli("history", "--history", tmp_path), "is a directory, not an SQLite file")
    missing = tmp_path / "no" / "runs.db"
    one_error_line(cli("check", project(tmp_path), "--history", missing), "folder")
    run = cli("history", "--history", "mysql://u@h/db")
    one_error_line(run, "not a store (SQLite files and postgresql:// URLs are)")


def test_a_server_that_does_not_answer_is_one_line_with_the_password_hidden(cli, tmp_path):
    url = f"postgresql://ci:s3cret@/sepprof?host={tmp_path}&connect_timeout=2"
    run = cli("history", "--history", url)
    one_error_line(run, "cannot connect", "ci:***@")
    assert "s3cret" not in run.err


def test_an_empty_store_says_there_are_no_runs_yet(cli, tmp_path):
    empty = tmp_path / "runs.db"
    empty.write_bytes(b"")
    run = cli("history", "--history", empty)
    assert run.code == 0 and "0 runs" in run.out and "No runs yet" in run.out
    assert empty.read_bytes() == b""  # reading an empty store does not create one
    assert cli("history", "--history", empty, "--json").json()["runs"] == []


def test_bad_flags_are_one_line(cli, tmp_path):
    store = str(tmp_path / "runs.db")
    budgets = project(tmp_path)
    one_error_line(cli("check", budgets, "--fail-on-change"), "--fail-on-change: needs --history")
    one_error_line(cli("check", budgets, "--commit", "abc"), "--commit: needs --history")
    one_error_line(cli("check", budgets, "--history", store, "--commit", "x" * 81), "--commit")
    assert cli("check", budgets, "--history", store).code == 0
    one_error_line(cli("history", "--history", store, "--metric", "flops"), "--metric")
    one_error_line(cli("history", "--history", store, "--last", "0"), "--last: must be >= 1")


def v1_store(url: str) -> None:
    """A store as sepprof's schema 1 wrote it (no interval columns), with one run: the tables
    written out here as that version had them, not taken from sepprof."""
    meta = MetaData()
    Table(
        "sepprof_schema",
        meta,
        Column("store", String(40), primary_key=True),
        Column("version", Integer, nullable=False),
    )
    runs = [Column("id", Integer, primary_key=True), Column("commit", String(80))]
    runs += [Column(n, Text) for n in ("branch",)] + [Column("created", String(40))]
    runs += [Column("machine", String(12)), Column("cpu", Text), Column("cores", Integer)]
    runs += [Column(n, Text) for n in ("torch", "device", "sepprof", "budget_file")]
    Table("sepprof_runs", meta, *runs, Column("passed", Boolean))
    Table(
        "sepprof_budgets",
        meta,
        Column("id", Integer, primary_key=True),
        Column("run_id", Integer, ForeignKey("sepprof_runs.id")),
        Column("name", Text),
        Column("config", Text),
        Column("variant", Text),
        Column("status", String(16)),
    )
    Table(
        "sepprof_metrics",
        meta,
        Column("id", Integer, primary_key=True),
        Column("budget_id", Integer, ForeignKey("sepprof_budgets.id")),
        Column("metric", String(64)),
        Column("value", Float),
        Column("limit", Float),
        Column("status", String(16)),
    )
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        meta.create_all(conn)
        t = meta.tables
        conn.execute(insert(t["sepprof_schema"]).values(store="sepprof history", version=1))
        machine = dict(machine="0" * 12, cpu="old cpu", cores=2, torch="2.2", device="cpu")
        run = {"commit": "old", "branch": "main", "created": "2025-01-01T00:00:00+00:00"}
        run |= {"sepprof": "0.0.9", "budget_file": "b.yaml", "passed": True, **machine}
        run_id = conn.execute(insert(t["sepprof_runs"]).values(**run)).inserted_primary_key[0]
        budget = {"run_id": run_id, "name": "net", "config": "one.yaml", "status": "pass"}
        budget_id = conn.execute(
            insert(t["sepprof_budgets"]).values(**budget)
        ).inserted_primary_key[0]
        metric = {"metric": "macs", "value": MACS_224, "limit": 20e6, "status": "pass"}
        conn.execute(insert(t["sepprof_metrics"]).values(budget_id=budget_id, **metric))
    engine.dispose()


def url_of(store: str) -> str:
    return store if "://" in store else f"sqlite:///{store}"


def test_an_old_schema_store_migrates_and_keeps_its_runs(cli, tmp_path, history_store):
    v1_store(url_of(history_store))
    doc = cli("history", "--history", history_store, "--json").json()
    assert doc["store_schema"] == 2
    (run,) = doc["runs"]
    assert (run["commit"], run["sepprof"], run["machine"]["cpu"]) == ("old", "0.0.9", "old cpu")
    assert run["budgets"][0]["metrics"]["macs"] == {
        "value": MACS_224,
        "low": None,
        "high": None,
        "limit": 20e6,
        "status": "pass",
    }
    engine = create_engine(url_of(history_store).replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("sepprof_metrics")}
        version = conn.execute(
            select(Table("sepprof_schema", MetaData(), autoload_with=conn).c.version)
        ).scalar()
    engine.dispose()
    assert {"low", "high"} <= columns and version == 2
    budgets = project(tmp_path)
    assert cli("check", budgets, "--history", history_store, "--commit", "new").code == 0
    doc = cli("history", "--history", history_store, "--json").json()
    assert [r["commit"] for r in doc["runs"]] == ["old", "new"]


def test_a_newer_schema_store_is_refused_and_unchanged(cli, tmp_path, history_store):
    v1_store(url_of(history_store))
    engine = create_engine(url_of(history_store).replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        table = Table("sepprof_schema", MetaData(), autoload_with=conn)
        conn.execute(update(table).values(version=7))
    engine.dispose()
    before = digest(tmp_path / "runs.db") if "://" not in history_store else None
    for run in (
        cli("history", "--history", history_store),
        cli("check", project(tmp_path), "--history", history_store),
    ):
        one_error_line(run, "written by a newer sepprof (store schema 7", "upgrade sepprof")
    if before is not None:
        assert digest(tmp_path / "runs.db") == before


def test_a_store_locked_past_the_timeout_is_one_line_and_loses_nothing(cli, tmp_path, monkeypatch):
    store = tmp_path / "runs.db"
    budgets = project(tmp_path)
    assert cli("check", budgets, "--history", store, "--commit", "first").code == 0
    monkeypatch.setenv("SEPPROF_STORE_TIMEOUT", "0.2")
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another writer, mid-transaction
    try:
        run = cli("check", budgets, "--history", store, "--commit", "second")
        one_error_line(run, "locked by another process for over 0.2 s", "SEPPROF_STORE_TIMEOUT")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    doc = cli("history", "--history", store, "--json").json()
    assert [r["commit"] for r in doc["runs"]] == ["first"]
    monkeypatch.setenv("SEPPROF_STORE_TIMEOUT", "soon")
    one_error_line(cli("history", "--history", store), "SEPPROF_STORE_TIMEOUT=soon")
