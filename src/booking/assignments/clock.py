"""The offer clock: how long an offer stays open, counted in the service's working hours.

An offer sent at night or on a Friday evening must not expire before anyone
could read it: its lifetime counts only the providing service's working hours
(``TRUCHEMENT_WORKING_HOURS_START``-``END``, local time) on its working days
(no weekend, no public holiday of its country, no closure day). It never
outlives the session it offers.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.organisations.models import Organisation, OrganisationClosure
from booking.policies import add_working_minutes
from booking.providers.models import Provider
from booking.settings import get_settings
from booking.types import ensure_aware


def offer_expiry(
    db: Session,
    *,
    provider_id: int,
    session_start: dt.datetime,
    now: dt.datetime,
    minutes: int,
) -> dt.datetime:
    """When an offer to ``provider_id`` made at ``now`` for ``minutes`` of working time ends.

    The clock is the one of the provider's service (its time zone, country and
    closure days); the offer ends at the latest when the session starts.
    """
    settings = get_settings()
    provider = db.get_one(Provider, provider_id)
    service = db.get_one(Organisation, provider.organisation_id)
    now = ensure_aware(now)
    closures = set(
        db.scalars(
            select(OrganisationClosure.day).where(
                OrganisationClosure.organisation_id == service.id,
                OrganisationClosure.day >= now.date() - dt.timedelta(days=1),
            )
        )
    )
    deadline = add_working_minutes(
        now,
        minutes,
        timezone=service.timezone,
        country=service.country,
        day_start=settings.working_hours_start,
        day_end=settings.working_hours_end,
        closures=closures,
    )
    return min(deadline, ensure_aware(session_start))
