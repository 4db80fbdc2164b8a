"""Providers (interpreters, ambassadors, mediators), their languages and availability."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from booking.db import Base, one_of
from booking.types import utc_now
from booking.vocabulary import (
    AvailabilityExceptionKind,
    Gender,
    Locale,
    MessageChannels,
    ProviderKind,
)


class Provider(Base):
    """A person who can staff a session, with the limits the matcher must respect."""

    __tablename__ = "provider"
    __table_args__ = (
        CheckConstraint(one_of("kind", ProviderKind), name="kind"),
        CheckConstraint("gender IS NULL OR " + one_of("gender", Gender), name="gender"),
        CheckConstraint("home_lat BETWEEN -90 AND 90", name="home_lat_range"),
        CheckConstraint("home_lon BETWEEN -180 AND 180", name="home_lon_range"),
        CheckConstraint("max_travel_minutes >= 0", name="max_travel_minutes"),
        CheckConstraint("max_minutes_per_day > 0", name="max_minutes_per_day"),
        CheckConstraint("max_minutes_per_week > 0", name="max_minutes_per_week"),
        CheckConstraint("max_minutes_per_day <= max_minutes_per_week", name="day_within_week"),
        CheckConstraint(one_of("locale", Locale), name="locale"),
        CheckConstraint(one_of("message_channels", MessageChannels), name="message_channels"),
        CheckConstraint("email IS NULL OR email = lower(email)", name="email_lower_case"),
        CheckConstraint(
            "phone_e164 IS NULL OR (phone_e164 LIKE '+%' AND length(phone_e164) BETWEEN 8 AND 16)",
            name="phone_e164",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The providing service (SéTIS...) that dispatches this person; services are
    # deactivated, not deleted.
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    # The login is optional and separable: erasing a user account keeps the
    # provider's work history.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), unique=True
    )
    display_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    gender: Mapped[str | None] = mapped_column(String(1))
    skills: Mapped[list[str]] = mapped_column(default=list)
    modalities: Mapped[list[str]] = mapped_column(default=list)
    home_lat: Mapped[float]
    home_lon: Mapped[float]
    home_town: Mapped[str] = mapped_column(String(100))
    countries: Mapped[list[str]] = mapped_column(default=list)
    max_travel_minutes: Mapped[int] = mapped_column(default=90)
    max_minutes_per_day: Mapped[int] = mapped_column(default=420)
    max_minutes_per_week: Mapped[int] = mapped_column(default=1800)
    works_on_holidays: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    calendar_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The provider's own contact for their messages, sign-in or not: a linked
    # login is a way in, never a second address book.
    email: Mapped[str | None] = mapped_column(String(320))
    phone_e164: Mapped[str | None] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(2), default=Locale.FR, server_default=Locale.FR)
    message_channels: Mapped[str] = mapped_column(
        String(8), default=MessageChannels.BOTH, server_default=MessageChannels.BOTH
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)

    languages: Mapped[list[ProviderLanguage]] = relationship(
        back_populates="provider",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    availability_rules: Mapped[list[AvailabilityRule]] = relationship(
        back_populates="provider",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    availability_exceptions: Mapped[list[AvailabilityException]] = relationship(
        back_populates="provider",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @validates("email")
    def _lower_case_email(self, _key: str, value: str | None) -> str | None:
        """Emails are compared case-insensitively, so they are stored lower-case."""
        if value is None:
            return None
        return value.strip().lower() or None

    @property
    def reachable(self) -> bool:
        """Whether a message can reach them at all: an email or a mobile number."""
        return bool(self.email or self.phone_e164)


class ProviderLanguage(Base):
    """A language a provider works in, and whether it is certified (and until when)."""

    __tablename__ = "provider_language"
    __table_args__ = (
        UniqueConstraint("provider_id", "language_code"),
        CheckConstraint("certified OR certified_until IS NULL", name="certified_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id", ondelete="CASCADE"))
    # A language in use by providers cannot be removed from the catalogue.
    language_code: Mapped[str] = mapped_column(
        ForeignKey("language.code", ondelete="RESTRICT"), index=True
    )
    certified: Mapped[bool] = mapped_column(Boolean, default=False)
    certified_until: Mapped[dt.date | None]

    provider: Mapped[Provider] = relationship(back_populates="languages", lazy="raise")


class AvailabilityRule(Base):
    """A weekly recurring slot (local wall-clock time of the provider's organisation)."""

    __tablename__ = "availability_rule"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("end_time > start_time", name="end_after_start"),
        CheckConstraint(
            "valid_from IS NULL OR valid_until IS NULL OR valid_until >= valid_from",
            name="validity",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]  # 0 = Monday, as datetime.date.weekday()
    start_time: Mapped[dt.time]
    end_time: Mapped[dt.time]
    valid_from: Mapped[dt.date | None]
    valid_until: Mapped[dt.date | None]

    provider: Mapped[Provider] = relationship(back_populates="availability_rules", lazy="raise")


class AvailabilityException(Base):
    """A one-off change to the weekly rules: an absence, or extra hours."""

    __tablename__ = "availability_exception"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="end_after_start"),
        CheckConstraint(one_of("kind", AvailabilityExceptionKind), name="kind"),
        Index("ix_availability_exception_provider_id_starts_at", "provider_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id", ondelete="CASCADE"))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(String(500))

    provider: Mapped[Provider] = relationship(
        back_populates="availability_exceptions", lazy="raise"
    )
