"""Accepted work is a commitment: every path that gives a provider work checks it.

One request at a time (the races are in tests/api/test_commitments_pg.py): a
provider who accepted an offer cannot be confirmed, offered or planned into
overlapping work elsewhere, nor into work that leaves no time to drive between
the two places; and the other way round.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from booking.assignments import offers, service
from booking.errors import Conflict, Unprocessable
from booking.models import Assignment, Booking, Provider, Site
from booking.plans import service as plans
from booking.vocabulary import AssignmentStatus
from tests.booking.dispatch_world import World, at, now_for
from tests.factories import make_assignment, make_booking, make_site

MONS = (50.4542, 3.9523)
"""About an hour's drive from Tournai, where the world's centre and providers are."""


def mons_site(db: Session, world: World) -> Site:
    return make_site(
        db, organisation=world.centre, name="Antenne de Mons", town="Mons", lat=MONS[0], lon=MONS[1]
    )


def in_mons(db: Session, world: World, hour: int, minute: int = 0) -> Booking:
    """A booking of the world's centre at its Mons office."""
    return make_booking(
        db,
        requester=world.requester,
        site=mons_site(db, world),
        starts_at=at(world.day, hour, minute),
    )


def offered(db: Session, world: World, provider: Provider, booking: Booking) -> Assignment:
    return make_assignment(
        db,
        booking=booking,
        provider=provider,
        status="offered",
        created_by=world.dispatcher,
        offer_expires_at=now_for(world) + dt.timedelta(hours=2),
    )


def accepted_at_ten(db: Session, world: World, provider: Provider) -> Assignment:
    """The provider accepted an offer for 10:00-11:00 in Tournai."""
    offer = offered(db, world, provider, world.booking(db, hour=10, status="proposed"))
    return service.accept(db, actor=world.login(db, provider), assignment=offer, now=now_for(world))


def proposal(db: Session, world: World, provider: Provider, booking: Booking) -> Assignment:
    return make_assignment(db, booking=booking, provider=provider, created_by=world.dispatcher)


def test_confirming_overlapping_work_after_an_accept_is_refused(db: Session, world: World) -> None:
    """The issue's reproduction: accept Y, then confirm overlapping X (both were 200)."""
    provider = world.provider(db)
    accepted_at_ten(db, world, provider)
    overlapping = proposal(db, world, provider, world.booking(db, hour=10, minute=30))
    with pytest.raises(Conflict) as refused:
        service.confirm(db, actor=world.dispatcher, assignment=overlapping, now=now_for(world))
    assert refused.value.code == "provider_double_booked"
    assert "accepted" in refused.value.detail
    assert overlapping.status == AssignmentStatus.PROPOSED


def test_confirming_work_with_no_time_to_drive_after_an_accept_is_refused(
    db: Session, world: World
) -> None:
    provider = world.provider(db)
    accepted_at_ten(db, world, provider)
    far = proposal(db, world, provider, in_mons(db, world, 11, 5))
    with pytest.raises(Conflict) as refused:
        service.confirm(db, actor=world.dispatcher, assignment=far, now=now_for(world))
    assert refused.value.code == "no_time_to_drive"
    assert refused.value.extra()["rule"] == 9
    assert "no free time for the drive" in refused.value.detail
    assert "(ends 11:00)" in refused.value.detail
    assert far.status == AssignmentStatus.PROPOSED


def test_work_right_after_in_the_same_place_or_with_time_to_drive_is_confirmed(
    db: Session, world: World
) -> None:
    provider = world.provider(db)
    accepted_at_ten(db, world, provider)
    next_door = proposal(db, world, provider, world.booking(db, hour=11))
    service.confirm(db, actor=world.dispatcher, assignment=next_door, now=now_for(world))
    later = proposal(db, world, provider, in_mons(db, world, 13, 30))
    service.confirm(db, actor=world.dispatcher, assignment=later, now=now_for(world))
    assert (next_door.status, later.status) == (AssignmentStatus.CONFIRMED,) * 2


def test_accepting_an_offer_with_no_time_to_drive_from_confirmed_work_is_refused(
    db: Session, world: World
) -> None:
    provider = world.provider(db)
    confirmed = proposal(db, world, provider, world.booking(db, hour=10))
    service.confirm(db, actor=world.dispatcher, assignment=confirmed, now=now_for(world))
    offer = offered(db, world, provider, in_mons(db, world, 11, 5))
    with pytest.raises(Conflict) as refused:
        service.accept(db, actor=world.login(db, provider), assignment=offer, now=now_for(world))
    assert refused.value.code == "no_time_to_drive"
    assert offer.status == AssignmentStatus.OFFERED


def test_an_offer_into_accepted_work_is_not_sent(db: Session, world: World) -> None:
    provider = world.provider(db)
    accepted_at_ten(db, world, provider)
    overlapping = proposal(db, world, provider, world.booking(db, hour=10, minute=30))
    with pytest.raises(Conflict) as refused:
        service.send_offer(
            db,
            actor=world.dispatcher,
            assignment=overlapping,
            booking=db.get_one(Booking, overlapping.booking_id),
            expires_at=now_for(world) + dt.timedelta(hours=2),
            now=now_for(world),
        )
    assert refused.value.code == "provider_double_booked"
    assert overlapping.status == AssignmentStatus.PROPOSED


def test_a_manual_assignment_into_accepted_work_breaks_rule_9(db: Session, world: World) -> None:
    provider = world.provider(db)
    accepted_at_ten(db, world, provider)
    for status in (AssignmentStatus.PROPOSED, AssignmentStatus.CONFIRMED):
        with pytest.raises(Unprocessable) as refused:
            service.assign_manually(
                db,
                actor=world.dispatcher,
                booking=world.booking(db, hour=10, minute=30),
                provider=provider,
                status=status,
                now=now_for(world),
            )
        assert refused.value.extra()["rule"] == 9


def test_offers_skip_a_provider_who_accepted_overlapping_work(db: Session, world: World) -> None:
    busy = world.provider(db, name="Busy")
    accepted_at_ten(db, world, busy)
    free = world.provider(db, name="Free")
    sent = offers.offer_booking(
        db,
        actor=world.dispatcher,
        booking=world.booking(db, hour=10, minute=30),
        count=5,
        expires_in_minutes=60,
        now=now_for(world),
    )
    assert [offer.provider_id for offer in sent] == [free.id]


@pytest.mark.parametrize("mode", ["confirm", "offer"])
def test_applying_a_plan_into_work_accepted_since_is_refused(
    db: Session, world: World, mode: str
) -> None:
    provider = world.provider(db)
    booking = world.booking(db, hour=10, minute=30)
    plan = plans.run_plan(
        db,
        actor=world.dispatcher,
        horizon_start=at(world.day, 0),
        horizon_end=at(world.day + dt.timedelta(days=1), 0),
        time_limit=5,
        now=now_for(world),
    )
    # Meanwhile the provider accepted an overlapping offer.
    accepted_at_ten(db, world, provider)
    result = plans.apply_plan(
        db,
        actor=world.dispatcher,
        plan=plan,
        mode=mode,  # type: ignore[arg-type]
        now=now_for(world),
    )
    assert result.applied == []
    assert [(r.booking_id, r.code) for r in result.refused] == [
        (booking.id, "provider_double_booked")
    ]
