"""API tokens that worked a moment ago, remembered for a few seconds in this process.

Every API call used to begin with a round trip to the database for its
caller (the token, then its user): under load that was a third of a read's
queries. A token that was found live is remembered here for
``ttl`` seconds (``TRUCHEMENT_AUTH_CACHE_SECONDS``, 5 by default; 0 turns
it off) with a detached copy of its user, which each request merges into
its own session without a query (``Session.merge(load=False)``).

What may be stale, and for how long: a change made in *this* process to a
user (role, organisation, deactivation, sign-out) or to their tokens
(revocation) forgets the user's entries when it is flushed and again when
it commits (a session event below). A change made by another process (the
other web workers, the CLI, another machine) is seen once the entry ends:
at most ``ttl`` seconds after it. A token's own expiry is checked on every
request, cached or not.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, UOWTransaction, make_transient_to_detached

from booking.users.models import ApiToken, User

ANY_USER = 0
"""Forget every entry: a token changed whose user is not known without a query."""
MAX_ENTRIES = 10_000
"""Beyond this many tokens the least recently used are forgotten."""
_PENDING_KEY = "token_cache.changed_users"


@dataclass(frozen=True)
class CachedToken:
    """What a request needs of a live token without reading it again."""

    user: User
    """Detached (in no session): merge it, never change it."""
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    stored_at: float


def detached_copy(user: User) -> User:
    """A copy of ``user``'s columns that belongs to no session, as if just loaded."""
    columns = {attr.key: getattr(user, attr.key) for attr in inspect(User).column_attrs}
    copy = User(**columns)
    make_transient_to_detached(copy)
    return copy


class TokenCache:
    """Token hash → the caller, for ``ttl`` seconds, at most ``max_entries`` tokens."""

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, CachedToken] = OrderedDict()
        self._lock = threading.Lock()
        _CACHES.add(self)

    def get(self, token_hash: str) -> CachedToken | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(token_hash)
            if entry is None:
                return None
            if self.clock() - entry.stored_at >= self.ttl:
                del self._entries[token_hash]
                return None
            self._entries.move_to_end(token_hash)
            return entry

    def put(self, token_hash: str, token: ApiToken, user: User) -> None:
        if self.ttl <= 0:
            return
        entry = CachedToken(
            user=detached_copy(user),
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            stored_at=self.clock(),
        )
        with self._lock:
            self._entries[token_hash] = entry
            self._entries.move_to_end(token_hash)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget_users(self, user_ids: set[int]) -> None:
        """Forget every token of these users (changed, deactivated, a token revoked)."""
        if not user_ids:
            return
        with self._lock:
            if ANY_USER in user_ids:
                self._entries.clear()
                return
            stale = [key for key, entry in self._entries.items() if entry.user.id in user_ids]
            for key in stale:
                del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class _Caches:
    """The caches of this process (one per app), held weakly so a dropped app frees its own."""

    def __init__(self) -> None:
        self._caches: weakref.WeakSet[TokenCache] = weakref.WeakSet()

    def add(self, cache: TokenCache) -> None:
        self._caches.add(cache)

    def forget_users(self, user_ids: set[int]) -> None:
        for cache in list(self._caches):
            cache.forget_users(user_ids)


_CACHES = _Caches()


def _changed_users(session: Session) -> set[int]:
    """The users whose row, or one of whose tokens, this flush changes or deletes."""
    ids: set[int] = set()
    for instance in (*session.dirty, *session.deleted):
        # Read from the instance's state, never through attributes: an expired one
        # would be loaded here, in the middle of a flush.
        state = inspect(instance)
        if isinstance(instance, User) and state.identity is not None:
            ids.add(state.identity[0])
        elif isinstance(instance, ApiToken) and (
            instance in session.deleted or not _only_last_used(instance)
        ):
            ids.add(state.dict.get("user_id") or ANY_USER)
    return ids


def _only_last_used(token: ApiToken) -> bool:
    """Whether all that changed is ``last_used_at``, moved forward (the lookup's own write):
    that changes nothing about who the token lets in."""
    state = inspect(token)
    changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
    if not changed <= {"last_used_at"}:
        return False
    history = state.attrs.last_used_at.history
    before = [value for value in history.deleted if value is not None]
    after = [value for value in history.added if value is not None]
    return bool(after) and all(old <= new for old in before for new in after)


@event.listens_for(Session, "before_flush")
def _forget_on_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    """Forget at once, and remember to forget again at commit: a request that read the
    old row meanwhile may have put it back."""
    ids = _changed_users(session)
    if ids:
        _CACHES.forget_users(ids)
        session.info.setdefault(_PENDING_KEY, set()).update(ids)


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING_KEY, None)
    if ids:
        _CACHES.forget_users(ids)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
