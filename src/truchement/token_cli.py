"""`truchement token`: issue, list and revoke API tokens from the server's shell.

The first admin token has to come from somewhere: this is it. A token is
printed once, on stdout alone (so ``TOKEN=$(truchement token create ...)``
works); only its SHA-256 is stored. Every action is audited with no actor
(the system), as it is not made through the API.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``token`` to the `truchement` application."""
    app.add_typer(token_app, name="token")


def _fail(message: str, code: int = 1) -> typer.Exit:
    # Imported here: truchement.cli imports this module while it is being built.
    from truchement.cli import fail

    return fail(message, code)


def _session_factory() -> Any:
    from booking.db import make_engine, make_session_factory
    from truchement.cli import _settings

    return make_session_factory(make_engine(_settings().database_url))


def _when(instant: dt.datetime | None) -> str:
    return instant.isoformat(timespec="seconds") if instant is not None else "-"


def _state(revoked_at: dt.datetime | None, expires_at: dt.datetime | None) -> str:
    from booking.types import utc_now

    if revoked_at is not None:
        return f"revoked {_when(revoked_at)}"
    if expires_at is not None and expires_at <= utc_now():
        return "expired"
    return "active"


@token_app.command("create")
def create_command(
    user: str = typer.Option(..., "--user", help="Email of the user the token acts for."),
    name: str = typer.Option("cli", "--name", help="What the token is for (shown in lists)."),
    expires_days: int | None = typer.Option(
        None, "--expires-days", min=1, max=3650, help="Stop working after this many days."
    ),
) -> None:
    """Issue an API token for USER and print it, once."""
    from booking.db import session_scope
    from booking.errors import DomainError
    from booking.types import utc_now
    from booking.users import service

    expires_at = utc_now() + dt.timedelta(days=expires_days) if expires_days else None
    try:
        with session_scope(_session_factory()) as session:
            owner = service.find_user_by_email(session, user)
            row, token = service.create_token(
                session, actor=None, user=owner, name=name[:100], expires_at=expires_at
            )
            token_id = row.id
    except DomainError as exc:
        raise _fail(exc.detail) from None
    typer.echo(token)
    typer.secho(
        f"token {token_id} for {user.strip().lower()}, expires {_when(expires_at)}; "
        "it is shown only now",
        err=True,
    )


@token_app.command("revoke")
def revoke_command(
    token_id: int = typer.Option(..., "--id", min=1, help="The token's id (see `token list`)."),
) -> None:
    """Revoke a token: it stops working at once."""
    from booking.db import session_scope
    from booking.errors import DomainError
    from booking.users import service

    try:
        with session_scope(_session_factory()) as session:
            row = service.get_token(session, token_id)
            already = row.revoked_at is not None
            service.revoke_token(session, actor=None, token=row)
    except DomainError as exc:
        raise _fail(exc.detail) from None
    typer.echo(f"token {token_id} {'was already' if already else 'is now'} revoked")


@token_app.command("list")
def list_command(
    user: str = typer.Option(..., "--user", help="Email of the user whose tokens to list."),
) -> None:
    """List a user's tokens (never the tokens themselves)."""
    from booking.db import session_scope
    from booking.errors import DomainError
    from booking.users import service
    from booking.users.models import ApiToken

    try:
        with session_scope(_session_factory()) as session:
            owner = service.find_user_by_email(session, user)
            rows = session.scalars(
                service.token_query(session, user_id=owner.id).order_by(ApiToken.id)
            ).all()
            lines = [
                f"{row.id}\t{row.name}\tcreated {_when(row.created_at)}\t"
                f"last used {_when(row.last_used_at)}\texpires {_when(row.expires_at)}\t"
                f"{_state(row.revoked_at, row.expires_at)}"
                for row in rows
            ]
    except DomainError as exc:
        raise _fail(exc.detail) from None
    typer.echo("\n".join(lines) if lines else f"no tokens for {user}")
