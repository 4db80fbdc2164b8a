"""Offers to the N best at once: the first to accept wins; expiry widens, then flags."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments import offers, service
from booking.assignments.clock import offer_expiry
from booking.errors import Conflict
from booking.models import Assignment, OutboxMessage
from booking.settings import get_settings
from booking.vocabulary import AssignmentStatus, BookingStatus
from tests.booking.dispatch_world import World, at, now_for
from tests.booking.outbox.scene import mark_sent, messages
from tests.factories import (
    CALAIS,
    PARIS,
    make_organisation,
    make_provider,
)


def offered_to(db: Session, booking_id: int) -> dict[int, str]:
    rows = db.execute(
        select(Assignment.provider_id, Assignment.status)
        .where(Assignment.booking_id == booking_id)
        .execution_options(populate_existing=True)
    )
    return {provider_id: status for provider_id, status in rows}


def events_of(db: Session, booking_id: int, event: str) -> int:
    return len(
        db.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.booking_id == booking_id, OutboxMessage.event == event
            )
        ).all()
    )


def test_the_best_candidates_get_the_offer_and_the_first_to_accept_wins(
    db: Session, world: World
) -> None:
    near = world.provider(db, name="Near")
    nearby = world.provider(db, name="Nearby", home_lat=50.62, home_lon=3.40)
    far = world.provider(db, name="Far", home_lat=CALAIS[0], home_lon=CALAIS[1])
    booking = world.booking(db)
    sent = offers.offer_booking(
        db,
        actor=world.dispatcher,
        booking=booking,
        count=2,
        expires_in_minutes=60,
        now=now_for(world),
    )
    assert [a.provider_id for a in sent] == [near.id, nearby.id]
    assert all(a.offer_expires_at == now_for(world) + dt.timedelta(minutes=60) for a in sent)
    assert booking.status == BookingStatus.PROPOSED
    assert events_of(db, booking.id, "offer_sent") >= 2
    mark_sent(db, event="offer_sent")

    service.accept(db, actor=world.login(db, nearby), assignment=sent[1], now=now_for(world))
    assert offered_to(db, booking.id) == {
        near.id: AssignmentStatus.CANCELLED,
        nearby.id: AssignmentStatus.ACCEPTED,
    }
    assert events_of(db, booking.id, "offer_closed") == 1
    with pytest.raises(Conflict) as too_late:
        service.accept(db, actor=world.login(db, near), assignment=sent[0], now=now_for(world))
    assert too_late.value.code == "not_offered"
    assert far.id not in offered_to(db, booking.id)


def _offer_statuses(db: Session, provider_user_id: int | None) -> dict[str, str]:
    return {
        m.channel: m.status
        for m in messages(db, recipient_user_id=provider_user_id)
        if m.event == "offer_sent"
    }


@pytest.mark.parametrize("how", ["accepted", "taken", "declined", "confirmed", "withdrawn"])
def test_an_offer_email_still_queued_when_the_offer_is_settled_is_voided_not_sent_late(
    db: Session, world: World, how: str
) -> None:
    """A slow mail server held the offers back; meanwhile the offer stopped being one."""
    first = world.provider(db, name="First")
    second = world.provider(db, name="Second", home_lat=50.62, home_lon=3.40)
    booking = world.booking(db)
    now = now_for(world)
    sent = offers.offer_booking(
        db, actor=world.dispatcher, booking=booking, count=2, expires_in_minutes=60, now=now
    )
    offer = next(a for a in sent if a.provider_id == first.id)
    other = next(a for a in sent if a.provider_id == second.id)
    if how == "accepted":
        service.accept(db, actor=world.login(db, first), assignment=offer, now=now)
    elif how == "taken":
        service.accept(db, actor=world.login(db, second), assignment=other, now=now)
    elif how == "declined":
        service.decline(db, actor=world.login(db, first), assignment=offer, lock_hours=24, now=now)
    elif how == "confirmed":
        service.confirm(db, actor=world.dispatcher, assignment=offer, now=now)
    else:
        service.cancel_assignment(db, actor=world.dispatcher, assignment=offer, now=now)
    assert set(_offer_statuses(db, first.user_id).values()) == {"void"}
    # Of an offer they never saw, they are not told it closed either.
    assert events_of(db, booking.id, "offer_closed") == 0
    if how in ("declined", "withdrawn"):
        assert set(_offer_statuses(db, second.user_id).values()) == {"pending"}


def test_an_offer_email_still_queued_when_the_offer_expires_is_voided(
    db: Session, world: World
) -> None:
    first = world.provider(db, name="First")
    world.provider(db, name="Second", home_lat=50.62, home_lon=3.40)
    booking = world.booking(db)
    now = now_for(world)
    offers.offer_booking(
        db, actor=world.dispatcher, booking=booking, count=1, expires_in_minutes=30, now=now
    )
    report = offers.expire_offers(db, now=now + dt.timedelta(minutes=30))
    assert report.expired == 1
    assert set(_offer_statuses(db, first.user_id).values()) == {"void"}


def test_an_offer_made_in_the_night_runs_on_the_service_s_working_hours(
    db: Session, world: World
) -> None:
    world.provider(db)
    booking = world.booking(db)
    night = at(world.day - dt.timedelta(days=7), 0, 45)
    [offer] = offers.offer_booking(
        db, actor=world.dispatcher, booking=booking, count=1, expires_in_minutes=120, now=night
    )
    assert offer.offer_expires_at == at(world.day - dt.timedelta(days=7), 10)
    assert offers.expire_offers(db, now=at(world.day - dt.timedelta(days=7), 2, 45)).expired == 0


def test_a_hand_made_offer_runs_on_the_working_hours_and_never_outlives_its_session(
    db: Session, world: World
) -> None:
    provider = world.provider(db)

    def offer_by_hand(hour: int, minutes: int, now: dt.datetime) -> dt.datetime | None:
        return service.assign_manually(
            db,
            actor=world.dispatcher,
            booking=world.booking(db, hour=hour),
            provider=provider,
            status=AssignmentStatus.OFFERED,
            offer_minutes=minutes,
            now=now,
        ).offer_expires_at

    # Sent on Friday at 18:00: one hour on Friday, the second on Monday morning.
    assert offer_by_hand(10, 120, at(world.day - dt.timedelta(days=3), 18)) == at(world.day, 9)
    # A day of working time for a session this afternoon: it ends when the session starts.
    assert offer_by_hand(14, 24 * 60, at(world.day, 9, 30)) == at(world.day, 14)


def test_the_offer_clock_follows_the_service_s_country(db: Session, world: World) -> None:
    """14 July is a holiday in France, not in Belgium: a French service's clock stands still."""
    french = make_organisation(db, kind="providing", country="FR", timezone="Europe/Paris")
    belgian = world.provider(db)
    in_france = make_provider(db, organisation=french, languages=("tir",))
    booking = world.booking(db)
    evening = dt.datetime(2025, 7, 14, 18, 0, tzinfo=PARIS)  # a Monday
    expiries = {
        provider.id: offer_expiry(
            db, provider_id=provider.id, session_start=booking.starts_at, now=evening, minutes=120
        )
        for provider in (belgian, in_france)
    }
    assert expiries[belgian.id] == dt.datetime(2025, 7, 15, 9, 0, tzinfo=PARIS)
    assert expiries[in_france.id] == dt.datetime(2025, 7, 15, 10, 0, tzinfo=PARIS)


def test_nobody_feasible_is_a_conflict(db: Session, world: World) -> None:
    world.provider(db, languages=("ara",))
    with pytest.raises(Conflict) as refused:
        offers.offer_booking(
            db,
            actor=world.dispatcher,
            booking=world.booking(db, language_code="tir"),
            count=3,
            expires_in_minutes=60,
            now=now_for(world),
        )
    assert refused.value.code == "no_candidate"
    assert refused.value.extra()["everyone_asked"] is False
    assert "asked" not in refused.value.detail


def test_when_everyone_feasible_was_asked_the_conflict_says_so(db: Session, world: World) -> None:
    world.provider(db)
    world.provider(db, hours=None)  # never free: not feasible, never asked
    booking = world.booking(db)
    ask = {"actor": world.dispatcher, "count": 3, "expires_in_minutes": 60, "now": now_for(world)}
    assert len(offers.offer_booking(db, booking=booking, **ask)) == 1  # type: ignore[arg-type]
    with pytest.raises(Conflict) as refused:
        offers.offer_booking(db, booking=booking, **ask)  # type: ignore[arg-type]
    assert refused.value.code == "no_candidate"
    assert refused.value.extra()["everyone_asked"] is True
    assert "asked already" in refused.value.detail


def test_an_unanswered_offer_widens_to_the_next_candidates(db: Session, world: World) -> None:
    first = world.provider(db, name="First")
    second = world.provider(db, name="Second", home_lat=50.62, home_lon=3.40)
    booking = world.booking(db)
    now = now_for(world)
    offers.offer_booking(
        db, actor=world.dispatcher, booking=booking, count=1, expires_in_minutes=30, now=now
    )
    assert offers.expire_offers(db, now=now + dt.timedelta(minutes=29)) == offers.ExpiryReport(
        0, 0, 0
    )
    report = offers.expire_offers(db, now=now + dt.timedelta(minutes=30))
    assert report == offers.ExpiryReport(expired=1, widened=1, flagged=0)
    assert offered_to(db, booking.id) == {
        first.id: AssignmentStatus.EXPIRED,
        second.id: AssignmentStatus.OFFERED,
    }
    [widened] = db.scalars(
        select(Assignment).where(
            Assignment.booking_id == booking.id, Assignment.status == AssignmentStatus.OFFERED
        )
    )
    assert widened.explanation["round"] == 2
    assert widened.offer_expires_at == now + dt.timedelta(minutes=60)


def test_when_nobody_is_left_the_booking_is_flagged_to_the_dispatchers(
    db: Session, world: World
) -> None:
    world.provider(db)
    booking = world.booking(db)
    now = now_for(world)
    offers.offer_booking(
        db, actor=world.dispatcher, booking=booking, count=1, expires_in_minutes=30, now=now
    )
    report = offers.expire_offers(db, now=now + dt.timedelta(hours=1))
    assert report == offers.ExpiryReport(expired=1, widened=0, flagged=1)
    assert booking.status == BookingStatus.UNFILLED
    assert booking.unfilled_reason == "offer_unanswered"
    assert events_of(db, booking.id, "offer_unanswered") == 1
    assert offers.expire_offers(db, now=now + dt.timedelta(hours=2)).expired == 0


def test_an_accepted_booking_is_not_widened_when_the_other_offers_expire(
    db: Session, world: World
) -> None:
    taker = world.provider(db)
    world.provider(db, home_lat=50.62, home_lon=3.40)
    world.provider(db, home_lat=50.63, home_lon=3.41)
    booking = world.booking(db)
    now = now_for(world)
    sent = offers.offer_booking(
        db, actor=world.dispatcher, booking=booking, count=2, expires_in_minutes=30, now=now
    )
    service.accept(db, actor=world.login(db, taker), assignment=sent[0], now=now)
    report = offers.expire_offers(db, now=now + dt.timedelta(hours=1))
    assert report == offers.ExpiryReport(0, 0, 0)
    assert sorted(offered_to(db, booking.id).values()) == ["accepted", "cancelled"]


def test_a_hand_made_offer_widens_with_the_configured_offer_lifetime(
    db: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An offer sent by hand (or from a plan) stores no lifetime of its own: the next round
    lasts TRUCHEMENT_OFFER_TIMEOUT_MINUTES."""
    monkeypatch.setenv("TRUCHEMENT_OFFER_TIMEOUT_MINUTES", "45")
    get_settings.cache_clear()
    first = world.provider(db, name="First")
    world.provider(db, name="Second", home_lat=50.62, home_lon=3.40)
    booking = world.booking(db)
    now = now_for(world)
    service.assign_manually(
        db,
        actor=world.dispatcher,
        booking=booking,
        provider=first,
        status=AssignmentStatus.OFFERED,
        offer_minutes=30,
        now=now,
    )
    try:
        report = offers.expire_offers(db, now=now + dt.timedelta(minutes=30))
    finally:
        get_settings.cache_clear()
    assert report == offers.ExpiryReport(expired=1, widened=1, flagged=0)
    [widened] = db.scalars(
        select(Assignment).where(
            Assignment.booking_id == booking.id, Assignment.status == AssignmentStatus.OFFERED
        )
    )
    assert widened.offer_expires_at == now + dt.timedelta(minutes=30 + 45)
    assert widened.explanation["expires_in_minutes"] == 45
