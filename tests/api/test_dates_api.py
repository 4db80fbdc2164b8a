"""Extreme dates, the booking horizon, local times and clock changes through HTTP (#7, #15).

Every date a schema accepts lies between 2000-01-01 and 2199-12-31, so nothing
downstream (pages, candidates, outbox events, plans, token expiry) can step
past year 9999; sessions are further bounded by the booking horizon. Each path
here answered a 500 (or stored a truncated value) before.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.api.conftest import Border
from tests.api.test_bookings_api import Headers, body, in_days
from tests.api.test_series_api import SPRING, series_body
from tests.factories import BRUSSELS, make_booking

YEAR_9999 = ["9999-12-31T23:30:00+01:00", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+00:00"]


def refused(response: Any, field: str, kind: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    problem: dict[str, Any] = response.json()
    assert {(e["field"], e["type"]) for e in problem["errors"]} == {(field, kind)}, problem
    return problem


# --- 4: the booking horizon ----------------------------------------------------------------


def test_a_booking_further_ahead_than_the_horizon_is_a_422_that_says_the_limit(
    client: TestClient, border: Border, login: Headers
) -> None:
    headers = login(border.requester)
    far = client.post(
        "/api/v1/bookings", json=body(border, starts_at=in_days(731).isoformat()), headers=headers
    )
    problem = refused(far, "starts_at", "beyond_booking_horizon")
    assert "at most 730 days ahead" in problem["errors"][0]["message"]
    assert problem["max_booking_ahead_days"] == 730
    latest = dt.datetime.fromisoformat(problem["latest_start"])
    assert dt.timedelta(days=729) < latest - dt.datetime.now(dt.UTC) <= dt.timedelta(days=730)
    near = client.post(
        "/api/v1/bookings", json=body(border, starts_at=in_days(729).isoformat()), headers=headers
    )
    assert near.status_code == 201, near.text


def test_rescheduling_past_the_horizon_is_a_422(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    booking = make_booking(db, requester=border.requester, site=border.site)
    headers = {**login(border.requester), "If-Match": '"1"'}
    response = client.patch(
        f"/api/v1/bookings/{booking.id}",
        json={"starts_at": in_days(800).isoformat()},
        headers=headers,
    )
    refused(response, "starts_at", "beyond_booking_horizon")


def test_a_series_running_past_the_horizon_is_a_422(
    client: TestClient, border: Border, login: Headers
) -> None:
    request = series_body(
        border,
        starts_at=in_days(700).isoformat(),
        recurrence={"interval_weeks": 8, "count": 3},
    )
    response = client.post("/api/v1/series", json=request, headers=login(border.requester))
    problem = refused(response, "recurrence", "beyond_booking_horizon")
    assert "Occurrence 2" in problem["detail"]


# --- 4 and #15 item 8: no date a schema accepts can overflow -------------------------------


@pytest.mark.parametrize("instant", YEAR_9999)
def test_a_booking_in_year_9999_or_1_is_refused_at_validation(
    client: TestClient, db: Session, border: Border, login: Headers, instant: str
) -> None:
    headers = {**login(border.requester), "Accept-Language": "fr"}
    created = client.post("/api/v1/bookings", json=body(border, starts_at=instant), headers=headers)
    problem = refused(created, "starts_at", "date_out_of_range")
    assert (
        problem["errors"][0]["message"] == "Doit être compris entre le 2000-01-01 et le 2199-12-31."
    )
    booking = make_booking(db, requester=border.requester, site=border.site)
    patched = client.patch(
        f"/api/v1/bookings/{booking.id}",
        json={"window": {"earliest": in_days(7).isoformat(), "latest": instant}},
        headers={**headers, "If-Match": '"1"'},
    )
    refused(patched, "window.latest", "date_out_of_range")


def test_a_series_until_year_9999_is_refused(
    client: TestClient, border: Border, login: Headers
) -> None:
    request = series_body(border, recurrence={"interval_weeks": 1, "until": "9999-12-31"})
    response = client.post("/api/v1/series", json=request, headers=login(border.requester))
    refused(response, "recurrence.until", "date_out_of_range")


@pytest.mark.parametrize("instant", YEAR_9999)
def test_a_plan_in_year_9999_or_1_is_refused(
    client: TestClient, border: Border, login: Headers, instant: str
) -> None:
    start = dt.datetime.fromisoformat(instant)
    # Year 9999 has no next day to end on: the horizon ends where it starts.
    end = instant if start.year == 9999 else (start + dt.timedelta(days=1)).isoformat()
    response = client.post(
        "/api/v1/plans",
        json={"horizon_start": instant, "horizon_end": end},
        headers=login(border.dispatcher),
    )
    assert response.status_code == 422, response.text
    assert {e["type"] for e in response.json()["errors"]} == {"date_out_of_range"}


@pytest.mark.parametrize("instant", YEAR_9999)
def test_a_token_expiring_in_year_9999_is_refused(
    client: TestClient, border: Border, login: Headers, instant: str
) -> None:
    response = client.post(
        f"/api/v1/users/{border.requester.id}/tokens",
        json={"name": "far", "expires_at": instant},
        headers=login(border.admin),
    )
    refused(response, "expires_at", "date_out_of_range")


def test_an_assignment_start_in_year_9999_is_refused(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    booking = make_booking(db, requester=border.requester, site=border.site)
    response = client.post(
        "/api/v1/assignments",
        json={
            "booking_id": booking.id,
            "provider_id": border.provider.id,
            "starts_at": YEAR_9999[1],
        },
        headers=login(border.dispatcher),
    )
    refused(response, "starts_at", "date_out_of_range")


@pytest.mark.parametrize(
    ("availability", "field"),
    [
        (
            {
                "exceptions": [
                    {
                        "kind": "absence",
                        "starts_at": in_days(3).isoformat(),
                        "ends_at": YEAR_9999[1],
                    }
                ]
            },
            "exceptions.0.ends_at",
        ),
        (
            {
                "rules": [
                    {
                        "weekday": 0,
                        "start_time": "08:00",
                        "end_time": "12:00",
                        "valid_until": "9999-12-31",
                    }
                ]
            },
            "rules.0.valid_until",
        ),
    ],
)
def test_availability_in_year_9999_is_refused(
    client: TestClient,
    border: Border,
    login: Headers,
    availability: dict[str, Any],
    field: str,
) -> None:
    response = client.put(
        f"/api/v1/providers/{border.provider.id}/availability",
        json=availability,
        headers=login(border.dispatcher),
    )
    refused(response, field, "date_out_of_range")


# --- 5: a local time says what its pattern says -----------------------------------------------


@pytest.mark.parametrize("clock", ["08:00:00.1234567", "8:00", "08:00Z", "08:00+01:00", "24:00"])
def test_an_availability_time_outside_the_documented_pattern_is_refused(
    client: TestClient, border: Border, login: Headers, clock: str
) -> None:
    rule = {"weekday": 0, "start_time": clock, "end_time": "17:00"}
    response = client.put(
        f"/api/v1/providers/{border.provider.id}/availability",
        json={"rules": [rule]},
        headers=login(border.dispatcher),
    )
    refused(response, "rules.0.start_time", "local_time")


def test_the_pattern_the_schema_documents_is_what_is_accepted(
    client: TestClient, border: Border, login: Headers
) -> None:
    pattern = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["RuleIn"][
        "properties"
    ]["start_time"]["pattern"]
    assert pattern.endswith(r"(\.\d{1,6})?)?$")
    rules = [
        {"weekday": 0, "start_time": "08:00:00.123456", "end_time": "12:00"},
        {"weekday": 1, "start_time": "08:00:30", "end_time": "12:00:00"},
    ]
    response = client.put(
        f"/api/v1/providers/{border.provider.id}/availability",
        json={"rules": rules},
        headers=login(border.dispatcher),
    )
    assert response.status_code == 200, response.text
    assert [r["start_time"] for r in response.json()["rules"]] == ["08:00:00.123456", "08:00:30"]


def test_a_series_move_to_an_over_precise_time_is_refused(
    client: TestClient, border: Border, login: Headers
) -> None:
    headers = login(border.requester)
    series = client.post("/api/v1/series", json=series_body(border), headers=headers).json()
    moved = client.patch(
        f"/api/v1/series/{series['id']}",
        json={"scope": "all", "start_time": "14:00:00.1234567"},
        headers=headers,
    )
    refused(moved, "start_time", "local_time")


# --- 6: the daylight-saving rule, said in the answer ----------------------------------------


def test_a_series_at_a_time_the_spring_change_skips_says_it_moved_forward(
    client: TestClient, border: Border, login: Headers
) -> None:
    first = dt.datetime.combine(SPRING - dt.timedelta(days=7), dt.time(2, 30), tzinfo=BRUSSELS)
    request = series_body(
        border, starts_at=first.isoformat(), recurrence={"interval_weeks": 1, "count": 3}
    )
    created = client.post("/api/v1/series", json=request, headers=login(border.requester))
    assert created.status_code == 201, created.text
    series = created.json()
    second = series["occurrences"][1]
    assert (
        dt.datetime.fromisoformat(second["starts_at"]).astimezone(BRUSSELS).strftime("%H:%M %z")
        == "03:30 +0200"
    )
    [adjustment] = series["adjustments"]
    assert adjustment["booking_id"] == second["id"]
    assert adjustment["kind"] == "shifted"
    assert (adjustment["date"], adjustment["asked"]) == (SPRING.isoformat(), "02:30:00")
    assert adjustment["starts_at_local"].endswith("03:30:00+02:00")
    assert "does not exist" in adjustment["detail"]
    read = client.get(f"/api/v1/series/{series['id']}", headers=login(border.requester))
    assert read.json()["adjustments"] == []


def test_an_availability_rule_in_the_night_of_a_change_says_how_it_counts(
    client: TestClient, border: Border, login: Headers
) -> None:
    rules = [
        {"weekday": 6, "start_time": "02:30", "end_time": "04:00"},
        {"weekday": 0, "start_time": "08:00", "end_time": "17:00"},
    ]
    response = client.put(
        f"/api/v1/providers/{border.provider.id}/availability",
        json={"rules": rules},
        headers=login(border.dispatcher),
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    sunday = next(r for r in answer["rules"] if r["weekday"] == 6)
    adjustments = answer["adjustments"]
    kinds = {a["kind"] for a in adjustments}
    assert kinds == {"shifted", "ambiguous"}  # two years ahead: both changes, twice
    assert all(a["rule_id"] == sunday["id"] and a["field"] == "start_time" for a in adjustments)
    spring = next(a for a in adjustments if a["date"] == SPRING.isoformat())
    assert spring["kind"] == "shifted" and spring["local"].endswith("03:30:00+02:00")
    again = client.get(
        f"/api/v1/providers/{border.provider.id}/availability", headers=login(border.dispatcher)
    )
    assert again.json()["adjustments"] == adjustments
