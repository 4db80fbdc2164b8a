"""Admin resources: organisations, agreements, sites, users, tokens, languages; all audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import ApiToken, AuditLog, Organisation, User
from booking.users.service import verify_password
from tests.factories import (
    make_api_token,
    make_booking,
    make_language,
    make_organisation,
    make_service_agreement,
    make_site,
    make_user,
)

Headers = dict[str, str]


@pytest.fixture
def setis(db: Session) -> Organisation:
    return make_organisation(db, name="SéTIS wallon", kind="providing")


@pytest.fixture
def admin(db: Session, setis: Organisation) -> User:
    return make_user(db, organisation=setis, role="admin", locale="en")


@pytest.fixture
def as_admin(db: Session, admin: User, auth_headers: Callable[[User], Headers]) -> Headers:
    """The admin's headers; committed, so a refused request's rollback keeps the admin."""
    headers = auth_headers(admin)
    db.commit()
    return headers


def _audited(db: Session, action: str, entity_id: object) -> AuditLog:
    row = db.scalars(
        select(AuditLog).where(AuditLog.action == action, AuditLog.entity_id == str(entity_id))
    ).first()
    assert row is not None, f"no audit row {action} for {entity_id}"
    return row


def _errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {error["field"]: error["type"] for error in response.json()["errors"]}


def test_an_admin_adds_renames_and_lists_organisations(
    client: TestClient, db: Session, admin: User, as_admin: Headers
) -> None:
    created = client.post(
        "/api/v1/organisations",
        json={"name": "CAES Croisilles", "kind": "requesting", "country": "FR"},
        headers=as_admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["timezone"] == "Europe/Paris"
    assert _audited(db, "organisation.created", body["id"]).actor_user_id == admin.id

    renamed = client.patch(
        f"/api/v1/organisations/{body['id']}",
        json={"name": "CAES de Croisilles", "region": "Hauts-de-France"},
        headers=as_admin,
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "CAES de Croisilles"
    assert _audited(db, "organisation.updated", body["id"]).changes["name"] == [
        "CAES Croisilles",
        "CAES de Croisilles",
    ]

    listed = client.get("/api/v1/organisations?kind=requesting&limit=200", headers=as_admin)
    assert body["id"] in {item["id"] for item in listed.json()["items"]}


def test_an_admin_says_a_service_is_salaried_so_its_idle_time_counts(
    client: TestClient, db: Session, setis: Organisation, as_admin: Headers
) -> None:
    assert (
        client.get(f"/api/v1/organisations/{setis.id}", headers=as_admin).json()["counts_idle"]
        is False
    )
    changed = client.patch(
        f"/api/v1/organisations/{setis.id}", json={"counts_idle": True}, headers=as_admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["counts_idle"] is True
    assert _audited(db, "organisation.updated", setis.id).changes["counts_idle"] == [False, True]
    created = client.post(
        "/api/v1/organisations",
        json={"name": "Service X", "kind": "providing", "country": "BE", "counts_idle": True},
        headers=as_admin,
    )
    assert created.status_code == 201 and created.json()["counts_idle"] is True


def test_only_a_providing_service_may_count_idle_time(
    client: TestClient, as_admin: Headers
) -> None:
    response = client.post(
        "/api/v1/organisations",
        json={"name": "CAES", "kind": "requesting", "country": "FR", "counts_idle": True},
        headers=as_admin,
    )
    assert _errors(response) == {"counts_idle": "not_providing"}


def test_an_organisation_with_an_unknown_time_zone_is_refused(
    client: TestClient, as_admin: Headers
) -> None:
    response = client.post(
        "/api/v1/organisations",
        json={"name": "X", "kind": "requesting", "country": "BE", "timezone": "Europe/Atlantis"},
        headers=as_admin,
    )
    assert _errors(response) == {"timezone": "timezone_unknown"}


@pytest.mark.parametrize("role", ["requester", "dispatcher", "provider"])
def test_only_admins_change_organisations(
    client: TestClient, db: Session, role: str, auth_headers: Callable[[User], Headers]
) -> None:
    user = make_user(db, role=role)
    response = client.post(
        "/api/v1/organisations",
        json={"name": "X", "kind": "requesting", "country": "BE"},
        headers=auth_headers(user),
    )
    assert response.status_code == 403


def test_a_requester_sees_only_their_own_organisation(
    client: TestClient, db: Session, auth_headers: Callable[[User], Headers]
) -> None:
    mine = make_organisation(db)
    other = make_organisation(db)
    headers = auth_headers(make_user(db, organisation=mine))
    db.commit()
    listed = client.get("/api/v1/organisations", headers=headers).json()
    assert [item["id"] for item in listed["items"]] == [mine.id]
    assert client.get(f"/api/v1/organisations/{other.id}", headers=headers).status_code == 404


def test_an_agreement_lets_a_services_dispatchers_see_the_requesters_bookings(
    client: TestClient,
    db: Session,
    setis: Organisation,
    as_admin: Headers,
    auth_headers: Callable[[User], Headers],
) -> None:
    tournai = make_organisation(db, name="CPAS Tournai")
    booking = make_booking(db, organisation=tournai)
    dispatcher = make_user(db, organisation=setis, role="dispatcher")
    db.commit()
    before = client.get(f"/api/v1/organisations/{tournai.id}", headers=auth_headers(dispatcher))
    assert before.status_code == 404

    created = client.post(
        f"/api/v1/organisations/{setis.id}/agreements",
        json={"requesting_organisation_id": tournai.id},
        headers=as_admin,
    )
    assert created.status_code == 201, created.text
    agreement = created.json()
    assert (agreement["providing_org_id"], agreement["requesting_org_id"]) == (setis.id, tournai.id)
    _audited(db, "service_agreement.created", agreement["id"])
    after = client.get(f"/api/v1/organisations/{tournai.id}", headers=auth_headers(dispatcher))
    assert after.status_code == 200
    from booking.access import get_visible_booking

    assert get_visible_booking(db, dispatcher, booking.id).id == booking.id

    db.commit()
    duplicate = client.post(
        f"/api/v1/organisations/{setis.id}/agreements",
        json={"requesting_organisation_id": tournai.id},
        headers=as_admin,
    )
    assert duplicate.status_code == 409

    listed = client.get(f"/api/v1/organisations/{tournai.id}/agreements", headers=as_admin)
    assert [item["id"] for item in listed.json()["items"]] == [agreement["id"]]
    deleted = client.delete(
        f"/api/v1/organisations/{setis.id}/agreements/{agreement['id']}", headers=as_admin
    )
    assert deleted.status_code == 204
    _audited(db, "service_agreement.deleted", agreement["id"])
    gone = client.get(f"/api/v1/organisations/{tournai.id}", headers=auth_headers(dispatcher))
    assert gone.status_code == 404


def test_an_agreement_needs_a_providing_and_a_requesting_party(
    client: TestClient, db: Session, setis: Organisation, as_admin: Headers
) -> None:
    other_service = make_organisation(db, kind="providing")
    tournai = make_organisation(db)
    db.commit()
    wrong_requester = client.post(
        f"/api/v1/organisations/{setis.id}/agreements",
        json={"requesting_organisation_id": other_service.id},
        headers=as_admin,
    )
    assert _errors(wrong_requester) == {"requesting_organisation_id": "not_requesting"}
    wrong_provider = client.post(
        f"/api/v1/organisations/{tournai.id}/agreements",
        json={"requesting_organisation_id": tournai.id},
        headers=as_admin,
    )
    assert _errors(wrong_provider) == {"organisation_id": "not_providing"}


SITE = {
    "name": "CAES Croisilles",
    "address": "Rue de Saint-Léger 2",
    "postcode": "62128",
    "town": "Croisilles",
    "country": "FR",
    "lat": 50.1994,
    "lon": 2.8786,
}


def test_an_admin_adds_and_moves_a_site_within_the_service_area(
    client: TestClient, db: Session, as_admin: Headers
) -> None:
    organisation = make_organisation(db, country="FR")
    created = client.post(
        "/api/v1/sites", json={**SITE, "organisation_id": organisation.id}, headers=as_admin
    )
    assert created.status_code == 201, created.text
    site = created.json()
    _audited(db, "site.created", site["id"])
    moved = client.patch(
        f"/api/v1/sites/{site['id']}", json={"lat": 50.9513, "lon": 1.8587}, headers=as_admin
    )
    assert moved.status_code == 200
    assert (moved.json()["lat"], moved.json()["lon"]) == (50.9513, 1.8587)
    _audited(db, "site.updated", site["id"])


@pytest.mark.parametrize(
    ("place", "fields"),
    [
        ({"lat": 47.9030, "lon": 1.9093}, {"lat"}),  # Orléans
        ({"lat": 50.11, "lon": 8.68}, {"lon"}),  # Frankfurt
        ({"lat": 40.4, "lon": -3.7}, {"lat", "lon"}),  # Madrid
    ],
)
def test_a_site_outside_the_service_area_is_refused(
    client: TestClient,
    db: Session,
    as_admin: Headers,
    place: dict[str, float],
    fields: set[str],
) -> None:
    organisation = make_organisation(db, country="FR")
    response = client.post(
        "/api/v1/sites",
        json={**SITE, **place, "organisation_id": organisation.id},
        headers=as_admin,
    )
    errors = _errors(response)
    assert set(errors) == fields
    assert set(errors.values()) == {"outside_service_area"}
    assert response.json()["rule"] == "site_in_service_area"


def test_moving_a_site_out_of_the_area_is_refused(
    client: TestClient, db: Session, as_admin: Headers
) -> None:
    site = make_site(db)
    db.commit()
    response = client.patch(f"/api/v1/sites/{site.id}", json={"lon": 7.0}, headers=as_admin)
    assert _errors(response) == {"lon": "outside_service_area"}


def test_a_postcode_must_fit_the_country(
    client: TestClient, db: Session, as_admin: Headers
) -> None:
    organisation = make_organisation(db)
    response = client.post(
        "/api/v1/sites",
        json={**SITE, "country": "BE", "postcode": "62128", "organisation_id": organisation.id},
        headers=as_admin,
    )
    assert _errors(response) == {"postcode": "postcode_invalid"}


def test_requesters_and_dispatchers_read_sites_but_do_not_change_them(
    client: TestClient, db: Session, auth_headers: Callable[[User], Headers]
) -> None:
    agreement = make_service_agreement(db)
    requesting = db.get_one(Organisation, agreement.requesting_org_id)
    site = make_site(db, organisation=requesting)
    requester = make_user(db, organisation=requesting)
    dispatcher = make_user(
        db, organisation=db.get(Organisation, agreement.providing_org_id), role="dispatcher"
    )
    db.commit()
    for user in (requester, dispatcher):
        headers = auth_headers(user)
        assert client.get(f"/api/v1/sites/{site.id}", headers=headers).status_code == 200
        patched = client.patch(f"/api/v1/sites/{site.id}", json={"name": "x"}, headers=headers)
        assert patched.status_code == 403


def _new_user(organisation: Organisation, **fields: Any) -> dict[str, Any]:
    return {
        "organisation_id": organisation.id,
        "email": "Camille.Dupont@CPAS-Tournai.example.BE",
        "full_name": "Camille Dupont",
        "role": "requester",
        **fields,
    }


def test_an_admin_adds_a_user_with_a_lower_case_email_and_an_e164_phone(
    client: TestClient, db: Session, admin: User, as_admin: Headers
) -> None:
    tournai = make_organisation(db, country="BE")
    response = client.post(
        "/api/v1/users",
        json=_new_user(tournai, phone="0470 12 34 56", locale="nl", password="correct horse 42"),
        headers=as_admin,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "camille.dupont@cpas-tournai.example.be"
    assert body["phone_e164"] == "+32470123456"
    assert body["locale"] == "nl"
    assert "password" not in body and "password_hash" not in body
    stored = db.get(User, body["id"])
    assert stored is not None
    assert verify_password(stored.password_hash, "correct horse 42")
    assert not verify_password(stored.password_hash, "wrong")
    audit = _audited(db, "user.created", body["id"])
    assert audit.actor_user_id == admin.id
    assert "correct horse" not in str(audit.changes)


def test_a_national_phone_number_is_read_in_the_organisations_country(
    client: TestClient, db: Session, as_admin: Headers
) -> None:
    croisilles = make_organisation(db, country="FR")
    response = client.post(
        "/api/v1/users", json=_new_user(croisilles, phone="06 12 34 56 78"), headers=as_admin
    )
    assert response.status_code == 201, response.text
    assert response.json()["phone_e164"] == "+33612345678"


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"email": "not-an-address"}, {"email": "email_invalid"}),
        ({"phone": "123"}, {"phone": "phone_invalid"}),
        ({"phone": "+32 1"}, {"phone": "phone_invalid"}),
        ({"locale": "de"}, {"locale": "enum"}),
        ({"role": "superuser"}, {"role": "enum"}),
        ({"role": "dispatcher"}, {"role": "role_organisation_kind"}),
        ({"password": "short"}, {"password": "string_too_short"}),
        ({"is_admin": True}, {"is_admin": "extra_forbidden"}),
    ],
)
def test_invalid_users_are_refused_field_by_field(
    client: TestClient,
    db: Session,
    as_admin: Headers,
    fields: dict[str, Any],
    errors: dict[str, str],
) -> None:
    tournai = make_organisation(db)
    response = client.post("/api/v1/users", json=_new_user(tournai, **fields), headers=as_admin)
    assert _errors(response) == errors


def test_an_email_is_used_once_whatever_its_case(
    client: TestClient, db: Session, as_admin: Headers
) -> None:
    tournai = make_organisation(db)
    make_user(db, organisation=tournai, email="camille.dupont@cpas-tournai.example.be")
    db.commit()
    response = client.post("/api/v1/users", json=_new_user(tournai), headers=as_admin)
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "email"


def test_deactivating_a_user_revokes_their_tokens(
    client: TestClient, db: Session, as_admin: Headers
) -> None:
    user = make_user(db)
    row, token = make_api_token(db, user=user)
    db.commit()
    response = client.patch(
        f"/api/v1/users/{user.id}", json={"is_active": False, "phone": None}, headers=as_admin
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    db.refresh(row)
    assert row.revoked_at is not None
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    _audited(db, "user.updated", user.id)


@pytest.mark.parametrize(
    ("change", "field"), [({"is_active": False}, "is_active"), ({"role": "requester"}, "role")]
)
def test_an_admin_cannot_lock_themselves_out(
    client: TestClient, admin: User, as_admin: Headers, change: dict[str, Any], field: str
) -> None:
    response = client.patch(f"/api/v1/users/{admin.id}", json=change, headers=as_admin)
    assert _errors(response) == {field: "self_lockout"}
    assert client.get("/api/v1/me", headers=as_admin).json()["role"] == "admin"


def test_users_are_listed_by_organisation_and_role(
    client: TestClient, db: Session, as_admin: Headers
) -> None:
    tournai = make_organisation(db)
    requester = make_user(db, organisation=tournai)
    make_user(db, organisation=tournai, role="admin")
    response = client.get(
        f"/api/v1/users?organisation_id={tournai.id}&role=requester", headers=as_admin
    )
    assert [item["id"] for item in response.json()["items"]] == [requester.id]


def test_an_admin_issues_lists_and_revokes_tokens(
    client: TestClient, db: Session, as_admin: Headers
) -> None:
    user = make_user(db)
    created = client.post(
        f"/api/v1/users/{user.id}/tokens", json={"name": "ERP export"}, headers=as_admin
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    token_id = created.json()["id"]
    stored = db.get(ApiToken, token_id)
    assert stored is not None
    assert stored.token_hash != token
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["id"] == user.id

    listed = client.get(f"/api/v1/users/{user.id}/tokens", headers=as_admin).json()
    assert [item["id"] for item in listed["items"]] == [token_id]
    assert "token" not in listed["items"][0]

    revoked = client.delete(f"/api/v1/tokens/{token_id}", headers=as_admin)
    assert revoked.status_code == 204
    _audited(db, "api_token.created", token_id)
    _audited(db, "api_token.revoked", token_id)
    db.commit()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_token_cannot_expire_in_the_past_or_be_given_a_naive_expiry(
    client: TestClient, db: Session, as_admin: Headers
) -> None:
    user = make_user(db)
    db.commit()
    past = client.post(
        f"/api/v1/users/{user.id}/tokens",
        json={"expires_at": "2020-01-01T00:00:00+01:00"},
        headers=as_admin,
    )
    assert _errors(past) == {"expires_at": "in_the_past"}
    naive = client.post(
        f"/api/v1/users/{user.id}/tokens",
        json={"expires_at": "2099-01-01T00:00:00"},
        headers=as_admin,
    )
    assert _errors(naive) == {"expires_at": "timezone_aware"}


def test_tokens_of_a_missing_user_are_not_found(client: TestClient, as_admin: Headers) -> None:
    assert client.get("/api/v1/users/987654/tokens", headers=as_admin).status_code == 404
    assert client.delete("/api/v1/tokens/987654", headers=as_admin).status_code == 404


def test_languages_are_searched_in_any_locale_and_named_in_the_callers(
    client: TestClient, db: Session, auth_headers: Callable[[User], Headers]
) -> None:
    for code in ("tir", "ara", "prs", "pus", "ckb"):
        make_language(db, code=code)
    dutch_speaker = make_user(db, locale="nl")
    headers = auth_headers(dutch_speaker)

    def codes(query: str) -> list[str]:
        response = client.get(f"/api/v1/languages?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [item["code"] for item in response.json()["items"]]

    assert codes("q=tigrigna") == ["tir"]  # French name
    assert codes("q=pasjtoe") == ["pus"]  # Dutch name
    assert codes("q=central kurd") == ["ckb"]  # English name
    assert codes("q=PRS") == ["prs"]  # code
    assert codes("q=%25") == []  # a LIKE wildcard is searched for, not obeyed
    arabic = client.get("/api/v1/languages/ara", headers=headers).json()
    assert arabic["name"] == "Arabisch"


def test_a_list_is_walked_page_by_page_with_the_cursor(
    client: TestClient, db: Session, auth_headers: Callable[[User], Headers]
) -> None:
    for code in ("tir", "ara", "prs", "pus", "som", "ckb"):
        make_language(db, code=code)
    headers = auth_headers(make_user(db, locale="en"))
    everything = [
        item["code"]
        for item in client.get("/api/v1/languages?limit=200", headers=headers).json()["items"]
    ]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        url = "/api/v1/languages?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).json()
        seen += [item["code"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything
    assert pages >= 3


@pytest.mark.parametrize("cursor", ["garbage!", "WyJ4Il0", "bnVsbA", "W10"])
def test_a_damaged_cursor_is_a_422_not_a_crash(
    client: TestClient, db: Session, cursor: str, auth_headers: Callable[[User], Headers]
) -> None:
    headers = auth_headers(make_user(db))
    response = client.get(f"/api/v1/languages?cursor={cursor}", headers=headers)
    assert _errors(response) == {"cursor": "cursor_invalid"}


def test_an_admin_adds_and_renames_a_language(
    client: TestClient, db: Session, as_admin: Headers
) -> None:
    created = client.post(
        "/api/v1/languages",
        json={
            "code": "TIG",
            "name_fr": "tigré",
            "name_nl": "Tigre",
            "name_en": "Tigre",
            "is_rare": True,
        },
        headers=as_admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["code"] == "tig"
    _audited(db, "language.created", "tig")
    renamed = client.patch("/api/v1/languages/tig", json={"name_nl": "Tigré"}, headers=as_admin)
    assert renamed.json()["name_nl"] == "Tigré"
    db.commit()
    again = client.post(
        "/api/v1/languages",
        json={"code": "tig", "name_fr": "x", "name_nl": "x", "name_en": "x"},
        headers=as_admin,
    )
    assert again.status_code == 409
