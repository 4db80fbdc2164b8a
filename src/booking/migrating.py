"""Options Alembic's env.py and the schema tests share, so ``alembic check`` and the tests agree."""

from __future__ import annotations

from typing import Any, Literal

from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from booking.types import UTCDateTime


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our column types as plain SQLAlchemy types, so revisions never import app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def context_options(connection: Connection) -> dict[str, Any]:
    """Keyword arguments for ``context.configure`` / ``MigrationContext.configure``.

    Nothing needs ``include_object`` today: Alembic does not reflect the
    PostgreSQL exclusion constraint (nor its GiST index), so it never shows
    up as a difference, and partial indexes compare by name and columns.
    """
    return {
        "compare_type": True,
        # Batch operations on PostgreSQL are plain ALTERs, so a revision
        # generated against either database runs on both.
        "render_as_batch": True,
        # booking.db.make_engine emits BEGIN on SQLite, so DDL is transactional there too.
        "transactional_ddl": True,
        "render_item": render_item,
    }
