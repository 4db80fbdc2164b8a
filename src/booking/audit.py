"""The audit trail: who changed what, when. One row per change, never updated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column

from booking.db import Base
from booking.types import to_jsonable, utc_now

if TYPE_CHECKING:
    from booking.users.models import User


class AuditLog(Base):
    """A record of one action on one entity, kept after the entity and the actor are gone."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity_type_entity_id", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utc_now, index=True)
    # Erasing a person (GDPR) must not erase or block the trail: the row stays, anonymous.
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    # Same reasoning; organisations with users or bookings cannot be deleted anyway.
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(64))
    # No foreign key: the trail outlives what it describes, whatever its table.
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


def pending_changes(entity: Base) -> dict[str, list[Any]]:
    """``{attribute: [old, new]}`` for the column attributes changed since load.

    Call it before the flush: a flush resets the history.
    """
    state = inspect(entity)
    changes: dict[str, list[Any]] = {}
    for column_attr in state.mapper.column_attrs:
        history = state.attrs[column_attr.key].history
        if history.has_changes() and history.added:
            old = history.deleted[0] if history.deleted else None
            changes[column_attr.key] = [to_jsonable(old), to_jsonable(history.added[0])]
    return changes


def record_audit(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity: Base,
    changes: Mapping[str, Any] | None = None,
    organisation_id: int | None = None,
) -> AuditLog:
    """Add an audit row for ``action`` on ``entity`` by ``actor`` (``None``: the system).

    ``changes`` is any JSON-able mapping, usually ``pending_changes(entity)``
    taken before the flush; instants are stored in ISO 8601 UTC. The
    organisation defaults to the entity's, then to the actor's. Flushes
    only if the entity has no primary key yet.
    """
    state = inspect(entity)
    if state.identity is None:
        session.flush()
    identity = state.identity
    if identity is None:  # pragma: no cover - flush always assigns one
        raise ValueError(f"{entity!r} has no primary key after flush")
    if organisation_id is None:
        organisation_id = getattr(entity, "organisation_id", None)
    if organisation_id is None and actor is not None:
        organisation_id = actor.organisation_id
    row = AuditLog(
        at=utc_now(),
        actor_user_id=actor.id if actor is not None else None,
        organisation_id=organisation_id,
        action=action,
        entity_type=state.mapper.local_table.description,
        entity_id=":".join(str(part) for part in identity),
        changes=to_jsonable(dict(changes or {})),
    )
    session.add(row)
    return row
