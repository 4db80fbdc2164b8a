"""Re-staffing: work that falls through is re-planned alone, offered or proposed, and told."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments import service as assignments
from booking.audit import AuditLog
from booking.models import Assignment, Booking, OutboxMessage, Provider
from booking.plans.models import Plan
from booking.plans.repair import open_repairs, run_pending_repairs
from booking.providers.availability import ExceptionData, RuleData, replace_availability
from booking.providers.models import ProviderLanguage
from booking.providers.service import update_provider
from booking.vocabulary import AssignmentStatus, BookingStatus, PlanKind, PlanStatus
from notify.render import render_email
from tests.booking.dispatch_world import World, at, now_for
from tests.factories import make_assignment

WEEKDAYS = range(5)


def _confirmed(db: Session, world: World, provider: Provider, hour: int) -> Booking:
    booking = world.booking(db, hour=hour, status="confirmed")
    make_assignment(db, booking=booking, provider=provider, status="confirmed")
    return booking


def _story(db: Session, world: World) -> tuple[Provider, list[Booking], Booking]:
    """Awet has three confirmed sessions on the day, Bereket one; Selam is free."""
    awet = world.provider(db, name="Awet")
    world.provider(db, name="Selam")
    bereket = world.provider(db, name="Bereket")
    fell = [_confirmed(db, world, awet, hour) for hour in (9, 11, 14)]
    kept = _confirmed(db, world, bereket, 16)
    return awet, fell, kept


def _absent_all_day(db: Session, world: World, awet: Provider) -> None:
    """Awet, signed in, records an absence over the day (their weekly hours unchanged)."""
    replace_availability(
        db,
        actor=world.login(db, awet),
        provider=awet,
        timezone="Europe/Brussels",
        rules=[RuleData(d, dt.time(8, 30), dt.time(17, 0)) for d in WEEKDAYS],
        exceptions=[
            ExceptionData("absence", at(world.day, 0), at(world.day + dt.timedelta(days=1), 0))
        ],
    )


def _held(db: Session, booking: Booking) -> list[Assignment]:
    return list(
        db.scalars(
            select(Assignment).where(
                Assignment.booking_id == booking.id,
                Assignment.status.in_(("offered", "accepted", "confirmed", "proposed")),
            )
        )
    )


def test_an_absence_over_three_confirmed_sessions_is_offered_to_the_free_provider_in_one_tick(
    db: Session, world: World
) -> None:
    awet, fell, kept = _story(db, world)
    world.service.auto_offer = True
    db.flush()

    _absent_all_day(db, world, awet)
    for booking in fell:
        assert booking.status == BookingStatus.REQUESTED
    [pending] = db.scalars(select(Plan).where(Plan.kind == PlanKind.REPAIR)).all()
    assert pending.status == PlanStatus.PENDING
    assert sorted(pending.parameters["booking_ids"]) == sorted(b.id for b in fell)

    [repair] = run_pending_repairs(db, now=now_for(world))  # one worker tick

    assert repair.id == pending.id and repair.status == PlanStatus.DONE
    for booking in fell:
        [offer] = _held(db, booking)
        assert offer.status == AssignmentStatus.OFFERED
        assert offer.provider_id != awet.id  # Selam or Bereket, around his 16:00
    [still] = _held(db, kept)
    assert still.status == AssignmentStatus.CONFIRMED and kept.status == BookingStatus.CONFIRMED
    assert [p["booking_id"] for p in repair.result["pinned"]] == [kept.id]

    story = [
        entry.action
        for entry in db.scalars(select(AuditLog).order_by(AuditLog.id))
        if entry.action.startswith(("assignment.fell", "plan.repair", "assignment.offered"))
    ]
    assert story[:3] == ["assignment.fell_through"] * 3
    assert story[3] == "plan.repair_requested"
    assert "plan.repaired" in story
    alerts = db.scalars(select(OutboxMessage).where(OutboxMessage.event == "repair_proposed")).all()
    assert len(alerts) == 3
    assert all(a.recipient_user_id == world.dispatcher.id for a in alerts)
    assert all(a.context["fell_through"] == "Awet" and a.context["offered"] for a in alerts)
    assert {a.context["proposed_name"] for a in alerts} <= {"Selam", "Bereket"}


def test_a_solver_process_takes_a_repair_from_the_plans_queue_like_any_plan(
    db: Session, world: World, solve_queued: Callable[[], list[int]]
) -> None:
    awet, fell, _kept = _story(db, world)
    world.service.auto_offer = True
    _absent_all_day(db, world, awet)
    [pending] = db.scalars(select(Plan).where(Plan.kind == PlanKind.REPAIR)).all()

    assert solve_queued() == [pending.id]

    assert pending.status == PlanStatus.DONE and pending.attempts == 1
    for booking in fell:
        [offer] = _held(db, booking)
        assert offer.status == AssignmentStatus.OFFERED and offer.provider_id != awet.id
    assert run_pending_repairs(db, now=now_for(world)) == []  # solved once, not twice


def test_without_auto_offer_the_repair_waits_on_the_board_as_a_proposal(
    db: Session, world: World
) -> None:
    awet, fell, kept = _story(db, world)
    _absent_all_day(db, world, awet)
    [repair] = run_pending_repairs(db, now=now_for(world))

    for booking in fell:
        [proposal] = _held(db, booking)
        assert proposal.status == AssignmentStatus.PROPOSED and proposal.plan_id == repair.id
        assert booking.status == BookingStatus.PROPOSED
    assert open_repairs(db, world.service.id) == [repair]
    assert kept.status == BookingStatus.CONFIRMED


def test_giving_back_confirmed_work_is_repaired_and_nobody_free_leaves_it_on_the_board(
    db: Session, world: World
) -> None:
    awet = world.provider(db, name="Awet")
    booking = _confirmed(db, world, awet, 10)
    [held] = _held(db, booking)
    assignments.decline(
        db, actor=world.dispatcher, assignment=held, lock_hours=24, now=now_for(world)
    )
    [repair] = run_pending_repairs(db, now=now_for(world))
    assert repair.parameters["trigger"] == "gave_back"
    assert repair.result["proposals"] == []
    assert booking.status == BookingStatus.UNFILLED
    [alert] = db.scalars(select(OutboxMessage).where(OutboxMessage.event == "repair_proposed"))
    assert alert.context["proposed_name"] is None


def test_a_deactivated_provider_s_work_falls_through(db: Session, world: World) -> None:
    awet, fell, _kept = _story(db, world)
    update_provider(db, actor=world.dispatcher, provider=awet, changes={"is_active": False})
    [pending] = db.scalars(select(Plan).where(Plan.kind == PlanKind.REPAIR)).all()
    assert pending.parameters["trigger"] == "deactivated"
    assert sorted(pending.parameters["booking_ids"]) == sorted(b.id for b in fell)


def test_an_urgent_request_gets_a_repair_and_a_later_one_does_not(
    db: Session, world: World
) -> None:
    world.provider(db, name="Selam")
    from booking.plans.repair import urgent_request

    soon = world.booking(db, hour=10)
    assert urgent_request(db, booking=soon, now=at(world.day, 8)) is not None
    assert urgent_request(db, booking=soon, now=now_for(world)) is None
    [repair] = run_pending_repairs(db, now=at(world.day, 8))
    assert repair.parameters["trigger"] == "urgent_request"
    assert [p["booking_id"] for p in repair.result["proposals"]] == [soon.id]


def _certified_session(
    db: Session, world: World, provider: Provider, hour: int, *, certified: bool = True
) -> Booking:
    booking = world.booking(db, hour=hour, status="confirmed", requires_certified=certified)
    make_assignment(db, booking=booking, provider=provider, status="confirmed")
    return booking


def _certified_until(db: Session, provider: Provider, until: dt.date | None) -> None:
    [language] = db.scalars(
        select(ProviderLanguage).where(ProviderLanguage.provider_id == provider.id)
    )
    language.certified_until = until
    db.flush()


def test_a_certification_expiring_before_certified_work_makes_it_fall_through_in_one_tick(
    db: Session, world: World
) -> None:
    awet = world.provider(db, name="Awet", certified=True)
    world.provider(db, name="Selam", certified=True)
    needs_it = _certified_session(db, world, awet, 9)
    does_not = _certified_session(db, world, awet, 14, certified=False)
    _certified_until(db, awet, world.day - dt.timedelta(days=1))

    [repair] = run_pending_repairs(db, now=now_for(world))

    assert repair.parameters["trigger"] == "certification_expired"
    assert repair.parameters["booking_ids"] == [needs_it.id]
    [proposal] = _held(db, needs_it)
    assert proposal.provider_id != awet.id and proposal.status == AssignmentStatus.PROPOSED
    [kept] = _held(db, does_not)
    assert kept.provider_id == awet.id and kept.status == AssignmentStatus.CONFIRMED
    [entry] = db.scalars(select(AuditLog).where(AuditLog.action == "assignment.fell_through")).all()
    assert entry.actor_user_id is None and entry.changes["reason"] == "certification_expired"


def test_certified_work_given_knowingly_to_someone_uncertified_or_expired_stays(
    db: Session, world: World
) -> None:
    uncertified = world.provider(db, name="Awet")
    expired = world.provider(db, name="Bereket", certified=True)
    _certified_until(db, expired, dt.date.today() - dt.timedelta(days=1))
    by_hand = [_certified_session(db, world, p, h) for p, h in ((uncertified, 9), (expired, 11))]

    assert run_pending_repairs(db, now=now_for(world)) == []
    for booking in by_hand:
        [held] = _held(db, booking)
        assert held.status == AssignmentStatus.CONFIRMED


def test_a_certification_holding_on_the_session_day_keeps_the_work(
    db: Session, world: World
) -> None:
    awet = world.provider(db, name="Awet", certified=True)
    booking = _certified_session(db, world, awet, 9)
    _certified_until(db, awet, world.day)  # its last day still counts

    assert run_pending_repairs(db, now=now_for(world)) == []
    [held] = _held(db, booking)
    assert held.provider_id == awet.id and held.status == AssignmentStatus.CONFIRMED


def _only_bereket_speaks_arabic(
    db: Session, world: World, move_confirmed: str
) -> tuple[Provider, Provider, Booking, Booking]:
    """Awet gives back an Arabic session at 10:00 that only Bereket speaks; Bereket is
    confirmed for a Tigrinya session at the same hour, which Selam could do."""
    awet = world.provider(db, name="Awet", languages=("ara",))
    bereket = world.provider(db, name="Bereket", languages=("tir", "ara"))
    selam = world.provider(db, name="Selam", languages=("tir",))
    arabic = world.booking(db, hour=10, language_code="ara")
    tigrinya = _confirmed(db, world, bereket, 10)
    from booking.plans.repair import request_repair

    request_repair(
        db,
        actor=world.dispatcher,
        providing_org_id=world.service.id,
        booking_ids=[arabic.id],
        trigger="gave_back",
        fell_through={arabic.id: "Awet"},
        dropped={arabic.id: awet.id},
        move_confirmed=move_confirmed,  # type: ignore[arg-type]
        now=now_for(world),
    )
    return bereket, selam, arabic, tigrinya


def test_by_default_a_repair_never_moves_confirmed_work_even_to_staff_a_session(
    db: Session, world: World
) -> None:
    bereket, _selam, arabic, tigrinya = _only_bereket_speaks_arabic(db, world, "forbid")
    [repair] = run_pending_repairs(db, now=now_for(world))
    assert repair.result["proposals"] == [] and repair.result["moved"] == []
    assert arabic.status == BookingStatus.UNFILLED
    [held] = _held(db, tigrinya)
    assert held.provider_id == bereket.id and held.status == AssignmentStatus.CONFIRMED


def test_allowed_to_move_confirmed_work_a_repair_moves_it_to_staff_one_session_more(
    db: Session, world: World
) -> None:
    bereket, selam, arabic, tigrinya = _only_bereket_speaks_arabic(db, world, "allow")
    [repair] = run_pending_repairs(db, now=now_for(world))

    assert [m["booking_id"] for m in repair.result["moved"]] == [tigrinya.id]
    [arabic_proposal] = _held(db, arabic)
    assert arabic_proposal.provider_id == bereket.id
    [tigrinya_proposal] = _held(db, tigrinya)
    assert tigrinya_proposal.provider_id == selam.id
    assert tigrinya_proposal.status == AssignmentStatus.PROPOSED
    [moved] = db.scalars(select(AuditLog).where(AuditLog.action == "assignment.moved")).all()
    assert moved.changes["status"] == ["confirmed", "cancelled"]
    alerts = db.scalars(select(OutboxMessage).where(OutboxMessage.event == "repair_proposed"))
    assert {(a.context["fell_through"], a.context["proposed_name"]) for a in alerts} == {
        ("Awet", "Bereket"),
        ("Bereket", "Selam"),
    }


def test_allowed_to_move_confirmed_work_a_repair_does_not_move_it_to_save_travel(
    db: Session, world: World
) -> None:
    awet, fell, kept = _story(db, world)
    _absent_all_day(db, world, awet)
    [pending] = db.scalars(select(Plan).where(Plan.kind == PlanKind.REPAIR)).all()
    pending.parameters = {**pending.parameters, "move_confirmed": "allow"}
    [repair] = run_pending_repairs(db, now=now_for(world))
    assert repair.result["moved"] == []
    [still] = _held(db, kept)
    assert still.status == AssignmentStatus.CONFIRMED
    assert len(repair.result["proposals"]) == len(fell)


def test_the_requester_of_work_nobody_can_take_is_told_only_that_it_is_not_staffed_yet(
    db: Session, world: World
) -> None:
    world.requester.locale = "nl"
    awet = world.provider(db, name="Awet")
    booking = world.booking(
        db, hour=10, status="confirmed", beneficiary_ref="BEN-4711", notes="Zaal 3, dossier X"
    )
    make_assignment(db, booking=booking, provider=awet, status="confirmed")
    [held] = _held(db, booking)
    assignments.decline(
        db, actor=world.dispatcher, assignment=held, lock_hours=24, now=now_for(world)
    )
    run_pending_repairs(db, now=now_for(world))

    [told] = db.scalars(
        select(OutboxMessage).where(OutboxMessage.event == "booking_not_yet_staffed")
    ).all()
    assert told.recipient_user_id == world.requester.id and told.locale == "nl"
    email = render_email(
        template=told.template,
        locale=told.locale,
        context=told.context,
        sender="Truchement <noreply@example.org>",
        recipient=told.recipient,
    )
    assert "Nog niet ingevuld" in email.subject and booking.reference in email.text
    for secret in ("BEN-4711", "Zaal 3", "Awet"):
        assert secret not in email.text and secret not in email.html
        assert secret not in str(told.context)


def test_a_staffed_repair_tells_the_requester_nothing_until_the_new_provider_is_confirmed(
    db: Session, world: World
) -> None:
    awet, fell, _kept = _story(db, world)
    world.service.auto_offer = True
    _absent_all_day(db, world, awet)
    run_pending_repairs(db, now=now_for(world))
    to_requester = select(OutboxMessage).where(
        OutboxMessage.recipient_user_id == world.requester.id
    )
    assert db.scalars(to_requester).all() == []

    [offer] = _held(db, fell[0])
    new_provider = db.get_one(Provider, offer.provider_id)
    login = world.login(db, new_provider)
    assignments.accept(db, actor=login, assignment=offer, now=now_for(world))
    assignments.confirm(db, actor=world.dispatcher, assignment=offer, now=now_for(world))

    [confirmed] = db.scalars(to_requester.where(~OutboxMessage.event.startswith("reminder_"))).all()
    assert confirmed.context["provider_name"] == new_provider.display_name
