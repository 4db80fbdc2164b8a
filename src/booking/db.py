"""The database layer: declarative base, engines, sessions, transaction scope.

Services receive a ``Session`` and only ever ``flush()``; the caller (an API
request, a CLI command, a scheduler job) commits or rolls back in one place,
with ``session_scope()`` or the API's request dependency.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

from sqlalchemy import URL, CursorResult, Engine, MetaData, Result, event, make_url
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool
from sqlalchemy.schema import Index, UniqueConstraint

from booking.settings import get_settings
from booking.types import JSONDocument, UTCDateTime, json_default

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Predictable constraint names, so migrations can drop what they created."""

SQLITE_BUSY_TIMEOUT_MS = 15_000


class Base(DeclarativeBase):
    """Root of every model: shared metadata with the naming convention.

    ``Mapped[datetime]`` always means an aware UTC instant, and
    ``Mapped[dict[str, Any]]`` / ``Mapped[list[str]]`` a JSON document, so a
    naive timestamp column cannot be declared by accident.
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - read by SQLAlchemy at class creation
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSONDocument,
        list[str]: JSONDocument,
        list[dict[str, Any]]: JSONDocument,
    }


def one_of(column: str, values: Iterable[str]) -> str:
    """SQL text for a CHECK that ``column`` holds one of ``values``."""
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})"


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when a transaction
    # starts (see _sqlite_on_begin); the pragmas below must run outside one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # Readers no longer block the writer: the API and the worker can share a file.
        cursor.execute("PRAGMA journal_mode")
        if cursor.fetchone()[0] not in ("memory", "wal"):
            cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


_BEGIN_IMMEDIATE: ContextVar[bool] = ContextVar("sqlite_begin_immediate", default=False)


@contextmanager
def writing() -> Iterator[None]:
    """SQLite transactions begun inside take the write lock at once (``BEGIN IMMEDIATE``).

    In WAL mode a transaction that read first and writes later cannot wait
    for the lock once another writer has committed since its read (SQLite
    answers "database is locked" at once, whatever the busy timeout): with
    background writers (the read log, the solver's heartbeat) a form post
    would lose that race now and then. Taken at the start, the lock is waited
    for like any other. Nothing changes on PostgreSQL.
    """
    token = _BEGIN_IMMEDIATE.set(True)
    try:
        yield
    finally:
        _BEGIN_IMMEDIATE.reset(token)


def _sqlite_on_begin(connection: Any) -> None:
    # The sqlite3 module of Python 3.11 does not BEGIN before SELECT or DDL, so
    # SAVEPOINTs escape the outer transaction and reads are not repeatable.
    # SQLAlchemy's documented recipe: emit BEGIN ourselves.
    connection.exec_driver_sql("BEGIN IMMEDIATE" if _BEGIN_IMMEDIATE.get() else "BEGIN")


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the settings this service relies on.

    SQLite: foreign keys enforced, a busy timeout, WAL, usable from worker
    threads, real transactions (BEGIN emitted by SQLAlchemy, so SAVEPOINT and
    transactional DDL work). An in-memory SQLite database is a single shared
    connection. PostgreSQL: connections are checked before use.
    """
    url = make_url(url)
    options: dict[str, Any] = {
        "json_serializer": functools.partial(json.dumps, default=json_default),
    }
    is_sqlite = url.get_backend_name() == "sqlite"
    if is_sqlite:
        options["connect_args"] = {"check_same_thread": False}
        if url.database in (None, "", ":memory:"):
            options["poolclass"] = StaticPool
    else:
        options["pool_pre_ping"] = True
    options.update(kwargs)
    engine = sa_create_engine(url, **options)
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit.

    Every mapped class is imported first: a relationship names its target by
    string, and a process that imported only some aggregates (the worker)
    would fail at its first query.
    """
    import booking.models  # noqa: F401

    return sessionmaker(bind=engine, expire_on_commit=False)


@functools.cache
def get_engine() -> Engine:
    """The process-wide engine for ``TRUCHEMENT_DATABASE_URL``."""
    return make_engine(get_settings().database_url)


@functools.cache
def get_session_factory() -> sessionmaker[Session]:
    """The process-wide session factory, bound to ``get_engine()``."""
    return make_session_factory(get_engine())


@contextmanager
def session_scope(factory: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """One unit of work for a CLI command or a job: commit on success, roll back on error."""
    session = (factory or get_session_factory())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_SQLITE_CHECK = re.compile(r"CHECK constraint failed: (?P<name>\w+)")
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w.]+(?:, [\w.]+)*)")


def violated_constraint(error: IntegrityError) -> str | None:
    """The name of the constraint an ``IntegrityError`` reports, on both databases.

    PostgreSQL says it directly. SQLite names CHECK constraints, but for a
    UNIQUE violation only lists ``table.column``s, which we map back to the
    constraint or unique index declared in the models. Foreign-key and
    NOT NULL failures on SQLite carry no name: ``None``.
    """
    diag = getattr(error.orig, "diag", None)
    if diag is not None:
        name = getattr(diag, "constraint_name", None)
        return str(name) if name else None
    message = str(error.orig)
    if match := _SQLITE_CHECK.search(message):
        return match["name"]
    if match := _SQLITE_UNIQUE.search(message):
        pairs = [item.split(".", 1) for item in match["columns"].split(", ")]
        table_name = pairs[0][0]
        columns = [column for _, column in pairs]
        return _unique_name(table_name, columns)
    return None


def _unique_name(table_name: str, columns: list[str]) -> str | None:
    table = Base.metadata.tables.get(table_name)
    if table is None:
        return None
    candidates: list[UniqueConstraint | Index] = [
        c for c in table.constraints if isinstance(c, UniqueConstraint)
    ]
    candidates += [i for i in table.indexes if i.unique]
    for candidate in candidates:
        if [c.name for c in candidate.columns] == columns:
            return str(candidate.name)
    if len(columns) == 1 and table.c[columns[0]].primary_key:
        return f"pk_{table_name}"
    return None


TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
"""PostgreSQL's deadlock_detected and serialization_failure: the same work may succeed again."""


def is_transient_conflict(error: DBAPIError) -> bool:
    """Whether the database gave up on this transaction only because another one raced it.

    PostgreSQL: a deadlock or a serialization failure. SQLite: the database
    stayed locked by another writer (its busy timeout passed, or this
    transaction's snapshot can no longer write). Retrying the whole request
    is safe; the answer to the client is a 409, never a 500.
    """
    state = getattr(error.orig, "sqlstate", None)
    if state is not None:
        return str(state) in TRANSIENT_SQLSTATES
    return "database is locked" in str(error.orig)


def rows_matched(result: Result[Any]) -> int:
    """How many rows an ``UPDATE`` or ``DELETE`` matched.

    ``Session.execute`` is typed as returning a plain ``Result``; for these
    statements it is a ``CursorResult``, which counts them.
    """
    return int(cast(CursorResult[Any], result).rowcount or 0)
