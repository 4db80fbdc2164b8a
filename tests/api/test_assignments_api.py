"""Assignments, candidates and offers through HTTP: rules named, roles checked, no 500."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from booking.models import BookingPlace, User
from booking.types import utc_now
from tests.booking.dispatch_world import World, at, make_world
from tests.factories import CALAIS, make_assignment, make_availability_exception, make_language

Headers = Callable[[User], dict[str, str]]


def post_assignment(
    client: TestClient, headers: dict[str, str], **body: object
) -> dict[str, object]:
    answer = client.post("/api/v1/assignments", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_a_manual_assignment_is_created_and_readable(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db, name="Awet")
    booking = world.booking(db)
    body = post_assignment(
        client, login(world.dispatcher), booking_id=booking.id, provider_id=provider.id
    )
    assert body["status"] == "proposed"
    assert body["provider_name"] == "Awet" and body["booking_reference"] == booking.reference
    assert dt.datetime.fromisoformat(str(body["starts_at"])) == booking.starts_at
    again = client.get(f"/api/v1/assignments/{body['id']}", headers=login(world.dispatcher))
    assert again.json() == body


def test_a_broken_rule_is_a_422_that_names_it(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    afternoon_only = world.provider(db, hours=(dt.time(13), dt.time(17)))
    arabic_only = world.provider(db, languages=("ara",))
    busy = world.provider(db)
    make_assignment(
        db,
        booking=world.booking(db, hour=10, status="confirmed"),
        provider=busy,
        status="confirmed",
    )
    booking = world.booking(db, hour=10, minute=15)
    headers = login(world.dispatcher)
    expected = {
        afternoon_only.id: (7, "availability"),
        arabic_only.id: (2, "language"),
        busy.id: (9, "overlap"),
    }
    for provider_id, (rule, code) in expected.items():
        answer = client.post(
            "/api/v1/assignments",
            json={"booking_id": booking.id, "provider_id": provider_id},
            headers=headers,
        )
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert (problem["rule"], problem["rule_code"]) == (rule, code)
        assert problem["detail"] and problem["errors"][0]["field"] == "provider_id"


def test_unknown_or_hidden_bookings_and_providers_are_404(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    other = make_world(db)
    theirs_booking = other.booking(db)
    theirs_provider = other.provider(db)
    mine_booking = world.booking(db)
    mine_provider = world.provider(db)
    headers = login(world.dispatcher)
    for booking_id, provider_id in (
        (theirs_booking.id, mine_provider.id),
        (mine_booking.id, theirs_provider.id),
        (10**9, mine_provider.id),
    ):
        answer = client.post(
            "/api/v1/assignments",
            json={"booking_id": booking_id, "provider_id": provider_id},
            headers=headers,
        )
        assert answer.status_code == 404, answer.text


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"booking_id": "x", "provider_id": 1},
        {"booking_id": 1, "provider_id": 1, "starts_at": "2026-12-07T10:00:00"},
        {"booking_id": 1, "provider_id": 1, "status": "accepted"},
        {"booking_id": 0, "provider_id": 1},
        {"booking_id": 1, "provider_id": 1, "extra": 1},
    ],
)
def test_malformed_assignments_are_422(
    client: TestClient, world: World, login: Headers, body: dict[str, object]
) -> None:
    answer = client.post("/api/v1/assignments", json=body, headers=login(world.dispatcher))
    assert answer.status_code == 422


def test_offer_accept_confirm_through_http_with_role_checks(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db)
    booking = world.booking(db)
    dispatcher, mine = login(world.dispatcher), login(world.login(db, provider))
    offer = post_assignment(
        client, dispatcher, booking_id=booking.id, provider_id=provider.id, status="offered"
    )
    assert offer["status"] == "offered" and offer["offer_expires_at"]
    waiting = client.get("/api/v1/assignments", params={"status": "offered"}, headers=mine)
    assert [a["id"] for a in waiting.json()["items"]] == [offer["id"]]
    path = f"/api/v1/assignments/{offer['id']}"
    assert client.post(f"{path}/accept", headers=login(world.requester)).status_code == 403
    assert client.post(f"{path}/confirm", headers=mine).status_code == 403
    accepted = client.post(f"{path}/accept", headers=mine)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert client.post(f"{path}/accept", headers=mine).status_code == 409
    confirmed = client.post(f"{path}/confirm", headers=dispatcher)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert client.post(f"{path}/confirm", headers=dispatcher).status_code == 409


def test_another_provider_cannot_even_see_the_offer(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider, other = world.provider(db), world.provider(db)
    offer = post_assignment(
        client,
        login(world.dispatcher),
        booking_id=world.booking(db).id,
        provider_id=provider.id,
        status="offered",
    )
    answer = client.post(
        f"/api/v1/assignments/{offer['id']}/accept", headers=login(world.login(db, other))
    )
    assert answer.status_code == 404


def test_a_provider_cannot_give_back_accepted_work_at_the_last_minute(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    soon = utc_now().replace(second=0, microsecond=0) + dt.timedelta(hours=3)
    provider = world.provider(db, hours=None, works_on_holidays=True)
    make_availability_exception(
        db,
        provider=provider,
        kind="extra",
        starts_at=soon - dt.timedelta(hours=2),
        ends_at=soon + dt.timedelta(hours=3),
    )
    booking = world.booking(db, starts_at=soon)
    dispatcher, mine = login(world.dispatcher), login(world.login(db, provider))
    offer = post_assignment(
        client, dispatcher, booking_id=booking.id, provider_id=provider.id, status="offered"
    )
    path = f"/api/v1/assignments/{offer['id']}"
    assert client.post(f"{path}/accept", headers=mine).status_code == 200
    locked = client.post(f"{path}/decline", json={"reason": "sick"}, headers=mine)
    assert locked.status_code == 409
    assert locked.json()["type"].endswith("/decline_locked")
    released = client.post(f"{path}/decline", json={"reason": "sick"}, headers=dispatcher)
    assert released.status_code == 200 and released.json()["status"] == "declined"


def test_the_dispatcher_cancels_and_the_booking_reopens(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db)
    booking = world.booking(db)
    dispatcher = login(world.dispatcher)
    body = post_assignment(
        client, dispatcher, booking_id=booking.id, provider_id=provider.id, status="confirmed"
    )
    assert body["status"] == "confirmed"
    cancelled = client.post(f"/api/v1/assignments/{body['id']}/cancel", headers=dispatcher)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    db.refresh(booking)
    assert booking.status == "requested"


# --- candidates -----------------------------------------------------------------------------


def test_candidates_rank_the_feasible_first_and_say_why_the_others_cannot(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    near = world.provider(db, name="Near")
    further = world.provider(db, name="Further", home_lat=50.72, home_lon=3.16)
    afternoon = world.provider(db, name="Afternoon", hours=(dt.time(13), dt.time(17)))
    far = world.provider(
        db, name="Far", home_lat=CALAIS[0], home_lon=CALAIS[1], max_travel_minutes=30
    )
    world.provider(db, name="Arabic", languages=("ara",))
    booking = world.booking(db, hour=10)
    answer = client.get(
        f"/api/v1/bookings/{booking.id}/candidates", headers=login(world.dispatcher)
    )
    assert answer.status_code == 200, answer.text
    ranked = answer.json()["candidates"]
    assert [c["provider_id"] for c in ranked[:2]] == [near.id, further.id]
    assert all(c["feasible"] for c in ranked[:2])
    assert ranked[0]["travel_minutes"] <= ranked[1]["travel_minutes"]
    assert dt.datetime.fromisoformat(ranked[0]["starts_at"]) == at(world.day, 10)
    refused = {c["provider_id"]: c for c in ranked[2:]}
    assert set(refused) == {afternoon.id, far.id}  # only those who speak the language
    assert (refused[afternoon.id]["rule"], refused[afternoon.id]["code"]) == (7, "availability")
    assert (refused[far.id]["rule"], refused[far.id]["code"]) == (8, "travel_range")
    assert "Far" in refused[far.id]["detail"]


def test_candidates_are_for_dispatchers_of_the_serving_service(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    booking = world.booking(db)
    path = f"/api/v1/bookings/{booking.id}/candidates"
    assert client.get(path, headers=login(world.requester)).status_code == 403
    assert client.get(path, headers=login(make_world(db).dispatcher)).status_code == 404


# --- offers ---------------------------------------------------------------------------------


def test_offers_go_to_the_n_best_and_the_second_to_accept_gets_a_409(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    first = world.provider(db, name="First")
    second = world.provider(db, name="Second", home_lat=50.62, home_lon=3.40)
    booking = world.booking(db)
    answer = client.post(
        f"/api/v1/bookings/{booking.id}/offers",
        json={"count": 2, "expires_in_minutes": 30},
        headers=login(world.dispatcher),
    )
    assert answer.status_code == 201, answer.text
    offers = {o["provider_id"]: o for o in answer.json()["offers"]}
    assert set(offers) == {first.id, second.id}
    winner = client.post(
        f"/api/v1/assignments/{offers[second.id]['id']}/accept",
        headers=login(world.login(db, second)),
    )
    assert winner.status_code == 200
    loser = client.post(
        f"/api/v1/assignments/{offers[first.id]['id']}/accept",
        headers=login(world.login(db, first)),
    )
    assert loser.status_code == 409
    again = client.post(
        f"/api/v1/bookings/{booking.id}/offers", json={}, headers=login(world.dispatcher)
    )
    assert again.status_code == 409


def test_day_routes_show_each_provider_s_sessions_and_drives_as_the_board_does(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db, name="Yonas", home_lat=50.63, home_lon=3.06)
    morning = world.booking(db, hour=9, status="confirmed")
    afternoon = world.booking(
        db, hour=14, location_lat=CALAIS[0], location_lon=CALAIS[1], location_country="FR"
    )
    make_assignment(
        db, booking=morning, provider=provider, status="confirmed", created_by=world.dispatcher
    )
    make_assignment(
        db, booking=afternoon, provider=provider, status="offered", created_by=world.dispatcher
    )
    answer = client.get(
        f"/api/v1/day-routes?date={world.day.isoformat()}", headers=login(world.dispatcher)
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["date"] == world.day.isoformat() and body["timezone"] == "Europe/Brussels"
    (day,) = body["providers"]
    assert day["provider_name"] == "Yonas" and day["work_minutes"] == 120
    first, second = day["sessions"]
    assert (first["booking_id"], first["status"], first["from_home"]) == (
        morning.id,
        "confirmed",
        True,
    )
    assert (second["booking_id"], second["status"], second["from_home"]) == (
        afternoon.id,
        "offered",
        False,
    )
    assert first["travel_minutes"] > 0 and second["travel_minutes"] > first["travel_minutes"]
    assert day["travel_minutes"] == first["travel_minutes"] + second["travel_minutes"]
    assert day["return_minutes"] > 0
    assert first["starts_at"].endswith("Z")


def test_day_routes_are_for_dispatchers_and_refuse_a_bad_day(
    client: TestClient, world: World, login: Headers
) -> None:
    day = world.day.isoformat()
    refused = client.get(f"/api/v1/day-routes?date={day}", headers=login(world.requester))
    assert refused.status_code == 403
    for bad in ("tomorrow", "2026-02-30", "0001-01-01"):
        answer = client.get(f"/api/v1/day-routes?date={bad}", headers=login(world.dispatcher))
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/day-routes", headers=login(world.dispatcher)).status_code == 422


# --- one place of a group ---------------------------------------------------------------


def test_a_group_s_place_is_ranked_assigned_and_offered_by_its_own_language(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    make_language(db, code="pus", name_en="Pashto")
    booking = world.booking(db, session_kind="group")
    db.add(BookingPlace(booking_id=booking.id, position=1, language_code="pus"))
    db.flush()
    db.refresh(booking)
    world.provider(db, name="Amina")
    gul = world.provider(db, name="Gul", languages=("pus",))
    headers = login(world.dispatcher)
    path = f"/api/v1/bookings/{booking.id}/candidates"
    ranked = client.get(path, params={"place": 1}, headers=headers).json()["candidates"]
    assert [c["display_name"] for c in ranked] == ["Gul"]
    assert client.get(path, params={"place": 2}, headers=headers).status_code == 422
    made = post_assignment(client, headers, booking_id=booking.id, provider_id=gul.id, place=1)
    assert made["place"] == 1
    refused = client.post(
        "/api/v1/assignments",
        json={"booking_id": booking.id, "provider_id": gul.id, "place": 0},
        headers=headers,
    )
    assert refused.status_code in (409, 422)
    client.post(f"/api/v1/assignments/{made['id']}/cancel", json={}, headers=headers)
    offered = client.post(
        f"/api/v1/bookings/{booking.id}/offers", json={"count": 2, "place": 1}, headers=headers
    )
    assert offered.status_code == 201, offered.text
    assert [(o["provider_id"], o["place"]) for o in offered.json()["offers"]] == [(gul.id, 1)]


def test_a_group_with_a_place_held_is_ranked_and_planned_for_its_open_place(
    client: TestClient,
    db: Session,
    world: World,
    login: Headers,
    solve_queued: Callable[[], list[int]],
) -> None:
    make_language(db, code="pus", name_en="Pashto")
    booking = world.booking(db, session_kind="group", status="proposed")
    db.add(BookingPlace(booking_id=booking.id, position=1, language_code="pus"))
    db.flush()
    db.refresh(booking)
    amina = world.provider(db, name="Amina")
    gul = world.provider(db, name="Gul", languages=("pus",))
    make_assignment(db, booking=booking, provider=amina, status="confirmed")
    headers = login(world.dispatcher)
    path = f"/api/v1/bookings/{booking.id}/candidates"
    ranked = client.get(path, params={"place": 1}, headers=headers)
    assert ranked.status_code == 200, ranked.text
    assert [c["display_name"] for c in ranked.json()["candidates"]] == ["Gul"]

    queued = client.post(
        "/api/v1/plans",
        json={
            "horizon_start": at(world.day, 0).isoformat(),
            "horizon_end": at(world.day + dt.timedelta(days=1), 0).isoformat(),
            "booking_ids": [booking.id],
            "time_limit": 5,
        },
        headers=headers,
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["id"] in solve_queued()
    plan = client.get(f"/api/v1/plans/{queued.json()['id']}", headers=headers).json()
    assert [(p["place"], p["provider_id"]) for p in plan["proposals"]] == [(1, gul.id)]
    applied = client.post(f"/api/v1/plans/{plan['id']}/apply", json={}, headers=headers)
    assert applied.status_code == 200, applied.text
    db.refresh(booking)
    assert booking.status == "confirmed"
