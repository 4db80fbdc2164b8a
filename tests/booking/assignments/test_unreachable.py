"""A provider no message can reach: never offered, confirmed only when agreed by phone."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments import offers, service
from booking.audit import AuditLog
from booking.errors import Conflict, Forbidden
from booking.models import OutboxMessage, Provider
from booking.plans import service as plans
from booking.providers.links import LinkHolder
from booking.vocabulary import AssignmentStatus
from tests.booking.dispatch_world import World, at, now_for
from tests.factories import make_assignment


def unreachable(db: Session, world: World, name: str = "Mulu Haile") -> Provider:
    return world.provider(db, name=name, with_login=False, email=None, phone_e164=None)


def confirmed_audit(db: Session) -> AuditLog:
    return db.scalars(select(AuditLog).where(AuditLog.action == "assignment.confirmed")).one()


def test_confirming_an_unreachable_provider_needs_a_phone_call(db: Session, world: World) -> None:
    provider = unreachable(db, world)
    booking = world.booking(db)
    proposal = make_assignment(db, booking=booking, provider=provider, created_by=world.dispatcher)
    with pytest.raises(Conflict) as refused:
        service.confirm(db, actor=world.dispatcher, assignment=proposal, now=now_for(world))
    assert refused.value.code == "provider_unreachable"
    assert proposal.status == AssignmentStatus.PROPOSED
    confirmed = service.confirm(
        db, actor=world.dispatcher, assignment=proposal, now=now_for(world), confirmed_by_phone=True
    )
    assert confirmed.status == AssignmentStatus.CONFIRMED and confirmed.confirmed_by_phone
    assert confirmed_audit(db).changes["confirmed_by_phone"] is True
    # The requester is still told; the provider, whom nothing reaches, is not written to.
    rows = db.scalars(select(OutboxMessage).where(OutboxMessage.booking_id == booking.id)).all()
    assert rows and all(row.recipient_provider_id is None for row in rows)


def test_a_reachable_provider_is_confirmed_as_before(db: Session, world: World) -> None:
    provider = world.provider(db, with_login=False, email="selam@example.org")
    proposal = make_assignment(
        db, booking=world.booking(db), provider=provider, created_by=world.dispatcher
    )
    confirmed = service.confirm(db, actor=world.dispatcher, assignment=proposal, now=now_for(world))
    assert not confirmed.confirmed_by_phone
    assert "confirmed_by_phone" not in confirmed_audit(db).changes


def test_a_manual_assignment_offered_to_an_unreachable_provider_is_refused(
    db: Session, world: World
) -> None:
    provider = unreachable(db, world)
    booking = world.booking(db)
    for status in (AssignmentStatus.OFFERED, AssignmentStatus.CONFIRMED):
        with pytest.raises(Conflict) as refused:
            service.assign_manually(
                db,
                actor=world.dispatcher,
                booking=booking,
                provider=provider,
                status=status,
                now=now_for(world),
                # A phone call confirms; it cannot make an offer reach anyone.
                confirmed_by_phone=status == AssignmentStatus.OFFERED,
            )
        assert refused.value.code == "provider_unreachable"
    confirmed = service.assign_manually(
        db,
        actor=world.dispatcher,
        booking=booking,
        provider=provider,
        status=AssignmentStatus.CONFIRMED,
        now=now_for(world),
        confirmed_by_phone=True,
    )
    assert confirmed.status == AssignmentStatus.CONFIRMED and confirmed.confirmed_by_phone


def test_offers_to_the_best_skip_those_nobody_can_reach(db: Session, world: World) -> None:
    silent = unreachable(db, world)
    reachable = world.provider(db, name="Far but reachable", home_lat=50.7, home_lon=3.6)
    booking = world.booking(db)
    ranked = service.candidates_for(db, actor=world.dispatcher, booking=booking, now=now_for(world))
    assert next(c.provider.id for c in ranked if c.feasible) == silent.id
    sent = offers.offer_booking(
        db,
        actor=world.dispatcher,
        booking=booking,
        count=1,
        expires_in_minutes=60,
        now=now_for(world),
    )
    assert [offer.provider_id for offer in sent] == [reachable.id]


def test_applying_a_plan_refuses_unreachable_providers_and_applies_the_rest(
    db: Session, world: World
) -> None:
    unreachable(db, world)
    world.booking(db)
    plan = plans.run_plan(
        db,
        actor=world.dispatcher,
        horizon_start=at(world.day, 0),
        horizon_end=at(world.day + dt.timedelta(days=1), 0),
        time_limit=5,
        now=now_for(world),
    )
    outcome = plans.apply_plan(db, actor=world.dispatcher, plan=plan, now=now_for(world))
    assert outcome.applied == []
    assert [r.code for r in outcome.refused] == ["provider_unreachable"]


def test_a_signed_link_answers_only_its_own_offer(db: Session, world: World) -> None:
    provider = world.provider(db, with_login=False)
    booking = world.booking(db)
    booking.status = "proposed"
    offer = make_assignment(
        db, booking=booking, provider=provider, status="offered", created_by=world.dispatcher
    )
    stranger = LinkHolder(provider_id=provider.id, assignment_id=offer.id + 1000)
    with pytest.raises(Forbidden):
        service.accept(db, actor=stranger, assignment=offer)
    holder = LinkHolder(provider_id=provider.id, assignment_id=offer.id)
    accepted = service.accept(db, actor=holder, assignment=offer)
    assert accepted.status == AssignmentStatus.ACCEPTED and accepted.decided_by_id is None


def test_a_signed_link_cannot_give_back_held_work(db: Session, world: World) -> None:
    provider = world.provider(db, with_login=False)
    booking = world.booking(db)
    booking.status = "confirmed"
    held = make_assignment(
        db, booking=booking, provider=provider, status="confirmed", created_by=world.dispatcher
    )
    holder = LinkHolder(provider_id=provider.id, assignment_id=held.id)
    with pytest.raises(Conflict) as refused:
        service.decline(db, actor=holder, assignment=held, lock_hours=0)
    assert refused.value.code == "not_offered"
    assert held.status == AssignmentStatus.CONFIRMED
