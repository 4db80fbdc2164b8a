"""What a read costs the database: the SQL statements of reading one booking and of a page.

Under load nearly all of a request's time was database round trips (see
benchmarks/README.md), so their number is pinned here, on SQLite and
PostgreSQL alike: a lazy load or a second lookup of the caller creeping back
in fails these tests, not a stopwatch.

Reading one booking: the booking with its group places (one joined query),
then its preferences and its holder (one ``UNION ALL``). A list page costs the
same two for any number of bookings. The caller costs one more query (the
token joined to its user) the first time, plus the token's ``last_used_at``
write once a minute; within ``auth_cache_seconds`` after that, nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from booking.models import BookingPlace, User
from tests.api.conftest import Border
from tests.factories import make_assignment, make_booking, make_preference, make_provider

SAVEPOINTS = ("SAVEPOINT", "RELEASE", "ROLLBACK TO")
"""The test session's own bookkeeping (it nests each request in a SAVEPOINT), not the app's."""


@contextmanager
def statements(db: Session) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs, the test's SAVEPOINTs left out."""
    seen: list[str] = []
    engine = db.get_bind().engine

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(SAVEPOINTS):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


@pytest.fixture
def bookings(db: Session, border: Border) -> list[int]:
    """Three bookings whose answers need every part: a group place, preferences, a holder."""
    group = make_booking(db, requester=border.requester, site=border.site)
    db.add(BookingPlace(booking_id=group.id, position=1, language_code="prs"))
    preferring = make_booking(db, requester=border.requester, site=border.site)
    make_preference(db, booking=preferring, provider=border.provider, kind="preferred")
    make_preference(db, booking=preferring, provider=make_provider(db, organisation=border.setis))
    held = make_booking(db, requester=border.requester, site=border.site, status="confirmed")
    make_assignment(db, booking=held, provider=border.provider, status="confirmed")
    db.flush()
    return [group.id, preferring.id, held.id]


Cost = Callable[[str, dict[str, str]], list[str]]


@pytest.fixture
def cost(client: TestClient, db: Session) -> Cost:
    """The statements of one GET (answered 200), with nothing of it in the session beforehand."""

    def _cost(path: str, headers: dict[str, str]) -> list[str]:
        db.expunge_all()
        with statements(db) as seen:
            response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return seen

    return _cost


Login = Callable[[User], dict[str, str]]


def test_reading_one_booking_is_two_statements_once_the_caller_is_known(
    cost: Cost, client: TestClient, border: Border, bookings: list[int], login: Login
) -> None:
    headers = login(border.dispatcher)
    group, preferring, held = bookings
    first = cost(f"/api/v1/bookings/{group}", headers)
    # The caller (token and user in one query), the last_used_at write, the booking, the rest.
    assert len(first) == 4, first
    assert first[1].lstrip().upper().startswith("UPDATE API_TOKEN")
    for booking_id in bookings:
        assert len(cost(f"/api/v1/bookings/{booking_id}", headers)) == 2

    answers = {b: client.get(f"/api/v1/bookings/{b}", headers=headers).json() for b in bookings}
    assert [p["language"] for p in answers[group]["places"]] == ["prs"]
    assert answers[preferring]["needs"]["preferred_provider_ids"] == [border.provider.id]
    assert len(answers[preferring]["needs"]["excluded_provider_ids"]) == 1
    assert answers[held]["assigned_provider"]["id"] == border.provider.id


def test_a_page_of_bookings_costs_the_same_two_statements_however_many_it_holds(
    cost: Cost, client: TestClient, db: Session, border: Border, bookings: list[int], login: Login
) -> None:
    headers = login(border.dispatcher)
    assert len(cost("/api/v1/bookings?limit=20", headers)) == 4
    for _ in range(5):
        make_booking(db, requester=border.requester, site=border.site)
    db.commit()
    assert len(cost("/api/v1/bookings?limit=20", headers)) == 2
    page = client.get("/api/v1/bookings?limit=20", headers=headers).json()["items"]
    assert len(page) == 8
    assert any(item["places"] for item in page)
    assert any(item["assigned_provider"] for item in page)


def test_a_requester_reads_and_lists_at_the_same_cost(
    cost: Cost, border: Border, bookings: list[int], login: Login
) -> None:
    headers = login(border.requester)
    cost("/api/v1/bookings?limit=20", headers)  # the caller is now known
    assert len(cost(f"/api/v1/bookings/{bookings[0]}", headers)) == 2
    assert len(cost("/api/v1/bookings?limit=20", headers)) == 2
