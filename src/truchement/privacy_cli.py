"""`truchement privacy`: the retention run by hand, and subject requests from the shell.

``truchement privacy retention --dry-run`` lists what the worker's nightly run
would erase (nothing changes); without ``--dry-run`` it erases it now, in one
transaction, audited. ``--now`` fixes the clock (ISO 8601 with an offset).
``export`` prints everything held under one beneficiary reference of one
organisation as JSON; ``erase`` anonymises those bookings. Both are audited
with no actor (the operator at the shell), as the API's are with the admin.
"""

from __future__ import annotations

import datetime as dt

import typer

privacy_app = typer.Typer(
    help="Privacy: retention of past sessions, notifications and the read log.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``privacy`` to the `truchement` application."""
    app.add_typer(privacy_app, name="privacy")


def _fail(message: str, code: int = 1) -> typer.Exit:
    from truchement.cli import fail

    return fail(message, code)


def _parse_now(value: str | None) -> dt.datetime:
    from booking.types import utc_now

    if value is None:
        return utc_now()
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"--now: {value!r} is not an ISO 8601 instant", 2) from None
    if instant.tzinfo is None:
        raise _fail("--now needs an offset, e.g. 2026-12-01T03:30:00+01:00", 2)
    return instant.astimezone(dt.UTC)


@privacy_app.command("retention")
def retention_command(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be erased; change nothing."
    ),
    now: str | None = typer.Option(None, "--now", help="The current instant (ISO 8601)."),
) -> None:
    """Erase past sessions' beneficiary data, old notification bodies and old read-log rows."""
    from booking.db import make_engine, make_session_factory, session_scope
    from booking.privacy.retention import apply_retention, retention_plan
    from truchement.cli import _settings

    instant = _parse_now(now)
    engine = make_engine(_settings().database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            if dry_run:
                plan = retention_plan(session, now=instant)
            else:
                plan = apply_retention(session, now=instant)
    finally:
        engine.dispose()
    if plan.skipped:
        raise _fail("another retention run is in progress; nothing erased")
    verb = "would erase" if dry_run else "erased"
    for booking in plan.bookings:
        typer.echo(
            f"booking {booking.id} {booking.reference} organisation {booking.organisation_id} "
            f"{booking.starts_at.isoformat(timespec='minutes')}: {', '.join(booking.fields)}"
        )
    summary = plan.summary()
    typer.echo(
        f"{verb}: {summary['bookings']} bookings, {summary['notifications']} notification "
        f"bodies, {summary['read_log_rows']} read-log rows"
    )


def _subject(action: str, organisation: int, reference: str) -> object:
    from booking.db import make_engine, make_session_factory, session_scope
    from booking.errors import DomainError
    from booking.privacy import subject
    from truchement.cli import _settings

    engine = make_engine(_settings().database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            if action == "export":
                return subject.beneficiary_export(
                    session, actor=None, organisation_id=organisation, reference=reference
                )
            return subject.erase_beneficiary(
                session, actor=None, organisation_id=organisation, reference=reference
            )
    except DomainError as exc:
        raise _fail(exc.detail) from None
    finally:
        engine.dispose()


@privacy_app.command("export")
def export_command(
    organisation: int = typer.Option(..., "--organisation", help="The organisation's id."),
    reference: str = typer.Option(..., "--reference", help="The beneficiary reference."),
) -> None:
    """Print everything held under one beneficiary reference as JSON (audited)."""
    import json

    typer.echo(json.dumps(_subject("export", organisation, reference), indent=2))


@privacy_app.command("erase")
def erase_command(
    organisation: int = typer.Option(..., "--organisation", help="The organisation's id."),
    reference: str = typer.Option(..., "--reference", help="The beneficiary reference."),
    yes: bool = typer.Option(False, "--yes", help="Erase without asking."),
) -> None:
    """Anonymise every booking under one beneficiary reference (audited; cannot be undone)."""
    if not yes and not typer.confirm(f"Erase the data of {reference!r}? This cannot be undone"):
        raise _fail("nothing erased", 1)
    erased = _subject("erase", organisation, reference)
    typer.echo(f"anonymised bookings: {erased}")
