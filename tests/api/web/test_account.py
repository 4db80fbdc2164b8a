"""Signing in and out, CSRF on every form, roles, and the language switch."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import SESSION_COOKIE
from api.web.context import safe_next
from api.web.session import CSRF_COOKIE
from booking.audit import AuditLog
from booking.users.service import hash_password
from tests.api.web.conftest import Browser, csrf_of
from tests.booking.dispatch_world import World

PASSWORD = "correct horse battery staple"


@pytest.fixture
def with_password(db: Session, world: World) -> World:
    world.requester.password_hash = hash_password(PASSWORD)
    world.dispatcher.password_hash = hash_password(PASSWORD)
    db.flush()
    return world


def _sign_in(browser: Browser, email: str, password: str, next_url: str = ""):  # type: ignore[no-untyped-def]
    page = browser.get("/sign-in")
    browser.settle()
    return browser.client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_of(page.text),
            "email": email,
            "password": password,
            "next": next_url,
        },
        follow_redirects=False,
    )


def test_the_right_password_signs_in_and_lands_on_the_role_s_page(
    db: Session, browser: Browser, with_password: World
) -> None:
    response = _sign_in(browser, with_password.requester.email.upper(), PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/bookings"
    assert SESSION_COOKIE in response.cookies
    assert browser.get("/book").status_code == 200
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "user.signed_in")).all()
    assert [a.actor_user_id for a in audit] == [with_password.requester.id]


def test_signing_in_goes_back_to_the_page_asked_for(browser: Browser, with_password: World) -> None:
    first = browser.get("/bookings?show=past")
    assert first.status_code == 303
    assert first.headers["location"] == "/sign-in?next=/bookings%3Fshow%3Dpast"
    response = _sign_in(browser, with_password.dispatcher.email, PASSWORD, "/board/day")
    assert response.headers["location"] == "/board/day"


@pytest.mark.parametrize("email", ["wrong", "nobody@example.org"])
def test_a_wrong_email_or_password_says_so_without_saying_which(
    browser: Browser, with_password: World, email: str
) -> None:
    address = with_password.requester.email if email == "wrong" else email
    response = _sign_in(browser, address, "not the password")
    assert response.status_code == 401
    assert "The email address or the password is not right" in response.text
    assert SESSION_COOKIE not in response.cookies
    assert f'value="{address}"' in response.text


def test_a_deactivated_account_cannot_sign_in(
    db: Session, browser: Browser, with_password: World
) -> None:
    with_password.requester.is_active = False
    db.flush()
    assert _sign_in(browser, with_password.requester.email, PASSWORD).status_code == 401


def test_a_form_without_the_csrf_token_is_refused(browser: Browser, with_password: World) -> None:
    browser.get("/sign-in")
    response = browser.client.post(
        "/sign-in",
        data={"email": with_password.requester.email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "The form has expired or did not come from this site" in response.text
    assert SESSION_COOKIE not in response.cookies


def test_a_token_from_another_browser_is_refused(browser: Browser, world: World) -> None:
    browser.sign_in(world.requester)
    token = browser.token()
    browser.client.cookies.delete(CSRF_COOKIE)
    browser.client.cookies.set(CSRF_COOKIE, "x" * 43)
    response = browser.client.post(
        "/bookings/1/cancel", data={"csrf_token": token, "reason": "x"}, follow_redirects=False
    )
    assert response.status_code == 403


def test_the_token_is_tied_to_the_session(browser: Browser, world: World) -> None:
    token = browser.token()  # taken before signing in
    browser.sign_in(world.requester)
    response = browser.client.post(
        "/book", data={"csrf_token": token, "language": "tir"}, follow_redirects=False
    )
    assert response.status_code == 403


def test_signing_out_ends_the_session(browser: Browser, world: World) -> None:
    browser.sign_in(world.requester)
    response = browser.post("/sign-out", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"
    assert 'truchement_session=""' in response.headers["set-cookie"]
    browser.client.cookies.delete(SESSION_COOKIE)
    assert browser.get("/book").status_code == 303


def test_a_page_of_another_role_is_refused(browser: Browser, world: World) -> None:
    browser.sign_in(world.requester).language("en")
    refused = browser.get("/board")
    assert refused.status_code == 403
    assert "Your role does not give access to this page" in refused.text
    browser.sign_in(world.dispatcher)
    assert browser.get("/book").status_code == 403
    assert browser.get("/schedule").status_code == 403


def test_the_front_door_sends_each_role_home(browser: Browser, world: World) -> None:
    assert browser.get("/").headers["location"] == "/sign-in"
    browser.sign_in(world.dispatcher)
    assert browser.get("/").headers["location"] == "/board"


def test_the_language_switch_changes_the_pages_and_the_user_s_locale(
    db: Session, browser: Browser, world: World
) -> None:
    browser.sign_in(world.requester)
    response = browser.post("/language", {"locale": "nl", "next": "/bookings"})
    assert response.status_code == 303
    assert response.headers["location"] == "/bookings"
    page = browser.get("/bookings")
    assert '<html lang="nl">' in page.text and "Mijn boekingen" in page.text
    db.refresh(world.requester)
    assert world.requester.locale == "nl"
    assert db.scalars(select(AuditLog).where(AuditLog.action == "user.updated")).first()


def test_the_browser_s_language_is_used_before_signing_in(browser: Browser) -> None:
    page = browser.get("/sign-in", headers={"Accept-Language": "nl-BE,nl;q=0.9,fr;q=0.8"})
    assert '<html lang="nl">' in page.text and "Aanmelden" in page.text


def test_the_language_switch_ignores_unknown_languages_and_foreign_addresses(
    browser: Browser,
) -> None:
    response = browser.post("/language", {"locale": "de", "next": "//evil.example/"})
    assert response.headers["location"] == "/sign-in"
    assert "truchement_lang" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "value",
    ["https://evil.example/", "//evil.example", "/\\evil", "javascript:alert(1)", "/a\nb", ""],
)
def test_only_local_paths_are_followed_after_sign_in(value: str) -> None:
    assert safe_next(value, "/home") == "/home"
    assert safe_next("/board?start=2026-12-01", "/home") == "/board?start=2026-12-01"


def test_malformed_form_bodies_are_refused_not_crashed(browser: Browser) -> None:
    response = browser.client.post(
        "/sign-in",
        content=b"--x\r\nbroken",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        follow_redirects=False,
    )
    assert response.status_code == 403
