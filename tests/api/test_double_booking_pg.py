"""No double booking and one winner per booking, under real concurrency on PostgreSQL.

These tests run the real app on its own engine (no shared test session), with
data committed beforehand, and fire two requests at the same moment from two
threads. Whatever the interleaving, exactly one wins and the database never
holds two confirmed overlapping assignments for one provider.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from booking.assignments import service
from booking.errors import Conflict
from booking.models import Assignment
from booking.vocabulary import AssignmentStatus
from tests.booking.dispatch_world import make_world
from tests.factories import make_api_token, make_assignment, make_user

pytestmark = pytest.mark.postgres

ROUNDS = 3


def race(client: TestClient, calls: list[tuple[str, dict[str, str]]]) -> list[int]:
    """POST every ``(path, headers)`` at the same moment from its own thread; the statuses."""
    barrier = threading.Barrier(len(calls))
    statuses: list[int] = [0] * len(calls)

    def fire(i: int, path: str, headers: dict[str, str]) -> None:
        barrier.wait()
        statuses[i] = client.post(path, headers=headers).status_code

    threads = [
        threading.Thread(target=fire, args=(i, path, headers))
        for i, (path, headers) in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@dataclass
class Overlap:
    provider_id: int
    assignment_ids: tuple[int, int]
    headers: tuple[dict[str, str], dict[str, str]]


def _overlapping_proposals(factory: sessionmaker[Session]) -> Overlap:
    with factory() as db:
        world = make_world(db)
        provider = world.provider(db)
        first = make_assignment(
            db, booking=world.booking(db, hour=10), provider=provider, created_by=world.dispatcher
        )
        second = make_assignment(
            db,
            booking=world.booking(db, hour=10, minute=30),
            provider=provider,
            created_by=world.dispatcher,
        )
        # Two dispatchers of the same service, each confirming one of them.
        colleague = make_user(db, organisation=world.service, role="dispatcher")
        tokens = (
            make_api_token(db, user=world.dispatcher)[1],
            make_api_token(db, user=colleague)[1],
        )
        db.commit()
        return Overlap(
            provider_id=provider.id,
            assignment_ids=(first.id, second.id),
            headers=tuple({"Authorization": f"Bearer {t}"} for t in tokens),  # type: ignore[arg-type]
        )


def confirmed_overlaps(db: Session, provider_id: int) -> int:
    a, b = Assignment.__table__.alias("a"), Assignment.__table__.alias("b")
    query = (
        select(func.count())
        .select_from(a)
        .join(b, (a.c.provider_id == b.c.provider_id) & (a.c.id < b.c.id))
        .where(
            a.c.provider_id == provider_id,
            a.c.status == "confirmed",
            b.c.status == "confirmed",
            a.c.starts_at < b.c.ends_at,
            b.c.starts_at < a.c.ends_at,
        )
    )
    return int(db.scalar(query) or 0)


def test_two_concurrent_confirmations_of_overlapping_work_give_one_200_and_one_409(
    committing_session_factory: sessionmaker[Session], live_client: TestClient
) -> None:
    for _ in range(ROUNDS):
        case = _overlapping_proposals(committing_session_factory)
        statuses = race(
            live_client,
            [
                (f"/api/v1/assignments/{assignment_id}/confirm", headers)
                for assignment_id, headers in zip(case.assignment_ids, case.headers, strict=True)
            ],
        )
        assert sorted(statuses) == [200, 409]
        with committing_session_factory() as db:
            confirmed = db.scalar(
                select(func.count()).where(
                    Assignment.provider_id == case.provider_id,
                    Assignment.status == AssignmentStatus.CONFIRMED,
                )
            )
            assert confirmed == 1
            assert confirmed_overlaps(db, case.provider_id) == 0


def test_two_concurrent_accepts_of_offers_for_one_booking_have_one_winner(
    committing_session_factory: sessionmaker[Session], live_client: TestClient
) -> None:
    for _ in range(ROUNDS):
        with committing_session_factory() as db:
            world = make_world(db)
            booking = world.booking(db, status="proposed")
            calls = []
            for name in ("Awet", "Selam"):
                provider = world.provider(db, name=name)
                offer = make_assignment(
                    db,
                    booking=booking,
                    provider=provider,
                    status="offered",
                    created_by=world.dispatcher,
                )
                token = make_api_token(db, user=world.login(db, provider))[1]
                calls.append(
                    (
                        f"/api/v1/assignments/{offer.id}/accept",
                        {"Authorization": f"Bearer {token}"},
                    )
                )
            db.commit()
            booking_id = booking.id
        statuses = race(live_client, calls)
        assert sorted(statuses) == [200, 409]
        with committing_session_factory() as db:
            states = sorted(
                db.scalars(select(Assignment.status).where(Assignment.booking_id == booking_id))
            )
            assert states == ["accepted", "cancelled"]


def test_the_exclusion_constraint_is_the_last_guard_and_becomes_a_conflict(
    committing_session_factory: sessionmaker[Session],
) -> None:
    with committing_session_factory() as db:
        world = make_world(db)
        provider = world.provider(db)
        make_assignment(
            db, booking=world.booking(db, hour=10), provider=provider, status="confirmed"
        )
        sneaky = make_assignment(
            db, booking=world.booking(db, hour=10, minute=30), provider=provider
        )
        db.commit()
        # Skip the Python guard: only the database stands in the way.
        sneaky.status = AssignmentStatus.CONFIRMED
        with pytest.raises(Conflict) as refused:
            service.flush_guarded(db)
        assert refused.value.code == "provider_double_booked"
        db.rollback()
        assert confirmed_overlaps(db, provider.id) == 0
