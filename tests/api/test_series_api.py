"""Series through HTTP: weekly occurrences across the spring change, scoped cancel and move."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from booking.models import User
from tests.api.conftest import Border
from tests.api.test_bookings_api import Headers
from tests.factories import BRUSSELS, make_user

URL = "/api/v1/series"


def next_spring_forward(today: dt.date) -> dt.date:
    """The next last Sunday of March at least two weeks away (the clocks go forward)."""
    year = today.year
    while True:
        last_sunday = dt.date(year, 3, 31)
        last_sunday -= dt.timedelta(days=(last_sunday.weekday() - 6) % 7)
        if last_sunday - today > dt.timedelta(days=14):
            return last_sunday
        year += 1


SPRING = next_spring_forward(dt.datetime.now(BRUSSELS).date())
MONDAY_BEFORE = SPRING - dt.timedelta(days=6)


def series_body(border: Border, **changes: Any) -> dict[str, Any]:
    first = dt.datetime.combine(MONDAY_BEFORE, dt.time(10), tzinfo=BRUSSELS)
    request: dict[str, Any] = {
        "language": "tir",
        "session_kind": "psychological",
        "modality": "onsite",
        "site_id": border.site.id,
        "starts_at": first.isoformat(),
        "duration_minutes": 60,
        "beneficiary_ref": "b-7c1f",
        "recurrence": {"interval_weeks": 1, "count": 4},
    }
    request.update(changes)
    return request


def local(value: str) -> str:
    return dt.datetime.fromisoformat(value).astimezone(BRUSSELS).strftime("%a %H:%M %z")


@pytest.fixture
def series(client: TestClient, border: Border, login: Headers) -> dict[str, Any]:
    response = client.post(URL, json=series_body(border), headers=login(border.requester))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_weekly_series_keeps_ten_oclock_across_the_last_sunday_of_march(
    series: dict[str, Any],
) -> None:
    occurrences = series["occurrences"]
    assert [o["series_index"] for o in occurrences] == [0, 1, 2, 3]
    assert [local(o["starts_at"]) for o in occurrences] == [
        "Mon 10:00 +0100",
        "Mon 10:00 +0200",
        "Mon 10:00 +0200",
        "Mon 10:00 +0200",
    ]
    assert [o["starts_at"][11:16] for o in occurrences] == ["09:00", "08:00", "08:00", "08:00"]
    assert {o["status"] for o in occurrences} == {"requested"}
    assert series["count"] == 4 and series["until"] is None


def test_a_series_is_read_by_its_organisation_and_its_dispatchers_only(
    client: TestClient, border: Border, login: Headers, series: dict[str, Any]
) -> None:
    for user in (border.requester, border.dispatcher):
        response = client.get(f"{URL}/{series['id']}", headers=login(user))
        assert response.status_code == 200, response.text
        assert len(response.json()["occurrences"]) == 4
    for series_id in (series["id"], 987654321):
        assert client.get(f"{URL}/{series_id}", headers=login(border.stranger)).status_code == 404


def test_each_occurrence_is_a_booking_of_its_own(
    client: TestClient, border: Border, login: Headers, series: dict[str, Any]
) -> None:
    second = series["occurrences"][1]
    response = client.get(f"/api/v1/bookings/{second['id']}", headers=login(border.requester))
    assert response.json()["series_id"] == series["id"]


def statuses(client: TestClient, headers: dict[str, str], series_id: int) -> list[str]:
    response = client.get(f"{URL}/{series_id}", headers=headers)
    return [o["status"] for o in response.json()["occurrences"]]


@pytest.mark.parametrize(
    ("scope", "anchor", "expected"),
    [
        ("occurrence", 1, ["requested", "cancelled", "requested", "requested"]),
        ("following", 2, ["requested", "requested", "cancelled", "cancelled"]),
        ("all", None, ["cancelled", "cancelled", "cancelled", "cancelled"]),
    ],
)
def test_cancel_scopes(
    client: TestClient,
    border: Border,
    login: Headers,
    series: dict[str, Any],
    scope: str,
    anchor: int | None,
    expected: list[str],
) -> None:
    headers = login(border.requester)
    request: dict[str, Any] = {"scope": scope, "reason": "Therapy ends"}
    if anchor is not None:
        request["booking_id"] = series["occurrences"][anchor]["id"]
    response = client.post(f"{URL}/{series['id']}/cancel", json=request, headers=headers)
    assert response.status_code == 200, response.text
    assert [o["status"] for o in response.json()["occurrences"]] == expected
    assert statuses(client, headers, series["id"]) == expected


def test_a_scope_from_an_occurrence_needs_that_occurrence(
    client: TestClient, border: Border, login: Headers, series: dict[str, Any]
) -> None:
    response = client.post(
        f"{URL}/{series['id']}/cancel",
        json={"scope": "following", "reason": "x"},
        headers=login(border.requester),
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"booking_id"}


def test_moving_all_to_the_afternoon_keeps_local_time_across_the_change(
    client: TestClient, border: Border, login: Headers, series: dict[str, Any]
) -> None:
    response = client.patch(
        f"{URL}/{series['id']}",
        json={"scope": "all", "start_time": "14:30"},
        headers=login(border.requester),
    )
    assert response.status_code == 200, response.text
    assert [local(o["starts_at"])[:9] for o in response.json()["occurrences"]] == [
        "Mon 14:30",
        "Mon 14:30",
        "Mon 14:30",
        "Mon 14:30",
    ]


def test_moving_the_following_ones_to_wednesday(
    client: TestClient, border: Border, login: Headers, series: dict[str, Any]
) -> None:
    third = series["occurrences"][2]["id"]
    response = client.patch(
        f"{URL}/{series['id']}",
        json={"scope": "following", "booking_id": third, "shift_days": 2},
        headers=login(border.requester),
    )
    assert response.status_code == 200, response.text
    assert [local(o["starts_at"])[:3] for o in response.json()["occurrences"]] == [
        "Mon",
        "Mon",
        "Wed",
        "Wed",
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recurrence": {"count": 3, "until": "2031-01-01"}}, "recurrence"),
        ({"recurrence": {"count": 53}}, "recurrence.count"),
        ({"recurrence": {"interval_weeks": 0, "count": 3}}, "recurrence.interval_weeks"),
        ({"recurrence": {}}, "recurrence"),
        ({"language": "xxx"}, "language"),
        ({"preferred_provider_id": 987654321}, "preferred_provider_id"),
    ],
)
def test_a_bad_series_is_a_422_naming_the_field(
    client: TestClient, border: Border, login: Headers, change: dict[str, Any], field: str
) -> None:
    response = client.post(URL, json=series_body(border, **change), headers=login(border.requester))
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


def test_a_provider_cannot_book_a_series(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    provider_user: User = make_user(db, organisation=border.setis, role="provider")
    request = series_body(border, organisation_id=border.centre.id)
    assert client.post(URL, json=request, headers=login(provider_user)).status_code == 403
