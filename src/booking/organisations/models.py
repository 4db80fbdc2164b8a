"""Organisations (who requests, who provides), their agreements, closures and sites."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base, one_of
from booking.types import utc_now
from booking.vocabulary import Country, Locale, OrganisationKind

if TYPE_CHECKING:
    from booking.users.models import User


class Organisation(Base):
    """A requesting body (reception centre, CPAS, mobile team) or a providing service (SéTIS)."""

    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint(one_of("kind", OrganisationKind), name="kind"),
        CheckConstraint(one_of("country", Country), name="country"),
        CheckConstraint(one_of("locale", Locale), name="locale"),
        CheckConstraint("fairness_weight >= 0", name="fairness_weight"),
        CheckConstraint("urgent_within_hours >= 0", name="urgent_within_hours"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Brussels")
    # The language its people are written to by default (a new provider's messages).
    locale: Mapped[str] = mapped_column(String(2), default=Locale.FR, server_default=Locale.FR)
    # A providing service's staffing settings (docs/operations.md, "Re-staffing"):
    # soft points per minute of its busiest provider's load (0: fairness off),
    # whether a repair's proposals go out as offers at once, and how soon a new
    # request must start to count as urgent and be staffed by a repair.
    fairness_weight: Mapped[int] = mapped_column(default=0, server_default="0")
    auto_offer: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    urgent_within_hours: Mapped[int] = mapped_column(default=48, server_default="48")
    # A providing service whose providers are salaried (paid from leaving home to
    # coming back): the matcher counts their waiting as cost (docs/problem.md).
    counts_idle: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)

    # The foreign keys RESTRICT: deleting an organisation that still has sites
    # or users must fail in the database, not have the ORM null them out.
    sites: Mapped[list[Site]] = relationship(
        back_populates="organisation", lazy="raise", passive_deletes="all"
    )
    users: Mapped[list[User]] = relationship(
        back_populates="organisation", lazy="raise", passive_deletes="all"
    )


class ServiceAgreement(Base):
    """Which providing service dispatches for which requesting organisation (territory rule)."""

    __tablename__ = "service_agreement"
    __table_args__ = (
        UniqueConstraint("providing_org_id", "requesting_org_id"),
        CheckConstraint("providing_org_id <> requesting_org_id", name="distinct_parties"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # An agreement means nothing without both parties; an organisation that
    # can be deleted at all (no users, no bookings) takes its agreements along.
    providing_org_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    requesting_org_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)


class OrganisationClosure(Base):
    """A day an employer closes on top of public holidays (e.g. a Belgian holiday on a Sunday)."""

    __tablename__ = "organisation_closure"
    __table_args__ = (UniqueConstraint("organisation_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Closure days are part of the organisation's calendar, nothing else points at them.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    day: Mapped[dt.date]
    reason: Mapped[str | None] = mapped_column(String(200))


class Site(Base):
    """A place where sessions happen, so a requester picks it instead of typing an address."""

    __tablename__ = "site"
    __table_args__ = (
        CheckConstraint(one_of("country", Country), name="country"),
        CheckConstraint("lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lon BETWEEN -180 AND 180", name="lon_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Organisations are deactivated, not deleted: refuse to orphan their sites.
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    postcode: Mapped[str] = mapped_column(String(10))
    town: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))
    lat: Mapped[float]
    lon: Mapped[float]

    organisation: Mapped[Organisation] = relationship(back_populates="sites", lazy="raise")
