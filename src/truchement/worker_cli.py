"""`truchement worker`: deliver the outbox, in its own process.

``truchement worker`` runs the scheduler until stopped (Ctrl-C, SIGTERM);
``truchement worker --once`` delivers what is due and exits, for cron users
and tests; ``--now`` fixes the clock of a ``--once`` run (ISO 8601 with an
offset) and ``--digest`` adds the dispatchers' daily digest to it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    """Add ``worker`` to the `truchement` application."""
    app.command("worker")(worker_command)


def _fail(message: str, code: int = 1) -> typer.Exit:
    from truchement.cli import fail

    return fail(message, code)


def _parse_now(value: str) -> dt.datetime:
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"--now: {value!r} is not an ISO 8601 instant", 2) from None
    if instant.tzinfo is None:
        raise _fail("--now needs an offset, e.g. 2026-12-01T08:00:00+01:00", 2)
    return instant


def worker_command(
    once: bool = typer.Option(False, "--once", help="Deliver what is due, then exit."),
    now: str | None = typer.Option(
        None, "--now", help="With --once: the current instant (ISO 8601 with offset)."
    ),
    digest: bool = typer.Option(
        False, "--digest", help="With --once: also enqueue today's dispatcher digest."
    ),
) -> None:
    """Send the notifications (email, SMS) that are due, with retries; never run it in the web."""
    from pydantic import ValidationError

    from booking.db import make_engine, make_session_factory
    from booking.settings import get_settings
    from notify.channels import build_channels
    from notify.settings import get_notify_settings

    if (now or digest) and not once:
        raise _fail("--now and --digest only make sense with --once", 2)
    instant = _parse_now(now) if now else None
    try:
        settings = get_settings()
        notify_settings = get_notify_settings()
        channels = build_channels(notify_settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "notification settings"
        raise _fail(f"bad setting {where}: {first['msg']}") from None
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise _fail(f"cannot set up the channels: {exc}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # One line per tick every 30 s says nothing; deliveries and failures are logged by notify.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    try:
        if once:
            from notify.worker import run_once

            result = run_once(
                session_factory,
                channels=channels,
                settings=notify_settings,
                now=instant,
                digest=digest,
                timezone=settings.timezone,
                offer_timeout_minutes=settings.offer_timeout_minutes,
            )
            typer.echo(f"{result.report}; digests enqueued {result.digests}")
            return
        from notify.worker import build_scheduler

        scheduler = build_scheduler(
            session_factory,
            channels=channels,
            settings=notify_settings,
            timezone=settings.timezone,
            offer_timeout_minutes=settings.offer_timeout_minutes,
        )

        def _stop(_signum: int, _frame: Any) -> None:
            scheduler.shutdown(wait=False)

        signal.signal(signal.SIGTERM, _stop)
        typer.echo("worker started; Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            scheduler.start()
    finally:
        engine.dispose()
