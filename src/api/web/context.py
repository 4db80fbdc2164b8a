"""What every page handler gets: the signed-in user, the language, the CSRF token, rendering.

``WebPage`` is any visitor; ``RequesterPage``, ``DispatcherPage`` and
``ProviderPage`` let through only those roles (a visitor who is not signed
in is sent to the sign-in page, one with another role gets a 403 page).
``CheckedForm`` is a POSTed form whose CSRF token was verified.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from api import VERSION
from api.auth import user_from_session_cookie
from api.deps import AppSettings, get_db
from api.web.i18n import LOCALES, Translator, choose_locale
from api.web.session import (
    CSRF_COOKIE,
    CSRF_FIELD,
    csrf_ok,
    csrf_token,
    new_nonce,
    session_cookie_of,
    set_nonce_cookie,
    valid_nonce,
)
from booking.errors import DomainError
from booking.settings import Settings
from booking.users.models import User
from booking.vocabulary import UserRole

WEB_DIR = Path(__file__).resolve().parent
AnyResponse = TypeVar("AnyResponse", bound=Response)
MAX_FIELD_LENGTH = 5000

SECURITY_HEADERS: dict[str, str] = {
    # No inline script or style anywhere: what the pages need is in /static.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # Pages show health and asylum matters: never keep them in a shared cache.
    "Cache-Control": "no-store",
}

HOME_BY_ROLE: dict[str, str] = {
    UserRole.REQUESTER: "/bookings",
    UserRole.DISPATCHER: "/board",
    UserRole.ADMIN: "/board",
    UserRole.PROVIDER: "/schedule",
}

NAVIGATION: dict[str, tuple[tuple[str, str], ...]] = {
    UserRole.REQUESTER: (("/book", "nav.book"), ("/bookings", "nav.my_bookings")),
    UserRole.DISPATCHER: (("/board", "nav.board"), ("/board/day", "nav.day_view")),
    UserRole.ADMIN: (("/board", "nav.board"), ("/board/day", "nav.day_view")),
    UserRole.PROVIDER: (
        ("/schedule", "nav.schedule"),
        ("/schedule/availability", "nav.availability"),
        ("/schedule/contact", "nav.contact"),
    ),
}


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(WEB_DIR / "templates")),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["locales"] = LOCALES
    env.globals["version"] = VERSION
    return env


TEMPLATES = _environment()


class SignInRequired(Exception):
    """The visitor must sign in first; they come back to ``next_url`` afterwards."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class PageError(Exception):
    """A refusal shown as a page (403, 404, 409...) in the visitor's language.

    The page is rendered when the error is raised, while the request's
    database session is still open: the handler only sends it.
    """

    def __init__(self, status: int, key: str, response: Response) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.response = response


def home_for(user: User | None) -> str:
    """Where a user lands after signing in."""
    if user is None:
        return "/sign-in"
    return HOME_BY_ROLE.get(user.role, "/sign-in")


def safe_next(value: str | None, default: str) -> str:
    """A local path to go back to after signing in; anything else (another site) is ignored."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(ch) < 32 for ch in value) or len(value) > 500:
        return default
    return value


@dataclass
class Page:
    """One request to a page: who asks, in which language, with which CSRF token."""

    request: Request
    db: Session
    settings: Settings
    user: User | None
    locale: str
    t: Translator
    nonce: str
    nonce_is_new: bool
    extra_cookies: list[Callable[[Response], None]] = field(default_factory=list)

    @property
    def csrf_token(self) -> str:
        return csrf_token(self.settings, self.nonce, session_cookie_of(dict(self.request.cookies)))

    @property
    def path(self) -> str:
        return self.request.url.path

    def navigation(self) -> list[tuple[str, str, bool]]:
        """The menu of the user's role: ``(href, label, is_current)``."""
        if self.user is None:
            return []
        items = NAVIGATION.get(self.user.role, ())
        return [(href, self.t(key), self.path == href) for href, key in items]

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """The page ``template`` with the common context, headers and cookies."""
        html = TEMPLATES.get_template(template).render(
            page=self,
            t=self.t,
            user=self.user,
            locale=self.locale,
            csrf_field=CSRF_FIELD,
            csrf_token=self.csrf_token,
            nav=self.navigation(),
            path=self.path,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        return self.finish(response)

    def redirect(self, url: str) -> RedirectResponse:
        """See Other: after a POST the browser GETs ``url`` (no resubmission on reload)."""
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: AnyResponse) -> AnyResponse:
        """Add the security headers and any cookie this request must set."""
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Language"] = self.locale
        response.headers["Vary"] = "Cookie, Accept-Language"
        if self.nonce_is_new:
            set_nonce_cookie(response, self.settings, self.nonce)
        for apply in self.extra_cookies:
            apply(response)
        return response

    def rotate_nonce(self) -> None:
        """A new CSRF nonce (at sign-in and sign-out: old tokens stop working)."""
        self.nonce = new_nonce()
        self.nonce_is_new = True

    def error(self, status: int, key: str, **params: Any) -> PageError:
        """A refusal page to raise: ``key`` names the sentence shown."""
        response = self.render(
            "error.html", status=status, message=self.t(key, **params), status_code=status
        )
        return PageError(status, key, response)

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """Run one service call in a SAVEPOINT: if it refuses, nothing of it is committed.

        The ``DomainError`` still propagates, for the handler to show it.
        """
        with self.db.begin_nested():
            yield

    def domain_message(self, error: DomainError) -> str:
        """A domain refusal in the page's language: by its code, else a sentence per status."""
        key = f"problem.{error.code}"
        if self.t.has(key):
            return self.t(key)
        return self.t(f"problem.status_{error.status}")


WebDb = Annotated[Session, Depends(get_db, scope="function")]
"""The request's transaction, committed before the response leaves (``scope="function"``).

With the default scope a dependency's exit code runs after the response is
sent: the browser could follow a redirect before the commit and not find
what it just created, and a failing commit would go unnoticed.
"""


def _page(request: Request, db: WebDb, settings: AppSettings) -> Page:
    cookies = dict(request.cookies)
    user: User | None = None
    session_cookie = session_cookie_of(cookies)
    if session_cookie:
        user = user_from_session_cookie(db, settings, session_cookie)
    locale = choose_locale(
        cookies, user.locale if user else None, request.headers.get("accept-language")
    )
    nonce = cookies.get(CSRF_COOKIE)
    is_new = not valid_nonce(nonce)
    return Page(
        request=request,
        db=db,
        settings=settings,
        user=user,
        locale=locale,
        t=Translator(locale, settings.timezone),
        nonce=new_nonce() if is_new or nonce is None else nonce,
        nonce_is_new=is_new,
    )


WebPage = Annotated[Page, Depends(_page)]


def _for_roles(*roles: UserRole) -> Callable[[Page], Page]:
    allowed = frozenset(roles)

    def _check(page: WebPage) -> Page:
        if page.user is None:
            target = page.request.url.path
            if page.request.method == "GET" and page.request.url.query:
                target += "?" + page.request.url.query
            raise SignInRequired(target)
        if page.user.role not in allowed:
            raise page.error(403, "error.forbidden")
        return page

    return _check


RequesterPage = Annotated[Page, Depends(_for_roles(UserRole.REQUESTER))]
DispatcherPage = Annotated[Page, Depends(_for_roles(UserRole.DISPATCHER, UserRole.ADMIN))]
ProviderPage = Annotated[Page, Depends(_for_roles(UserRole.PROVIDER))]
SignedInPage = Annotated[Page, Depends(_for_roles(*UserRole))]


class Form:
    """A POSTed form: the first value of a field, or all of them, as text."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = values

    def get(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found[0].strip() if found else default

    def getlist(self, name: str) -> list[str]:
        return [v.strip() for v in self.values.get(name, []) if v.strip()]

    def has(self, name: str) -> bool:
        return name in self.values

    def fields(self, *, besides: tuple[str, ...] = ()) -> dict[str, str | list[str]]:
        """Every field (lists for repeated ones), except ``besides`` and the CSRF token."""
        skip = {CSRF_FIELD, *besides}
        return {
            key: (values if len(values) > 1 else values[0])
            for key, values in self.values.items()
            if key not in skip
        }


async def _posted(request: Request) -> dict[str, list[str]]:
    try:
        form = await request.form()
    except Exception:  # a malformed body is the client's fault, never a 500
        return {}
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, []).append(value[:MAX_FIELD_LENGTH])
    return values


def _checked(page: WebPage, values: Annotated[dict[str, list[str]], Depends(_posted)]) -> Form:
    form = Form(values)
    session_cookie = session_cookie_of(dict(page.request.cookies))
    cookie_nonce = page.request.cookies.get(CSRF_COOKIE)
    if not csrf_ok(page.settings, cookie_nonce, session_cookie, form.get(CSRF_FIELD)):
        raise page.error(403, "error.csrf")
    return form


CheckedForm = Annotated[Form, Depends(_checked)]


def sign_in_url(next_url: str) -> str:
    return "/sign-in?next=" + quote(next_url, safe="/")


def form_id() -> str:
    """A one-off id a form carries so that submitting it twice books once."""
    return secrets.token_urlsafe(16)
