"""Running a plan and applying it: proposals, reasons, pinned work, stale proposals refused."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments import service as assignments
from booking.errors import Conflict, Unprocessable
from booking.models import Assignment, Booking, OutboxMessage, Provider, ProviderLanguage
from booking.plans import service
from booking.plans.failures import PlanFailure, failure_text
from booking.vocabulary import AssignmentStatus, BookingStatus, PlanStatus
from tests.booking.dispatch_world import World, at, make_world, now_for
from tests.factories import CALAIS, make_assignment, make_language

TIME_LIMIT = 5.0


def run(db: Session, world: World, **kwargs: object):  # type: ignore[no-untyped-def]
    kwargs.setdefault("actor", world.dispatcher)
    kwargs.setdefault("horizon_start", at(world.day, 0))
    kwargs.setdefault("horizon_end", at(world.day + dt.timedelta(days=1), 0))
    kwargs.setdefault("time_limit", TIME_LIMIT)
    kwargs.setdefault("now", now_for(world))
    return service.run_plan(db, **kwargs)  # type: ignore[arg-type]


def proposals_of(db: Session, plan_id: int) -> dict[int, Assignment]:
    return {
        a.booking_id: a for a in db.scalars(select(Assignment).where(Assignment.plan_id == plan_id))
    }


def test_a_plan_proposes_providers_and_says_why_the_rest_stay_open(
    db: Session, world: World
) -> None:
    make_language(db, code="som", is_rare=True)
    awet = world.provider(db, name="Awet", languages=("tir",))
    selam = world.provider(db, name="Selam", languages=("tir",), gender="f")
    morning = world.booking(db, hour=10)
    woman = world.booking(db, hour=10, required_gender="f")
    rare = world.booking(db, hour=11, language_code="som")
    plan = run(db, world)

    assert plan.status == PlanStatus.DONE
    assert plan.score_hard == 0
    assert plan.score_medium == -rare.priority
    assert set(plan.timings) >= {"build_seconds", "solve_seconds", "total_seconds"}
    proposals = proposals_of(db, plan.id)
    assert proposals[woman.id].provider_id == selam.id
    assert proposals[morning.id].provider_id == awet.id
    assert rare.id not in proposals
    for booking in (morning, woman):
        assert booking.status == BookingStatus.PROPOSED
        assert proposals[booking.id].booking_version == booking.version_id
        assert proposals[booking.id].explanation["sentence"]
    assert rare.status == BookingStatus.UNFILLED
    assert rare.unfilled_reason == "no_provider_speaks_language"
    [left] = plan.result["unassigned"]
    assert left["booking_id"] == rare.id and left["reason"] == "no_provider_speaks_language"
    assert "som" in left["explanation"]
    sentences = " ".join(p["explanation"] for p in plan.result["proposals"])
    assert "Selam" in sentences and "p-" not in sentences


def test_confirmed_work_is_kept_and_routed_around(db: Session, world: World) -> None:
    only = world.provider(db)
    confirmed = world.booking(db, hour=10, status="confirmed")
    make_assignment(db, booking=confirmed, provider=only, status="confirmed")
    clash = world.booking(db, hour=10, minute=30)
    later = world.booking(db, hour=14)
    plan = run(db, world)
    proposals = proposals_of(db, plan.id)
    assert set(proposals) == {later.id}
    assert [p["booking_id"] for p in plan.result["pinned"]] == [confirmed.id]
    assert {u["booking_id"] for u in plan.result["unassigned"]} == {clash.id}
    assert clash.status == BookingStatus.UNFILLED


def test_held_work_that_breaks_a_rule_does_not_stop_the_plan(db: Session, world: World) -> None:
    provider = world.provider(db, hours=(dt.time(8, 30), dt.time(12)))
    # Agreed by phone: Tournai until 11:00, then Calais at 11:00, impossible to drive;
    # and an evening session outside the weekly hours.
    tournai = world.booking(db, hour=10, status="confirmed")
    calais = world.booking(
        db, hour=11, status="confirmed", location_lat=CALAIS[0], location_lon=CALAIS[1]
    )
    evening = world.booking(db, hour=19, status="confirmed")
    for booking in (tournai, calais, evening):
        make_assignment(db, booking=booking, provider=provider, status="confirmed")
    other = world.provider(db)
    open_booking = world.booking(db, hour=15)
    plan = run(db, world)
    assert plan.status == PlanStatus.DONE, plan.error
    assert proposals_of(db, plan.id)[open_booking.id].provider_id == other.id
    assert plan.result["warnings"], "the clash of held work is reported"
    assert calais.reference in " ".join(plan.result["warnings"])


def test_held_work_whose_certification_expired_since_is_kept_and_planned_around(
    db: Session, world: World
) -> None:
    provider = world.provider(db, certified=True)
    language = db.scalars(
        select(ProviderLanguage).where(ProviderLanguage.provider_id == provider.id)
    ).one()
    language.certified_until = world.day - dt.timedelta(days=1)
    held = world.booking(db, hour=10, status="confirmed", requires_certified=True)
    make_assignment(db, booking=held, provider=provider, status="confirmed")
    later = world.booking(db, hour=14)
    plan = run(db, world)
    assert plan.status == PlanStatus.DONE, plan.error
    assert proposals_of(db, plan.id)[later.id].provider_id == provider.id
    assert held.reference in " ".join(plan.result["warnings"])


def test_a_new_plan_supersedes_the_proposals_of_the_last(db: Session, world: World) -> None:
    world.provider(db)
    booking = world.booking(db)
    first = run(db, world)
    second = run(db, world)
    old = proposals_of(db, first.id)[booking.id]
    db.refresh(old)
    assert old.status == AssignmentStatus.CANCELLED
    assert proposals_of(db, second.id)[booking.id].status == AssignmentStatus.PROPOSED
    refused = service.apply_plan(db, actor=world.dispatcher, plan=first, now=now_for(world))
    assert [r.code for r in refused.refused] == ["not_proposed"]


def test_the_plan_only_uses_the_dispatchers_own_service(db: Session, world: World) -> None:
    make_world(db).provider(db)  # speaks the language, but for another service
    booking = world.booking(db)
    plan = run(db, world)
    assert proposals_of(db, plan.id) == {}
    assert booking.status == BookingStatus.UNFILLED


def test_bad_requests_are_unprocessable(db: Session, world: World) -> None:
    hidden = make_world(db).booking(db)
    with pytest.raises(Unprocessable) as too_long:
        run(db, world, horizon_end=at(world.day + dt.timedelta(days=40), 0))
    assert too_long.value.errors[0].field == "horizon_end"
    with pytest.raises(Unprocessable) as unknown:
        run(db, world, booking_ids=[hidden.id])
    assert unknown.value.errors[0].field == "booking_ids.0"


# --- apply --------------------------------------------------------------------------------


def test_applying_confirms_every_proposal_and_tells_everyone(db: Session, world: World) -> None:
    world.provider(db)
    world.provider(db)
    bookings = [world.booking(db, hour=9), world.booking(db, hour=14)]
    plan = run(db, world)
    outcome = service.apply_plan(db, actor=world.dispatcher, plan=plan, now=now_for(world))
    assert outcome.refused == []
    assert {a.status for a in outcome.applied} == {AssignmentStatus.CONFIRMED}
    for booking in bookings:
        assert booking.status == BookingStatus.CONFIRMED
        events = db.scalars(
            select(OutboxMessage.event).where(OutboxMessage.booking_id == booking.id)
        ).all()
        assert "assignment_confirmed" in events


def test_applying_as_offers_sends_offers_instead(db: Session, world: World) -> None:
    world.provider(db)
    booking = world.booking(db)
    plan = run(db, world)
    outcome = service.apply_plan(
        db, actor=world.dispatcher, plan=plan, mode="offer", offer_minutes=45, now=now_for(world)
    )
    [offer] = outcome.applied
    assert offer.status == AssignmentStatus.OFFERED
    assert offer.offer_expires_at == now_for(world) + dt.timedelta(minutes=45)
    assert booking.status == BookingStatus.PROPOSED


def test_offers_from_a_plan_run_on_the_service_s_working_hours(db: Session, world: World) -> None:
    world.provider(db)
    world.booking(db, hour=11)
    plan = run(db, world)
    friday_evening = at(world.day - dt.timedelta(days=3), 18, 30)
    outcome = service.apply_plan(
        db, actor=world.dispatcher, plan=plan, mode="offer", offer_minutes=60, now=friday_evening
    )
    [offer] = outcome.applied
    assert offer.offer_expires_at == at(world.day, 8, 30)


def test_stale_proposals_are_refused_and_the_rest_applied(db: Session, world: World) -> None:
    for _ in range(3):
        world.provider(db)
    edited = world.booking(db, hour=9)
    taken = world.booking(db, hour=11)
    fine = world.booking(db, hour=15)
    plan = run(db, world)
    proposals = proposals_of(db, plan.id)
    # The requester edits one booking after the plan...
    edited.notes = "Bring the consent form."
    db.flush()
    # ...and a dispatcher confirms the provider of another elsewhere at the same time.
    provider = db.get_one(Provider, proposals[taken.id].provider_id)
    manual = assignments.assign_manually(
        db,
        actor=world.dispatcher,
        booking=world.booking(db, hour=11, minute=30),
        provider=provider,
        now=now_for(world),
    )
    assignments.confirm(db, actor=world.dispatcher, assignment=manual, now=now_for(world))

    outcome = service.apply_plan(db, actor=world.dispatcher, plan=plan, now=now_for(world))
    refused = {r.booking_id: r.code for r in outcome.refused}
    assert refused == {edited.id: "booking_changed", taken.id: "provider_double_booked"}
    assert [a.booking_id for a in outcome.applied] == [fine.id]
    assert fine.status == BookingStatus.CONFIRMED
    assert db.get_one(Booking, taken.id).status == BookingStatus.PROPOSED


def test_only_the_chosen_proposals_are_applied(db: Session, world: World) -> None:
    world.provider(db)
    chosen, left = world.booking(db, hour=9), world.booking(db, hour=14)
    plan = run(db, world)
    proposals = proposals_of(db, plan.id)
    outcome = service.apply_plan(
        db,
        actor=world.dispatcher,
        plan=plan,
        assignment_ids=[proposals[chosen.id].id],
        now=now_for(world),
    )
    assert [a.booking_id for a in outcome.applied] == [chosen.id]
    assert left.status == BookingStatus.PROPOSED
    with pytest.raises(Unprocessable):
        service.apply_plan(db, actor=world.dispatcher, plan=plan, assignment_ids=[10**9])


def test_a_failed_plan_cannot_be_applied(db: Session, world: World) -> None:
    plan = run(db, world)
    plan.status = PlanStatus.FAILED
    with pytest.raises(Conflict):
        service.apply_plan(db, actor=world.dispatcher, plan=plan)


def test_a_plan_the_matcher_refuses_fails_with_a_code_told_in_each_language(
    db: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.provider(db, name="Awet")
    world.booking(db, hour=10)

    def refused(*_args: object, **_kwargs: object) -> object:
        raise ValueError("the held work of p-1 cannot be kept together")

    monkeypatch.setattr(service, "_solve_keeping_what_can_be_kept", refused)
    plan = run(db, world)
    assert plan.status == PlanStatus.FAILED
    assert plan.error is not None and plan.error.startswith("the held work of ")
    assert plan.error_code == PlanFailure.UNSOLVABLE
    assert failure_text(plan.error_code, "fr", attempts=plan.attempts) is not None
