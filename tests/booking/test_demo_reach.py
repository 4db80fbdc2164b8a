"""Done when: confirming any demo request tells its provider by email and SMS, and reminds them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.access import served_organisation_ids
from booking.assignments.service import CandidateView, assign_manually, candidates_for
from booking.demo import PROVIDER_DOMAIN, seed_demo_data
from booking.models import Booking, Organisation, OutboxMessage, Provider, User
from booking.phones import mobile_e164
from booking.settings import get_settings
from booking.vocabulary import AssignmentStatus, BookingStatus, UserRole
from tests.conftest import clear_settings

MONDAY = dt.date(2030, 3, 4)
NOW = dt.datetime(2030, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def file_backends(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The demo's delivery: email and SMS written to files."""
    monkeypatch.setenv("TRUCHEMENT_EMAIL_BACKEND", "file")
    monkeypatch.setenv("TRUCHEMENT_SMS_BACKEND", "file")
    clear_settings()
    yield
    clear_settings()


def test_every_demo_provider_can_be_reached_at_fictitious_addresses(db: Session) -> None:
    seed_demo_data(db, seed=7, first_day=MONDAY)
    providers = db.scalars(select(Provider)).all()
    countries = dict(db.execute(select(Organisation.id, Organisation.country)).all())
    emails = [p.email for p in providers]
    assert len(set(emails)) == len(providers)
    for provider in providers:
        assert provider.email and provider.email.endswith("@" + PROVIDER_DOMAIN)
        assert provider.phone_e164 is not None
        assert mobile_e164(provider.phone_e164) == provider.phone_e164
        if countries[provider.organisation_id] == "FR":
            assert provider.phone_e164.startswith("+3363998")  # Arcep's fiction range
        else:
            assert provider.phone_e164.startswith("+3247000")
        assert provider.message_channels == "both"


def test_confirming_demo_requests_queues_the_provider_s_confirmation_and_reminders(
    db: Session,
) -> None:
    seed_demo_data(db, seed=7, first_day=MONDAY)
    dispatchers = db.scalars(
        select(User).where(User.role == UserRole.DISPATCHER).order_by(User.id)
    ).all()
    requested = db.scalars(
        select(Booking)
        .where(Booking.status == BookingStatus.REQUESTED)
        .order_by(Booking.starts_at, Booking.id)
    ).all()
    confirmed = without_login = 0
    for booking in requested:
        found = _best_candidate(db, dispatchers, booking)
        if found is None:
            continue
        dispatcher, best = found
        provider = db.get_one(Provider, best.provider.id)
        assignment = assign_manually(
            db,
            actor=dispatcher,
            booking=booking,
            provider=provider,
            starts_at=best.starts_at,
            status=AssignmentStatus.CONFIRMED,
            now=NOW,
        )
        rows = db.scalars(
            select(OutboxMessage).where(
                OutboxMessage.booking_id == booking.id,
                OutboxMessage.recipient_provider_id == provider.id,
            )
        ).all()
        sent = {(row.event, row.channel, row.recipient) for row in rows}
        assert ("assignment_confirmed", "email", provider.email) in sent
        assert ("assignment_confirmed", "sms", provider.phone_e164) in sent
        for hours in get_settings().reminder_offsets_hours:
            if assignment.starts_at - dt.timedelta(hours=hours) > NOW:
                assert (f"reminder_{hours}h", "email", provider.email) in sent
                assert (f"reminder_{hours}h", "sms", provider.phone_e164) in sent
        confirmed += 1
        without_login += provider.user_id is None
        if confirmed == 6:
            break
    assert confirmed == 6 and without_login > 0


def _best_candidate(
    db: Session, dispatchers: Sequence[User], booking: Booking
) -> tuple[User, CandidateView] | None:
    """The first dispatcher serving the booking who has a feasible candidate, and that candidate."""
    for dispatcher in dispatchers:
        if booking.organisation_id not in served_organisation_ids(db, dispatcher.organisation_id):
            continue
        ranked = candidates_for(db, actor=dispatcher, booking=booking, now=NOW)
        best = next((c for c in ranked if c.feasible), None)
        if best is not None:
            return dispatcher, best
    return None
