"""Page tests: the real app through a test client, signed in by the real session cookie.

The app on the rolled-back session and its client are the API tests' (``tests/api``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.auth import SESSION_COOKIE, session_cookie_value
from api.web.i18n import LANGUAGE_COOKIE, MISSING
from api.web.session import CSRF_COOKIE, csrf_token, new_nonce
from booking.models import User
from booking.settings import Settings

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    """The CSRF token a rendered page put in its forms."""
    found = CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


class Browser:
    """A test client as one person's browser: signed in, in a language, posting forms."""

    def __init__(self, client: TestClient, settings: Settings, db: Session) -> None:
        self.client = client
        self.settings = settings
        self.db = db

    def sign_in(self, user: User) -> Browser:
        self.client.cookies.set(SESSION_COOKIE, session_cookie_value(self.settings, user))
        return self

    def language(self, locale: str) -> Browser:
        self.client.cookies.set(LANGUAGE_COOKIE, locale)
        return self

    def get(self, path: str, **kwargs: object):  # type: ignore[no-untyped-def]
        self.settle()
        return self.client.get(path, follow_redirects=False, **kwargs)  # type: ignore[arg-type]

    def settle(self) -> None:
        """Commit what the test set up (a SAVEPOINT release; the test still rolls back).

        A request that fails rolls the shared session back to its last commit:
        without this, the test's own rows would vanish with the request's.
        """
        self.db.commit()

    def token(self) -> str:
        """The CSRF token this browser's forms carry (its nonce cookie and session)."""
        nonce = self.client.cookies.get(CSRF_COOKIE)
        if nonce is None:
            nonce = new_nonce()
            self.client.cookies.set(CSRF_COOKIE, nonce)
        return csrf_token(self.settings, nonce, self.client.cookies.get(SESSION_COOKIE))

    def post(self, path: str, data: dict[str, object]):  # type: ignore[no-untyped-def]
        """POST a form as the page would, with this browser's CSRF token."""
        self.settle()
        return self.client.post(
            path, data={"csrf_token": self.token(), **data}, follow_redirects=False
        )


@pytest.fixture
def browser(client: TestClient, settings: Settings, db: Session) -> Browser:
    return Browser(client, settings, db)


@pytest.fixture(autouse=True)
def no_missing_translations() -> Iterator[None]:
    """Every page test also checks that no sentence fell back to English for lack of a key."""
    MISSING.clear()
    yield
    assert not MISSING, f"keys missing from the catalogues: {sorted(MISSING)}"


SignIn = Callable[[User], Browser]
