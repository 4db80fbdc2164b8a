"""Web sessions and CSRF tokens.

The session itself is ``api.auth``'s signed cookie (one implementation for
the API and the pages: ``issue_session_cookie``, ``user_from_session_cookie``).
This module adds what only forms need:

- a per-browser random nonce in its own cookie (``SameSite=Lax``,
  ``HttpOnly``), replaced at sign-in and sign-out;
- the CSRF token every form carries: an HMAC of that nonce and of the
  session cookie under the service's secret. A token is therefore worthless
  in another browser, after signing out, or for another user, and another
  site can neither read it nor compute it. Every POST handler checks it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from fastapi import Response

from api.auth import SESSION_COOKIE
from booking.settings import Settings

CSRF_COOKIE = "truchement_csrf"
CSRF_FIELD = "csrf_token"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def new_nonce() -> str:
    """A fresh random nonce for the CSRF cookie."""
    return secrets.token_urlsafe(32)


def valid_nonce(value: str | None) -> bool:
    """Whether a cookie value looks like a nonce we issued (anything else is replaced)."""
    return value is not None and _NONCE.fullmatch(value) is not None


def csrf_token(settings: Settings, nonce: str, session_cookie: str | None) -> str:
    """The token forms of this browser and session must send back."""
    message = f"csrf|{nonce}|{session_cookie or ''}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def csrf_ok(
    settings: Settings, nonce: str | None, session_cookie: str | None, token: str | None
) -> bool:
    """Whether ``token`` is the one this browser's nonce and session call for."""
    if not valid_nonce(nonce) or not token or len(token) != 64:
        return False
    assert nonce is not None
    return hmac.compare_digest(csrf_token(settings, nonce, session_cookie), token)


def set_nonce_cookie(response: Response, settings: Settings, nonce: str) -> None:
    """Give the browser its CSRF nonce (only this site's own requests carry it)."""
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        max_age=settings.session_max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
        path="/",
    )


def session_cookie_of(cookies: dict[str, str]) -> str | None:
    """The raw session cookie of a request, if any."""
    return cookies.get(SESSION_COOKIE)
