"""Group bookings and modality ladders through HTTP: places, all or nothing, video, the link."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.audit import AuditLog
from booking.models import Booking, BookingPlace, User
from tests.api.conftest import Border
from tests.api.test_bookings_api import URL, body, fields
from tests.booking.dispatch_world import at, next_monday
from tests.factories import CALAIS, make_availability_rule, make_booking, make_language

Headers = Callable[[User], dict[str, str]]


def group_body(border: Border, **changes: Any) -> dict[str, Any]:
    """A discussion group: Tigrinya (the booking's own place), Pashto and Arabic."""
    request = body(border, session_kind="group", needs={}, duration_minutes=120)
    request["places"] = [
        {"language": "pus", "provider_kind": "ambassador"},
        {"language": "ara", "certified": True, "skills": ["minors"]},
    ]
    request.update(changes)
    return request


def test_a_requester_books_a_group_for_three_languages(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    for code in ("pus", "ara"):
        make_language(db, code=code)
    response = client.post(URL, json=group_body(border), headers=login(border.requester))
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["language"] == "tir" and booking["all_or_nothing"] is True
    assert [(p["place"], p["language"]) for p in booking["places"]] == [(1, "pus"), (2, "ara")]
    assert booking["places"][0]["provider_kind"] == "ambassador"
    assert booking["places"][1]["certified"] is True
    assert booking["places"][1]["skills"] == ["minors"]

    again = client.get(f"{URL}/{booking['id']}", headers=login(border.requester)).json()
    assert again["places"] == booking["places"]
    stored = db.scalars(select(BookingPlace).where(BookingPlace.booking_id == booking["id"]))
    assert [p.language_code for p in stored] == ["pus", "ara"]
    created = db.scalars(
        select(AuditLog).where(
            AuditLog.entity_id == str(booking["id"]), AuditLog.action == "booking.created"
        )
    ).one()
    assert created.changes["places"] == [None, ["pus", "ara"]]


def test_a_group_may_take_what_it_gets(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    for code in ("pus", "ara"):
        make_language(db, code=code)
    response = client.post(
        URL, json=group_body(border, all_or_nothing=False), headers=login(border.requester)
    )
    assert response.status_code == 201, response.text
    assert response.json()["all_or_nothing"] is False


def test_a_place_in_an_unknown_language_is_refused_by_field(
    client: TestClient, border: Border, login: Headers
) -> None:
    response = client.post(
        URL, json=group_body(border, places=[{"language": "zzz"}]), headers=login(border.requester)
    )
    assert fields(response) == {"places.0.language"}


def test_at_most_five_more_places(client: TestClient, border: Border, login: Headers) -> None:
    six = [{"language": "tir"}] * 6
    response = client.post(
        URL, json=group_body(border, places=six), headers=login(border.requester)
    )
    assert response.status_code == 422


def test_a_booking_accepts_video_if_nobody_can_come_and_keeps_its_link(
    client: TestClient, border: Border, login: Headers
) -> None:
    link = "https://visio.example.org/r/7c1f"
    request = body(border, accepted_modalities=["video"], video_link=link)
    response = client.post(URL, json=request, headers=login(border.requester))
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["modality"] == "onsite" and booking["accepted_modalities"] == ["video"]
    assert booking["video_link"] == link


def test_a_ladder_steps_down_to_phone_or_video_only(
    client: TestClient, border: Border, login: Headers
) -> None:
    onsite = body(border, modality="video", site_id=..., accepted_modalities=["onsite"])
    assert fields(client.post(URL, json=onsite, headers=login(border.requester))) == {
        "accepted_modalities.0"
    }
    twice = body(border, accepted_modalities=["video", "video"])
    assert fields(client.post(URL, json=twice, headers=login(border.requester))) == {
        "accepted_modalities.1"
    }


def test_a_group_may_accept_video_for_its_places(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    for code in ("pus", "ara"):
        make_language(db, code=code)
    link = "https://visio.example.org/r/groupe"
    request = group_body(border, accepted_modalities=["video"], video_link=link)
    response = client.post(URL, json=request, headers=login(border.requester))
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["accepted_modalities"] == ["video"] and len(booking["places"]) == 2
    wrong = group_body(border, accepted_modalities=["onsite"])
    assert fields(client.post(URL, json=wrong, headers=login(border.requester))) == {
        "accepted_modalities.0"
    }


def test_a_video_link_is_a_web_link(client: TestClient, border: Border, login: Headers) -> None:
    request = body(border, video_link="javascript:alert(1)")
    assert fields(client.post(URL, json=request, headers=login(border.requester))) == {"video_link"}


# --- what would make it staffable --------------------------------------------------------


def monday_booking(db: Session, border: Border, **fields: Any) -> Booking:
    """A booking at 10:00 on a coming Monday, when Selam (Tigrinya) works (08:30-17:00)."""
    make_availability_rule(db, provider=border.provider, weekday=0)
    return make_booking(
        db,
        requester=border.requester,
        site=border.site,
        starts_at=at(next_monday(), 10),
        **fields,
    )


def test_what_would_make_it_staffable_and_taking_it_through_the_normal_update(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    booking = monday_booking(db, border, required_gender="m")
    headers = login(border.requester)
    response = client.get(f"{URL}/{booking.id}/staffable", headers=headers)
    assert response.status_code == 200, response.text
    found = response.json()
    first = found[0]
    assert first["kind"] == "drop_need" and first["change"] == {"need": "gender"}
    assert first["provider_ids"] == [border.provider.id]
    assert first["update"] == {"needs": {"gender": None}}

    taken = client.patch(
        f"{URL}/{booking.id}", json=first["update"], headers={**headers, "If-Match": '"1"'}
    )
    assert taken.status_code == 200, taken.text
    assert taken.json()["needs"]["gender"] is None
    assert client.get(f"{URL}/{booking.id}/staffable", headers=headers).json() == []
    assert db.scalars(
        select(AuditLog).where(
            AuditLog.entity_id == str(booking.id), AuditLog.action == "booking.updated"
        )
    ).first()


def test_a_provider_is_not_shown_what_would_make_a_booking_staffable(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    booking = make_booking(db, requester=border.requester, site=border.site)
    response = client.get(f"{URL}/{booking.id}/staffable", headers=login(border.provider_user))
    assert response.status_code in (403, 404)


def test_a_group_is_told_it_may_go_ahead_with_fewer_places_and_takes_it(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    # Selam (Tigrinya) is free on Mondays; nobody speaks Pashto.
    make_language(db, code="pus")
    booking = monday_booking(db, border, session_kind="group")
    db.add(BookingPlace(booking_id=booking.id, position=1, language_code="pus"))
    db.flush()
    db.refresh(booking)
    headers = login(border.requester)
    found = client.get(f"{URL}/{booking.id}/staffable", headers=headers).json()
    assert [(s["kind"], s["change"]) for s in found] == [("all_or_nothing", {"places": 1, "of": 2})]
    assert found[0]["provider_ids"] == [border.provider.id]
    assert found[0]["update"] == {"all_or_nothing": False}
    taken = client.patch(
        f"{URL}/{booking.id}", json=found[0]["update"], headers={**headers, "If-Match": '"1"'}
    )
    assert taken.status_code == 200, taken.text
    assert taken.json()["all_or_nothing"] is False
    cleared = client.patch(
        f"{URL}/{booking.id}", json={"all_or_nothing": None}, headers={**headers, "If-Match": '"2"'}
    )
    assert cleared.status_code == 422


def test_a_dispatcher_allows_the_named_provider_across_the_border_through_the_provider_update(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    # Selam fits the Tournai session but may work in France only.
    border.provider.countries = ["FR"]
    booking = monday_booking(db, border)
    path = f"{URL}/{booking.id}/staffable"
    seen = client.get(path, headers=login(border.requester)).json()
    assert [s["kind"] for s in seen] == ["modality", "cross_border"]  # or by video
    assert [s["provider_update"] for s in seen] == [None, None]
    dispatcher = login(border.dispatcher)
    modality, found = client.get(path, headers=dispatcher).json()
    assert modality["provider_update"] is None
    hint = found["provider_update"]
    assert hint["provider_id"] == border.provider.id
    assert hint["body"] == {"countries": ["BE", "FR"]}
    provider_path = f"/api/v1/providers/{border.provider.id}"
    assert client.get(provider_path, headers=dispatcher).headers["etag"] == hint["if_match"]

    stale = client.patch(
        provider_path, json=hint["body"], headers={**dispatcher, "If-Match": '"0"'}
    )
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"].startswith("application/problem+json")
    taken = client.patch(
        provider_path, json=hint["body"], headers={**dispatcher, "If-Match": hint["if_match"]}
    )
    assert taken.status_code == 200, taken.text
    assert sorted(taken.json()["countries"]) == ["BE", "FR"]
    assert taken.headers["etag"] != hint["if_match"]
    assert [s["kind"] for s in client.get(path, headers=dispatcher).json()] == []
    assert db.scalars(
        select(AuditLog).where(
            AuditLog.entity_id == str(border.provider.id), AuditLog.action == "provider.updated"
        )
    ).first()


def test_a_dispatcher_raises_a_travel_limit_by_the_suggested_minutes(
    client: TestClient, db: Session, border: Border, login: Headers
) -> None:
    border.provider.home_lat, border.provider.home_lon = CALAIS  # too far for 90 minutes
    booking = monday_booking(db, border)
    dispatcher = login(border.dispatcher)
    found = client.get(f"{URL}/{booking.id}/staffable", headers=dispatcher).json()[-1]
    assert found["kind"] == "travel_limit"
    minutes = found["change"]["extra_minutes"]
    assert found["provider_update"]["body"] == {"max_travel_minutes": 90 + minutes}
    taken = client.patch(
        f"/api/v1/providers/{border.provider.id}",
        json=found["provider_update"]["body"],
        headers={**dispatcher, "If-Match": found["provider_update"]["if_match"]},
    )
    assert taken.status_code == 200, taken.text
    assert client.get(f"{URL}/{booking.id}/staffable", headers=dispatcher).json() == []
