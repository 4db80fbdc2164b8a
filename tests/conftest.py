"""Fixtures shared by every test that needs one: the database, the settings, a small world.

The database is PostgreSQL when ``TRUCHEMENT_TEST_DATABASE_URL`` is set (its
``public`` schema is wiped at the start of the run), otherwise a fresh SQLite
file. The schema is built once per run by the Alembic migrations, never by
``create_all``, so the tests exercise what production runs.

The service and notification modules are imported inside the fixtures that
need them: the matcher's tests collect without them.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event, make_url, text
from sqlalchemy.orm import Session, sessionmaker

import booking.models
from booking.db import make_engine, make_session_factory

if TYPE_CHECKING:
    from notify.settings import NotifySettings
    from tests.booking.dispatch_world import World

TEST_DATABASE_URL_ENV = "TRUCHEMENT_TEST_DATABASE_URL"
ROOT = Path(__file__).resolve().parents[1]


def _env_database_url() -> str | None:
    return os.environ.get(TEST_DATABASE_URL_ENV) or None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    url = _env_database_url()
    if url is not None and make_url(url).get_backend_name() == "postgresql":
        return
    skip = pytest.mark.skip(reason=f"needs PostgreSQL: set {TEST_DATABASE_URL_ENV}")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def alembic_config(connection: Connection) -> Config:
    """An Alembic config that migrates through ``connection`` and leaves logging alone."""
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["connection"] = connection
    config.attributes["configure_logger"] = False
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade (or, for ``"base"``/``"-1"``-style targets, downgrade) the database of ``engine``."""
    with engine.connect() as connection:
        config = alembic_config(connection)
        if revision == "base" or revision.startswith("-"):
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)


def _reset_postgresql(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
        connection.commit()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of the test database (PostgreSQL from the environment, or a SQLite file)."""
    url = _env_database_url()
    if url is not None:
        return url
    path = tmp_path_factory.mktemp("db") / "truchement-test.sqlite3"
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The engine of the test database, migrated to head once for the whole run."""
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        _reset_postgresql(engine)
    migrate(engine, "head")
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test.

    Code under test may flush and even commit: with ``create_savepoint`` its
    commits release a SAVEPOINT, and the outer transaction still rolls
    everything back.
    """
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(
            bind=connection,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
        )
        try:
            yield session
        finally:
            session.close()
            if transaction.is_active:
                transaction.rollback()


@pytest.fixture
def committing_session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Real sessions with real commits on separate connections (concurrency tests).

    Every table is emptied afterwards. Do not combine with ``db`` in one test:
    the two would see different transactions.
    """
    factory = make_session_factory(engine)
    opened: weakref.WeakSet[Session] = weakref.WeakSet()

    @event.listens_for(factory, "after_begin")
    def _track(session: Session, _transaction: object, _connection: Connection) -> None:
        opened.add(session)

    try:
        yield factory
    finally:
        for session in list(opened):
            session.close()
        _empty_all_tables(engine)


def _empty_all_tables(engine: Engine) -> None:
    tables = booking.models.Base.metadata.sorted_tables
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(quote(table.name) for table in tables)
            connection.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                connection.execute(table.delete())
        connection.commit()


@pytest.fixture
def scratch_engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of the same kind as the test database, dropped afterwards."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        engine = make_engine(f"sqlite:///{tmp_path / 'scratch.sqlite3'}")
        yield engine
        engine.dispose()
        return
    name = f"{url.database}_scratch_{os.getpid()}"
    admin = make_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(url.set(database=name))
        try:
            yield engine
        finally:
            engine.dispose()
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def world(db: Session) -> World:
    """A providing service, a reception centre it serves, their people, a Monday to plan."""
    from tests.booking.dispatch_world import make_world

    return make_world(db)


def clear_settings() -> None:
    """Forget the settings read so far: the next read takes the environment as it is now."""
    from booking.outbox.settings import get_outbox_settings
    from booking.settings import get_settings
    from notify.settings import get_notify_settings

    for cached in (get_settings, get_outbox_settings, get_notify_settings):
        cached.cache_clear()


@pytest.fixture
def notify_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[NotifySettings]:
    """SMS on (file gateway), files under the test's folder, the default offsets and hours."""
    from notify.settings import get_notify_settings

    monkeypatch.setenv("TRUCHEMENT_SMS_BACKEND", "file")
    monkeypatch.setenv("TRUCHEMENT_EMAIL_BACKEND", "file")
    monkeypatch.setenv("TRUCHEMENT_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("TRUCHEMENT_BASE_URL", "https://truchement.example.org")
    monkeypatch.delenv("TRUCHEMENT_REMINDER_OFFSETS_HOURS", raising=False)
    clear_settings()
    yield get_notify_settings()
    clear_settings()


def reconfigure(monkeypatch: pytest.MonkeyPatch, **env: str) -> NotifySettings:
    """Change settings for one test (``TRUCHEMENT_`` + upper-case name)."""
    from notify.settings import get_notify_settings

    for name, value in env.items():
        monkeypatch.setenv(f"TRUCHEMENT_{name.upper()}", value)
    clear_settings()
    return get_notify_settings()


@pytest.fixture
def solve_queued(db: Session) -> Callable[[], list[int]]:
    """Solve the queued plans in the test's session, as a solver process would; their ids.

    The API and the board only queue plans (``booking.plans.jobs``); a test
    that wants the plan solved calls this after the request.
    """
    from booking.plans.solver import run_pending_plans
    from booking.settings import Settings

    settings = Settings(environment="test", secret_key="test-secret-key-not-for-production")

    def _solve() -> list[int]:
        return run_pending_plans(lambda: nullcontext(db), settings)

    return _solve
