"""The worker process: APScheduler 3 ticks, the database rows are the schedule.

Run it with ``truchement worker`` in its own process (one or several, on
PostgreSQL), never inside the web workers: each tick claims due rows, so any
number of workers share the load without sending anything twice. The
scheduler keeps its jobs in memory; nothing about messages lives in it.

Jobs: deliver what is due (every ``TRUCHEMENT_WORKER_INTERVAL_SECONDS``, 30 s),
expire unanswered offers (every minute, when the dispatch module provides
``booking.assignments.offers.expire_offers``), solve pending repair plans
(every interval too: work that fell through, or whose certification lapsed,
``booking.plans.repair``), the dispatchers' digest (cron, daily at
``TRUCHEMENT_DIGEST_HOUR`` in ``TRUCHEMENT_TIMEZONE``), and the privacy
retention run (cron, daily at 03:30 local; ``booking.privacy.retention``).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from booking.db import session_scope
from booking.outbox.events import dispatcher_digest
from booking.privacy.retention import RetentionPlan, apply_retention
from booking.types import utc_now
from notify.channels import Channels
from notify.delivery import DeliveryReport, deliver_due
from notify.settings import NotifySettings

log = logging.getLogger("truchement.notify")


def find_expire_offers() -> Callable[..., Any] | None:
    """``booking.assignments.offers.expire_offers`` if that module exists yet."""
    try:
        module = importlib.import_module("booking.assignments.offers")
    except ImportError:
        return None
    function = getattr(module, "expire_offers", None)
    return function if callable(function) else None


def expire_offers_job(
    session_factory: sessionmaker[Session],
    *,
    now: dt.datetime,
    timezone: str | None = None,
    offer_timeout_minutes: int | None = None,
) -> bool:
    """Expire unanswered offers in one transaction; ``False`` if there is nothing to call.

    ``timezone`` and ``offer_timeout_minutes`` are the service's settings
    (``TRUCHEMENT_TIMEZONE``, ``TRUCHEMENT_OFFER_TIMEOUT_MINUTES``); left out,
    the offers module reads them itself.
    """
    expire_offers = find_expire_offers()
    if expire_offers is None:
        return False
    with session_scope(session_factory) as session:
        expire_offers(
            session, now=now, timezone=timezone, offer_timeout_minutes=offer_timeout_minutes
        )
    return True


def repair_job(session_factory: sessionmaker[Session], *, now: dt.datetime) -> int:
    """Solve the pending repair plans (``booking.plans.repair``) in one transaction."""
    from booking.plans.repair import run_pending_repairs

    with session_scope(session_factory) as session:
        return len(run_pending_repairs(session, now=now))


def digest_job(
    session_factory: sessionmaker[Session], *, now: dt.datetime, settings: NotifySettings
) -> int:
    """Enqueue today's digests (once a day per dispatcher, whatever runs it twice)."""
    with session_scope(session_factory) as session:
        return dispatcher_digest(session, now=now, horizon_hours=settings.digest_horizon_hours)


RETENTION_HOUR = 3
RETENTION_MINUTE = 30
"""The retention run's local time: at night, after the digest's day is done."""


def retention_job(session_factory: sessionmaker[Session], *, now: dt.datetime) -> RetentionPlan:
    """Erase what the retention periods say is due, in one transaction (audited)."""
    with session_scope(session_factory) as session:
        plan = apply_retention(session, now=now)
    if plan.skipped:
        log.info("retention run: another worker is running it")
    elif any(plan.summary().values()):
        log.info("retention run: %s", plan.summary())
    return plan


@dataclass(slots=True)
class OnceResult:
    offers_expired: bool = False
    repairs: int = 0
    digests: int = 0
    report: DeliveryReport = field(default_factory=DeliveryReport)


def run_once(
    session_factory: sessionmaker[Session],
    *,
    channels: Channels,
    settings: NotifySettings,
    now: dt.datetime | None = None,
    digest: bool = False,
    timezone: str | None = None,
    offer_timeout_minutes: int | None = None,
) -> OnceResult:
    """``truchement worker --once``: expire offers, optionally the digest, then deliver all due."""
    result = OnceResult()
    instant = now or utc_now()
    result.offers_expired = expire_offers_job(
        session_factory,
        now=instant,
        timezone=timezone,
        offer_timeout_minutes=offer_timeout_minutes,
    )
    result.repairs = repair_job(session_factory, now=instant)
    if digest:
        result.digests = digest_job(session_factory, now=instant, settings=settings)
    while True:
        report = deliver_due(session_factory, channels=channels, now=now, settings=settings)
        result.report.merge(report)
        if report.claimed < settings.outbox_batch_size:
            return result


def _safely(name: str, job: Callable[[], Any]) -> Callable[[], None]:
    """A failing tick (database restarting) is logged; the next tick tries again."""

    def run() -> None:
        try:
            outcome = job()
        except Exception:
            log.exception("worker job %s failed", name)
            return
        if isinstance(outcome, DeliveryReport) and outcome.claimed:
            log.info("worker delivered: %s", outcome)

    return run


def build_scheduler(
    session_factory: sessionmaker[Session],
    *,
    channels: Channels,
    settings: NotifySettings,
    timezone: str,
    offer_timeout_minutes: int | None = None,
) -> Any:
    """The blocking scheduler with the worker's jobs (not started).

    ``timezone`` is ``TRUCHEMENT_TIMEZONE``: the digest's clock and the local
    days of the offers' expiry; ``offer_timeout_minutes`` the lifetime of a
    widened offer whose predecessor did not store its own.
    """
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = BlockingScheduler(
        timezone=dt.UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    scheduler.add_job(
        _safely(
            "deliver",
            lambda: deliver_due(session_factory, channels=channels, settings=settings),
        ),
        IntervalTrigger(seconds=settings.worker_interval_seconds),
        id="deliver",
        name="deliver due notifications",
        next_run_time=dt.datetime.now(dt.UTC),
    )
    if find_expire_offers() is not None:
        scheduler.add_job(
            _safely(
                "expire_offers",
                lambda: expire_offers_job(
                    session_factory,
                    now=utc_now(),
                    timezone=timezone,
                    offer_timeout_minutes=offer_timeout_minutes,
                ),
            ),
            IntervalTrigger(minutes=1),
            id="expire_offers",
            name="expire unanswered offers",
        )
    scheduler.add_job(
        _safely("repairs", lambda: repair_job(session_factory, now=utc_now())),
        IntervalTrigger(seconds=settings.worker_interval_seconds),
        id="repairs",
        name="re-staff work that fell through",
    )
    scheduler.add_job(
        _safely(
            "digest",
            lambda: digest_job(session_factory, now=utc_now(), settings=settings),
        ),
        CronTrigger(hour=settings.digest_hour, minute=0, timezone=timezone),
        id="digest",
        name="dispatcher digest",
    )
    scheduler.add_job(
        _safely("retention", lambda: retention_job(session_factory, now=utc_now())),
        CronTrigger(hour=RETENTION_HOUR, minute=RETENTION_MINUTE, timezone=timezone),
        id="retention",
        name="privacy retention",
    )
    return scheduler
