"""Run the Alembic migrations from code: the CLI, the service's first start and the tests."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection


def migrations_dir() -> Path:
    """The `migrations/` folder: from TRUCHEMENT_MIGRATIONS_DIR, the checkout, or the cwd."""
    candidates = [
        os.environ.get("TRUCHEMENT_MIGRATIONS_DIR"),
        Path(__file__).resolve().parents[2] / "migrations",
        Path.cwd() / "migrations",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "env.py").is_file():
            return Path(candidate)
    raise FileNotFoundError("cannot find the migrations folder; set TRUCHEMENT_MIGRATIONS_DIR")


def alembic_config(database_url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


@lru_cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def is_up_to_date(database_url: str) -> bool:
    from booking.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return current_revision(conn) == head_revision()
    finally:
        engine.dispose()
