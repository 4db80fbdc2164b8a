"""Security review, finding 2: a provider reads the work, not who booked it or about whom.

A provider with an offer used to read the booking's ``beneficiary_ref``,
``notes``, ``requester_id`` and ``excluded_provider_ids``, and kept reading
them in ``/history`` after the requester cleared them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from booking.bookings.provider_view import (
    ASSIGNMENT_FIELDS_FOR_PROVIDERS,
    BOOKING_FIELDS_FOR_PROVIDERS,
)
from booking.models import Booking, Provider, Series, User
from tests.booking.dispatch_world import World, at, make_world
from tests.factories import make_assignment

Headers = Callable[[User], dict[str, str]]
SECRET_REF = "b-9zq4"
SECRET_NOTES = "Mme K. refuses male interpreters; room 4, ask for Dr Lemaire."
HIDDEN_KEYS = {"beneficiary_ref", "requester_id", "excluded_provider_ids"}


@dataclass
class Offered:
    world: World
    provider: Provider
    provider_user: User
    excluded: Provider
    booking_id: int
    assignment_id: int


@pytest.fixture
def offered(client: TestClient, db: Session, login: Headers) -> Offered:
    """The requester books through the API (so the history is real); the provider gets an offer."""
    world = make_world(db)
    provider = world.provider(db, name="Selam T.")
    excluded = world.provider(db, name="Not this one")
    answer = client.post(
        "/api/v1/bookings",
        json={
            "language": "tir",
            "session_kind": "psychological",
            "modality": "onsite",
            "site_id": world.site.id,
            "starts_at": at(world.day, 10).isoformat(),
            "duration_minutes": 60,
            "beneficiary_ref": SECRET_REF,
            "notes": SECRET_NOTES,
            "needs": {"excluded_provider_ids": [excluded.id], "gender": "f"},
        },
        headers=login(world.requester),
    )
    assert answer.status_code == 201, answer.text
    booking_id = answer.json()["id"]
    booking = db.get_one(Booking, booking_id)
    assignment = make_assignment(
        db, booking=booking, provider=provider, status="offered", created_by=world.dispatcher
    )
    return Offered(
        world=world,
        provider=provider,
        provider_user=world.login(db, provider),
        excluded=excluded,
        booking_id=booking_id,
        assignment_id=assignment.id,
    )


def leaks(payload: object, world: World) -> list[str]:
    """What of the beneficiary, the requester and the excluded people a payload shows."""
    text = json.dumps(payload)
    found = [key for key in HIDDEN_KEYS if f'"{key}"' in text]
    found += [
        value for value in (SECRET_REF, SECRET_NOTES, world.requester.full_name) if value in text
    ]
    return found


def test_a_provider_with_an_offer_reads_the_work_and_nothing_more(
    client: TestClient, offered: Offered, login: Headers
) -> None:
    headers = login(offered.provider_user)
    one = client.get(f"/api/v1/bookings/{offered.booking_id}", headers=headers)
    assert one.status_code == 200, one.text
    body = one.json()
    assert leaks(body, offered.world) == []
    assert body["view"] == "provider"
    assert body["notes"] is None  # an offer is not the work yet
    assert body["assignment_id"] == offered.assignment_id
    assert body["assignment_status"] == "offered"
    assert body["language"] == "tir" and body["session_kind"] == "psychological"
    assert body["location"]["address"] and body["needs"]["gender"] == "f"
    assert body["organisation_name"] == offered.world.centre.name
    starts = dt.datetime.fromisoformat(body["starts_at"])
    assert starts == at(offered.world.day, 10) and body["duration_minutes"] == 60
    listed = client.get("/api/v1/bookings", headers=headers).json()["items"]
    assert [b["id"] for b in listed] == [offered.booking_id]
    assert leaks(listed, offered.world) == []


def test_the_provider_s_history_keeps_nothing_the_requester_cleared(
    client: TestClient, db: Session, offered: Offered, login: Headers
) -> None:
    requester = login(offered.world.requester)
    read = client.get(f"/api/v1/bookings/{offered.booking_id}", headers=requester)
    cleared = client.patch(
        f"/api/v1/bookings/{offered.booking_id}",
        json={"notes": None, "beneficiary_ref": None, "needs": {"excluded_provider_ids": []}},
        headers={**requester, "If-Match": read.headers["ETag"]},
    )
    assert cleared.status_code == 200, cleared.text
    # The requester's own history still tells the whole story.
    theirs = client.get(f"/api/v1/bookings/{offered.booking_id}/history", headers=requester)
    assert SECRET_NOTES in theirs.text
    history = client.get(
        f"/api/v1/bookings/{offered.booking_id}/history", headers=login(offered.provider_user)
    )
    assert history.status_code == 200, history.text
    entries = history.json()
    assert leaks(entries, offered.world) == []
    shown = {key for e in entries for key in e["changes"]}
    assert shown <= BOOKING_FIELDS_FOR_PROVIDERS | ASSIGNMENT_FIELDS_FOR_PROVIDERS
    created = entries[0]
    assert created["action"] == "booking.created"
    assert created["actor_id"] is None and created["actor_name"] is None
    assert {"starts_at", "language_code", "session_kind"} <= set(created["changes"])
    assert "booking.updated" not in [e["action"] for e in entries]  # only hidden fields changed
    assert {e["entity_id"] for e in entries if e["entity_type"] == "assignment"} <= {
        offered.assignment_id
    }


def test_notes_reach_the_provider_once_they_hold_the_work(
    client: TestClient, db: Session, offered: Offered, login: Headers
) -> None:
    headers = login(offered.provider_user)
    accepted = client.post(f"/api/v1/assignments/{offered.assignment_id}/accept", headers=headers)
    assert accepted.status_code == 200, accepted.text
    body = client.get(f"/api/v1/bookings/{offered.booking_id}", headers=headers).json()
    assert body["assignment_status"] == "accepted"
    assert body["notes"] == SECRET_NOTES
    assert not HIDDEN_KEYS & set(body)


def test_others_still_read_the_whole_booking(
    client: TestClient, offered: Offered, login: Headers
) -> None:
    for user in (offered.world.requester, offered.world.dispatcher):
        body = client.get(f"/api/v1/bookings/{offered.booking_id}", headers=login(user)).json()
        assert body["beneficiary_ref"] == SECRET_REF and body["notes"] == SECRET_NOTES
        assert body["needs"]["excluded_provider_ids"] == [offered.excluded.id]
        assert "view" not in body


def test_a_provider_does_not_read_the_requester_s_series(
    client: TestClient, db: Session, offered: Offered, login: Headers
) -> None:
    booking = db.get_one(Booking, offered.booking_id)
    series = Series(
        organisation_id=booking.organisation_id,
        requester_id=booking.requester_id,
        language_code="tir",
        interval_weeks=1,
        occurrence_count=1,
    )
    db.add(series)
    db.flush()
    booking.series_id, booking.series_index = series.id, 0
    db.flush()
    answer = client.get(f"/api/v1/series/{series.id}", headers=login(offered.provider_user))
    assert answer.status_code == 403
    assert SECRET_NOTES not in answer.text
