"""Bookings through HTTP: create, validate, idempotency, list, If-Match, cancel, history."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from booking.models import Booking, User
from booking.types import utc_now
from tests.api.conftest import Border
from tests.factories import (
    BRUSSELS,
    CALAIS,
    make_assignment,
    make_booking,
    make_site,
)

Headers = Callable[[User], dict[str, str]]
URL = "/api/v1/bookings"


def in_days(days: int, hour: int = 10) -> dt.datetime:
    day = dt.datetime.now(BRUSSELS).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=BRUSSELS)


def body(border: Border, **changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "language": "tir",
        "language_variety": "Eritrean",
        "session_kind": "psychological",
        "modality": "onsite",
        "site_id": border.site.id,
        "starts_at": in_days(10).isoformat(),
        "duration_minutes": 60,
        "needs": {"gender": "f", "certified": True},
        "urgency": "high",
        "beneficiary_ref": "b-7c1f",
        "notes": "First consultation",
    }
    for key, value in changes.items():
        if value is ...:
            request.pop(key, None)
        else:
            request[key] = value
    return request


def fields(response: Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {error["field"] for error in response.json()["errors"]}


def test_a_requester_books_a_session(client: TestClient, border: Border, login: Headers) -> None:
    response = client.post(URL, json=body(border), headers=login(border.requester))
    assert response.status_code == 201, response.text
    booking = response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{URL}/{booking['id']}"
    assert re.fullmatch(r"TR-[0-9A-Z]{4}-[0-9A-Z]{4}", booking["reference"])
    assert booking["status"] == "requested"
    assert booking["version"] == 1
    assert booking["organisation_id"] == border.centre.id
    assert booking["priority"] == 2 and booking["urgency"] == "high"
    assert booking["location"]["lat"] == border.site.lat
    assert booking["needs"]["gender"] == "f" and booking["needs"]["certified"] is True
    assert booking["assigned_provider"] is None
    assert dt.datetime.fromisoformat(booking["starts_at"]) == in_days(10)
    assert booking["created_at"] and booking["updated_at"]


def test_a_phone_session_needs_no_place(client: TestClient, border: Border, login: Headers) -> None:
    request = body(border, modality="phone", site_id=...)
    response = client.post(URL, json=request, headers=login(border.requester))
    assert response.status_code == 201, response.text
    assert response.json()["location"] is None


def test_an_onsite_session_can_give_its_address(
    client: TestClient, border: Border, login: Headers
) -> None:
    place = {"address": "Rue Mollien 12, 62100 Calais", "lat": CALAIS[0], "lon": CALAIS[1]}
    request = body(border, site_id=..., location={**place, "country": "FR"})
    response = client.post(URL, json=request, headers=login(border.requester))
    assert response.status_code == 201, response.text
    assert response.json()["location"]["country"] == "FR"


def _past() -> str:
    return (utc_now() - dt.timedelta(hours=1)).isoformat()


def _window(start_offset_h: float, end_offset_h: float) -> dict[str, str]:
    start = in_days(10)
    return {
        "earliest": (start + dt.timedelta(hours=start_offset_h)).isoformat(),
        "latest": (start + dt.timedelta(hours=end_offset_h)).isoformat(),
    }


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("unknown language", {"language": "xxx"}, "language"),
    ("language not a code", {"language": "Tigrinya"}, "language"),
    ("start in the past", {"starts_at": _past()}, "starts_at"),
    ("start without offset", {"starts_at": "2031-03-03T10:00:00"}, "starts_at"),
    ("start not a time", {"starts_at": "next monday"}, "starts_at"),
    (
        "end before start",
        {"duration_minutes": ..., "ends_at": in_days(10, hour=9).isoformat()},
        "ends_at",
    ),
    ("duration too short", {"duration_minutes": 10}, "duration_minutes"),
    ("duration over 8 hours", {"duration_minutes": 481}, "duration_minutes"),
    ("neither duration nor end", {"duration_minutes": ...}, "duration_minutes"),
    ("window after the start", {"window": _window(1, 2)}, "window"),
    ("window ends before it starts", {"window": _window(1, -1)}, "window.latest"),
    (
        "outside the service area",
        {
            "site_id": ...,
            "location": {
                "address": "Rue de Rivoli 1, Paris",
                "lat": 48.5,
                "lon": 2.35,
                "country": "FR",
            },
        },
        "location.lat",
    ),
    ("onsite without a place", {"site_id": ...}, "location"),
    (
        "site and location",
        {"location": {"address": "x", "lat": 50.6, "lon": 3.4, "country": "BE"}},
        "location",
    ),
    ("unknown site", {"site_id": 987654321}, "site_id"),
    ("id beyond 32 bits", {"site_id": 10**12}, "site_id"),
    ("a name as beneficiary", {"beneficiary_ref": "Amina Yusuf"}, "beneficiary_ref"),
    ("notes too long", {"notes": "x" * 1001}, "notes"),
    ("unknown modality", {"modality": "fax"}, "modality"),
    ("unknown urgency", {"urgency": "yesterday"}, "urgency"),
    ("unknown field", {"beneficiary_name": "Amina"}, "beneficiary_name"),
    (
        "unknown provider",
        {"needs": {"preferred_provider_ids": [987654321]}},
        "needs.preferred_provider_ids",
    ),
    ("unknown gender", {"needs": {"gender": "q"}}, "needs.gender"),
]


@pytest.mark.parametrize(
    ("change", "field"), [(c, f) for _, c, f in INVALID], ids=[n for n, _, _ in INVALID]
)
def test_each_broken_rule_is_a_422_naming_the_field(
    client: TestClient, border: Border, login: Headers, change: dict[str, Any], field: str
) -> None:
    response = client.post(URL, json=body(border, **change), headers=login(border.requester))
    assert field in fields(response)


def test_another_organisations_site_is_unknown(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    theirs = make_site(db, organisation=border.elsewhere)
    response = client.post(
        URL, json=body(border, site_id=theirs.id), headers=login(border.requester)
    )
    assert fields(response) == {"site_id"}


@pytest.mark.parametrize(
    "payload", [b"{not json", b"[]", b'"a string"', b"null", '{"language": "ti\u0000r"}'.encode()]
)
def test_malformed_bodies_are_422_not_500(
    client: TestClient, border: Border, login: Headers, payload: bytes
) -> None:
    headers = {**login(border.requester), "Content-Type": "application/json"}
    response = client.post(URL, content=payload, headers=headers)
    assert response.status_code == 422


def test_a_dispatcher_books_for_a_centre_their_service_serves(
    client: TestClient, border: Border, login: Headers
) -> None:
    headers = login(border.dispatcher)
    response = client.post(
        URL, json=body(border, organisation_id=border.centre.id), headers=headers
    )
    assert response.status_code == 201, response.text
    unserved = client.post(
        URL,
        json=body(border, organisation_id=border.elsewhere.id, site_id=..., modality="phone"),
        headers=headers,
    )
    assert fields(unserved) == {"organisation_id"}


def test_a_provider_cannot_book(client: TestClient, border: Border, login: Headers) -> None:
    response = client.post(
        URL,
        json=body(border, organisation_id=border.centre.id),
        headers=login(border.provider_user),
    )
    assert response.status_code == 403


def test_booking_needs_a_token(client: TestClient, border: Border) -> None:
    assert client.post(URL, json=body(border)).status_code == 401


class TestIdempotency:
    def test_the_same_key_and_body_answer_the_same_booking(
        self, client: TestClient, border: Border, login: Headers
    ) -> None:
        headers = {**login(border.requester), "Idempotency-Key": "9b1d-4c2e"}
        first = client.post(URL, json=body(border), headers=headers)
        again = client.post(URL, json=body(border), headers=headers)
        assert first.status_code == 201, first.text
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers

    def test_key_order_and_offsets_do_not_make_another_request(
        self, client: TestClient, border: Border, login: Headers
    ) -> None:
        headers = {**login(border.requester), "Idempotency-Key": "k-offsets"}
        first = client.post(URL, json=body(border), headers=headers)
        request = dict(reversed(list(body(border).items())))
        request["starts_at"] = in_days(10).astimezone(dt.UTC).isoformat()
        again = client.post(URL, json=request, headers=headers)
        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"]

    def test_the_same_key_with_another_body_is_a_409(
        self, client: TestClient, border: Border, login: Headers
    ) -> None:
        headers = {**login(border.requester), "Idempotency-Key": "k-reused"}
        assert client.post(URL, json=body(border), headers=headers).status_code == 201
        response = client.post(URL, json=body(border, duration_minutes=90), headers=headers)
        assert response.status_code == 409
        assert response.json()["type"].endswith("/idempotency_key_reused")

    def test_a_key_with_spaces_or_too_long_is_refused(
        self, client: TestClient, border: Border, login: Headers
    ) -> None:
        for key in ("two words", "k" * 256):
            headers = {**login(border.requester), "Idempotency-Key": key}
            response = client.post(URL, json=body(border), headers=headers)
            assert response.status_code == 422
            assert any("idempotency" in f.lower() for f in fields(response))


class TestList:
    @pytest.fixture
    def bookings(self, db: Session, border: Border) -> dict[str, Booking]:
        other_site = make_site(db, organisation=border.centre, name="CPAS")
        return {
            "soon": make_booking(db, requester=border.requester, starts_at=in_days(2)),
            "dari": make_booking(
                db, requester=border.requester, starts_at=in_days(3), language_code="prs"
            ),
            "at_cpas": make_booking(
                db, requester=border.requester, starts_at=in_days(4), site=other_site
            ),
            "cancelled": make_booking(
                db, requester=border.requester, starts_at=in_days(5), status="cancelled"
            ),
            "later": make_booking(db, requester=border.requester, starts_at=in_days(20)),
            "theirs": make_booking(db, requester=border.stranger, starts_at=in_days(2)),
        }

    def ids(self, client: TestClient, headers: dict[str, str], query: str = "") -> list[int]:
        response = client.get(f"{URL}?limit=200&{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    def test_a_requester_lists_their_organisations_bookings_soonest_first(
        self,
        client: TestClient,
        border: Border,
        bookings: dict[str, Booking],
        login: Headers,
    ) -> None:
        mine = ["soon", "dari", "at_cpas", "cancelled", "later"]
        assert self.ids(client, login(border.requester)) == [bookings[k].id for k in mine]

    def test_filters(
        self,
        client: TestClient,
        border: Border,
        bookings: dict[str, Booking],
        login: Headers,
    ) -> None:
        headers = login(border.requester)
        day4 = in_days(4).date().isoformat()
        site_id = bookings["at_cpas"].site_id
        expected = {
            "status=cancelled": ["cancelled"],
            "status=requested&status=cancelled&language=prs": ["dari"],
            "language=prs": ["dari"],
            f"from={day4}": ["at_cpas", "cancelled", "later"],
            f"to={day4}": ["soon", "dari", "at_cpas"],
            f"from={day4}&to={day4}": ["at_cpas"],
            f"site_id={site_id}": ["at_cpas"],
        }
        for query, names in expected.items():
            assert self.ids(client, headers, query) == [bookings[n].id for n in names], query

    def test_pages_follow_the_cursor_to_the_end(
        self,
        client: TestClient,
        border: Border,
        bookings: dict[str, Booking],
        login: Headers,
    ) -> None:
        headers = login(border.requester)
        seen: list[int] = []
        cursor: str | None = None
        for _ in range(10):
            query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = client.get(f"{URL}?{query}", headers=headers).json()
            assert len(page["items"]) <= 2
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == self.ids(client, headers)

    @pytest.mark.parametrize(
        "query",
        ["status=lost", "language=Tigrinya", "from=tomorrow", "cursor=%%%", "site_id=0", "limit=0"],
    )
    def test_bad_filters_are_422(
        self, client: TestClient, border: Border, login: Headers, query: str
    ) -> None:
        response = client.get(f"{URL}?{query}", headers=login(border.requester))
        assert response.status_code == 422

    def test_a_range_that_ends_before_it_starts_is_422(
        self, client: TestClient, border: Border, login: Headers
    ) -> None:
        response = client.get(
            f"{URL}?from=2027-02-02&to=2027-02-01", headers=login(border.requester)
        )
        assert fields(response) == {"to"}

    def test_far_away_dates_are_not_an_error(
        self, client: TestClient, border: Border, login: Headers
    ) -> None:
        response = client.get(
            f"{URL}?from=0001-01-01&to=9999-12-31", headers=login(border.requester)
        )
        assert response.status_code == 200

    def test_a_dispatcher_lists_the_centres_they_serve(
        self,
        client: TestClient,
        border: Border,
        bookings: dict[str, Booking],
        login: Headers,
    ) -> None:
        listed = set(self.ids(client, login(border.dispatcher)))
        assert bookings["soon"].id in listed
        assert bookings["theirs"].id not in listed


def test_another_organisations_booking_does_not_exist_for_the_caller(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    theirs = make_booking(db, requester=border.stranger)
    headers = {**login(border.requester), "If-Match": '"1"'}
    for missing in (theirs.id, 987654321):
        assert client.get(f"{URL}/{missing}", headers=headers).status_code == 404
        assert (
            client.patch(f"{URL}/{missing}", json={"notes": "x"}, headers=headers).status_code
            == 404
        )
        cancel = client.post(f"{URL}/{missing}/cancel", json={"reason": "x"}, headers=headers)
        assert cancel.status_code == 404
        assert client.get(f"{URL}/{missing}/history", headers=headers).status_code == 404
    assert theirs.status == "requested" and theirs.notes is None


class TestIfMatch:
    def test_a_change_without_if_match_is_428(
        self, client: TestClient, db: Session, border: Border, login: Headers
    ) -> None:
        booking = make_booking(db, requester=border.requester)
        response = client.patch(
            f"{URL}/{booking.id}", json={"notes": "x"}, headers=login(border.requester)
        )
        assert response.status_code == 428
        assert response.headers["content-type"].startswith("application/problem+json")

    @pytest.mark.parametrize("tag", ['"2"', "2", 'W/"7"', "*", '"abc"', "x" * 500])
    def test_a_change_with_another_version_is_412(
        self, client: TestClient, db: Session, border: Border, login: Headers, tag: str
    ) -> None:
        booking = make_booking(db, requester=border.requester)
        headers = {**login(border.requester), "If-Match": tag}
        response = client.patch(f"{URL}/{booking.id}", json={"notes": "x"}, headers=headers)
        assert response.status_code == 412
        assert booking.notes is None

    @pytest.mark.parametrize("weak", ['W/"1"', 'W/"1", W/"2"'])
    def test_a_weak_tag_never_matches_even_the_current_version(
        self, client: TestClient, db: Session, border: Border, login: Headers, weak: str
    ) -> None:
        """If-Match compares strongly (RFC 9110 §13.1.1)."""
        booking = make_booking(db, requester=border.requester)
        headers = {**login(border.requester), "If-Match": weak}
        response = client.patch(f"{URL}/{booking.id}", json={"notes": "x"}, headers=headers)
        assert response.status_code == 412
        assert "weak" in response.json()["detail"]
        assert booking.notes is None

    @pytest.mark.parametrize("tags", ['"1"', '"7", "1"', ' W/"1" , "1" '])
    def test_a_list_of_tags_matches_if_one_strong_tag_is_the_current_version(
        self, client: TestClient, db: Session, border: Border, login: Headers, tags: str
    ) -> None:
        booking = make_booking(db, requester=border.requester)
        headers = {**login(border.requester), "If-Match": tags}
        response = client.patch(f"{URL}/{booking.id}", json={"notes": "x"}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["ETag"] == '"2"'

    def test_a_change_with_the_etag_read_succeeds_and_moves_the_etag(
        self, client: TestClient, db: Session, border: Border, login: Headers
    ) -> None:
        booking = make_booking(db, requester=border.requester, site=border.site)
        headers = login(border.requester)
        read = client.get(f"{URL}/{booking.id}", headers=headers)
        assert read.headers["ETag"] == '"1"'
        new_start = in_days(8, hour=14)
        response = client.patch(
            f"{URL}/{booking.id}",
            json={"starts_at": new_start.isoformat(), "needs": {"skills": ["trauma"]}},
            headers={**headers, "If-Match": read.headers["ETag"]},
        )
        assert response.status_code == 200, response.text
        assert response.headers["ETag"] == '"2"'
        changed = response.json()
        assert dt.datetime.fromisoformat(changed["starts_at"]) == new_start
        assert changed["needs"]["skills"] == ["trauma"]
        stale = client.patch(
            f"{URL}/{booking.id}",
            json={"notes": "late edit"},
            headers={**headers, "If-Match": read.headers["ETag"]},
        )
        assert stale.status_code == 412

    def test_an_edit_is_validated_like_a_booking(
        self, client: TestClient, db: Session, border: Border, login: Headers
    ) -> None:
        booking = make_booking(db, requester=border.requester)
        headers = {**login(border.requester), "If-Match": '"1"'}
        for change, field in (
            ({"starts_at": _past()}, "starts_at"),
            ({"duration_minutes": 500}, "duration_minutes"),
            ({"starts_at": None}, "body"),
            ({"language": "prs"}, "language"),
        ):
            response = client.patch(f"{URL}/{booking.id}", json=change, headers=headers)
            assert response.status_code == 422, change
            errors = {e["field"] for e in response.json()["errors"]}
            assert field in errors or any(e.startswith(field) for e in errors), (change, errors)

    def test_a_provider_cannot_edit_the_booking_they_hold(
        self, client: TestClient, db: Session, border: Border, login: Headers
    ) -> None:
        booking = make_booking(db, requester=border.requester, status="confirmed")
        make_assignment(db, booking=booking, provider=border.provider, status="confirmed")
        headers = {**login(border.provider_user), "If-Match": '"1"'}
        assert client.get(f"{URL}/{booking.id}", headers=headers).status_code == 200
        response = client.patch(f"{URL}/{booking.id}", json={"notes": "x"}, headers=headers)
        assert response.status_code == 403


def test_the_provider_holding_a_session_is_shown_by_name_only(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    booking = make_booking(db, requester=border.requester, status="confirmed")
    make_assignment(db, booking=booking, provider=border.provider, status="confirmed")
    response = client.get(f"{URL}/{booking.id}", headers=login(border.requester))
    holder = response.json()["assigned_provider"]
    assert holder == {
        "id": border.provider.id,
        "display_name": "Selam T.",
        "kind": "interpreter",
        "assignment_status": "confirmed",
    }


class TestCancel:
    def test_well_ahead_is_free(
        self, client: TestClient, db: Session, border: Border, login: Headers
    ) -> None:
        booking = make_booking(db, requester=border.requester, starts_at=in_days(30))
        response = client.post(
            f"{URL}/{booking.id}/cancel",
            json={"reason": "Transferred to another centre"},
            headers=login(border.requester),
        )
        assert response.status_code == 200, response.text
        cancelled = response.json()
        assert cancelled["status"] == "cancelled"
        assert cancelled["late_cancellation"] is False
        assert cancelled["cancel_reason"] == "Transferred to another centre"
        assert response.headers["ETag"] == '"2"'

    def test_the_same_day_is_late(
        self, client: TestClient, db: Session, border: Border, login: Headers
    ) -> None:
        booking = make_booking(
            db, requester=border.requester, starts_at=utc_now() + dt.timedelta(hours=3)
        )
        response = client.post(
            f"{URL}/{booking.id}/cancel",
            json={"reason": "Hospitalised"},
            headers=login(border.requester),
        )
        assert response.status_code == 200, response.text
        assert response.json()["late_cancellation"] is True

    def test_twice_is_a_409(
        self, client: TestClient, db: Session, border: Border, login: Headers
    ) -> None:
        booking = make_booking(db, requester=border.requester, status="cancelled")
        response = client.post(
            f"{URL}/{booking.id}/cancel",
            json={"reason": "x"},
            headers=login(border.requester),
        )
        assert response.status_code == 409

    @pytest.mark.parametrize("payload", [{}, {"reason": ""}, {"reason": "x" * 501}])
    def test_a_reason_is_required(
        self,
        client: TestClient,
        db: Session,
        border: Border,
        login: Headers,
        payload: dict[str, str],
    ) -> None:
        booking = make_booking(db, requester=border.requester)
        response = client.post(
            f"{URL}/{booking.id}/cancel", json=payload, headers=login(border.requester)
        )
        assert fields(response) == {"reason"}


def test_the_history_says_who_did_what_and_when(
    client: TestClient, border: Border, login: Headers
) -> None:
    headers = login(border.requester)
    created = client.post(URL, json=body(border), headers=headers).json()
    booking_url = f"{URL}/{created['id']}"
    client.patch(booking_url, json={"duration_minutes": 90}, headers={**headers, "If-Match": '"1"'})
    client.post(f"{booking_url}/cancel", json={"reason": "Moved"}, headers=headers)
    response = client.get(f"{booking_url}/history", headers=login(border.dispatcher))
    assert response.status_code == 200, response.text
    entries = response.json()
    assert [e["action"] for e in entries] == [
        "booking.created",
        "booking.rescheduled",
        "booking.cancelled",
    ]
    assert {e["actor_id"] for e in entries} == {border.requester.id}
    assert entries[1]["changes"]["duration_minutes"] == [60, 90]
    times = [dt.datetime.fromisoformat(e["at"]) for e in entries]
    assert times == sorted(times)


def test_the_openapi_documents_every_booking_endpoint(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    for path, method in (
        ("/api/v1/bookings", "post"),
        ("/api/v1/bookings", "get"),
        ("/api/v1/bookings/{booking_id}", "get"),
        ("/api/v1/bookings/{booking_id}", "patch"),
        ("/api/v1/bookings/{booking_id}/cancel", "post"),
        ("/api/v1/bookings/{booking_id}/history", "get"),
    ):
        operation = spec["paths"][path][method]
        assert operation["summary"]
        assert "404" in operation["responses"] or path == "/api/v1/bookings"
    patch = spec["paths"]["/api/v1/bookings/{booking_id}"]["patch"]
    assert {"412", "428"} <= set(patch["responses"])
    assert any(p["name"] == "If-Match" for p in patch["parameters"])
