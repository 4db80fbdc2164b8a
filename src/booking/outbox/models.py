"""The outbox: every message to send, written in the same transaction as its cause."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from booking.db import Base, one_of
from booking.types import utc_now
from booking.vocabulary import Channel, Locale, OutboxStatus


class OutboxMessage(Base):
    """One notification to deliver; ``dedup_key`` makes sure it is enqueued and sent once."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint(one_of("channel", Channel), name="channel"),
        CheckConstraint(one_of("locale", Locale), name="locale"),
        CheckConstraint(one_of("status", OutboxStatus), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("max_attempts >= 1", name="max_attempts"),
        CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name="sent_at"),
        CheckConstraint("status <> 'sending' OR lease_until IS NOT NULL", name="lease"),
        # The worker's query: what is due, oldest first.
        Index("ix_outbox_message_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Built from ids and ISO dates, e.g. "reminder-24h:assignment:42:2026-12-01T09:00:00+00:00".
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(320))
    # The address is copied into ``recipient``; erasing the user keeps the delivery record.
    recipient_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    # A provider's message (sign-in or not): voiding and reading "their" messages use it.
    recipient_provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("provider.id", ondelete="SET NULL"), index=True
    )
    locale: Mapped[str] = mapped_column(String(2))
    template: Mapped[str] = mapped_column(String(100))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Bookings are cancelled, never deleted. RESTRICT, not CASCADE: a cascade
    # would silently erase the record of what was sent (and could race a
    # worker mid-send); SET NULL would let pending messages go out about a
    # booking that no longer exists. Deleting a booking is an exceptional
    # administrative act that must purge or void its messages explicitly first.
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("booking.id", ondelete="RESTRICT"), index=True
    )
    due_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(8), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    lease_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
