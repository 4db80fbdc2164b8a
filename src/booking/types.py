"""Column types shared by every model: UTC instants and JSON documents."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

UTC = dt.UTC


class NaiveDateTimeError(ValueError):
    """A naive datetime reached the database: a programming error, never user input."""


def utc_now() -> dt.datetime:
    """The current instant, timezone-aware, in UTC."""
    return dt.datetime.now(UTC)


def ensure_aware(value: dt.datetime) -> dt.datetime:
    """Return ``value`` unchanged, or raise if it carries no UTC offset."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDateTimeError(
            f"naive datetime {value.isoformat()} given where an instant is expected; "
            "attach a timezone (Europe/Brussels, Europe/Paris or UTC)"
        )
    return value


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An instant: aware datetimes in, stored as UTC, aware UTC datetimes out.

    PostgreSQL keeps it as ``timestamptz``. SQLite has no such type and
    SQLAlchemy drops the offset, so we convert to UTC first and store the
    naive UTC wall time; reading it back re-attaches UTC. Every value uses
    the same text format on SQLite, so comparisons in SQL stay correct.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"UTCDateTime expects a datetime, got {type(value).__name__}")
        instant = ensure_aware(value).astimezone(UTC)
        if dialect.name == "sqlite":
            return instant.replace(tzinfo=None)
        return instant

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):  # pragma: no cover - driver contract
            raise TypeError(f"unexpected {type(value).__name__} from a datetime column")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONDocument: TypeEngine[Any] = JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)
"""JSONB on PostgreSQL (indexable, compact), plain JSON elsewhere.

Python ``None`` is stored as SQL NULL, not as the JSON literal ``null``.
Change-tracking is by assignment: replace the list or dict, do not mutate it
in place, or the change is not flushed.
"""


def to_jsonable(value: Any) -> Any:
    """Turn a value into something ``json.dumps`` accepts (instants as ISO 8601)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, dt.datetime):
        return ensure_aware(value).astimezone(UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    raise TypeError(f"cannot store {type(value).__name__} in a JSON column")


def json_default(value: Any) -> Any:
    """``default=`` hook for ``json.dumps``: the engine's safety net for instants and enums."""
    if isinstance(value, enum.Enum | dt.datetime | dt.date | dt.time | Decimal | uuid.UUID):
        return to_jsonable(value)
    if isinstance(value, set | frozenset | tuple):
        return to_jsonable(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
