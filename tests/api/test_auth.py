"""Authentication and roles: bearer tokens, the session cookie, and the 401/403 answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.auth import (
    SESSION_COOKIE,
    AdminUser,
    CurrentUser,
    DispatcherUser,
    current_user,
    require_roles,
    session_cookie_value,
)
from booking.models import User
from booking.settings import Settings
from booking.types import utc_now
from tests.factories import make_api_token, make_user

PUBLIC_PATHS = {
    "/health",
    "/ready",
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/docs/oauth2-redirect",
}
"""Everything else answers 401 without credentials. The provider's calendar
feed (token in the query, for calendar apps) is public too: any ``.ics`` path."""


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.endswith(".ics")


def _depends_on(route: RouteContext, dependency: Callable[..., object]) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        if dependant.call is dependency:
            return True
        stack.extend(dependant.dependencies)
    return False


def _is_api(path: str) -> bool:
    """The JSON API and the scrape endpoint; the web pages redirect to their sign-in form."""
    return path.startswith("/api/") or path == "/metrics"


def _api_routes(app: FastAPI) -> list[RouteContext]:
    """Every API route of the app, through included routers, except the public ones."""
    return [
        r
        for r in iter_route_contexts(app.routes)
        if isinstance(r.original_route, APIRoute)
        and _is_api(r.path or "")
        and not _is_public(r.path or "")
    ]


def _concrete(path: str) -> str:
    """A request path for a route template: every parameter set to 1."""
    parts = []
    for part in path.split("/"):
        parts.append("1" if part.startswith("{") and part.endswith("}") else part)
    return "/".join(parts)


def test_every_non_public_route_depends_on_current_user(app: FastAPI) -> None:
    routes = _api_routes(app)
    assert any(r.path == "/api/v1/me" for r in routes)
    unguarded = [
        f"{sorted(r.methods)} {r.path}" for r in routes if not _depends_on(r, current_user)
    ]
    assert unguarded == []


def test_every_non_public_route_answers_401_without_credentials(
    app: FastAPI, client: TestClient
) -> None:
    answers = {}
    for route in _api_routes(app):
        for method in sorted(route.methods - {"HEAD"}):
            response = client.request(method, _concrete(route.path), json={})
            answers[f"{method} {route.path}"] = response.status_code
    assert answers
    assert {key: code for key, code in answers.items() if code != 401} == {}


def test_missing_credentials_are_a_401_problem_with_a_bearer_challenge(
    client: TestClient,
) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["status"] == 401
    assert body["type"].endswith("/unauthenticated")


def test_a_valid_token_identifies_its_user_and_notes_its_use(
    client: TestClient, db: Session
) -> None:
    user = make_user(db, role="requester", email="camille@cpas.example.be")
    row, token = make_api_token(db, user=user)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["email"] == "camille@cpas.example.be"
    assert body["organisation"]["id"] == user.organisation_id
    assert body["provider_id"] is None
    db.refresh(row)
    assert row.last_used_at is not None


def test_last_used_is_written_at_most_once_a_minute(client: TestClient, db: Session) -> None:
    row, token = make_api_token(db)
    recently = utc_now() - dt.timedelta(seconds=20)
    row.last_used_at = recently
    db.flush()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).is_success
    db.refresh(row)
    assert row.last_used_at == recently
    row.last_used_at = utc_now() - dt.timedelta(minutes=5)
    db.flush()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).is_success
    db.refresh(row)
    assert row.last_used_at > recently


@pytest.mark.parametrize(
    "spoil",
    ["revoked", "expired", "inactive user"],
)
def test_a_revoked_or_expired_token_or_an_inactive_user_is_refused(
    client: TestClient, db: Session, spoil: str
) -> None:
    user = make_user(db)
    row, token = make_api_token(db, user=user)
    if spoil == "revoked":
        row.revoked_at = utc_now()
    elif spoil == "expired":
        row.expires_at = utc_now() - dt.timedelta(seconds=1)
    else:
        user.is_active = False
    db.flush()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_token_expiring_later_still_works(client: TestClient, db: Session) -> None:
    _, token = make_api_token(db, expires_at=utc_now() + dt.timedelta(hours=1))
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).is_success


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer tru_not-a-real-token",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "tru_token-without-scheme",
        "Bearer " + "x" * 5000,
    ],
)
def test_unknown_or_malformed_credentials_are_refused(
    client: TestClient, authorization: str
) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_session_cookie_signs_in_when_no_authorization_header_is_sent(
    client: TestClient, db: Session, settings: Settings
) -> None:
    user = make_user(db, role="dispatcher")
    client.cookies.set(SESSION_COOKIE, session_cookie_value(settings, user))
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["id"] == user.id


def test_an_authorization_header_wins_over_the_cookie(
    client: TestClient, db: Session, settings: Settings
) -> None:
    user = make_user(db)
    client.cookies.set(SESSION_COOKIE, session_cookie_value(settings, user))
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer tru_wrong"})
    assert response.status_code == 401


@pytest.mark.parametrize("damage", ["tampered", "other secret", "inactive user"])
def test_a_forged_or_stale_session_cookie_is_refused(
    client: TestClient, db: Session, settings: Settings, damage: str
) -> None:
    user = make_user(db)
    value = session_cookie_value(settings, user)
    if damage == "tampered":
        value = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    elif damage == "other secret":
        value = session_cookie_value(settings.model_copy(update={"secret_key": "x" * 32}), user)
    else:
        user.is_active = False
        db.flush()
    client.cookies.set(SESSION_COOKIE, value)
    assert client.get("/api/v1/me").status_code == 401


@pytest.fixture
def probe_app(app: FastAPI) -> Iterator[FastAPI]:
    """The app plus a few endpoints guarded by each kind of role check."""

    @app.get("/api/v1/_probe/dispatch")
    def _dispatch(user: DispatcherUser) -> dict[str, int]:
        return {"id": user.id}

    @app.get("/api/v1/_probe/admin")
    def _admin(user: AdminUser) -> dict[str, int]:
        return {"id": user.id}

    @app.post("/api/v1/_probe/write")
    def _write(user: CurrentUser) -> dict[str, int]:
        return {"id": user.id}

    yield app


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("dispatcher", "/api/v1/_probe/dispatch", 200),
        ("requester", "/api/v1/_probe/dispatch", 403),
        ("provider", "/api/v1/_probe/dispatch", 403),
        ("admin", "/api/v1/_probe/dispatch", 403),
        ("admin", "/api/v1/_probe/admin", 200),
        ("dispatcher", "/api/v1/_probe/admin", 403),
    ],
)
def test_roles_are_checked_and_admin_is_not_every_role(
    probe_app: FastAPI,
    client: TestClient,
    db: Session,
    auth_headers: Callable[[User], dict[str, str]],
    role: str,
    path: str,
    status: int,
) -> None:
    user = make_user(db, role=role)
    response = client.get(path, headers=auth_headers(user))
    assert response.status_code == status
    if status == 403:
        body = response.json()
        assert body["type"].endswith("/forbidden_role")
        assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(
    ("role", "status"), [("dispatcher", 200), ("admin", 200), ("provider", 403)]
)
def test_require_roles_accepts_any_of_the_listed_roles(
    app: FastAPI,
    client: TestClient,
    db: Session,
    auth_headers: Callable[[User], dict[str, str]],
    role: str,
    status: int,
) -> None:
    @app.get("/api/v1/_probe/either")
    def _either(
        user: Annotated[User, Depends(require_roles("dispatcher", "admin"))],
    ) -> dict[str, int]:
        return {"id": user.id}

    user = make_user(db, role=role)
    assert client.get("/api/v1/_probe/either", headers=auth_headers(user)).status_code == status


def test_require_roles_refuses_an_unknown_role() -> None:
    with pytest.raises(ValueError):
        require_roles("superuser")


def test_a_cookie_signed_write_from_another_site_is_refused(
    probe_app: FastAPI, client: TestClient, db: Session, settings: Settings
) -> None:
    user = make_user(db)
    db.commit()  # keep the user when the refused request rolls its transaction back
    client.cookies.set(SESSION_COOKIE, session_cookie_value(settings, user))
    foreign = client.post("/api/v1/_probe/write", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    own = client.post("/api/v1/_probe/write", headers={"Origin": "http://testserver"})
    assert own.status_code == 200
