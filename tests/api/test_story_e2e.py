"""The whole story through HTTP, from an empty service to a confirmed interpreter.

An admin sets up a reception centre served by an interpreting service, its
site and its people. A social worker books three sessions: one needs a woman
interpreter, one is a phone call, one is in a language nobody speaks yet. The
dispatcher runs a plan, reads why one stayed open, adds an integration
ambassador who speaks it, picks them from the candidates and offers them the
session, then applies the plan. The ambassador accepts and the dispatcher
confirms; the social worker sees who is coming, cancels the phone call, and
the history shows every step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy.orm import Session

from tests.booking.dispatch_world import at, next_monday
from tests.factories import make_api_token, make_organisation, make_user

TOURNAI = {"lat": 50.6066, "lon": 3.3889}


class Actor:
    """One person at the keyboard: their bearer token and a few checked calls."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        answer = self.client.request(method, path, headers=self.headers, **kwargs)
        assert answer.status_code == expect, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def get(self, path: str, expect: int = 200, **kwargs: Any) -> Any:
        return self.call("GET", path, expect, **kwargs)

    def post(self, path: str, expect: int = 201, **kwargs: Any) -> Any:
        return self.call("POST", path, expect, **kwargs)

    def put(self, path: str, expect: int = 200, **kwargs: Any) -> Any:
        return self.call("PUT", path, expect, **kwargs)


def weekdays(start: str, end: str) -> list[dict[str, object]]:
    return [{"weekday": d, "start_time": start, "end_time": end} for d in range(5)]


def test_from_an_empty_service_to_a_confirmed_interpreter(
    client: TestClient, db: Session, solve_queued: Callable[[], list[int]]
) -> None:
    day = next_monday()
    # The first admin comes from the command line (`truchement token create`).
    root = make_organisation(db, kind="providing", name="Truchement admin")
    admin = Actor(
        client, make_api_token(db, user=make_user(db, organisation=root, role="admin"))[1]
    )
    db.commit()

    # --- the admin sets up the organisations, the site and the people --------------------
    for code, fr, nl, en, rare in (
        ("tir", "tigrigna", "Tigrinya", "Tigrinya", False),
        ("ara", "arabe", "Arabisch", "Arabic", False),
        ("som", "somali", "Somalisch", "Somali", True),
    ):
        admin.post(
            "/api/v1/languages",
            json={"code": code, "name_fr": fr, "name_nl": nl, "name_en": en, "is_rare": rare},
        )
    service = admin.post(
        "/api/v1/organisations",
        json={"name": "SéTIS wallon", "kind": "providing", "country": "BE"},
    )
    centre = admin.post(
        "/api/v1/organisations",
        json={"name": "Centre Croix-Rouge de Tournai", "kind": "requesting", "country": "BE"},
    )
    admin.post(
        f"/api/v1/organisations/{service['id']}/agreements",
        json={"requesting_organisation_id": centre["id"]},
    )
    site = admin.post(
        "/api/v1/sites",
        json={
            "organisation_id": centre["id"],
            "name": "Centre Croix-Rouge",
            "address": "Rue de la Citadelle 1",
            "postcode": "7500",
            "town": "Tournai",
            "country": "BE",
            **TOURNAI,
        },
    )

    def person(organisation: dict[str, Any], role: str, name: str) -> tuple[dict[str, Any], Actor]:
        user = admin.post(
            "/api/v1/users",
            json={
                "organisation_id": organisation["id"],
                "email": f"{name.lower()}@example.org",
                "full_name": name,
                "role": role,
            },
        )
        token = admin.post(f"/api/v1/users/{user['id']}/tokens", json={"name": "e2e"})["token"]
        return user, Actor(client, token)

    _, social_worker = person(centre, "requester", "Camille")
    _, dispatcher = person(service, "dispatcher", "Luc")
    selam_user, selam = person(service, "provider", "Selam")
    hodan_user, hodan = person(service, "provider", "Hodan")

    # --- the dispatcher records two interpreters and their weeks ---------------------------
    awet_id = dispatcher.post(
        "/api/v1/providers",
        json={
            "display_name": "Awet",
            "kind": "interpreter",
            "gender": "m",
            "languages": [{"code": "tir", "certified": True}],
            "home": {**TOURNAI, "town": "Tournai"},
            # No login: his messages go to his own contact.
            "email": "awet@example.org",
            "phone": "0470 00 00 42",
        },
    )["id"]
    selam_id = dispatcher.post(
        "/api/v1/providers",
        json={
            "display_name": "Selam",
            "kind": "interpreter",
            "gender": "f",
            "user_id": selam_user["id"],
            "languages": [{"code": "tir"}, {"code": "ara"}],
            "home": {"lat": 50.7445, "lon": 3.2149, "town": "Mouscron"},
        },
    )["id"]
    for provider_id in (awet_id, selam_id):
        dispatcher.put(
            f"/api/v1/providers/{provider_id}/availability",
            json={"rules": weekdays("08:30", "17:00")},
        )

    # --- the social worker books three sessions --------------------------------------------
    def book(**fields: Any) -> dict[str, Any]:
        return social_worker.post(
            "/api/v1/bookings",
            json={
                "session_kind": "psychological",
                "duration_minutes": 60,
                "beneficiary_ref": "b-7c1f",
                **fields,
            },
        )

    therapy = book(
        language="tir",
        modality="onsite",
        site_id=site["id"],
        starts_at=at(day, 10).isoformat(),
        needs={"gender": "f"},
        notes="Survivor of violence: a woman interpreter only.",
    )
    call = book(
        language="ara",
        modality="phone",
        session_kind="social",
        starts_at=at(day, 14).isoformat(),
        duration_minutes=30,
    )
    rare = book(
        language="som",
        modality="onsite",
        site_id=site["id"],
        session_kind="medical",
        starts_at=at(day, 11).isoformat(),
    )

    # --- the dispatcher plans the day and reads why one stays open --------------------------
    queued = dispatcher.post(
        "/api/v1/plans",
        expect=202,
        json={
            "horizon_start": at(day, 0).isoformat(),
            "horizon_end": at(day + dt.timedelta(days=1), 0).isoformat(),
            "time_limit": 5,
        },
    )
    assert queued["status"] == "pending"
    solve_queued()  # a solver process takes it
    plan = dispatcher.get(f"/api/v1/plans/{queued['id']}")
    assert plan["status"] == "done"
    proposed = {p["booking_id"]: p for p in plan["proposals"]}
    assert proposed[therapy["id"]]["provider_id"] == selam_id  # the only woman
    assert proposed[call["id"]]["provider_id"] == selam_id  # the only one speaking Arabic
    [open_one] = plan["unassigned"]
    assert open_one["booking_id"] == rare["id"]
    assert open_one["reason"] == "no_provider_speaks_language"
    assert open_one["why"][0]["params"]["language"] == "som"
    assert "Somali" in open_one["explanation"]
    assert social_worker.get(f"/api/v1/bookings/{rare['id']}")["status"] == "unfilled"

    # --- an ambassador who speaks Somali joins; the dispatcher picks them ------------------
    hodan_id = dispatcher.post(
        "/api/v1/providers",
        json={
            "display_name": "Hodan",
            "kind": "ambassador",
            "gender": "f",
            "user_id": hodan_user["id"],
            "languages": [{"code": "som"}],
            "modalities": ["onsite", "phone"],
            "home": {"lat": 50.6290, "lon": 3.0570, "town": "Lille"},
            "countries": ["BE", "FR"],
        },
    )["id"]
    hodan.put(
        f"/api/v1/providers/{hodan_id}/availability",
        json={"rules": [{"weekday": 0, "start_time": "09:00", "end_time": "13:00"}]},
    )
    candidates = dispatcher.get(f"/api/v1/bookings/{rare['id']}/candidates")["candidates"]
    best = candidates[0]
    assert (best["provider_id"], best["feasible"]) == (hodan_id, True)
    offer = dispatcher.post(
        "/api/v1/assignments",
        json={"booking_id": rare["id"], "provider_id": hodan_id, "status": "offered"},
    )

    # --- the plan is applied: the two proposals are confirmed -------------------------------
    applied = dispatcher.post(f"/api/v1/plans/{plan['id']}/apply", expect=200, json={})
    assert sorted(a["booking_id"] for a in applied["applied"]) == sorted(
        [therapy["id"], call["id"]]
    )

    # --- the ambassador accepts, the dispatcher confirms ------------------------------------
    waiting = hodan.get("/api/v1/assignments", params={"status": "offered"})["items"]
    assert [a["id"] for a in waiting] == [offer["id"]]
    assert hodan.post(f"/api/v1/assignments/{offer['id']}/accept", expect=200)["status"] == (
        "accepted"
    )
    confirmed = dispatcher.post(f"/api/v1/assignments/{offer['id']}/confirm", expect=200)
    assert confirmed["status"] == "confirmed"

    # --- the social worker sees who is coming ---------------------------------------------
    seen = social_worker.get(f"/api/v1/bookings/{rare['id']}")
    assert seen["status"] == "confirmed"
    assert seen["assigned_provider"]["display_name"] == "Hodan"
    assert seen["assigned_provider"]["assignment_status"] == "confirmed"
    therapy_now = social_worker.get(f"/api/v1/bookings/{therapy['id']}")
    assert therapy_now["assigned_provider"]["display_name"] == "Selam"

    # --- Selam's calendar has her two sessions, without the beneficiary -------------------
    feed_url = selam.post(f"/api/v1/providers/{selam_id}/calendar-token")["url"]
    address = urlsplit(feed_url)
    feed = client.get(f"{address.path}?{address.query}")
    assert feed.status_code == 200
    assert "b-7c1f" not in feed.text and "Survivor" not in feed.text
    assert len(Calendar.from_ical(feed.content).walk("VEVENT")) == 2

    # --- the social worker cancels the phone call ------------------------------------------
    cancelled = social_worker.post(
        f"/api/v1/bookings/{call['id']}/cancel",
        expect=200,
        json={"reason": "The appointment at the CPAS was moved."},
    )
    assert cancelled["status"] == "cancelled"
    assert cancelled["assigned_provider"] is None

    # --- the history shows every step, and who took it -------------------------------------
    history = social_worker.get(f"/api/v1/bookings/{rare['id']}/history")
    entries = history["items"] if isinstance(history, dict) else history
    actions = [entry["action"] for entry in entries]
    for step in (
        "booking.created",
        "booking.unfilled",
        "assignment.proposed",
        "assignment.offered",
        "assignment.accepted",
        "assignment.confirmed",
        "booking.confirmed",
    ):
        assert step in actions, (step, actions)
    assert actions.index("assignment.offered") < actions.index("assignment.accepted")
    assert actions.index("assignment.accepted") < actions.index("assignment.confirmed")
    call_actions = [
        entry["action"]
        for entry in (lambda h: h["items"] if isinstance(h, dict) else h)(
            dispatcher.get(f"/api/v1/bookings/{call['id']}/history")
        )
    ]
    assert call_actions[-2:] == ["booking.cancelled", "assignment.cancelled"] or (
        "booking.cancelled" in call_actions and "assignment.cancelled" in call_actions
    )
