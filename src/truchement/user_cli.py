"""`truchement user create`: an account made from the server's shell, the first admin above all.

A production database starts empty (the demo is seeded only in development),
and every other account is made through the API or by an admin: this is how
the first admin comes to exist. The password is asked for twice, hidden
(or given with ``--password``), and kept as an argon2 hash only. The
organisation is found by id or exact name; ``--create-organisation`` creates
it when it does not exist yet. Every change is audited with no actor (the
system), as it is not made through the API.
"""

from __future__ import annotations

from typing import Any

import typer

from booking.vocabulary import Country, Locale, OrganisationKind, UserRole

user_app = typer.Typer(help="User accounts: create the first admin.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``user`` to the `truchement` application."""
    app.add_typer(user_app, name="user")


def _fail(message: str, code: int = 1) -> typer.Exit:
    from truchement.cli import fail

    return fail(message, code)


def _session_factory() -> Any:
    from booking.db import make_engine, make_session_factory
    from truchement.cli import _settings

    return make_session_factory(make_engine(_settings().database_url))


def _email(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise _fail(f"--email: {value!r} is not a valid email address", 2) from None


@user_app.command("create")
def create_command(
    email: str = typer.Option(..., "--email", help="The address the user signs in with."),
    role: UserRole = typer.Option(..., "--role", help="admin, dispatcher, requester or provider."),
    organisation: str = typer.Option(
        ..., "--organisation", help="The organisation's id or exact name."
    ),
    create_organisation: bool = typer.Option(
        False,
        "--create-organisation",
        help="Create the organisation (named as given) if there is none by that name.",
    ),
    kind: OrganisationKind = typer.Option(
        OrganisationKind.PROVIDING, "--kind", help="A created organisation's kind."
    ),
    country: Country = typer.Option(
        Country.BE, "--country", help="A created organisation's country."
    ),
    full_name: str | None = typer.Option(
        None, "--name", help="Full name (default: the part of the email before the @)."
    ),
    locale: Locale = typer.Option(Locale.FR, "--locale", help="fr, nl or en."),
    password: str = typer.Option(
        ...,
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="For the web sign-in; asked for (hidden, twice) when not given.",
    ),
) -> None:
    """Create a user with a password for the web sign-in (the first admin of a new service)."""
    from sqlalchemy import select

    from api.schemas.users import MIN_PASSWORD_LENGTH
    from booking.db import session_scope
    from booking.errors import DomainError
    from booking.organisations.models import Organisation
    from booking.organisations.service import create_organisation as add_organisation
    from booking.users.service import create_user

    address = _email(email)
    if not MIN_PASSWORD_LENGTH <= len(password) <= 200:
        raise _fail(f"the password must have {MIN_PASSWORD_LENGTH} to 200 characters", 2)
    name = organisation.strip()
    if not name:
        raise _fail("--organisation must not be empty", 2)
    by_id = name.isdigit() and len(name) < 10
    try:
        with session_scope(_session_factory()) as session:
            if by_id:
                found = session.get(Organisation, int(name))
            else:
                found = session.scalars(
                    select(Organisation).where(Organisation.name == name).order_by(Organisation.id)
                ).first()
            created = found is None
            if found is None:
                if by_id:
                    raise _fail(f"no organisation with id {name}")
                if not create_organisation:
                    raise _fail(f"no organisation {name!r}; add --create-organisation to create it")
                found = add_organisation(
                    session, actor=None, name=name[:200], kind=kind, country=country
                )
            user = create_user(
                session,
                actor=None,
                organisation_id=found.id,
                email=address,
                full_name=(full_name or "").strip()[:200] or address.split("@")[0],
                role=role,
                locale=locale,
                password=password,
            )
            lines = (
                [f"organisation {found.id} {found.name!r} created ({found.kind}, {found.country})"]
                if created
                else []
            )
            where = f"organisation {found.id} {found.name!r}"
            lines.append(f"user {user.id} {user.email} ({user.role}) in {where}")
    except DomainError as exc:
        raise _fail(exc.detail) from None
    typer.echo("\n".join(lines))
