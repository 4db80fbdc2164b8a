"""Manual assignment under the matcher's rules, the state machine, roles, the decline lock."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments import service
from booking.audit import AuditLog
from booking.errors import Conflict, Forbidden, NotFound, Unprocessable
from booking.models import Assignment, OutboxMessage
from booking.vocabulary import AssignmentStatus, BookingStatus
from tests.booking.dispatch_world import World, at, make_world, now_for
from tests.booking.outbox.scene import mark_sent
from tests.factories import make_assignment, make_availability_exception, make_user


def assign(db: Session, world: World, **kwargs: object) -> Assignment:
    kwargs.setdefault("actor", world.dispatcher)
    kwargs.setdefault("now", now_for(world))
    return service.assign_manually(db, **kwargs)  # type: ignore[arg-type]


def events_of(db: Session, booking_id: int) -> list[str]:
    return list(
        db.scalars(
            select(OutboxMessage.event)
            .where(OutboxMessage.booking_id == booking_id)
            .order_by(OutboxMessage.id)
        )
    )


def audit_actions(db: Session, entity_type: str, entity_id: int) -> list[str]:
    return list(
        db.scalars(
            select(AuditLog.action)
            .where(AuditLog.entity_type == entity_type, AuditLog.entity_id == str(entity_id))
            .order_by(AuditLog.id)
        )
    )


# --- manual assignment ---------------------------------------------------------------------


def test_a_manual_assignment_is_proposed_and_audited(db: Session, world: World) -> None:
    provider = world.provider(db)
    booking = world.booking(db)
    assignment = assign(db, world, booking=booking, provider=provider)
    assert assignment.status == AssignmentStatus.PROPOSED
    assert (assignment.starts_at, assignment.ends_at) == (booking.starts_at, booking.ends_at)
    assert booking.status == BookingStatus.PROPOSED
    assert assignment.booking_version == booking.version_id
    assert audit_actions(db, "assignment", assignment.id) == ["assignment.proposed"]
    assert "booking.proposed" in audit_actions(db, "booking", booking.id)


def test_a_provider_who_does_not_speak_the_language_is_refused_by_rule_2(
    db: Session, world: World
) -> None:
    provider = world.provider(db, languages=("ara",))
    booking = world.booking(db, language_code="tir")
    with pytest.raises(Unprocessable) as refused:
        assign(db, world, booking=booking, provider=provider)
    assert refused.value.extra()["rule"] == 2
    assert refused.value.extra()["rule_code"] == "language"
    assert "does not speak 'tir'" in refused.value.detail


def test_a_provider_who_is_not_available_then_is_refused_by_rule_7(
    db: Session, world: World
) -> None:
    provider = world.provider(db, hours=(dt.time(13), dt.time(17)))
    booking = world.booking(db, hour=10)
    with pytest.raises(Unprocessable) as refused:
        assign(db, world, booking=booking, provider=provider)
    assert refused.value.extra()["rule"] == 7
    assert refused.value.extra()["rule_code"] == "availability"


def test_an_absence_makes_the_provider_unavailable(db: Session, world: World) -> None:
    provider = world.provider(db)
    booking = world.booking(db, hour=10)
    make_availability_exception(
        db, provider=provider, starts_at=at(world.day, 8), ends_at=at(world.day, 18)
    )
    with pytest.raises(Unprocessable) as refused:
        assign(db, world, booking=booking, provider=provider)
    assert refused.value.extra()["rule"] == 7


def test_overlapping_confirmed_work_is_refused_by_rule_9(db: Session, world: World) -> None:
    provider = world.provider(db)
    earlier = world.booking(db, hour=10, status="confirmed")
    make_assignment(db, booking=earlier, provider=provider, status="confirmed")
    booking = world.booking(db, hour=10, minute=30)
    with pytest.raises(Unprocessable) as refused:
        assign(db, world, booking=booking, provider=provider)
    assert refused.value.extra()["rule"] == 9
    assert refused.value.extra()["rule_code"] == "overlap"
    assert earlier.reference in refused.value.detail


def test_a_start_outside_the_window_is_refused_by_rule_11(db: Session, world: World) -> None:
    provider = world.provider(db)
    booking = world.booking(db, window_earliest=at(world.day, 9), window_latest=at(world.day, 11))
    with pytest.raises(Unprocessable) as refused:
        assign(db, world, booking=booking, provider=provider, starts_at=at(world.day, 12))
    assert refused.value.extra()["rule"] == 11
    inside = assign(db, world, booking=booking, provider=provider, starts_at=at(world.day, 11))
    assert inside.starts_at == at(world.day, 11)


def test_a_dispatcher_cannot_assign_another_services_provider(db: Session, world: World) -> None:
    stranger = make_world(db).provider(db)
    with pytest.raises(NotFound):
        assign(db, world, booking=world.booking(db), provider=stranger)


# --- the state machine ------------------------------------------------------------------------


def test_offer_accept_confirm_books_the_provider_and_tells_everyone(
    db: Session, world: World
) -> None:
    provider = world.provider(db)
    booking = world.booking(db)
    now = now_for(world)
    offer = assign(db, world, booking=booking, provider=provider, status=AssignmentStatus.OFFERED)
    assert offer.status == AssignmentStatus.OFFERED
    assert offer.offer_expires_at is not None and offer.offer_expires_at > now
    accepted = service.accept(db, actor=world.login(db, provider), assignment=offer, now=now)
    assert accepted.status == AssignmentStatus.ACCEPTED
    assert booking.status == BookingStatus.PROPOSED
    confirmed = service.confirm(db, actor=world.dispatcher, assignment=accepted, now=now)
    assert confirmed.status == AssignmentStatus.CONFIRMED
    assert booking.status == BookingStatus.CONFIRMED
    assert {"offer_sent", "assignment_confirmed"} <= set(events_of(db, booking.id))
    assert audit_actions(db, "assignment", offer.id) == [
        "assignment.proposed",
        "assignment.offered",
        "assignment.accepted",
        "assignment.confirmed",
    ]


def test_a_provider_cannot_confirm_nor_answer_someone_elses_offer(
    db: Session, world: World
) -> None:
    mine, theirs = world.provider(db), world.provider(db)
    offer = assign(
        db, world, booking=world.booking(db), provider=theirs, status=AssignmentStatus.OFFERED
    )
    with pytest.raises(Forbidden):
        service.accept(db, actor=world.login(db, mine), assignment=offer, now=now_for(world))
    with pytest.raises(Forbidden):
        service.confirm(db, actor=world.login(db, theirs), assignment=offer, now=now_for(world))
    requester = make_user(db, organisation=world.centre)
    with pytest.raises(Forbidden):
        service.cancel_assignment(db, actor=requester, assignment=offer)


def test_an_expired_offer_cannot_be_accepted(db: Session, world: World) -> None:
    provider = world.provider(db)
    offer = assign(
        db, world, booking=world.booking(db), provider=provider, status=AssignmentStatus.OFFERED
    )
    late = offer.offer_expires_at + dt.timedelta(seconds=1)  # type: ignore[operator]
    with pytest.raises(Conflict) as refused:
        service.accept(db, actor=world.login(db, provider), assignment=offer, now=late)
    assert refused.value.code == "offer_expired"


def test_declining_an_offer_sends_the_booking_back_and_flags_the_dispatchers(
    db: Session, world: World
) -> None:
    provider = world.provider(db)
    booking = world.booking(db)
    offer = assign(db, world, booking=booking, provider=provider, status=AssignmentStatus.OFFERED)
    declined = service.decline(
        db,
        actor=world.login(db, provider),
        assignment=offer,
        lock_hours=24,
        reason="on leave",
        now=now_for(world),
    )
    assert declined.status == AssignmentStatus.DECLINED
    assert booking.status == BookingStatus.REQUESTED
    assert "offer_unanswered" in events_of(db, booking.id)


def test_a_provider_cannot_give_back_accepted_work_within_the_lock_but_a_dispatcher_can(
    db: Session, world: World
) -> None:
    provider = world.provider(db)
    booking = world.booking(db, hour=10)
    offer = assign(db, world, booking=booking, provider=provider, status=AssignmentStatus.OFFERED)
    service.accept(db, actor=world.login(db, provider), assignment=offer, now=now_for(world))
    two_hours_before = at(world.day, 8)
    with pytest.raises(Conflict) as refused:
        service.decline(
            db,
            actor=world.login(db, provider),
            assignment=offer,
            lock_hours=24,
            now=two_hours_before,
        )
    assert refused.value.code == "decline_locked"
    given_back = service.decline(
        db, actor=world.dispatcher, assignment=offer, lock_hours=24, now=two_hours_before
    )
    assert given_back.status == AssignmentStatus.DECLINED
    assert booking.status == BookingStatus.REQUESTED


def test_a_provider_may_give_back_accepted_work_before_the_lock(db: Session, world: World) -> None:
    provider = world.provider(db)
    offer = assign(
        db, world, booking=world.booking(db), provider=provider, status=AssignmentStatus.OFFERED
    )
    service.accept(db, actor=world.login(db, provider), assignment=offer, now=now_for(world))
    declined = service.decline(
        db, actor=world.login(db, provider), assignment=offer, lock_hours=24, now=now_for(world)
    )
    assert declined.status == AssignmentStatus.DECLINED


def test_confirming_overlapping_work_for_one_provider_is_a_conflict(
    db: Session, world: World
) -> None:
    provider = world.provider(db)
    first = assign(db, world, booking=world.booking(db, hour=10), provider=provider)
    second = assign(db, world, booking=world.booking(db, hour=10, minute=30), provider=provider)
    service.confirm(db, actor=world.dispatcher, assignment=first, now=now_for(world))
    with pytest.raises(Conflict) as refused:
        service.confirm(db, actor=world.dispatcher, assignment=second, now=now_for(world))
    assert refused.value.code == "provider_double_booked"
    assert second.status == AssignmentStatus.PROPOSED


def test_confirming_closes_the_other_offers_of_the_booking(db: Session, world: World) -> None:
    winner, other = world.provider(db), world.provider(db)
    booking = world.booking(db)
    offers = [
        assign(db, world, booking=booking, provider=p, status=AssignmentStatus.OFFERED)
        for p in (winner, other)
    ]
    mark_sent(db, event="offer_sent")
    service.confirm(db, actor=world.dispatcher, assignment=offers[0], now=now_for(world))
    db.refresh(offers[1])
    assert offers[1].status == AssignmentStatus.CANCELLED
    assert "offer_closed" in events_of(db, booking.id)


def test_an_assignment_made_before_a_reschedule_cannot_be_confirmed(
    db: Session, world: World
) -> None:
    provider = world.provider(db)
    booking = world.booking(db, hour=10)
    proposal = assign(db, world, booking=booking, provider=provider)
    booking.starts_at = at(world.day, 14)
    db.flush()
    with pytest.raises(Conflict) as refused:
        service.confirm(db, actor=world.dispatcher, assignment=proposal, now=now_for(world))
    assert refused.value.code == "stale_assignment"


def test_cancelling_confirmed_work_reopens_the_booking_and_tells_the_provider(
    db: Session, world: World
) -> None:
    provider = world.provider(db)
    booking = world.booking(db)
    proposal = assign(db, world, booking=booking, provider=provider)
    service.confirm(db, actor=world.dispatcher, assignment=proposal, now=now_for(world))
    mark_sent(db, event="assignment_confirmed")
    cancelled = service.cancel_assignment(
        db, actor=world.dispatcher, assignment=proposal, reason="ill", now=now_for(world)
    )
    assert cancelled.status == AssignmentStatus.CANCELLED
    assert booking.status == BookingStatus.REQUESTED
    assert "assignment_cancelled" in events_of(db, booking.id)
    with pytest.raises(Conflict):
        service.cancel_assignment(db, actor=world.dispatcher, assignment=proposal)


def test_a_provider_sees_only_their_own_sent_work(db: Session, world: World) -> None:
    provider, other = world.provider(db), world.provider(db)
    draft = assign(db, world, booking=world.booking(db, hour=9), provider=provider)
    offer = assign(
        db,
        world,
        booking=world.booking(db, hour=13),
        provider=provider,
        status=AssignmentStatus.OFFERED,
    )
    theirs = assign(db, world, booking=world.booking(db, hour=15), provider=other)
    login = world.login(db, provider)
    assert service.get_visible_assignment(db, login, offer.id).id == offer.id
    for hidden in (draft, theirs):
        with pytest.raises(NotFound):
            service.get_visible_assignment(db, login, hidden.id)
