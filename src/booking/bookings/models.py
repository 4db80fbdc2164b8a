"""Bookings (one session that needs a provider), recurring series, preferences, idempotency."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.bookings.reference import new_booking_reference
from booking.db import Base, one_of
from booking.types import utc_now
from booking.vocabulary import (
    BookingStatus,
    Country,
    Gender,
    Modality,
    PreferenceKind,
    ProviderKindRequirement,
    SessionKind,
)

if TYPE_CHECKING:
    from booking.assignments.models import Assignment
    from booking.organisations.models import Organisation, Site
    from booking.users.models import User

MIN_DURATION_MINUTES = 15
MAX_DURATION_MINUTES = 480
NOTES_MAX_LENGTH = 1000
VIDEO_LINK_MAX_LENGTH = 500
MAX_PLACES = 6
"""A group booking has at most this many places (its own and five more)."""


class Series(Base):
    """A recurring need (weekly therapy) that should keep the same provider throughout."""

    __tablename__ = "series"
    __table_args__ = (
        CheckConstraint("interval_weeks >= 1", name="interval_weeks"),
        CheckConstraint(
            "(occurrence_count IS NULL) <> (until_date IS NULL)", name="count_xor_until"
        ),
        CheckConstraint("occurrence_count IS NULL OR occurrence_count >= 1", name="count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    # Users are deactivated, not deleted: who asked stays known.
    requester_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="RESTRICT"), index=True
    )
    language_code: Mapped[str] = mapped_column(ForeignKey("language.code", ondelete="RESTRICT"))
    interval_weeks: Mapped[int] = mapped_column(default=1)
    occurrence_count: Mapped[int | None]
    until_date: Mapped[dt.date | None]
    # Continuity is a wish, not a dependency: if that provider goes, the series stays.
    preferred_provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("provider.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)


class Booking(Base):
    """One session that needs a provider; cancelled, never deleted, so its history stays.

    ``beneficiary_ref`` is a pseudonymous reference chosen by the requesting
    organisation (e.g. ``b-7c1f``): never a name, a date of birth or any other
    data that identifies the person. ``notes`` are read by dispatchers and the
    assigned provider only, and must not be copied into SMS.
    """

    __tablename__ = "booking"
    __table_args__ = (
        CheckConstraint(one_of("session_kind", SessionKind), name="session_kind"),
        CheckConstraint(one_of("modality", Modality), name="modality"),
        CheckConstraint(one_of("provider_kind", ProviderKindRequirement), name="provider_kind"),
        CheckConstraint(
            "required_gender IS NULL OR " + one_of("required_gender", Gender),
            name="required_gender",
        ),
        CheckConstraint(one_of("status", BookingStatus), name="status"),
        CheckConstraint(
            f"duration_minutes BETWEEN {MIN_DURATION_MINUTES} AND {MAX_DURATION_MINUTES}",
            name="duration_minutes",
        ),
        CheckConstraint("priority >= 1", name="priority"),
        CheckConstraint(
            "location_country IS NULL OR " + one_of("location_country", Country),
            name="location_country",
        ),
        CheckConstraint("(location_lat IS NULL) = (location_lon IS NULL)", name="location_pair"),
        CheckConstraint("location_lat BETWEEN -90 AND 90", name="location_lat_range"),
        CheckConstraint("location_lon BETWEEN -180 AND 180", name="location_lon_range"),
        # The matcher needs a point and a country (cross-border rule) to plan travel.
        CheckConstraint(
            "modality <> 'onsite' OR (location_country IS NOT NULL AND location_lat IS NOT NULL)",
            name="onsite_location",
        ),
        CheckConstraint("(window_earliest IS NULL) = (window_latest IS NULL)", name="window_pair"),
        CheckConstraint(
            "window_earliest IS NULL OR "
            "(window_earliest <= starts_at AND starts_at <= window_latest)",
            name="window_contains_start",
        ),
        CheckConstraint("(series_id IS NULL) = (series_index IS NULL)", name="series_pair"),
        CheckConstraint("series_index IS NULL OR series_index >= 0", name="series_index"),
        CheckConstraint(
            f"notes IS NULL OR length(notes) <= {NOTES_MAX_LENGTH}", name="notes_length"
        ),
        CheckConstraint(
            "status <> 'unfilled' OR unfilled_reason IS NOT NULL", name="unfilled_reason"
        ),
        CheckConstraint("status <> 'cancelled' OR cancelled_at IS NOT NULL", name="cancelled_at"),
        UniqueConstraint("series_id", "series_index"),
        # The planner's question: open bookings over a horizon.
        Index("ix_booking_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True, default=new_booking_reference)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    # The booking keeps its own copy of address and location, so the site is
    # only a shortcut: deleting a site unlinks its bookings, nothing is lost.
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", ondelete="SET NULL"), index=True
    )
    requester_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="RESTRICT"), index=True
    )
    language_code: Mapped[str] = mapped_column(
        ForeignKey("language.code", ondelete="RESTRICT"), index=True
    )
    language_variety: Mapped[str | None] = mapped_column(String(100))
    session_kind: Mapped[str] = mapped_column(String(20))
    modality: Mapped[str] = mapped_column(String(8))
    address: Mapped[str | None] = mapped_column(String(300))
    location_lat: Mapped[float | None]
    location_lon: Mapped[float | None]
    location_country: Mapped[str | None] = mapped_column(String(2))
    starts_at: Mapped[dt.datetime]
    duration_minutes: Mapped[int]
    window_earliest: Mapped[dt.datetime | None]
    window_latest: Mapped[dt.datetime | None]
    provider_kind: Mapped[str] = mapped_column(String(16), default=ProviderKindRequirement.ANY)
    required_gender: Mapped[str | None] = mapped_column(String(1))
    requires_certified: Mapped[bool] = mapped_column(Boolean, default=False)
    required_skills: Mapped[list[str]] = mapped_column(default=list)
    priority: Mapped[int] = mapped_column(default=1)
    beneficiary_ref: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(String(NOTES_MAX_LENGTH))
    all_or_nothing: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """With more places (`places`): whether the group needs every one of them or none."""
    accepted_modalities: Mapped[list[str]] = mapped_column(default=list)
    """The modality ladder's lower steps, best first, after `modality` ("or video")."""
    video_link: Mapped[str | None] = mapped_column(String(VIDEO_LINK_MAX_LENGTH))
    """The link a video session is held on, as the requester gave it."""
    # A booking made from a series cannot outlive its series' record: cancel, don't delete.
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="RESTRICT"))
    series_index: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16), default=BookingStatus.REQUESTED)
    unfilled_reason: Mapped[str | None] = mapped_column(String(64))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    cancelled_at: Mapped[dt.datetime | None]
    late_cancellation: Mapped[bool] = mapped_column(Boolean, default=False)
    version_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    # Optimistic locking: every UPDATE checks and bumps version_id; it is the ETag.
    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012

    organisation: Mapped[Organisation] = relationship(lazy="raise")
    site: Mapped[Site | None] = relationship(lazy="raise")
    requester: Mapped[User] = relationship(lazy="raise")
    series: Mapped[Series | None] = relationship(lazy="raise")
    preferences: Mapped[list[BookingProviderPreference]] = relationship(
        back_populates="booking",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="booking",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    # Loaded with the booking (one query per batch): every view of a booking shows them.
    places: Mapped[list[BookingPlace]] = relationship(
        back_populates="booking",
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="BookingPlace.position",
    )

    @property
    def modality_ladder(self) -> list[str]:
        """The modalities the requester accepts, best first: `modality`, then the others."""
        return [self.modality, *(m for m in self.accepted_modalities if m != self.modality)]

    @property
    def ends_at(self) -> dt.datetime:
        """When the session ends at its planned start."""
        return self.starts_at + dt.timedelta(minutes=self.duration_minutes)


class BookingPlace(Base):
    """One more provider a group booking needs: its language, kind and needs (`staff`).

    The booking's own language, provider kind and needs are its first place
    (place 0); each row is one more, numbered from 1 in `position`. A booking
    with places is one session for several providers at the same time and
    place (a discussion group in three languages, two interpreters who take
    turns).
    """

    __tablename__ = "booking_place"
    __table_args__ = (
        CheckConstraint(one_of("provider_kind", ProviderKindRequirement), name="provider_kind"),
        CheckConstraint(
            "required_gender IS NULL OR " + one_of("required_gender", Gender),
            name="required_gender",
        ),
        CheckConstraint(f"position BETWEEN 1 AND {MAX_PLACES - 1}", name="position"),
        UniqueConstraint("booking_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"))
    position: Mapped[int]
    language_code: Mapped[str] = mapped_column(ForeignKey("language.code", ondelete="RESTRICT"))
    provider_kind: Mapped[str] = mapped_column(String(16), default=ProviderKindRequirement.ANY)
    required_gender: Mapped[str | None] = mapped_column(String(1))
    requires_certified: Mapped[bool] = mapped_column(Boolean, default=False)
    required_skills: Mapped[list[str]] = mapped_column(default=list)

    booking: Mapped[Booking] = relationship(back_populates="places", lazy="raise")


class BookingProviderPreference(Base):
    """A provider the requester wants (continuity) or must not get (knows the person)."""

    __tablename__ = "booking_provider_preference"
    __table_args__ = (
        UniqueConstraint("booking_id", "provider_id", "kind"),
        CheckConstraint(one_of("kind", PreferenceKind), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"))
    # A preference about a provider who no longer exists is void.
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))

    booking: Mapped[Booking] = relationship(back_populates="preferences", lazy="raise")


class IdempotencyRecord(Base):
    """Remembers an ``Idempotency-Key`` so a retried POST returns the first booking."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        CheckConstraint("length(request_hash) = 64", name="request_hash_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Keys are scoped to their user and are only a replay cache.
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
