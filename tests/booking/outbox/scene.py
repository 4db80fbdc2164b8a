"""A small world to notify about: a reception centre, a SéTIS-like service, one session."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Assignment, Booking, Organisation, OutboxMessage, Provider, User
from tests.factories import (
    make_assignment,
    make_booking,
    make_organisation,
    make_provider,
    make_service_agreement,
    make_user,
    unique,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
# A Tuesday in winter (CET, UTC+1), far enough ahead to stay in the future.
START = dt.datetime(2031, 3, 11, 10, 0, tzinfo=BRUSSELS)
BENEFICIARY = "b-7c1f-SECRET"
NOTES = "Knows the father; trauma after the crossing"
PROVIDER_EMAIL = "selam.tesfaye@example.org"


@dataclass
class Scene:
    requesting: Organisation
    providing: Organisation
    requester: User
    dispatcher: User
    provider_user: User | None
    provider: Provider
    booking: Booking


def make_scene(
    db: Session,
    *,
    starts_at: dt.datetime = START,
    requester_locale: str = "fr",
    provider_locale: str = "nl",
    provider_phone: str | None = "+32470123456",
    modality: str = "onsite",
    signed_in: bool = True,
) -> Scene:
    """The scene; ``signed_in=False`` gives the provider no login, only their own contact."""
    requesting = make_organisation(
        db, name=unique("CAES Croisilles"), country="FR", timezone="Europe/Paris"
    )
    providing = make_organisation(db, kind="providing", name=unique("SéTIS wallon"))
    make_service_agreement(db, providing=providing, requesting=requesting)
    requester = make_user(
        db,
        organisation=requesting,
        role="requester",
        locale=requester_locale,
        full_name="Camille Dupont",
    )
    dispatcher = make_user(
        db, organisation=providing, role="dispatcher", locale="fr", full_name="Dara Lemaire"
    )
    provider_user = (
        make_user(
            db,
            organisation=providing,
            role="provider",
            locale=provider_locale,
            phone_e164=provider_phone,
            full_name="Selam Tesfaye",
        )
        if signed_in
        else None
    )
    provider = make_provider(
        db,
        organisation=providing,
        user=provider_user,
        display_name="Selam Tesfaye",
        **(
            {}
            if signed_in
            else {
                "email": PROVIDER_EMAIL,
                "phone_e164": provider_phone,
                "locale": provider_locale,
            }
        ),
    )
    booking = make_booking(
        db,
        requester=requester,
        starts_at=starts_at,
        modality=modality,
        beneficiary_ref=BENEFICIARY,
        notes=NOTES,
        **(
            {
                "address": "Rue de la Gare 12, 62128 Croisilles",
                "location_lat": 50.2,
                "location_lon": 2.88,
                "location_country": "FR",
            }
            if modality == "onsite"
            else {}
        ),
    )
    return Scene(requesting, providing, requester, dispatcher, provider_user, provider, booking)


def assign(db: Session, scene: Scene, *, status: str = "confirmed") -> Assignment:
    if status == "confirmed":
        scene.booking.status = "confirmed"
        db.flush()
    return make_assignment(
        db,
        booking=scene.booking,
        provider=scene.provider,
        status=status,
        created_by=scene.dispatcher,
    )


def messages(db: Session, **filters: object) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.due_at, OutboxMessage.id)
    for name, value in filters.items():
        query = query.where(getattr(OutboxMessage, name) == value)
    db.expire_all()
    return list(db.scalars(query))


def mark_sent(db: Session, **filters: object) -> list[OutboxMessage]:
    """What the worker would have done by now: the pending messages matching ``filters``
    went out."""
    rows = [m for m in messages(db, **filters) if m.status == "pending"]
    for row in rows:
        row.status = "sent"
        row.sent_at = row.due_at
    db.flush()
    return rows
