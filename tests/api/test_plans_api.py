"""Plans through HTTP: run, read, apply; a stale proposal is a 409 that still applies the rest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import nullcontext

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from booking.models import Assignment, Booking, User
from booking.vocabulary import AssignmentStatus, BookingStatus
from tests.booking.dispatch_world import World, at, make_world
from tests.factories import make_language

Headers = Callable[[User], dict[str, str]]
Solve = Callable[[], list[int]]


def horizon(world: World) -> dict[str, object]:
    return {
        "horizon_start": at(world.day, 0).isoformat(),
        "horizon_end": at(world.day + dt.timedelta(days=1), 0).isoformat(),
        "time_limit": 5,
    }


def create_plan(
    client: TestClient, headers: dict[str, str], solve: Solve, **body: object
) -> dict[str, object]:
    """Queue a plan (202, pending, its address), let a solver take it, read it back."""
    answer = client.post("/api/v1/plans", json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert queued["status"] == "pending" and queued["proposals"] == []
    assert answer.headers["location"] == f"/api/v1/plans/{queued['id']}"
    assert queued["id"] in solve()
    return dict(client.get(answer.headers["location"], headers=headers).json())


def test_a_plan_is_run_stored_and_read_back(
    client: TestClient, db: Session, world: World, login: Headers, solve_queued: Solve
) -> None:
    make_language(db, code="som", is_rare=True)
    provider = world.provider(db, name="Awet")
    staffed = world.booking(db, hour=10)
    rare = world.booking(db, hour=11, language_code="som")
    headers = login(world.dispatcher)
    plan = create_plan(client, headers, solve_queued, **horizon(world))
    assert plan["status"] == "done"
    assert plan["score"]["hard"] == 0 and plan["score"]["medium"] == -1
    assert plan["timings"]["total_seconds"] >= plan["timings"]["solve_seconds"] >= 0
    [proposal] = plan["proposals"]  # type: ignore[misc]
    assert proposal["booking_id"] == staffed.id and proposal["provider_id"] == provider.id
    assert proposal["provider_name"] == "Awet" and proposal["status"] == "proposed"
    assert "Awet" in proposal["explanation"]
    [left] = plan["unassigned"]  # type: ignore[misc]
    assert (left["booking_id"], left["reason"]) == (rare.id, "no_provider_speaks_language")
    assert left["explanation"]
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=headers).json() == plan
    listed = client.get("/api/v1/plans", headers=headers).json()["items"]
    assert [p["id"] for p in listed] == [plan["id"]]


def test_a_plan_says_how_it_shares_the_work_beside_its_travel(
    client: TestClient, db: Session, world: World, login: Headers, solve_queued: Solve
) -> None:
    world.provider(db, name="Awet")
    world.provider(db, name="Selam")
    world.booking(db, hour=10)
    world.service.fairness_weight = 5
    db.flush()
    plan = create_plan(client, login(world.dispatcher), solve_queued, **horizon(world))
    assert plan["kind"] == "plan"
    sharing = plan["sharing"]
    assert sharing["fairness_weight"] == 5  # type: ignore[index]
    assert sharing["travel_minutes"] == 0  # type: ignore[index]
    assert sharing["workload"] == {  # type: ignore[index]
        "providers": 2,
        "min": 0,
        "median": 30.0,
        "max": 60,
        "gini": 0.5,
    }
    assert sharing["fairness"] == {"weight": 5, "largest_load": 60, "penalty": 300}  # type: ignore[index]


def test_applying_a_plan_confirms_its_proposals(
    client: TestClient, db: Session, world: World, login: Headers, solve_queued: Solve
) -> None:
    world.provider(db)
    booking = world.booking(db)
    headers = login(world.dispatcher)
    plan = create_plan(client, headers, solve_queued, **horizon(world))
    answer = client.post(f"/api/v1/plans/{plan['id']}/apply", json={}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["refused"] == [] and [a["status"] for a in body["applied"]] == ["confirmed"]
    db.refresh(booking)
    assert booking.status == BookingStatus.CONFIRMED
    again = client.get(f"/api/v1/plans/{plan['id']}", headers=headers).json()
    assert again["proposals"][0]["status"] == "confirmed"


def test_a_stale_proposal_is_a_409_listing_it_and_the_rest_is_applied(
    client: TestClient, db: Session, world: World, login: Headers, solve_queued: Solve
) -> None:
    world.provider(db)
    world.provider(db)
    edited = world.booking(db, hour=9)
    fine = world.booking(db, hour=14)
    headers = login(world.dispatcher)
    plan = create_plan(client, headers, solve_queued, **horizon(world))
    edited.notes = "The appointment moved to room 4."
    db.commit()
    answer = client.post(
        f"/api/v1/plans/{plan['id']}/apply", headers={**headers, "Accept-Language": "fr"}
    )
    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == 409
    # The same shape as every other problem: an underscore code, a title in the caller's language.
    assert problem["type"] == "https://truchement.eu/problems/stale_proposals"
    assert problem["title"] == "Conflit avec l’état actuel"
    assert problem["detail"].startswith("1 proposition refusée car périmée, 1 appliquée")
    assert problem["plan_id"] == plan["id"] and problem["mode"] == "confirm"
    assert [(r["booking_id"], r["code"]) for r in problem["refused"]] == [
        (edited.id, "booking_changed")
    ]
    assert [a["booking_id"] for a in problem["applied"]] == [fine.id]
    # The applied part was committed, not rolled back with the 409.
    db.expire_all()
    assert db.get_one(Booking, fine.id).status == BookingStatus.CONFIRMED
    assert db.get_one(Booking, edited.id).status == BookingStatus.PROPOSED
    confirmed = db.get_one(Assignment, problem["applied"][0]["id"])
    assert confirmed.status == AssignmentStatus.CONFIRMED


def test_a_plan_can_be_applied_as_offers(
    client: TestClient, db: Session, world: World, login: Headers, solve_queued: Solve
) -> None:
    provider = world.provider(db)
    world.booking(db)
    headers = login(world.dispatcher)
    plan = create_plan(client, headers, solve_queued, **horizon(world))
    answer = client.post(
        f"/api/v1/plans/{plan['id']}/apply",
        json={"mode": "offer", "offer_expires_in_minutes": 90},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    [offer] = answer.json()["applied"]
    assert offer["status"] == "offered"
    mine = client.get(
        "/api/v1/assignments",
        params={"status": "offered"},
        headers=login(world.login(db, provider)),
    )
    assert [a["id"] for a in mine.json()["items"]] == [offer["id"]]


def test_plans_belong_to_the_dispatchers_of_their_service(
    client: TestClient, db: Session, world: World, login: Headers, solve_queued: Solve
) -> None:
    world.provider(db)
    world.booking(db)
    plan = create_plan(client, login(world.dispatcher), solve_queued, **horizon(world))
    stranger = login(make_world(db).dispatcher)
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=stranger).status_code == 404
    assert client.post(f"/api/v1/plans/{plan['id']}/apply", headers=stranger).status_code == 404
    requester = login(world.requester)
    assert client.post("/api/v1/plans", json=horizon(world), headers=requester).status_code == 403
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=requester).status_code == 403


@pytest.mark.parametrize(
    "change",
    [
        {"horizon_start": "2026-12-07T00:00:00"},
        {"horizon_end": "2020-01-01T00:00:00+01:00"},
        {"time_limit": 0},
        {"time_limit": 10_000},
        {"booking_ids": [0]},
        {"booking_ids": [123456789]},
        {"surprise": 1},
    ],
)
def test_bad_plan_requests_are_422(
    client: TestClient, world: World, login: Headers, change: dict[str, object]
) -> None:
    answer = client.post(
        "/api/v1/plans", json={**horizon(world), **change}, headers=login(world.dispatcher)
    )
    assert answer.status_code == 422, answer.text


def test_applying_unknown_proposals_is_422(
    client: TestClient, db: Session, world: World, login: Headers, solve_queued: Solve
) -> None:
    world.provider(db)
    world.booking(db)
    headers = login(world.dispatcher)
    plan = create_plan(client, headers, solve_queued, **horizon(world))
    answer = client.post(
        f"/api/v1/plans/{plan['id']}/apply", json={"assignment_ids": [999999]}, headers=headers
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "assignment_ids.0"


def test_a_dispatcher_stops_a_queued_plan_and_a_running_one_keeps_its_best_plan(
    client: TestClient, db: Session, world: World, login: Headers, solve_queued: Solve
) -> None:
    from booking.plans.jobs import claim_next
    from booking.plans.solver import Solver
    from booking.settings import Settings

    world.provider(db, name="Awet")
    world.booking(db, hour=10)
    headers = login(world.dispatcher)
    queued = client.post("/api/v1/plans", json=horizon(world), headers=headers).json()
    stopped = client.post(f"/api/v1/plans/{queued['id']}/stop", headers=headers)
    assert stopped.status_code == 202, stopped.text
    assert stopped.json()["status"] == "failed"
    assert stopped.json()["error"] == "Stopped by a dispatcher before it ran."
    assert stopped.json()["error_code"] == "stopped_before_run"
    in_french = client.get(
        f"/api/v1/plans/{queued['id']}", headers={**headers, "Accept-Language": "fr"}
    ).json()
    assert in_french["error_text"] == (
        "Arrêté à la demande du service de répartition avant d’avoir commencé."
    )
    listed = client.get("/api/v1/plans", headers={**headers, "Accept-Language": "nl"}).json()
    assert listed["items"][0]["error_text"].startswith("Gestopt op vraag van de planningsdienst")
    again = client.post(f"/api/v1/plans/{queued['id']}/stop", headers=headers)
    assert again.status_code == 409 and again.json()["type"].endswith("/plan_ended")
    assert solve_queued() == []

    running = client.post("/api/v1/plans", json=horizon(world), headers=headers).json()
    claim = claim_next(db, solver="solver-a", lease_seconds=60, max_attempts=3)
    assert claim is not None and claim.plan_id == running["id"]
    asked = client.post(f"/api/v1/plans/{running['id']}/stop", headers=headers).json()
    assert asked["status"] == "running" and asked["attempts"] == 1
    settings = Settings(environment="test", secret_key="test-secret-key-not-for-production")
    Solver(lambda: nullcontext(db), settings, heartbeat=False)._solve(claim)
    ended = client.get(f"/api/v1/plans/{running['id']}", headers=headers).json()
    assert ended["status"] == "done" and ended["progress"]["stopped"] is True
    assert len(ended["proposals"]) == 1
    assert ended["warnings"][-1].startswith("Stopped by a dispatcher")


def test_a_plan_given_back_to_the_queue_reads_as_pending_with_the_reason(
    client: TestClient,
    db: Session,
    world: World,
    login: Headers,
    solve_queued: Solve,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from booking.errors import Conflict
    from booking.plans import solver

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise Conflict("A booking changed while the plan was computed.", code="plan_interrupted")

    monkeypatch.setattr(solver, "solve_plan", interrupted)
    headers = login(world.dispatcher)
    queued = client.post("/api/v1/plans", json=horizon(world), headers=headers).json()
    solver.Solver(lambda: nullcontext(db), heartbeat=False).run_one()
    read = client.get(f"/api/v1/plans/{queued['id']}", headers=headers)
    assert read.status_code == 200, read.text
    plan = read.json()
    assert (plan["status"], plan["attempts"]) == ("pending", 1)
    assert plan["progress"]["last_error"] == "A booking changed while the plan was computed."
