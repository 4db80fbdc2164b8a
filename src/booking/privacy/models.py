"""The privacy tables: each organisation's retention period, and who read what.

The read log has no foreign key to the people or records it names: it must
outlive its readers and its subjects (an erased booking, a deactivated user),
and a foreign key with ``ON DELETE SET NULL`` would be a way to edit it.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.db import Base, one_of
from booking.types import utc_now


class ReadSubject(StrEnum):
    """What a read-log row says was read."""

    BOOKING = "booking"
    PROVIDER = "provider"  # a provider's personal data: home, phone, email
    CALENDAR_FEED = "calendar_feed"


class ReadVia(StrEnum):
    API = "api"
    WEB = "web"
    FEED = "feed"


DEFAULT_RETENTION_MONTHS = 12
"""Past sessions keep their beneficiary reference and free text this long by default."""
MAX_RETENTION_MONTHS = 120


class RetentionPolicy(Base):
    """An organisation's own retention period; no row means the default (12 months)."""

    __tablename__ = "retention_policy"
    __table_args__ = (
        CheckConstraint(f"months BETWEEN 1 AND {MAX_RETENTION_MONTHS}", name="months"),
    )

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True
    )
    months: Mapped[int] = mapped_column(default=DEFAULT_RETENTION_MONTHS)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class ReadLog(Base):
    """One read of personal data: who (user or calendar feed), what, when, from where.

    Appended in batches by ``booking.privacy.read_log``, never updated; the
    retention job deletes rows older than 12 months, nothing else does (on
    PostgreSQL a trigger refuses ``UPDATE``).
    """

    __tablename__ = "read_log"
    __table_args__ = (
        CheckConstraint(one_of("subject_type", ReadSubject), name="subject_type"),
        CheckConstraint(one_of("via", ReadVia), name="via"),
        Index("ix_read_log_subject", "subject_type", "subject_id"),
        Index("ix_read_log_subject_organisation_id_at", "subject_organisation_id", "at"),
        Index("ix_read_log_reader_organisation_id_at", "reader_organisation_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    # The user who read; none for a calendar feed (its token is the provider's).
    reader_user_id: Mapped[int | None]
    reader_provider_id: Mapped[int | None]
    reader_organisation_id: Mapped[int | None]
    # What was read: a booking, a provider's personal data, a calendar feed.
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int]
    # Whose data it is: the booking's organisation, the provider's service.
    subject_organisation_id: Mapped[int | None]
    # How: "api", "web", "feed".
    via: Mapped[str] = mapped_column(String(8))
