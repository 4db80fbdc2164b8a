"""A provider's day as the board and ``GET /day-routes`` show it: the matcher's drives."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from booking.assignments.day_routes import day_routes
from booking.errors import Unprocessable
from booking.geography import TRAVEL
from booking.plans.problem_builder import build_problem, provider_key
from matching.problem import Assignment as MatchAssignment
from matching.problem import Location
from matching.travel import Travel
from matching.validate import day_routes as matcher_day_routes
from tests.booking.dispatch_world import World, at
from tests.factories import BRUSSELS, CALAIS, make_assignment

HOME = (50.63, 3.06)  # Lille


def test_drives_go_from_home_to_each_onsite_place_and_back_phone_work_stays_put(
    db: Session, world: World
) -> None:
    provider = world.provider(db, name="Yonas", home_lat=HOME[0], home_lon=HOME[1])
    tournai = world.booking(db, hour=9, status="confirmed")
    phone = world.booking(db, hour=11, modality="phone", status="confirmed")
    calais = world.booking(
        db, hour=15, location_lat=CALAIS[0], location_lon=CALAIS[1], location_country="FR"
    )
    for booking, status in ((tournai, "confirmed"), (phone, "confirmed"), (calais, "offered")):
        make_assignment(
            db, booking=booking, provider=provider, status=status, created_by=world.dispatcher
        )
    world.provider(db, name="Idle")  # no work that day: not listed

    (day,) = day_routes(db, actor=world.dispatcher, day=world.day, timezone="Europe/Brussels")

    travel = Travel(TRAVEL)
    home = Location(lat=HOME[0], lon=HOME[1])
    site = Location(lat=world.site.lat, lon=world.site.lon)
    far = Location(lat=CALAIS[0], lon=CALAIS[1])
    assert day.provider.id == provider.id
    assert [item.booking.id for item in day.items] == [tournai.id, phone.id, calais.id]
    assert [(item.travel_minutes, item.travel_from_home) for item in day.items] == [
        (travel.minutes(home, site), True),
        (0, False),
        (travel.minutes(site, far), False),
    ]
    assert day.return_minutes == travel.minutes(far, home)
    assert day.work_minutes == 180


def test_the_drives_are_those_the_matcher_counts_for_the_same_day(
    db: Session, world: World
) -> None:
    """The problem builder's travel model and route reading give the same minutes."""
    provider = world.provider(db, name="Yonas", home_lat=HOME[0], home_lon=HOME[1])
    held = [
        world.booking(db, hour=9, status="confirmed"),
        world.booking(
            db,
            hour=14,
            status="confirmed",
            location_lat=CALAIS[0],
            location_lon=CALAIS[1],
            location_country="FR",
        ),
    ]
    for booking in held:
        make_assignment(
            db, booking=booking, provider=provider, status="confirmed", created_by=world.dispatcher
        )
    begin = dt.datetime.combine(world.day, dt.time(0), tzinfo=BRUSSELS)
    problem, _ = build_problem(
        db,
        horizon_start=begin,
        horizon_end=begin + dt.timedelta(days=1),
        now=at(world.day, 0) - dt.timedelta(days=7),
    )
    sessions = {s.id: s for s in problem.sessions}
    pinned = [
        MatchAssignment(session=f.session, provider=f.provider, start=sessions[f.session].start)
        for f in problem.fixed
    ]
    assert len(pinned) == 2
    matcher = matcher_day_routes(problem, pinned)

    (day,) = day_routes(db, actor=world.dispatcher, day=world.day, timezone="Europe/Brussels")

    assert (
        day.travel_minutes + day.return_minutes == matcher[(provider_key(provider.id), world.day)]
    )


def test_a_day_out_of_range_is_refused(db: Session, world: World) -> None:
    with pytest.raises(Unprocessable):
        day_routes(db, actor=world.dispatcher, day=dt.date(1999, 12, 31), timezone="Europe/Paris")
