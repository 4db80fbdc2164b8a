"""Signing in and out, the language switch, and the front door."""

from __future__ import annotations

import math

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

from api.auth import clear_session_cookie, issue_session_cookie
from api.web.context import CheckedForm, Page, WebPage, home_for, safe_next
from api.web.i18n import LANGUAGE_COOKIE, LOCALES
from booking.users.service import end_web_sessions, sign_in, update_user
from booking.users.throttle import ThrottlePolicy

router = APIRouter(include_in_schema=False)

MAX_EMAIL_LENGTH = 320
MAX_PASSWORD_LENGTH = 1000


@router.get("/")
def front_door(page: WebPage) -> RedirectResponse:
    """Signed in: your home page; otherwise the sign-in page."""
    return page.redirect(home_for(page.user))


@router.get("/sign-in")
def sign_in_form(page: WebPage, next: str = "") -> Response:
    """The sign-in form (email and password)."""
    if page.user is not None:
        return page.redirect(safe_next(next, home_for(page.user)))
    return page.render(
        "sign_in.html", email="", next=safe_next(next, ""), failed=False, paused_minutes=0
    )


@router.post("/sign-in")
def sign_in_page(page: WebPage, form: CheckedForm) -> Response:
    """Check the password (argon2); on success set the session cookie and go on.

    Failed attempts are counted per account and per address
    (``booking.users.throttle``): past a few, signing in pauses with a
    growing delay, and while paused the password is not even checked (429).
    """
    email = form.get("email")[:MAX_EMAIL_LENGTH].lower()
    password = form.get("password")[:MAX_PASSWORD_LENGTH]
    next_url = safe_next(form.get("next"), "")
    address = page.request.client.host if page.request.client else None
    outcome = sign_in(
        page.db,
        email=email,
        password=password,
        address=address,
        policy=ThrottlePolicy.of(page.settings),
    )
    if outcome.wait_seconds:
        return _paused(page, email, next_url, outcome.wait_seconds)
    user = outcome.user
    if user is None:
        return page.render(
            "sign_in.html",
            status=401,
            email=email,
            next=next_url,
            failed=True,
            paused_minutes=0,
        )
    page.user = user
    page.rotate_nonce()
    page.extra_cookies.append(lambda r: issue_session_cookie(r, page.settings, user))
    return page.redirect(next_url or home_for(user))


def _paused(page: Page, email: str, next_url: str, wait: int) -> Response:
    """Signing in is paused for this account or address: say for how long (429)."""
    response = page.render(
        "sign_in.html",
        status=429,
        email=email,
        next=next_url,
        failed=False,
        paused_minutes=max(1, math.ceil(wait / 60)),
    )
    response.headers["Retry-After"] = str(wait)
    return response


@router.post("/sign-out")
def sign_out(page: WebPage, form: CheckedForm) -> RedirectResponse:
    """End the session: this browser's cookie, and every copy of it anywhere.

    The user's session generation moves on, so a replayed cookie is refused;
    that also signs the user out on their other browsers.
    """
    if page.user is not None:
        end_web_sessions(page.db, actor=page.user, user=page.user, action="user.signed_out")
    page.rotate_nonce()
    page.extra_cookies.append(clear_session_cookie)
    return page.redirect("/sign-in")


@router.post("/language")
def switch_language(page: WebPage, form: CheckedForm) -> RedirectResponse:
    """Show the pages in another language; a signed-in user keeps it as their locale."""
    locale = form.get("locale")
    back = safe_next(form.get("next"), home_for(page.user))
    if locale not in LOCALES:
        return page.redirect(back)
    if page.user is not None and page.user.locale != locale:
        with page.attempt():
            update_user(page.db, actor=page.user, user=page.user, changes={"locale": locale})
    page.extra_cookies.append(
        lambda r: r.set_cookie(
            LANGUAGE_COOKIE,
            locale,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=page.settings.base_url.startswith("https://"),
            path="/",
        )
    )
    return page.redirect(back)
