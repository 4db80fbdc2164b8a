"""A provider's own contact through HTTP: who sees it, who changes it, and phone confirmations."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.audit import AuditLog
from booking.models import Assignment, User
from tests.booking.dispatch_world import World, make_world
from tests.factories import make_assignment, make_user

Headers = Callable[[User], dict[str, str]]
CONTACT_KEYS = {"email", "phone_e164", "locale", "message_channels", "reachable"}


def body(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "display_name": "Awet Gebre",
        "kind": "interpreter",
        "languages": [{"code": "tir"}],
        "home": {"lat": 50.6066, "lon": 3.3889, "town": "Tournai"},
    }
    values.update(overrides)
    return values


def test_a_dispatcher_records_a_provider_s_own_contact(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    world.provider(db, name="Someone")  # the language exists
    created = client.post(
        "/api/v1/providers",
        json=body(email="Awet@Example.org", phone="0470 00 00 42", message_channels="sms"),
        headers=login(world.dispatcher),
    )
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["email"] == "awet@example.org"
    assert out["phone_e164"] == "+32470000042"
    assert out["message_channels"] == "sms"
    assert out["reachable"] is True and out["user_id"] is None
    # No language given: the service's.
    assert out["locale"] == world.service.locale == "fr"


def test_a_national_number_is_read_in_the_service_s_country(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    world.service.country = "FR"
    world.service.locale = "nl"
    world.provider(db, name="Someone")
    out = client.post(
        "/api/v1/providers",
        json=body(phone="06 39 98 00 07"),
        headers=login(world.dispatcher),
    ).json()
    assert out["phone_e164"] == "+33639980007" and out["locale"] == "nl"


def test_a_provider_without_contact_is_marked_unreachable(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    world.provider(db, name="Someone")
    out = client.post("/api/v1/providers", json=body(), headers=login(world.dispatcher)).json()
    assert out["email"] is None and out["phone_e164"] is None and out["reachable"] is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "+32 69 22 11 11"),  # a landline: no SMS reaches it
        ("phone", "not a number"),
        ("email", "not-an-email"),
        ("locale", "de"),
        ("message_channels", "pigeon"),
    ],
)
def test_bad_contact_details_are_a_422_naming_the_field(
    client: TestClient, db: Session, world: World, login: Headers, field: str, value: str
) -> None:
    provider = world.provider(db, name="Someone")
    answer = client.patch(
        f"/api/v1/providers/{provider.id}/contact",
        json={field: value},
        headers=login(world.dispatcher),
    )
    assert answer.status_code == 422, answer.text
    assert field in answer.text


def test_the_provider_changes_their_own_contact_and_it_is_audited(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    me = world.provider(db, name="Selam")
    user = world.login(db, me)
    answer = client.patch(
        f"/api/v1/providers/{me.id}/contact",
        json={"email": "selam.home@example.org", "phone": "+32 470 00 00 07", "locale": "nl"},
        headers=login(user),
    )
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["email"] == "selam.home@example.org" and out["phone_e164"] == "+32470000007"
    assert out["locale"] == "nl" and out["message_channels"] == "both"
    db.refresh(user)
    # The sign-in keeps its own email: it is only a way in.
    assert user.email != "selam.home@example.org"
    (row,) = db.scalars(select(AuditLog).where(AuditLog.action == "provider.contact_updated"))
    assert row.actor_user_id == user.id
    assert row.changes["email"] == [user.email, "selam.home@example.org"]
    cleared = client.patch(
        f"/api/v1/providers/{me.id}/contact", json={"phone": None}, headers=login(user)
    ).json()
    assert cleared["phone_e164"] is None and cleared["email"] == "selam.home@example.org"


def test_only_the_provider_their_dispatchers_and_admins_change_the_contact(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    me, colleague = world.provider(db, name="Me"), world.provider(db, name="Colleague")
    change = {"email": "x@example.org"}
    as_colleague = login(world.login(db, colleague))
    path = f"/api/v1/providers/{me.id}/contact"
    assert client.patch(path, json=change, headers=as_colleague).status_code == 404
    assert client.patch(path, json=change, headers=login(world.requester)).status_code in (
        403,
        404,
    )
    other_dispatcher = make_world(db).dispatcher
    assert client.patch(path, json=change, headers=login(other_dispatcher)).status_code == 404
    admin = make_user(db, organisation=world.service, role="admin")
    assert client.patch(path, json=change, headers=login(admin)).status_code == 200
    assert client.patch(path, json=change, headers=login(world.dispatcher)).status_code == 200


def test_requesters_never_see_contact_details(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db, name="Awet", phone_e164="+32470000042")
    headers = login(world.requester)
    listed = client.get("/api/v1/providers", headers=headers).json()["items"]
    one = client.get(f"/api/v1/providers/{provider.id}", headers=headers).json()
    for item in (*listed, one):
        assert not CONTACT_KEYS & set(item)
    dispatched = client.get(
        f"/api/v1/providers/{provider.id}", headers=login(world.dispatcher)
    ).json()
    assert dispatched["phone_e164"] == "+32470000042" and set(dispatched) >= CONTACT_KEYS


def test_a_dispatcher_patch_may_change_the_contact_too(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db, name="Awet")
    out = client.patch(
        f"/api/v1/providers/{provider.id}",
        json={"message_channels": "email", "email": None},
        headers=login(world.dispatcher),
    ).json()
    assert out["message_channels"] == "email" and out["email"] is None


def test_linking_a_login_lends_its_address_to_a_provider_without_one(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db, name="Awet", with_login=False, email=None)
    account = make_user(db, organisation=world.service, role="provider", locale="nl")
    out = client.patch(
        f"/api/v1/providers/{provider.id}",
        json={"user_id": account.id},
        headers=login(world.dispatcher),
    ).json()
    assert out["email"] == account.email and out["reachable"] is True


# --- confirmed by phone --------------------------------------------------------------------


def test_confirming_an_unreachable_provider_asks_for_a_phone_call(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db, name="Mulu", with_login=False, email=None, phone_e164=None)
    proposal = make_assignment(
        db, booking=world.booking(db), provider=provider, created_by=world.dispatcher
    )
    headers = login(world.dispatcher)
    candidates = client.get(
        f"/api/v1/bookings/{proposal.booking_id}/candidates", headers=headers
    ).json()["candidates"]
    assert {c["provider_id"]: c["reachable"] for c in candidates}[provider.id] is False
    path = f"/api/v1/assignments/{proposal.id}/confirm"
    refused = client.post(path, headers=headers)
    assert refused.status_code == 409 and refused.json()["type"].endswith("/provider_unreachable")
    confirmed = client.post(path, json={"confirmed_by_phone": True}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmed_by_phone"] is True
    assert db.get_one(Assignment, proposal.id).confirmed_by_phone


def test_a_manual_confirmation_by_phone_goes_through_the_api(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    provider = world.provider(db, name="Mulu", with_login=False, email=None, phone_e164=None)
    booking = world.booking(db)
    headers = login(world.dispatcher)
    payload = {"booking_id": booking.id, "provider_id": provider.id, "status": "offered"}
    offered = client.post("/api/v1/assignments", json=payload, headers=headers)
    assert offered.status_code == 409 and offered.json()["type"].endswith("/provider_unreachable")
    payload.update(status="confirmed", confirmed_by_phone=True)
    created = client.post("/api/v1/assignments", json=payload, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "confirmed" and created.json()["confirmed_by_phone"]


def test_an_organisation_s_language_is_its_new_providers_default(
    client: TestClient, db: Session, world: World, login: Headers
) -> None:
    admin = make_user(db, organisation=world.service, role="admin")
    headers = login(admin)
    created = client.post(
        "/api/v1/organisations",
        json={"name": "Sociaal Tolken", "kind": "providing", "country": "BE", "locale": "nl"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    organisation = created.json()
    assert organisation["locale"] == "nl"
    world.provider(db, name="Someone")  # the language exists
    provider = client.post(
        "/api/v1/providers",
        json=body(organisation_id=organisation["id"], email="an@example.org"),
        headers=login(admin),
    ).json()
    assert provider["locale"] == "nl"
    changed = client.patch(
        f"/api/v1/organisations/{organisation['id']}", json={"locale": "fr"}, headers=login(admin)
    )
    assert changed.json()["locale"] == "fr"
    notifications = client.get("/api/v1/notifications", headers=login(admin))
    assert notifications.status_code == 200
