"""Security review, finding 5: failed sign-ins pause signing in, per account and per address.

Before, 30 wrong passwords and then the right one signed in; the only brake was
the general write limit, in one process's memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.auth import SESSION_COOKIE
from booking.audit import AuditLog
from booking.models import SignInThrottle, User
from booking.settings import Settings
from booking.types import utc_now
from booking.users.service import hash_password
from tests.api.web.conftest import Browser, csrf_of
from tests.booking.dispatch_world import World
from tests.factories import make_organisation, make_user

PASSWORD = "correct horse battery staple"
ADDRESS_ATTEMPTS = 10


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Fewer free attempts per address than the default 20, to keep the tests quick."""
    return Settings(
        environment="test",
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
        sign_in_address_attempts=ADDRESS_ATTEMPTS,
    )


@pytest.fixture
def user(db: Session, world: World) -> User:
    world.requester.password_hash = hash_password(PASSWORD)
    db.flush()
    return world.requester


def attempt(browser: Browser, email: str, password: str):  # type: ignore[no-untyped-def]
    page = browser.get("/sign-in")
    return browser.client.post(
        "/sign-in",
        data={"csrf_token": csrf_of(page.text), "email": email, "password": password},
        follow_redirects=False,
    )


def pass_time(db: Session) -> None:
    """Every pause is over (as if its minutes had gone by)."""
    db.execute(update(SignInThrottle).values(locked_until=utc_now() - dt.timedelta(seconds=1)))
    db.commit()


def test_wrong_passwords_pause_signing_in_even_with_the_right_one(
    db: Session, browser: Browser, user: User
) -> None:
    browser.language("en")
    for _ in range(5):
        assert attempt(browser, user.email, "guess").status_code == 401
    paused = attempt(browser, user.email, PASSWORD)
    assert paused.status_code == 429
    assert SESSION_COOKIE not in paused.cookies
    assert "Too many failed attempts to sign in" in paused.text
    assert "try again in 1 min" in paused.text
    assert 0 < int(paused.headers["Retry-After"]) <= 30
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "sign_in.paused")).one()
    assert audit.changes["scope"] == "account" and audit.changes["key"] == user.email
    assert audit.changes["user_id"] == user.id and audit.organisation_id == user.organisation_id

    # Once the pause is over the right password works, and clears the count.
    pass_time(db)
    signed_in = attempt(browser, user.email, PASSWORD)
    assert signed_in.status_code == 303
    assert db.scalars(select(SignInThrottle).where(SignInThrottle.scope == "account")).all() == []


def test_each_further_failure_doubles_the_pause(db: Session, browser: Browser, user: User) -> None:
    pauses = []
    for _ in range(5):
        attempt(browser, user.email, "guess")
    for _ in range(4):
        pass_time(db)
        assert attempt(browser, user.email, "guess").status_code == 401
        row = db.scalars(select(SignInThrottle).where(SignInThrottle.scope == "account")).one()
        db.refresh(row)
        assert row.locked_until is not None
        pauses.append(round((row.locked_until - row.last_failure_at).total_seconds()))
    assert pauses == [60, 120, 240, 480]
    assert attempt(browser, user.email, PASSWORD).status_code == 429


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        ("fr", "la connexion est suspendue\u202f: réessayez dans 1 min."),
        ("nl", "aanmelden even geblokkeerd: probeer het over 1 min. opnieuw"),
    ],
)
def test_the_pause_is_said_in_the_visitor_s_language(
    browser: Browser, user: User, locale: str, sentence: str
) -> None:
    browser.language(locale)
    for _ in range(5):
        attempt(browser, user.email, "guess")
    assert sentence in attempt(browser, user.email, PASSWORD).text


def test_an_unknown_email_is_paused_the_same_way(browser: Browser) -> None:
    # Nothing tells an attacker which addresses have an account.
    for _ in range(5):
        assert attempt(browser, "nobody@example.org", "guess").status_code == 401
    assert attempt(browser, "nobody@example.org", "guess").status_code == 429


def test_many_accounts_tried_from_one_address_pause_that_address(
    db: Session, browser: Browser, user: User
) -> None:
    for i in range(ADDRESS_ATTEMPTS):
        assert attempt(browser, f"guess{i}@example.org", "guess").status_code == 401
    refused = attempt(browser, user.email, PASSWORD)
    assert refused.status_code == 429
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "sign_in.paused")).all()
    assert [(a.changes["scope"], a.changes["key"]) for a in audit] == [("address", "testclient")]


@pytest.fixture
def two_workers(
    committing_session_factory: sessionmaker[Session], settings: Settings
) -> Iterator[tuple[TestClient, TestClient, Session]]:
    """Two app instances, each with its own engine and pool, as two worker processes."""
    apps = [create_app(settings), create_app(settings)]
    session = committing_session_factory()
    try:
        yield (
            TestClient(apps[0], raise_server_exceptions=False),
            TestClient(apps[1], raise_server_exceptions=False),
            session,
        )
    finally:
        for app in apps:
            app.state.engine.dispose()


def test_the_brake_holds_across_workers(
    two_workers: tuple[TestClient, TestClient, Session], engine: Engine
) -> None:
    first, second, session = two_workers
    organisation = make_organisation(session)
    person = make_user(session, organisation=organisation, password_hash=hash_password(PASSWORD))
    session.commit()
    for number in range(5):
        worker = Browser(first if number % 2 else second, first.app.state.settings, session)
        assert attempt(worker, person.email, "guess").status_code == 401
    for worker_client in (first, second):
        worker = Browser(worker_client, worker_client.app.state.settings, session)
        assert attempt(worker, person.email, PASSWORD).status_code == 429
