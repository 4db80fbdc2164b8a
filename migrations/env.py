"""Alembic environment: our metadata, our engine settings, SQLite-safe batch migrations."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, text

import booking.models
from booking.db import make_engine
from booking.migrating import context_options
from booking.settings import get_settings

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = booking.models.Base.metadata


def _database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) without a database."""
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        compare_type=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        **context_options(connection),
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Inside the migration's transaction: a failure here rolls it back.
            broken = connection.execute(text("PRAGMA foreign_key_check")).all()
            if broken:
                raise RuntimeError(f"the migration broke foreign keys: {broken[:10]}")


def _run_sqlite(connection: Connection) -> None:
    # SQLite alters a table by rebuilding it (batch mode): with foreign keys on,
    # dropping the old copy of a parent table would cascade-delete its
    # children. Switch them off around the migration; the pragma only takes
    # effect outside a transaction, hence the DBAPI connection.
    raw = connection.connection.driver_connection
    if raw is None:  # pragma: no cover - pool contract
        raise RuntimeError("no DBAPI connection for the SQLite migration")
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        _run(connection)
    finally:
        if connection.in_transaction():
            connection.rollback()
        raw.execute("PRAGMA foreign_keys = ON")


def _dispatch(connection: Connection) -> None:
    if connection.in_transaction():
        # The caller owns the transaction (and, on SQLite, the pragmas).
        _run(connection)
    elif connection.dialect.name == "sqlite":
        _run_sqlite(connection)
    else:
        _run(connection)


def run_migrations_online() -> None:
    """Migrate through the connection a caller gave us, or through our own engine."""
    given: Connection | None = config.attributes.get("connection")
    if given is not None:
        _dispatch(given)
        return
    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection:
            _dispatch(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
