"""Providers through HTTP: who may list, read, create and change them, and their availability."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.audit import AuditLog
from booking.models import AvailabilityRule, User
from tests.booking.dispatch_world import World, make_world
from tests.factories import make_language, make_user

Headers = Callable[[User], dict[str, str]]


def new_provider_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "display_name": "Awet T.",
        "kind": "interpreter",
        "gender": "f",
        "languages": [
            {"code": "tir", "certified": True, "certified_until": "2030-06-30"},
            {"code": "ara"},
        ],
        "skills": ["trauma"],
        "modalities": ["onsite", "phone"],
        "home": {"lat": 50.6066, "lon": 3.3889, "town": "Tournai"},
        "countries": ["BE"],
        "max_travel_minutes": 60,
    }
    body.update(overrides)
    return body


def test_a_dispatcher_adds_a_provider_to_their_service(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    make_language(db, code="tir")
    make_language(db, code="ara")
    account = make_user(db, organisation=world.service, role="provider", phone_e164="+32470123456")
    answer = client.post(
        "/api/v1/providers",
        json=new_provider_body(user_id=account.id),
        headers=login(world.dispatcher),
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["organisation_id"] == world.service.id
    assert body["home"] == {"lat": 50.6066, "lon": 3.3889, "town": "Tournai"}
    assert body["email"] == account.email and body["phone_e164"] == "+32470123456"
    assert {(lang["code"], lang["certified"]) for lang in body["languages"]} == {
        ("tir", True),
        ("ara", False),
    }
    assert body["has_calendar_feed"] is False
    audit = db.scalars(
        select(AuditLog).where(
            AuditLog.entity_type == "provider", AuditLog.entity_id == str(body["id"])
        )
    ).one()
    assert audit.action == "provider.created" and audit.actor_user_id == world.dispatcher.id


def test_an_unknown_language_or_a_foreign_login_is_a_422_naming_the_field(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    outsider = make_user(db, role="provider")
    answer = client.post(
        "/api/v1/providers",
        json=new_provider_body(
            languages=[{"code": "zzz"}, {"code": "tir", "certified_until": "2030-01-01"}],
            user_id=outsider.id,
        ),
        headers=login(world.dispatcher),
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    fields = {error["field"] for error in answer.json()["errors"]}
    assert {"languages.0.code", "languages.1.certified_until", "user_id"} <= fields


@pytest.mark.parametrize(
    "body",
    [
        {"display_name": ""},
        {"home": {"lat": 95, "lon": 3.0, "town": "Nowhere"}},
        {"kind": "robot"},
        {"languages": []},
        {"unexpected": True},
        {"max_minutes_per_day": 2000},
    ],
)
def test_malformed_providers_are_422_never_500(
    client: TestClient, world: World, login: Headers, body: dict[str, object]
) -> None:
    answer = client.post(
        "/api/v1/providers", json=new_provider_body(**body), headers=login(world.dispatcher)
    )
    assert answer.status_code == 422


def test_an_admin_must_name_a_providing_service(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    make_language(db, code="ara")
    admin = make_user(db, role="admin")
    missing = client.post(
        "/api/v1/providers",
        json=new_provider_body(languages=[{"code": "ara"}]),
        headers=login(admin),
    )
    assert missing.status_code == 422
    wrong_kind = client.post(
        "/api/v1/providers",
        json=new_provider_body(languages=[{"code": "ara"}], organisation_id=world.centre.id),
        headers=login(admin),
    )
    assert wrong_kind.status_code == 422
    created = client.post(
        "/api/v1/providers",
        json=new_provider_body(languages=[{"code": "ara"}], organisation_id=world.service.id),
        headers=login(admin),
    )
    assert created.status_code == 201


def test_requesters_cannot_add_providers(client: TestClient, world: World, login: Headers) -> None:
    answer = client.post(
        "/api/v1/providers", json=new_provider_body(), headers=login(world.requester)
    )
    assert answer.status_code == 403


def test_a_requester_sees_only_the_public_face_of_their_services_providers(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    ours = world.provider(db, name="Awet")
    world.provider(db, name="Retired", is_active=False)
    make_world(db).provider(db, name="Elsewhere")
    answer = client.get("/api/v1/providers", headers=login(world.requester))
    assert answer.status_code == 200
    [item] = answer.json()["items"]
    assert item == {
        "id": ours.id,
        "display_name": "Awet",
        "kind": "interpreter",
        "languages": [{"code": "tir", "certified": False}],
    }
    one = client.get(f"/api/v1/providers/{ours.id}", headers=login(world.requester))
    assert one.status_code == 200 and "home" not in one.json() and "email" not in one.json()


def test_a_dispatcher_lists_their_service_in_full_and_filters_by_language(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    tigrinya = world.provider(db, name="A", languages=("tir",))
    world.provider(db, name="B", languages=("ara",))
    make_world(db).provider(db, name="C", languages=("tir",))
    answer = client.get(
        "/api/v1/providers", params={"language": "tir"}, headers=login(world.dispatcher)
    )
    assert answer.status_code == 200
    [item] = answer.json()["items"]
    assert item["id"] == tigrinya.id and item["home"]["town"] == "Tournai"


def test_another_services_provider_does_not_exist_for_a_dispatcher(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    stranger = make_world(db).provider(db)
    headers = login(world.dispatcher)
    assert client.get(f"/api/v1/providers/{stranger.id}", headers=headers).status_code == 404
    patched = client.patch(
        f"/api/v1/providers/{stranger.id}", json={"display_name": "X"}, headers=headers
    )
    assert patched.status_code == 404


def test_patch_changes_only_what_is_sent_and_replaces_languages(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    make_language(db, code="prs")
    provider = world.provider(db, languages=("tir",))
    expired = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    answer = client.patch(
        f"/api/v1/providers/{provider.id}",
        json={
            "max_travel_minutes": 45,
            "languages": [
                {"code": "prs", "certified": True, "certified_until": expired},
                {"code": "tir"},
            ],
        },
        headers=login(world.dispatcher),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["max_travel_minutes"] == 45
    assert body["display_name"] == provider.display_name
    assert {lang["code"]: lang["certification_current"] for lang in body["languages"]} == {
        "prs": False,
        "tir": False,
    }
    cleared = client.patch(
        f"/api/v1/providers/{provider.id}",
        json={"max_travel_minutes": None},
        headers=login(world.dispatcher),
    )
    assert cleared.status_code == 422


def test_a_provider_reads_themself_but_not_a_colleague(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    me, colleague = world.provider(db), world.provider(db)
    headers = login(world.login(db, me))
    assert client.get(f"/api/v1/providers/{me.id}", headers=headers).json()["id"] == me.id
    assert client.get(f"/api/v1/providers/{colleague.id}", headers=headers).status_code == 404
    assert (
        client.patch(
            f"/api/v1/providers/{me.id}", json={"display_name": "Me"}, headers=headers
        ).status_code
        == 403
    )


# --- availability -----------------------------------------------------------------------------


AVAILABILITY = {
    "rules": [
        {"weekday": 0, "start_time": "08:30", "end_time": "12:00"},
        {"weekday": 0, "start_time": "13:00", "end_time": "17:00", "valid_until": "2030-12-31"},
    ],
    "exceptions": [
        {
            "kind": "absence",
            "starts_at": "2026-12-14T08:00:00+01:00",
            "ends_at": "2026-12-14T18:00:00+01:00",
            "note": "training",
        }
    ],
}


def test_a_provider_replaces_their_own_availability(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db, hours=None)
    headers = login(world.login(db, provider))
    answer = client.put(
        f"/api/v1/providers/{provider.id}/availability", json=AVAILABILITY, headers=headers
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["timezone"] == "Europe/Brussels"
    assert [(r["start_time"], r["end_time"]) for r in body["rules"]] == [
        ("08:30:00", "12:00:00"),
        ("13:00:00", "17:00:00"),
    ]
    [absence] = body["exceptions"]
    assert dt.datetime.fromisoformat(absence["starts_at"]) == dt.datetime(
        2026, 12, 14, 7, 0, tzinfo=dt.UTC
    )
    again = client.get(f"/api/v1/providers/{provider.id}/availability", headers=headers)
    assert again.json() == body
    emptied = client.put(
        f"/api/v1/providers/{provider.id}/availability", json={"rules": []}, headers=headers
    )
    assert emptied.json()["rules"] == [] and emptied.json()["exceptions"] == []
    assert (
        db.scalars(
            select(AvailabilityRule).where(AvailabilityRule.provider_id == provider.id)
        ).all()
        == []
    )


def test_a_dispatcher_edits_their_providers_availability_not_others(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    mine = world.provider(db)
    theirs = make_world(db).provider(db)
    headers = login(world.dispatcher)
    ok = client.put(f"/api/v1/providers/{mine.id}/availability", json=AVAILABILITY, headers=headers)
    assert ok.status_code == 200
    hidden = client.put(
        f"/api/v1/providers/{theirs.id}/availability", json=AVAILABILITY, headers=headers
    )
    assert hidden.status_code == 404
    requester = client.get(
        f"/api/v1/providers/{mine.id}/availability", headers=login(world.requester)
    )
    assert requester.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"rules": [{"weekday": 7, "start_time": "08:00", "end_time": "09:00"}]},
        {"rules": [{"weekday": 1, "start_time": "17:00", "end_time": "08:00"}]},
        {"rules": [{"weekday": 1, "start_time": "25:00", "end_time": "26:00"}]},
        {"rules": [{"weekday": 1, "start_time": "08:00+01:00", "end_time": "09:00+01:00"}]},
        {
            "exceptions": [
                {
                    "kind": "absence",
                    "starts_at": "2026-12-14T08:00:00",
                    "ends_at": "2026-12-14T09:00:00",
                }
            ]
        },
        {
            "exceptions": [
                {
                    "kind": "holiday",
                    "starts_at": "2026-12-14T08:00:00Z",
                    "ends_at": "2026-12-14T09:00:00Z",
                }
            ]
        },
        {
            "exceptions": [
                {
                    "kind": "extra",
                    "starts_at": "2026-12-14T10:00:00Z",
                    "ends_at": "2026-12-14T09:00:00Z",
                }
            ]
        },
    ],
)
def test_bad_availability_is_a_422(
    client: TestClient, db: Session, world: World, login: Headers, body: dict[str, object]
) -> None:
    provider = world.provider(db)
    answer = client.put(
        f"/api/v1/providers/{provider.id}/availability",
        json=body,
        headers=login(world.dispatcher),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"]
