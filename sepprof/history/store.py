"""Open a store: an SQLite file (a path; created when missing) or a PostgreSQL database (a
``postgresql://`` URL). A store that cannot be used (not a sepprof store, corrupt, from a newer
sepprof, locked past the timeout, a server that does not answer) is one line naming it and the
problem, and is left as it was: nothing is written to it before it is known to be a sepprof
store (or empty).

SQLite runs in WAL mode with a busy timeout, and every write takes the write lock as it begins
(``BEGIN IMMEDIATE``), so concurrent writers queue instead of failing; PostgreSQL writers run in
transactions, and creating or migrating a store holds an advisory lock.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Connection, Engine, create_engine, event, exc, func, inspect, select
from sqlalchemy.engine import URL, make_url

from sepprof.errors import UserError, printable
from sepprof.files import kind_of
from sepprof.history import migrations
from sepprof.history.tables import SCHEMA_VERSION, STORE_NAME, schema

TIMEOUT_ENV = "SEPPROF_STORE_TIMEOUT"  # seconds a writer waits for a locked store
DEFAULT_TIMEOUT = 60.0
SQLITE_MAGIC = b"SQLite format 3\x00"
ADVISORY_KEY = 0x5E9_9F0F  # pg_advisory_xact_lock key while creating or migrating
HELP = "a store is an SQLite file written by 'sepprof check --history', a new path, or a URL"


@dataclass
class Store:
    """An open store: its engine, its name (the path, or the URL without its password), the
    flag that gave it, and its schema version (0: empty)."""

    engine: Engine
    name: str
    flag: str
    timeout: float
    version: int = SCHEMA_VERSION

    @property
    def shown(self) -> str:
        """How messages name it: ``--history runs.db``."""
        return f"{self.flag} {self.name}"

    @property
    def sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection in a transaction; every database error becomes one line."""
        with self._connection(write=False) as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A transaction that holds the store's write lock from its start (SQLite); committed
        whole at the end or rolled back whole."""
        with self._connection(write=True) as conn:
            yield conn

    @contextmanager
    def _connection(self, write: bool) -> Iterator[Connection]:
        with translated(self):
            try:
                conn = self.engine.connect()
            except exc.OperationalError as error:
                raise UserError(f"{self.shown}: cannot connect: {first_line(error)}") from error
            with conn:
                conn = conn.execution_options(sepprof_write=write)
                with conn.begin():
                    yield conn

    def close(self) -> None:
        self.engine.dispose()


def first_line(error: exc.DBAPIError) -> str:
    text = str(error.orig if error.orig is not None else error).strip()
    return printable(text.splitlines()[0] if text else type(error).__name__)


def problem(store: Store, error: exc.DBAPIError) -> str:
    """What a database error means for the user, in words."""
    text = first_line(error)
    if "database is locked" in text:
        waited = f"{store.timeout:g} s"
        return f"locked by another process for over {waited} ({TIMEOUT_ENV} sets the wait)"
    if "file is not a database" in text:
        return f"not a sepprof store (not an SQLite database); {HELP}"
    if "malformed" in text:
        return f"corrupt SQLite database ({text})"
    if "unable to open database file" in text:
        return "cannot open the SQLite file (is its folder there and writable?)"
    if "readonly database" in text:
        return "cannot write: the SQLite file or its folder is read-only"
    return text


@contextmanager
def translated(store: Store) -> Iterator[None]:
    """Database errors as one ``UserError`` line naming the store."""
    try:
        yield
    except exc.DBAPIError as error:
        raise UserError(f"{store.shown}: {problem(store, error)}") from error


def timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise UserError(f"{TIMEOUT_ENV}={printable(raw)}: not a number of seconds") from None
    if not 0 < value < 1e6:
        raise UserError(f"{TIMEOUT_ENV}={printable(raw)}: must be between 0 and 1e6 seconds")
    return value


def open_store(text: str, *, create: bool, flag: str = "--history") -> Store:
    """Open the store ``text`` names, ready for this schema: created when missing or empty
    (``create``), migrated when older; refused when it is not a sepprof store or is newer."""
    wait = timeout()
    if "://" in text:
        engine, name = _server(text, flag, wait)
    else:
        engine, name = _sqlite(Path(text), f"{flag} {printable(text)}", create, wait)
    store = Store(engine, name, flag, wait)
    try:
        store.version = _prepare(store, create)
    except BaseException:
        store.close()
        raise
    return store


def _server(text: str, flag: str, wait: float) -> tuple[Engine, str]:
    """A PostgreSQL store (the psycopg driver unless the URL names another)."""
    try:
        url = make_url(text)
    except exc.ArgumentError:
        raise UserError(f"{flag} {printable(text)}: not a database URL ({HELP})") from None
    name = printable(unquote(url.render_as_string(hide_password=True)))
    shown = f"{flag} {name}"
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() != "postgresql":
        raise UserError(f"{shown}: not a store (SQLite files and postgresql:// URLs are)")
    args = {} if "connect_timeout" in url.query else {"connect_timeout": max(1, round(wait))}
    try:
        return create_engine(url, connect_args=args), name
    except ImportError:
        raise UserError(f"{shown}: needs psycopg: pip install 'sepprof[postgres]'") from None


def _sqlite(path: Path, shown: str, create: bool, wait: float) -> tuple[Engine, str]:
    """An SQLite store; an existing file must be a regular file with SQLite's header."""
    _check_file(path, shown, create)
    url = URL.create("sqlite", database=str(path.absolute()))
    engine = create_engine(url, connect_args={"timeout": wait})
    event.listen(engine, "connect", _own_transactions)
    event.listen(engine, "begin", _begin)
    return engine, printable(path)


def _check_file(path: Path, shown: str, create: bool) -> None:
    """Refuse, before SQLite touches it, a path that is not a regular file or holds something
    that is not an SQLite database; a missing one only when not creating."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        _check_new(path, shown, create)
        return
    except OSError as error:
        raise UserError(f"{shown}: cannot read: {error.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{shown}: is {kind_of(st.st_mode)}, not an SQLite file")
    if st.st_size and _header(path, shown) != SQLITE_MAGIC:
        raise UserError(f"{shown}: not a sepprof store (not an SQLite database); {HELP}")


def _check_new(path: Path, shown: str, create: bool) -> None:
    """A missing store: refused when reading; when writing, its folder must be there."""
    if not create:
        raise UserError(f"{shown}: file not found ('sepprof check --history' creates it)")
    folder = path.absolute().parent
    if not folder.is_dir():
        raise UserError(f"{shown}: folder {printable(folder)} not found")


def _header(path: Path, shown: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise UserError(f"{shown}: cannot read: {error.strerror}") from None


def _own_transactions(dbapi_connection: Any, _record: Any) -> None:
    """pysqlite starts no transactions of its own: ``_begin`` says how each begins."""
    dbapi_connection.isolation_level = None


def _begin(conn: Connection) -> None:
    """A write takes the write lock at once (waiting up to the busy timeout), so two writers
    never both read and then fail to upgrade their lock."""
    immediate = conn.get_execution_options().get("sepprof_write")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _prepare(store: Store, create: bool) -> int:
    """The store's schema version once it is ready (0: an empty store not created)."""
    with store.reading() as conn:
        found = identify(conn, store.shown)
    if found == SCHEMA_VERSION or (found is None and not create):
        return found or 0
    if found is not None and found > SCHEMA_VERSION:
        raise UserError(
            f"{store.shown}: written by a newer sepprof (store schema {found}; this sepprof "
            f"reads schema {SCHEMA_VERSION} and older): upgrade sepprof"
        )
    if store.sqlite:
        _wal(store)
    with store.writing() as conn:
        _lock(conn)
        found = identify(conn, store.shown)  # another process may have done it meanwhile
        if found is None:
            migrations.create(conn)
        elif found < SCHEMA_VERSION:
            migrations.upgrade(conn, found)
    return SCHEMA_VERSION


def identify(conn: Connection, shown: str) -> int | None:
    """The schema version of a sepprof store, None for an empty database; refuses others."""
    names = set(inspect(conn).get_table_names())
    if not names:
        return None
    if schema.name not in names:
        listed = ", ".join(sorted(map(printable, names))[:3])
        raise UserError(
            f"{shown}: not a sepprof store (it holds other tables: {listed}); give a new "
            "file or an empty database"
        )
    row = conn.execute(select(schema.c.version).where(schema.c.store == STORE_NAME)).first()
    if row is None:
        raise UserError(f"{shown}: not a sepprof store (its {schema.name} table names no version)")
    return int(row.version)


def _wal(store: Store) -> None:
    """WAL mode (kept in the file): readers never wait for the writer."""
    with translated(store):
        raw = store.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[union-attr]
        finally:
            raw.close()


def _lock(conn: Connection) -> None:
    """PostgreSQL: one process at a time creates or migrates (SQLite's write lock does this)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(ADVISORY_KEY)))
