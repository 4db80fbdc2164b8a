"""Security review, finding 4: a web session ends at sign-out, a new password, or by an admin.

The cookie used to be a signed ``{"uid": N}``: replayed after signing out or
after a password change, it still worked until it expired (12 hours).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import SESSION_COOKIE, SESSION_SALT
from booking.audit import AuditLog
from booking.models import User
from booking.settings import Settings
from booking.users.service import hash_password
from tests.api.web.conftest import Browser, csrf_of
from tests.booking.dispatch_world import World
from tests.factories import make_user

PASSWORD = "correct horse battery staple"
Headers = Callable[[User], dict[str, str]]


def signed_in(browser: Browser, user: User) -> str:
    """Sign in through the form, as a person would; the session cookie it set."""
    user.password_hash = hash_password(PASSWORD)
    page = browser.get("/sign-in")
    browser.settle()
    answer = browser.client.post(
        "/sign-in",
        data={"csrf_token": csrf_of(page.text), "email": user.email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return str(answer.cookies[SESSION_COOKIE])


def works(client: TestClient, cookie: str) -> bool:
    """Whether a copy of the cookie, replayed by someone else, still signs in to the API."""
    client.cookies.set(SESSION_COOKIE, cookie)
    response = client.get("/api/v1/me")
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


@pytest.fixture
def copy(client: TestClient) -> TestClient:
    """Another browser (a second client on the same app) that replays a copied cookie."""
    return TestClient(client.app, raise_server_exceptions=False)


def test_a_copied_cookie_stops_working_when_the_user_signs_out(
    browser: Browser, copy: TestClient, world: World
) -> None:
    cookie = signed_in(browser, world.dispatcher)
    assert works(copy, cookie)
    assert browser.post("/sign-out", {}).status_code == 303
    assert not works(copy, cookie)
    copy.cookies.set(SESSION_COOKIE, cookie)
    page = copy.get("/board", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")


def test_a_new_password_ends_every_session(
    db: Session, browser: Browser, copy: TestClient, world: World, auth_headers: Headers
) -> None:
    cookie = signed_in(browser, world.requester)
    admin = auth_headers(make_user(db, organisation=world.service, role="admin"))
    db.commit()
    changed = browser.client.patch(
        f"/api/v1/users/{world.requester.id}",
        json={"password": "another long passphrase"},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert not works(copy, cookie)
    assert browser.get("/bookings").status_code == 303  # this browser too: sign in again


def test_an_admin_signs_a_user_out_everywhere(
    db: Session, browser: Browser, copy: TestClient, world: World, auth_headers: Headers
) -> None:
    cookie = signed_in(browser, world.dispatcher)
    admin_user = make_user(db, organisation=world.service, role="admin")
    admin = auth_headers(admin_user)
    dispatcher_token = auth_headers(world.dispatcher)
    db.commit()
    refused = copy.post(f"/api/v1/users/{world.requester.id}/sign-out", headers=dispatcher_token)
    assert refused.status_code == 403
    assert works(copy, cookie)
    answer = copy.post(f"/api/v1/users/{world.dispatcher.id}/sign-out", headers=admin)
    assert answer.status_code == 204, answer.text
    assert not works(copy, cookie)
    # API tokens are separate credentials: the dispatcher's integration keeps working.
    assert copy.get("/api/v1/me", headers=dispatcher_token).status_code == 200
    audit = db.scalars(
        select(AuditLog).where(AuditLog.action == "user.signed_out_everywhere")
    ).one()
    assert (audit.actor_user_id, audit.entity_id) == (admin_user.id, str(world.dispatcher.id))
    assert copy.post("/api/v1/users/987654/sign-out", headers=admin).status_code == 404


def test_deactivating_then_reactivating_does_not_revive_old_cookies(
    db: Session, browser: Browser, copy: TestClient, world: World, auth_headers: Headers
) -> None:
    cookie = signed_in(browser, world.requester)
    admin = auth_headers(make_user(db, organisation=world.service, role="admin"))
    db.commit()
    url = f"/api/v1/users/{world.requester.id}"
    assert copy.patch(url, json={"is_active": False}, headers=admin).status_code == 200
    assert copy.patch(url, json={"is_active": True}, headers=admin).status_code == 200
    assert not works(copy, cookie)


def test_a_cookie_signed_before_sessions_had_a_generation_is_refused(
    db: Session, client: TestClient, settings: Settings, world: World
) -> None:
    old = URLSafeTimedSerializer(settings.secret_key, salt=SESSION_SALT).dumps(
        {"uid": world.dispatcher.id}
    )
    db.commit()
    assert not works(client, str(old))
