"""Who is calling, and may they call this: bearer tokens, the web session cookie, roles.

``current_user`` accepts, in this order:

1. ``Authorization: Bearer <token>``: an opaque API token whose SHA-256 is
   looked up in ``api_token``; it must be neither revoked nor expired, and
   its user must be active. Any other ``Authorization`` scheme is refused.
2. Only when no ``Authorization`` header is sent: the signed session cookie
   the web pages set at sign-in (``issue_session_cookie``). It names the user
   and their session generation (``user.session_generation``); raising the
   generation (sign-out, a password change, deactivation, an admin's "sign
   out everywhere") ends every session of the user at once, whichever worker
   serves the next request. A request signed in by cookie that changes
   something must not come from another site.

Anything else is a 401 problem with ``WWW-Authenticate: Bearer``. Roles are
checked by ``require_roles`` (403); ``admin`` is not implicitly every role,
each endpoint lists the roles it accepts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeGuard
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from api.deps import AppSettings, DbSession
from api.errors import ApiError
from booking.settings import Settings
from booking.types import utc_now
from booking.users.models import ApiToken, User
from booking.users.token_cache import TokenCache
from booking.users.tokens import hash_token
from booking.vocabulary import UserRole

SESSION_COOKIE = "truchement_session"
SESSION_SALT = "truchement.session"
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
"""``api_token.last_used_at`` is written at most once a minute per token, not on every call."""

MAX_TOKEN_LENGTH = 200
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="An API token, created by an admin (`truchement token create`).",
)
session_cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="sessionCookie",
    description="The web pages' signed session cookie (set at sign-in).",
)

_CHALLENGE = 'Bearer realm="truchement"'


def _unauthenticated() -> ApiError:
    return ApiError(401, "unauthenticated", headers={"WWW-Authenticate": _CHALLENGE})


def _invalid_token() -> ApiError:
    return ApiError(
        401,
        "invalid_token",
        headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
    )


def _session_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=SESSION_SALT)


def session_cookie_value(settings: Settings, user: User) -> str:
    """The signed value of a session cookie for ``user``: their id and session generation."""
    claims = {"uid": user.id, "gen": user.session_generation}
    return str(_session_serializer(settings).dumps(claims))


def session_claims(settings: Settings, value: str) -> tuple[int, int] | None:
    """The user id and generation a cookie was signed for; ``None`` if forged, damaged,
    too old, or signed before sessions had a generation."""
    try:
        data: Any = _session_serializer(settings).loads(
            value, max_age=settings.session_max_age_seconds
        )
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    uid, generation = data.get("uid"), data.get("gen")
    if not _whole(uid) or not _whole(generation):
        return None
    return uid, generation


def _whole(value: object) -> TypeGuard[int]:
    """An ``int`` and not a ``bool`` (``True`` is an ``int`` to Python, not to a cookie)."""
    return isinstance(value, int) and not isinstance(value, bool)


def user_from_session_cookie(db: Session, settings: Settings, value: str) -> User | None:
    """The active user a session cookie signs in, or ``None`` if it is not (or no longer) valid.

    A cookie of an earlier generation was ended (sign-out, new password,
    "sign out everywhere") even though its signature and age are fine.
    """
    claims = session_claims(settings, value)
    if claims is None:
        return None
    user_id, generation = claims
    user = db.get(User, user_id)
    if user is None or not user.is_active or user.session_generation != generation:
        return None
    return user


def issue_session_cookie(response: Response, settings: Settings, user: User) -> None:
    """Sign ``user`` in on the web pages (call after checking their password).

    ``SameSite=Lax`` keeps the cookie off cross-site form posts; it is
    ``Secure`` whenever the service is served over HTTPS.
    """
    response.set_cookie(
        SESSION_COOKIE,
        session_cookie_value(settings, user),
        max_age=settings.session_max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    """Sign out of the web pages."""
    response.delete_cookie(SESSION_COOKIE, path="/")


def token_cache_of(request: Request) -> TokenCache | None:
    cache = getattr(request.app.state, "token_cache", None)
    return cache if isinstance(cache, TokenCache) else None


def _cached_user(db: Session, cache: TokenCache | None, token_hash: str) -> User | None:
    """The caller of a token that worked a moment ago, put in ``db`` without a query.

    ``None`` (look it up) when unknown, expired since, or due a ``last_used_at`` write.
    """
    entry = cache.get(token_hash) if cache is not None else None
    if entry is None:
        return None
    now = utc_now()
    if entry.expires_at is not None and entry.expires_at <= now:
        return None
    if entry.last_used_at is None or now - entry.last_used_at >= LAST_USED_RESOLUTION:
        return None
    present = db.identity_map.get(identity_key(User, entry.user.id))
    if isinstance(present, User):
        return present
    return db.merge(entry.user, load=False)


def _user_from_token(db: Session, cache: TokenCache | None, token_hash: str) -> User:
    """The token's live user, read with the token in one query (and remembered briefly)."""
    found = db.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash)
    ).first()
    now = utc_now()
    if found is None:
        raise _invalid_token()
    row, user = found
    if row.revoked_at is not None or not user.is_active:
        raise _invalid_token()
    if row.expires_at is not None and row.expires_at <= now:
        raise _invalid_token()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        db.flush()
    if cache is not None:
        cache.put(token_hash, row, user)
    return user


def _same_origin(request: Request, settings: Settings) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    allowed = {_origin_of(settings.base_url), _origin_of(str(request.base_url))}
    return _origin_of(origin) in allowed


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def current_user(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    session_cookie: Annotated[str | None, Depends(session_cookie_scheme)],
) -> User:
    """The signed-in user of this request, or a 401 problem.

    Async so that a token found in the cache costs no trip to a worker
    thread; the database lookups run in one.
    """
    if "authorization" in request.headers:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise _invalid_token()
        token = credentials.credentials.strip()
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise _invalid_token()
        token_hash = hash_token(token)
        cache = token_cache_of(request)
        cached = _cached_user(db, cache, token_hash)
        if cached is not None:
            user = cached
        else:
            user = await run_in_threadpool(_user_from_token, db, cache, token_hash)
    elif session_cookie:
        signed_in = await run_in_threadpool(user_from_session_cookie, db, settings, session_cookie)
        if signed_in is None:
            raise _unauthenticated()
        user = signed_in
        if request.method not in SAFE_METHODS and not _same_origin(request, settings):
            raise ApiError(403, "cross_origin")
    else:
        raise _unauthenticated()
    request.state.user_id = user.id
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_roles(*roles: str) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets through only users whose role is one of ``roles`` (else 403)."""
    allowed = frozenset(UserRole(role) for role in roles)
    if not allowed:
        raise ValueError("require_roles needs at least one role")
    listed = ", ".join(sorted(allowed))

    async def _check(user: CurrentUser) -> User:  # async: no worker thread for a comparison
        if user.role not in allowed:
            raise ApiError(403, "forbidden_role", params={"roles": listed})
        return user

    _check.__name__ = f"require_{'_or_'.join(sorted(allowed))}"
    return _check


DispatcherUser = Annotated[User, Depends(require_roles(UserRole.DISPATCHER))]
AdminUser = Annotated[User, Depends(require_roles(UserRole.ADMIN))]
