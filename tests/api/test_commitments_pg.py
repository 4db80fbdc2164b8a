"""Racing requests that give one provider work, on PostgreSQL with real threads and commits.

Each round builds its own world, commits it, then fires the requests at the
same moment through the real app (every request its own transaction). Whatever
the interleaving: no 5xx, exactly one winner, and the database never holds two
overlapping commitments (accepted or confirmed) of one provider, nor two
commitments without the time to drive between them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from api.deps import DbSession
from booking.models import Assignment
from booking.vocabulary import AssignmentStatus
from tests.booking.assignments.test_commitments import in_mons, offered
from tests.booking.dispatch_world import World, make_world
from tests.factories import make_api_token, make_assignment, make_user

pytestmark = pytest.mark.postgres

ROUNDS = 20
HELD = (AssignmentStatus.ACCEPTED, AssignmentStatus.CONFIRMED)


@dataclass(frozen=True)
class Call:
    path: str
    headers: dict[str, str]
    json: dict[str, Any] | None = None


def race(client: TestClient, calls: list[Call]) -> list[int]:
    """POST every call at the same moment, each from its own thread; the statuses in order."""
    barrier = threading.Barrier(len(calls))
    statuses = [0] * len(calls)

    def fire(i: int, call: Call) -> None:
        barrier.wait()
        statuses[i] = client.post(call.path, headers=call.headers, json=call.json).status_code

    threads = [threading.Thread(target=fire, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def bearer(db: Session, user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_api_token(db, user=user)[1]}"}


def held_count(db: Session, provider_id: int) -> int:
    return int(
        db.scalar(
            select(func.count()).where(
                Assignment.provider_id == provider_id, Assignment.status.in_(HELD)
            )
        )
        or 0
    )


def assert_one_winner(statuses: list[int], won: int, lost: tuple[int, ...]) -> None:
    assert all(status < 500 for status in statuses), statuses
    assert statuses.count(won) == 1, statuses
    assert all(status in (won, *lost) for status in statuses), statuses


# --- 1: racing manual confirms never deadlock --------------------------------------------


def test_racing_manual_confirms_of_one_provider_never_deadlock_and_have_one_winner(
    committing_session_factory: sessionmaker[Session], live_client: TestClient
) -> None:
    """POST /assignments {"status": "confirmed"} twice at once, overlapping bookings, one
    provider: before the provider row was locked first, about one round in four ended in a
    deadlock and a 500."""
    for _ in range(ROUNDS):
        with committing_session_factory() as db:
            world = make_world(db)
            provider = world.provider(db)
            bookings = (world.booking(db, hour=10), world.booking(db, hour=10, minute=30))
            colleague = make_user(db, organisation=world.service, role="dispatcher")
            calls = [
                Call(
                    "/api/v1/assignments",
                    bearer(db, user),
                    {"booking_id": booking.id, "provider_id": provider.id, "status": "confirmed"},
                )
                for booking, user in zip(bookings, (world.dispatcher, colleague), strict=True)
            ]
            db.commit()
            provider_id = provider.id
        statuses = race(live_client, calls)
        # The loser sees the winner's work: the rule it breaks (422) or the conflict (409).
        assert_one_winner(statuses, 201, (409, 422))
        with committing_session_factory() as db:
            assert held_count(db, provider_id) == 1


def test_a_real_deadlock_is_answered_409_conflict_and_the_other_request_goes_through(
    committing_session_factory: sessionmaker[Session], live_app: FastAPI
) -> None:
    """The last line of defence: two requests that lock two rows in opposite orders."""
    with committing_session_factory() as db:
        world = make_world(db)
        first, second = world.provider(db), world.provider(db)
        db.commit()
        ids = (first.id, second.id)
    both_hold_one = threading.Barrier(2)

    def lock_both(db: DbSession, reverse: bool) -> dict[str, str]:
        order = ids[::-1] if reverse else ids
        lock = text("SELECT id FROM provider WHERE id = :id FOR UPDATE")
        db.execute(lock, {"id": order[0]})
        both_hold_one.wait(timeout=10)
        db.execute(lock, {"id": order[1]})
        return {"locked": "both"}

    live_app.add_api_route("/_probe/lock-both", lock_both, methods=["POST"])
    with TestClient(live_app, raise_server_exceptions=False) as client:
        statuses = [0, 0]

        def fire(i: int) -> None:
            response = client.post(f"/_probe/lock-both?reverse={'true' if i else 'false'}")
            statuses[i] = response.status_code
            if response.status_code == 409:
                assert response.json()["type"].endswith("/conflict")

        threads = [threading.Thread(target=fire, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(statuses) == [200, 409]


# --- 2: accepted work is a commitment, under races too -----------------------------------


@dataclass(frozen=True)
class AcceptOrConfirm:
    provider_id: int
    calls: list[Call]


def _offer_and_proposal(db: Session, world: World, *, elsewhere: bool) -> AcceptOrConfirm:
    """An offer the provider accepts and a proposal a dispatcher confirms, for one provider.

    Overlapping (10:00-11:00 and 10:30), or, with ``elsewhere``, back to back in two
    towns an hour's drive apart (10:00-11:00 in Tournai, 11:05 in Mons).
    """
    provider = world.provider(db)
    offer = offered(db, world, provider, world.booking(db, hour=10, status="proposed"))
    other = in_mons(db, world, 11, 5) if elsewhere else world.booking(db, hour=10, minute=30)
    proposal = make_assignment(db, booking=other, provider=provider, created_by=world.dispatcher)
    calls = [
        Call(f"/api/v1/assignments/{offer.id}/accept", bearer(db, world.login(db, provider))),
        Call(f"/api/v1/assignments/{proposal.id}/confirm", bearer(db, world.dispatcher)),
    ]
    db.commit()
    return AcceptOrConfirm(provider.id, calls)


@pytest.mark.parametrize("elsewhere", [False, True], ids=["overlapping", "no-time-to-drive"])
def test_an_accept_and_a_confirm_racing_for_one_provider_have_one_winner(
    committing_session_factory: sessionmaker[Session], live_client: TestClient, elsewhere: bool
) -> None:
    """The exclusion constraint covers overlaps; the provider lock covers the drive."""
    for _ in range(ROUNDS):
        with committing_session_factory() as db:
            case = _offer_and_proposal(db, make_world(db), elsewhere=elsewhere)
        statuses = race(live_client, case.calls)
        assert_one_winner(statuses, 200, (409,))
        with committing_session_factory() as db:
            assert held_count(db, case.provider_id) == 1
