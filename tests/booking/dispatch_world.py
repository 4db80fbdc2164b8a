"""A small dispatch world for service and API tests: one service, one client organisation.

A providing service (SéTIS-like) serves a reception centre in Tournai through
a service agreement; it has a dispatcher and providers who log in. Times are
on a given Monday in Brussels; pass ``now`` to the services so the tests do
not depend on today's date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from booking.models import Booking, Organisation, Provider, Site, User
from booking.policies import is_public_holiday
from tests.factories import (
    BRUSSELS,
    make_availability_rule,
    make_booking,
    make_organisation,
    make_provider,
    make_service_agreement,
    make_site,
    make_user,
)

WEEKDAYS = range(5)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """``hour:minute`` on ``day``, Brussels time."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BRUSSELS)


def next_monday(weeks_ahead: int = 2) -> dt.date:
    """The Monday ``weeks_ahead`` weeks from now, or a later one, of a week without holidays.

    The week before has none either: tests act "a week before" (offers, whose
    clock runs on working days only, and cancellations).
    """
    today = dt.datetime.now(BRUSSELS).date()
    monday = today + dt.timedelta(days=7 * weeks_ahead - today.weekday())
    while any(
        is_public_holiday(monday + dt.timedelta(days=d), country)
        for d in (*(d - 7 for d in WEEKDAYS), *WEEKDAYS)
        for country in ("BE", "FR")
    ):
        monday += dt.timedelta(days=7)
    return monday


@dataclass
class World:
    service: Organisation
    centre: Organisation
    site: Site
    dispatcher: User
    requester: User
    day: dt.date

    def provider(
        self,
        db: Session,
        *,
        name: str | None = None,
        languages: Sequence[str] = ("tir",),
        hours: tuple[dt.time, dt.time] | None = (dt.time(8, 30), dt.time(17, 0)),
        with_login: bool = True,
        **fields: Any,
    ) -> Provider:
        """An active provider of the service, available on weekdays between ``hours``."""
        user = (
            make_user(db, organisation=self.service, role="provider", full_name=name or "Provider")
            if with_login
            else None
        )
        provider = make_provider(
            db,
            organisation=self.service,
            user=user,
            display_name=name,
            languages=languages,
            **fields,
        )
        if hours is not None:
            for weekday in WEEKDAYS:
                make_availability_rule(
                    db, provider=provider, weekday=weekday, start_time=hours[0], end_time=hours[1]
                )
        return provider

    def booking(self, db: Session, *, hour: int = 10, minute: int = 0, **fields: Any) -> Booking:
        """A requested onsite booking at the centre's site on ``day`` at ``hour:minute``."""
        fields.setdefault("starts_at", at(self.day, hour, minute))
        return make_booking(db, requester=self.requester, site=self.site, **fields)

    def login(self, db: Session, provider: Provider) -> User:
        assert provider.user_id is not None
        return db.get_one(User, provider.user_id)


def make_world(db: Session, *, day: dt.date | None = None) -> World:
    service = make_organisation(db, kind="providing", name="SéTIS wallon")
    centre = make_organisation(db, kind="requesting", name="Centre Croix-Rouge Tournai")
    make_service_agreement(db, providing=service, requesting=centre)
    return World(
        service=service,
        centre=centre,
        site=make_site(db, organisation=centre),
        dispatcher=make_user(db, organisation=service, role="dispatcher", full_name="Dispatch"),
        requester=make_user(db, organisation=centre, role="requester", full_name="Assistante"),
        day=day or next_monday(),
    )


def now_for(world: World) -> dt.datetime:
    """A week before the session: nothing is locked yet."""
    return at(world.day - dt.timedelta(days=7), 9)
