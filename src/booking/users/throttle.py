"""A brake on guessing passwords: failed sign-ins pause signing in, per account and per address.

Each failure counts against the account (the email typed, whether or not an
account has it) and against the client's address. The first failures are
free (``account_attempts``, ``address_attempts``: a few typos, an office of
colleagues behind one address); each failure past them pauses signing in for
that account or address, 30 seconds at first and twice as long after every
further failure, up to ``max_pause_seconds``. While paused, an attempt is
refused before the password is even checked. A successful sign-in clears its
account's count (not the address's, or one valid account would reset it for
an attacker); counts are forgotten a day after the last failure.

The counts live in the database, read with ``SELECT ... FOR UPDATE`` and
increased in place, so every worker process applies the same brake and
concurrent failures are all counted. Starting a pause is audited.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.audit import record_audit
from booking.settings import Settings
from booking.types import ensure_aware, utc_now
from booking.users.models import SignInThrottle, User

FIRST_PAUSE_SECONDS = 30
FORGET_AFTER = dt.timedelta(days=1)
"""Failures older than this (counted from the last one) no longer count."""
MAX_KEY_LENGTH = 320


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many failures are free, and the longest pause (the service's settings)."""

    account_attempts: int = 5
    address_attempts: int = 20
    max_pause_seconds: int = 15 * 60

    @classmethod
    def of(cls, settings: Settings) -> ThrottlePolicy:
        """The brake as the service's settings tune it."""
        return cls(
            account_attempts=settings.sign_in_account_attempts,
            address_attempts=settings.sign_in_address_attempts,
            max_pause_seconds=settings.sign_in_max_pause_seconds,
        )

    def free_attempts(self, scope: str) -> int:
        return self.account_attempts if scope == "account" else self.address_attempts

    def pause(self, scope: str, failures: int) -> dt.timedelta | None:
        """The pause after the ``failures``-th failure in a row, or ``None`` while free."""
        past = failures - self.free_attempts(scope)
        if past < 0:
            return None
        seconds = min(self.max_pause_seconds, FIRST_PAUSE_SECONDS * 2 ** min(past, 20))
        return dt.timedelta(seconds=seconds)


def _keys(email: str, address: str | None) -> list[tuple[str, str]]:
    keys = [("account", email.strip().lower()[:MAX_KEY_LENGTH])]
    if address:
        keys.append(("address", address[:MAX_KEY_LENGTH]))
    return keys


def seconds_to_wait(
    db: Session, *, email: str, address: str | None, now: dt.datetime | None = None
) -> int:
    """How long signing in is still paused for this account or address (0: go ahead)."""
    now = ensure_aware(now) if now is not None else utc_now()
    wait = 0.0
    for scope, key in _keys(email, address):
        row = db.scalars(
            select(SignInThrottle).where(SignInThrottle.scope == scope, SignInThrottle.key == key)
        ).first()
        if row is not None and row.locked_until is not None and row.locked_until > now:
            wait = max(wait, (row.locked_until - now).total_seconds())
    return math.ceil(wait)


def _locked_row(db: Session, scope: str, key: str, now: dt.datetime) -> SignInThrottle:
    """The row of ``(scope, key)``, locked for this transaction; created if missing."""
    query = (
        select(SignInThrottle)
        .where(SignInThrottle.scope == scope, SignInThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = db.scalars(query).first()
    if row is not None:
        return row
    try:
        with db.begin_nested():
            row = SignInThrottle(scope=scope, key=key, failures=0, last_failure_at=now)
            db.add(row)
            db.flush()
        return row
    except IntegrityError:
        # Another worker counted the first failure at the same moment.
        return db.scalars(query).one()


def record_failure(
    db: Session,
    *,
    email: str,
    address: str | None,
    user: User | None,
    policy: ThrottlePolicy,
    now: dt.datetime | None = None,
) -> int:
    """Count a failed sign-in; the seconds the next attempt must wait (0 if none).

    ``user`` is the account the email belongs to, if any: the audit entry of
    a pause names its organisation.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    _forget_old(db, now)
    wait = 0.0
    for scope, key in _keys(email, address):
        row = _locked_row(db, scope, key, now)
        if row.failures and now - row.last_failure_at > FORGET_AFTER:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        pause = policy.pause(scope, row.failures)
        if pause is None:
            continue
        row.locked_until = now + pause
        wait = max(wait, pause.total_seconds())
        db.flush()
        record_audit(
            db,
            actor=None,
            action="sign_in.paused",
            entity=row,
            changes={
                "scope": scope,
                "key": key,
                "failures": row.failures,
                "locked_until": row.locked_until,
                "user_id": user.id if user is not None and scope == "account" else None,
            },
            organisation_id=user.organisation_id if user is not None else None,
        )
    db.flush()
    return math.ceil(wait)


def _forget_old(db: Session, now: dt.datetime) -> None:
    """Drop the counts nobody added to for a day and that pause nothing any more."""
    db.execute(
        delete(SignInThrottle).where(
            SignInThrottle.last_failure_at < now - FORGET_AFTER,
            (SignInThrottle.locked_until.is_(None)) | (SignInThrottle.locked_until < now),
        )
    )


def record_success(db: Session, *, email: str) -> None:
    """A successful sign-in clears the account's count (the address keeps its own)."""
    db.execute(
        delete(SignInThrottle).where(
            SignInThrottle.scope == "account",
            SignInThrottle.key == email.strip().lower()[:MAX_KEY_LENGTH],
        )
    )
