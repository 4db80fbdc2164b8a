"""Assignments: a provider put on a booking, from proposal to confirmation."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    false,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base, one_of
from booking.types import utc_now
from booking.vocabulary import HELD_ASSIGNMENT_STATUSES, AssignmentStatus

if TYPE_CHECKING:
    from booking.bookings.models import Booking
    from booking.plans.models import Plan
    from booking.providers.models import Provider

ACTIVE_ASSIGNMENT_INDEX = "uq_assignment_booking_id_active"
HELD_OVERLAP_CONSTRAINT = "ex_assignment_provider_id_held_overlap"
_ACTIVE = one_of("status", HELD_ASSIGNMENT_STATUSES)


class Assignment(Base):
    """A provider on a booking; its own start and end let the database refuse double bookings."""

    __tablename__ = "assignment"
    __table_args__ = (
        CheckConstraint(one_of("status", AssignmentStatus), name="status"),
        CheckConstraint("ends_at > starts_at", name="end_after_start"),
        CheckConstraint(
            "status <> 'offered' OR offer_expires_at IS NOT NULL", name="offer_expires"
        ),
        # A booking's place is held by at most one provider at a time (place 0 for a
        # booking that needs one provider).
        Index(
            ACTIVE_ASSIGNMENT_INDEX,
            "booking_id",
            "place",
            unique=True,
            postgresql_where=text(_ACTIVE),
            sqlite_where=text(_ACTIVE),
        ),
        Index("ix_assignment_provider_id_starts_at", "provider_id", "starts_at"),
        # No provider holds work (accepted or confirmed) in two places at once,
        # even under concurrent dispatchers. PostgreSQL only (btree_gist, created
        # in the migration); SQLite relies on assert_fits_commitments and its
        # single writer.
        ExcludeConstraint(
            (literal_column("provider_id"), "="),
            (func.tstzrange(literal_column("starts_at"), literal_column("ends_at")), "&&"),
            name=HELD_OVERLAP_CONSTRAINT,
            using="gist",
            where=text("status IN ('accepted', 'confirmed')"),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), index=True
    )
    # Work history must not disappear with a provider record: deactivate instead.
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id", ondelete="RESTRICT"))
    # The plan is provenance only; pruning old plans keeps the assignments.
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plan.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=AssignmentStatus.PROPOSED)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    # Who proposed and who decided stay accountable; users are deactivated, not deleted.
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    offer_expires_at: Mapped[dt.datetime | None]
    responded_at: Mapped[dt.datetime | None]
    # The provider has no email and no phone: the dispatcher said they agreed it by phone.
    confirmed_by_phone: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The booking's version_id when this was computed: a later edit makes it stale.
    booking_version: Mapped[int]
    place: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    """Which place of a group booking this provider fills (0: the booking's own)."""
    modality: Mapped[str | None] = mapped_column(String(8))
    """The step of the booking's modality ladder used; None: the booking's `modality`."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    booking: Mapped[Booking] = relationship(back_populates="assignments", lazy="raise")
    provider: Mapped[Provider] = relationship(lazy="raise")
    plan: Mapped[Plan | None] = relationship(lazy="raise")
