"""Applying a plan checks every proposal as the direct endpoints would (security finding 1).

Even a plan that reached the wrong hands (an admin plan from before plans had a
service, read through some other door) applies nothing out of the caller's
reach: the booking must be visible to them, the provider theirs to dispatch,
and the provider's service must serve the booking's organisation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.assignments.service import confirm, send_offer
from booking.errors import Forbidden, NotFound
from booking.models import Assignment, Booking, OutboxMessage, Plan, Provider, User
from booking.plans import service
from booking.vocabulary import AssignmentStatus, BookingStatus
from tests.booking.dispatch_world import World, at, make_world
from tests.factories import make_assignment, make_plan, make_user


@dataclass
class Legacy:
    """Two services and an admin plan over both, made before plans had a service."""

    setis: World
    kortrijk: World
    admin: User
    setis_provider: Provider
    kortrijk_provider: Provider
    plan: Plan
    own: Assignment
    foreign_booking: Assignment
    cross_service: Assignment


@pytest.fixture
def legacy(db: Session) -> Legacy:
    setis = make_world(db)
    kortrijk = make_world(db, day=setis.day)
    admin = make_user(db, organisation=setis.service, role="admin")
    setis_provider = setis.provider(db)
    kortrijk_provider = kortrijk.provider(db)
    plan = make_plan(
        db,
        created_by=admin,
        status="done",
        horizon_start=at(setis.day, 0),
        horizon_end=at(setis.day + dt.timedelta(days=1), 0),
        parameters={"providing_org_id": None},
    )

    def propose(booking: Booking, provider: Provider) -> Assignment:
        booking.status = BookingStatus.PROPOSED
        db.flush()
        return make_assignment(db, booking=booking, provider=provider, plan=plan, created_by=admin)

    return Legacy(
        setis=setis,
        kortrijk=kortrijk,
        admin=admin,
        setis_provider=setis_provider,
        kortrijk_provider=kortrijk_provider,
        plan=plan,
        own=propose(setis.booking(db, hour=9), setis_provider),
        # A Kortrijk booking given to Kortrijk's provider: none of SéTIS's business.
        foreign_booking=propose(kortrijk.booking(db, hour=11), kortrijk_provider),
        # A Kortrijk booking given to a SéTIS provider: no agreement between them.
        cross_service=propose(kortrijk.booking(db, hour=15), setis_provider),
    )


def messages(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def test_a_legacy_admin_plan_is_for_admins_only(db: Session, legacy: Legacy) -> None:
    assert legacy.plan.providing_org_id is None
    assert legacy.plan.id in {p.id for p in db.scalars(service.plan_query_for(db, legacy.admin))}
    assert legacy.plan.id not in {
        p.id for p in db.scalars(service.plan_query_for(db, legacy.setis.dispatcher))
    }
    with pytest.raises(NotFound):
        service.get_visible_plan(db, legacy.setis.dispatcher, legacy.plan.id)
    assert service.get_visible_plan(db, legacy.admin, legacy.plan.id).id == legacy.plan.id


@pytest.mark.parametrize("mode", ["offer", "confirm"])
def test_applying_refuses_every_proposal_out_of_the_dispatchers_reach(
    db: Session, legacy: Legacy, mode: str
) -> None:
    before = messages(db)
    outcome = service.apply_plan(
        db,
        actor=legacy.setis.dispatcher,
        plan=legacy.plan,
        mode=mode,  # type: ignore[arg-type]
    )
    assert [a.id for a in outcome.applied] == [legacy.own.id]
    refused = {r.assignment_id: r.code for r in outcome.refused}
    assert refused == {legacy.foreign_booking.id: "not_found", legacy.cross_service.id: "not_found"}
    for kept in (legacy.foreign_booking, legacy.cross_service):
        db.refresh(kept)
        assert kept.status == AssignmentStatus.PROPOSED
        assert (
            db.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.booking_id == kept.booking_id)
            )
            == 0
        )
    assert messages(db) > before  # the own proposal's messages, and only those


def test_an_admin_applying_a_legacy_plan_keeps_to_service_agreements(
    db: Session, legacy: Legacy
) -> None:
    outcome = service.apply_plan(db, actor=legacy.admin, plan=legacy.plan, mode="offer")
    assert {a.id for a in outcome.applied} == {legacy.own.id, legacy.foreign_booking.id}
    assert [(r.assignment_id, r.code) for r in outcome.refused] == [
        (legacy.cross_service.id, "not_served")
    ]
    db.refresh(legacy.cross_service)
    assert legacy.cross_service.status == AssignmentStatus.PROPOSED


def test_send_offer_checks_the_dispatch_right_and_the_booking(db: Session, legacy: Legacy) -> None:
    def offer(assignment: Assignment) -> None:
        now = dt.datetime.now(dt.UTC)
        send_offer(
            db,
            actor=legacy.setis.dispatcher,
            assignment=assignment,
            booking=db.get_one(Booking, assignment.booking_id),
            expires_at=now + dt.timedelta(hours=2),
            now=now,
        )

    with pytest.raises(Forbidden):
        offer(legacy.foreign_booking)  # not SéTIS's provider
    with pytest.raises(NotFound):
        offer(legacy.cross_service)  # SéTIS's provider, but not a booking SéTIS serves
    assert legacy.foreign_booking.status == legacy.cross_service.status == "proposed"
    assert messages(db) == 0


def test_confirm_checks_the_booking_not_only_the_provider(db: Session, legacy: Legacy) -> None:
    # The provider is SéTIS's own, but the booking is not one SéTIS serves.
    with pytest.raises(NotFound):
        confirm(db, actor=legacy.setis.dispatcher, assignment=legacy.cross_service)
    db.refresh(legacy.cross_service)
    assert legacy.cross_service.status == AssignmentStatus.PROPOSED
    assert messages(db) == 0
