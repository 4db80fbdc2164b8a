"""The sign-in brake's arithmetic, and its counting under concurrent failures."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from booking.models import SignInThrottle
from booking.users import throttle
from booking.users.throttle import ThrottlePolicy

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def test_the_pause_starts_past_the_free_attempts_doubles_and_is_capped() -> None:
    policy = ThrottlePolicy(account_attempts=3, address_attempts=10, max_pause_seconds=300)
    pauses = [policy.pause("account", n) for n in range(1, 9)]
    assert [p.total_seconds() if p else None for p in pauses] == [
        None, None, 30, 60, 120, 240, 300, 300
    ]  # fmt: skip
    assert policy.pause("address", 9) is None
    assert policy.pause("address", 10) == dt.timedelta(seconds=30)
    assert policy.pause("account", 10_000) == dt.timedelta(seconds=300)


def test_failures_are_forgotten_a_day_after_the_last_one(db: Session) -> None:
    policy = ThrottlePolicy(account_attempts=2)
    for _ in range(2):
        throttle.record_failure(
            db, email="Ana@Example.org", address=None, user=None, policy=policy, now=NOW
        )
    assert throttle.seconds_to_wait(db, email="ana@example.org", address=None, now=NOW) == 30
    later = NOW + dt.timedelta(days=1, minutes=1)
    assert throttle.seconds_to_wait(db, email="ana@example.org", address=None, now=later) == 0
    wait = throttle.record_failure(
        db, email="ana@example.org", address=None, user=None, policy=policy, now=later
    )
    assert wait == 0  # a fresh start: one failure, still free
    row = db.scalars(select(SignInThrottle)).one()
    assert (row.key, row.failures) == ("ana@example.org", 1)


@pytest.mark.postgres
def test_concurrent_failures_on_one_account_are_all_counted(
    committing_session_factory: sessionmaker[Session],
) -> None:
    policy = ThrottlePolicy(account_attempts=100, address_attempts=100)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def fail_once(number: int) -> None:
        try:
            with committing_session_factory() as session:
                barrier.wait()
                throttle.record_failure(
                    session,
                    email="target@example.org",
                    address=f"198.51.100.{number}",
                    user=None,
                    policy=policy,
                    now=NOW,
                )
                session.commit()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=fail_once, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with committing_session_factory() as session:
        row = session.scalars(select(SignInThrottle).where(SignInThrottle.scope == "account")).one()
        assert row.failures == 8
