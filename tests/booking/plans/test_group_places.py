"""Group bookings and modality ladders through a plan: one proposal per place, the modality used.

The booking's own language and needs are place 0, each `BookingPlace` one
more; a booking that accepts video is staffed by video when nobody can come.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.bookings import service as bookings
from booking.models import Assignment, BookingPlace, Provider
from booking.plans import service
from booking.plans.problem_builder import build_problem, session_key
from booking.plans.staffable import staffable_suggestions
from booking.vocabulary import AssignmentStatus, BookingStatus, PlanStatus
from tests.booking.dispatch_world import World, at, now_for
from tests.factories import CALAIS, make_assignment, make_language, make_organisation

TIME_LIMIT = 5.0


def run(db: Session, world: World) -> service.Plan:
    return service.run_plan(
        db,
        actor=world.dispatcher,
        horizon_start=at(world.day, 0),
        horizon_end=at(world.day + dt.timedelta(days=1), 0),
        time_limit=TIME_LIMIT,
        now=now_for(world),
    )


def three_languages(db: Session, world: World, **fields: object):  # type: ignore[no-untyped-def]
    """A two-hour discussion group in Tigrinya (its own place), Pashto and Arabic."""
    for code in ("pus", "ara"):
        make_language(db, code=code)
    booking = world.booking(db, hour=10, duration_minutes=120, session_kind="group", **fields)
    db.add_all(
        [
            BookingPlace(booking_id=booking.id, position=1, language_code="pus"),
            BookingPlace(booking_id=booking.id, position=2, language_code="ara"),
        ]
    )
    db.flush()
    return booking


def test_a_group_booking_is_one_session_with_a_place_per_language(
    db: Session, world: World
) -> None:
    booking = three_languages(db, world, all_or_nothing=False)
    begin = at(world.day, 0)
    problem, _ = build_problem(
        db, horizon_start=begin, horizon_end=begin + dt.timedelta(days=1), now=now_for(world)
    )
    [session] = [s for s in problem.sessions if s.id == session_key(booking.id)]
    assert [p.language for p in session.staff] == ["tir", "pus", "ara"]
    assert session.all_or_nothing is False


def test_a_plan_proposes_one_provider_per_place(db: Session, world: World) -> None:
    booking = three_languages(db, world)
    speakers = {
        code: world.provider(db, name=name, languages=(code,))
        for code, name in (("tir", "Awet"), ("pus", "Gul"), ("ara", "Samira"))
    }
    plan = run(db, world)

    assert plan.status == PlanStatus.DONE and plan.score_medium == 0
    proposals = db.scalars(select(Assignment).where(Assignment.plan_id == plan.id)).all()
    assert sorted((a.place, a.provider_id) for a in proposals) == [
        (0, speakers["tir"].id),
        (1, speakers["pus"].id),
        (2, speakers["ara"].id),
    ]
    assert len({a.starts_at for a in proposals}) == 1
    assert booking.status == BookingStatus.PROPOSED
    assert sorted(p["place"] for p in plan.result["proposals"]) == [0, 1, 2]


def test_an_all_or_nothing_group_with_a_place_nobody_fills_stays_open(
    db: Session, world: World
) -> None:
    booking = three_languages(db, world)
    world.provider(db, name="Awet", languages=("tir",))
    world.provider(db, name="Samira", languages=("ara",))
    plan = run(db, world)

    assert db.scalars(select(Assignment).where(Assignment.plan_id == plan.id)).all() == []
    assert booking.status == BookingStatus.UNFILLED
    assert booking.unfilled_reason == "no_provider_speaks_language"


def test_a_booking_that_accepts_video_is_staffed_by_video_when_nobody_can_come(
    db: Session, world: World
) -> None:
    # The only speaker lives in Calais, too far to come, but works by video.
    world.provider(db, name="Awet", home_lat=CALAIS[0], home_lon=CALAIS[1])
    booking = world.booking(db, hour=10, accepted_modalities=["video"])
    plan = run(db, world)

    [proposal] = db.scalars(select(Assignment).where(Assignment.plan_id == plan.id)).all()
    assert proposal.booking_id == booking.id and proposal.modality == "video"
    assert plan.result["proposals"][0]["modality"] == "video"


def test_a_booking_without_a_ladder_stays_open_then(db: Session, world: World) -> None:
    world.provider(db, name="Awet", home_lat=CALAIS[0], home_lon=CALAIS[1])
    booking = world.booking(db, hour=10)
    run(db, world)
    assert booking.status == BookingStatus.UNFILLED


def test_held_work_of_a_groups_other_place_blocks_its_provider(db: Session, world: World) -> None:
    booking = three_languages(db, world, status="confirmed")
    awet = world.provider(db, name="Awet", languages=("tir", "ara"))
    samira = world.provider(db, name="Samira", languages=("ara", "tir"))
    make_assignment(db, booking=booking, provider=awet, status="confirmed")
    make_assignment(db, booking=booking, provider=samira, status="confirmed", place=2)
    # A Tigrinya call at the group's time: both are busy with the group.
    call = world.booking(db, hour=10, modality="phone")
    plan = run(db, world)

    assert call.status == BookingStatus.UNFILLED
    assert db.scalars(select(Assignment).where(Assignment.plan_id == plan.id)).all() == []


def test_applying_confirms_a_group_place_by_place(db: Session, world: World) -> None:
    booking = three_languages(db, world)
    for code, name in (("tir", "Awet"), ("pus", "Gul"), ("ara", "Samira")):
        world.provider(db, name=name, languages=(code,))
    plan = run(db, world)
    outcome = service.apply_plan(db, actor=world.dispatcher, plan=plan, now=now_for(world))

    assert outcome.refused == []
    assert sorted((a.place, a.status) for a in outcome.applied) == [
        (0, AssignmentStatus.CONFIRMED),
        (1, AssignmentStatus.CONFIRMED),
        (2, AssignmentStatus.CONFIRMED),
    ]
    assert booking.status == BookingStatus.CONFIRMED


def windowed_group_everyone_free_from_eleven(db: Session, world: World):  # type: ignore[no-untyped-def]
    """The three-language group asked for 9:00 with a window to 12:00; its speakers start at 11."""
    booking = three_languages(
        db, world, window_earliest=at(world.day, 9), window_latest=at(world.day, 12)
    )
    booking.starts_at = at(world.day, 9)
    for code, name in (("tir", "Awet"), ("pus", "Gul"), ("ara", "Samira")):
        world.provider(db, name=name, languages=(code,), hours=(dt.time(11), dt.time(17)))
    db.flush()
    return booking


def apply(db: Session, world: World, plan: service.Plan, *proposals: Assignment):  # type: ignore[no-untyped-def]
    """Apply these proposals of the plan (all of them when none is named) as confirmations."""
    chosen = [p.id for p in proposals] or None
    return service.apply_plan(
        db, actor=world.dispatcher, plan=plan, assignment_ids=chosen, now=now_for(world)
    )


def planned_places(db: Session, world: World, plan: service.Plan) -> list[Assignment]:
    return sorted(service.plan_assignments(db, plan), key=lambda a: a.place)


def test_applying_a_windowed_group_confirms_every_place_at_the_start_it_moved_to(
    db: Session, world: World
) -> None:
    booking = windowed_group_everyone_free_from_eleven(db, world)
    outcome = apply(db, world, run(db, world))

    assert outcome.refused == []
    assert len(outcome.applied) == 3
    assert {a.starts_at for a in outcome.applied} == {at(world.day, 11)}
    assert booking.starts_at == at(world.day, 11)
    assert booking.status == BookingStatus.CONFIRMED


def test_a_windowed_group_can_be_confirmed_one_place_now_and_the_others_later(
    db: Session, world: World
) -> None:
    booking = windowed_group_everyone_free_from_eleven(db, world)
    plan = run(db, world)
    proposals = planned_places(db, world, plan)
    first = apply(db, world, plan, proposals[0])
    assert first.refused == [] and booking.starts_at == at(world.day, 11)
    rest = apply(db, world, plan, *proposals[1:])
    assert rest.refused == [] and len(rest.applied) == 2
    assert booking.status == BookingStatus.CONFIRMED


def test_a_proposal_at_another_start_than_the_confirmed_place_s_is_stale(
    db: Session, world: World
) -> None:
    booking = windowed_group_everyone_free_from_eleven(db, world)
    plan = run(db, world)
    proposals = planned_places(db, world, plan)
    proposals[2].starts_at = at(world.day, 11, 30)  # as if planned apart (it cannot be now)
    proposals[2].ends_at = at(world.day, 13, 30)
    db.flush()
    outcome = apply(db, world, plan)
    assert [r.code for r in outcome.refused] == ["booking_changed"]
    assert booking.status == BookingStatus.PROPOSED


def test_cancelling_a_group_booking_cancels_every_place(db: Session, world: World) -> None:
    booking = three_languages(db, world)
    for code, name in (("tir", "Awet"), ("pus", "Gul"), ("ara", "Samira")):
        world.provider(db, name=name, languages=(code,))
    plan = run(db, world)
    service.apply_plan(db, actor=world.dispatcher, plan=plan, now=now_for(world))
    bookings.cancel_booking(
        db,
        actor=world.requester,
        booking=booking,
        reason="the group is postponed",
        now=now_for(world),
    )
    held = db.scalars(select(Assignment).where(Assignment.booking_id == booking.id)).all()
    assert {a.status for a in held} == {AssignmentStatus.CANCELLED}
    assert len(held) == 3


def test_a_group_is_confirmed_once_its_last_place_is(db: Session, world: World) -> None:
    booking = three_languages(db, world)
    for code, name in (("tir", "Awet"), ("pus", "Gul"), ("ara", "Samira")):
        world.provider(db, name=name, languages=(code,))
    plan = run(db, world)
    proposals = sorted(
        db.scalars(select(Assignment).where(Assignment.plan_id == plan.id)), key=lambda a: a.place
    )
    first = service.apply_plan(
        db, actor=world.dispatcher, plan=plan, assignment_ids=[proposals[0].id], now=now_for(world)
    )
    assert [a.place for a in first.applied] == [0]
    assert booking.status == BookingStatus.PROPOSED
    assert {a.status for a in proposals[1:]} == {AssignmentStatus.PROPOSED}
    rest = service.apply_plan(
        db,
        actor=world.dispatcher,
        plan=plan,
        assignment_ids=[a.id for a in proposals[1:]],
        now=now_for(world),
    )
    assert rest.refused == []
    assert booking.status == BookingStatus.CONFIRMED


def test_a_plan_says_what_would_make_each_unstaffed_booking_staffable(
    db: Session, world: World
) -> None:
    world.provider(db, name="Selam", gender="f")
    booking = world.booking(db, hour=10, required_gender="m")
    plan = run(db, world)

    [left] = plan.result["unassigned"]
    assert left["booking_id"] == booking.id
    [first, *_] = left["staffable"]
    assert first["kind"] == "drop_need" and first["change"] == {"need": "gender"}
    assert len(first["provider_ids"]) == 1


# --- re-planning a group with some places held: per place ---------------------------------


def one_place_held(db: Session, world: World, **fields: object):  # type: ignore[no-untyped-def]
    """The three-language group with a window 9:00-12:00, its Tigrinya place held at 11:00.

    (Confirming the place moved the booking to 11:00, as `confirm` does.)
    """
    booking = three_languages(
        db,
        world,
        status="proposed",
        starts_at=at(world.day, 11),
        window_earliest=at(world.day, 9),
        window_latest=at(world.day, 12),
        **fields,
    )
    awet = world.provider(db, name="Awet", languages=("tir",))
    held = make_assignment(
        db,
        booking=booking,
        provider=awet,
        status="confirmed",
        starts_at=at(world.day, 11),
        ends_at=at(world.day, 13),
    )
    return booking, held


def test_a_group_with_a_place_held_is_planned_for_its_open_places_at_the_held_start(
    db: Session, world: World
) -> None:
    booking, held = one_place_held(db, world)
    gul = world.provider(db, name="Gul", languages=("pus",))
    samira = world.provider(db, name="Samira", languages=("ara",))
    plan = run(db, world)

    assert plan.status == PlanStatus.DONE
    proposals = db.scalars(select(Assignment).where(Assignment.plan_id == plan.id)).all()
    assert sorted((a.place, a.provider_id) for a in proposals) == [(1, gul.id), (2, samira.id)]
    assert {a.starts_at for a in proposals} == {held.starts_at}
    assert held.status == AssignmentStatus.CONFIRMED
    assert booking.status == BookingStatus.PROPOSED

    outcome = service.apply_plan(db, actor=world.dispatcher, plan=plan, now=now_for(world))
    assert outcome.refused == []
    assert booking.status == BookingStatus.CONFIRMED


def test_the_held_place_is_pinned_and_fixes_the_start(db: Session, world: World) -> None:
    booking, held = one_place_held(db, world)
    begin = at(world.day, 0)
    problem, index = build_problem(
        db, horizon_start=begin, horizon_end=begin + dt.timedelta(days=1), now=now_for(world)
    )
    key = session_key(booking.id)
    [session] = [s for s in problem.sessions if s.id == key]
    assert session.start == held.starts_at and session.window is None
    assert [(f.session, f.place) for f in problem.fixed] == [(key, 0)]
    assert key in index.planned and index.held_places[key] == {0: held}


def test_all_or_nothing_binds_the_open_places_and_keeps_the_held_one(
    db: Session, world: World
) -> None:
    # Nobody speaks Pashto: Arabic alone would not make the group, so nobody is proposed.
    booking, held = one_place_held(db, world)
    world.provider(db, name="Samira", languages=("ara",))
    plan = run(db, world)

    assert db.scalars(select(Assignment).where(Assignment.plan_id == plan.id)).all() == []
    assert held.status == AssignmentStatus.CONFIRMED
    assert booking.status == BookingStatus.UNFILLED
    [left] = plan.result["unassigned"]
    assert left["booking_id"] == booking.id


def test_without_all_or_nothing_the_open_places_that_can_be_are_filled(
    db: Session, world: World
) -> None:
    _, held = one_place_held(db, world, all_or_nothing=False)
    samira = world.provider(db, name="Samira", languages=("ara",))
    plan = run(db, world)

    proposals = db.scalars(select(Assignment).where(Assignment.plan_id == plan.id)).all()
    assert [(a.place, a.provider_id, a.starts_at) for a in proposals] == [
        (2, samira.id, held.starts_at)
    ]


# --- a group that accepts video: each place climbs down on its own -------------------------


def test_a_group_that_accepts_video_staffs_by_video_the_place_nobody_can_reach(
    db: Session, world: World
) -> None:
    booking = three_languages(db, world, accepted_modalities=["video"])
    awet = world.provider(db, name="Awet", languages=("tir",))
    gul = world.provider(db, name="Gul", languages=("pus",))
    # The only Arabic speaker lives in Calais, too far to come, but works by video.
    samira = world.provider(
        db, name="Samira", languages=("ara",), home_lat=CALAIS[0], home_lon=CALAIS[1]
    )
    begin = at(world.day, 0)
    problem, _ = build_problem(
        db, horizon_start=begin, horizon_end=begin + dt.timedelta(days=1), now=now_for(world)
    )
    [session] = [s for s in problem.sessions if s.id == session_key(booking.id)]
    assert session.modalities == ("onsite", "video") and len(session.staff) == 3

    plan = run(db, world)
    proposals = db.scalars(select(Assignment).where(Assignment.plan_id == plan.id)).all()
    assert sorted((a.place, a.provider_id, a.modality) for a in proposals) == [
        (0, awet.id, "onsite"),
        (1, gul.id, "onsite"),
        (2, samira.id, "video"),
    ]
    assert len({a.starts_at for a in proposals}) == 1
    outcome = service.apply_plan(db, actor=world.dispatcher, plan=plan, now=now_for(world))
    assert outcome.refused == [] and booking.status == BookingStatus.CONFIRMED


def test_a_held_place_of_a_group_with_a_ladder_keeps_its_step(db: Session, world: World) -> None:
    booking, held = one_place_held(db, world, accepted_modalities=["video"])
    held.modality = "video"
    gul = world.provider(db, name="Gul", languages=("pus",))
    samira = world.provider(db, name="Samira", languages=("ara",))
    plan = run(db, world)

    proposals = db.scalars(select(Assignment).where(Assignment.plan_id == plan.id)).all()
    assert sorted((a.place, a.provider_id) for a in proposals) == [(1, gul.id), (2, samira.id)]
    assert {a.starts_at for a in proposals} == {held.starts_at}
    assert booking.status == BookingStatus.PROPOSED


# --- what would make a group staffable, as a whole -----------------------------------------


def test_an_unstaffed_group_is_told_it_could_go_ahead_with_the_places_it_can_fill(
    db: Session, world: World
) -> None:
    booking = three_languages(db, world)
    awet = world.provider(db, name="Awet", languages=("tir",))
    samira = world.provider(db, name="Samira", languages=("ara",))
    plan = run(db, world)

    [left] = plan.result["unassigned"]
    assert left["booking_id"] == booking.id
    assert [(s["kind"], s["change"]) for s in left["staffable"]] == [
        ("all_or_nothing", {"places": 2, "of": 3})
    ]
    assert sorted(left["staffable"][0]["provider_ids"]) == sorted([awet.id, samira.id])

    [view] = staffable_suggestions(db, booking=booking, now=now_for(world))
    assert view.kind == "all_or_nothing" and view.patch == {"all_or_nothing": False}
    bookings.update_booking(
        db,
        actor=world.requester,
        booking=booking,
        data=view.patch,
        expected_version=booking.version_id,
        now=now_for(world),
    )
    assert booking.all_or_nothing is False and booking.status == BookingStatus.REQUESTED
    again = run(db, world)
    proposals = db.scalars(select(Assignment).where(Assignment.plan_id == again.id)).all()
    assert sorted(a.provider_id for a in proposals) == sorted([awet.id, samira.id])


def test_a_group_is_told_the_start_at_which_every_place_can_be_filled(
    db: Session, world: World
) -> None:
    booking = three_languages(db, world)
    # The only Arabic speaker works afternoons.
    speakers = {"tir": {}, "pus": {}, "ara": {"hours": (dt.time(13), dt.time(17))}}
    for code, fields in speakers.items():
        world.provider(db, languages=(code,), **fields)
    views = staffable_suggestions(db, booking=booking, now=now_for(world))
    assert [v.kind for v in views] == ["start", "all_or_nothing"]
    assert views[0].starts_at.astimezone(at(world.day, 0).tzinfo).hour >= 13
    assert views[0].patch is not None and views[0].patch["window"] is None


def test_a_group_whose_held_place_is_another_service_s_is_not_planned_around_it(
    db: Session, world: World
) -> None:
    # Awet, who holds the Tigrinya place, is a provider of another service.
    booking, held = one_place_held(db, world)
    awet = db.get_one(Provider, held.provider_id)
    awet.organisation_id = make_organisation(db, kind="providing").id
    db.flush()
    begin = at(world.day, 0)
    _, index = build_problem(
        db,
        horizon_start=begin,
        horizon_end=begin + dt.timedelta(days=1),
        now=now_for(world),
        providing_org_id=world.service.id,
    )
    assert session_key(booking.id) not in index.planned
