"""The `truchement` command: serve, db, seed, solve, bench, token, user, worker, solver, privacy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the command starts without loading the service it may not need
    from booking.settings import Settings

app = typer.Typer(
    name="truchement",
    help="Scheduling of social interpreters and integration ambassadors.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
seed_app = typer.Typer(help="Sample data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")


def fail(message: str, code: int = 1) -> typer.Exit:
    """One clear line on stderr and a non-zero exit, never a traceback."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _settings() -> Settings:
    from pydantic import ValidationError

    from booking.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise fail(f"bad setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    from booking.migrate import upgrade

    settings = _settings()
    try:
        upgrade(settings.database_url, revision)
    except Exception as exc:
        raise fail(f"migration failed: {exc}") from None
    typer.echo(f"database at {revision}: {_redacted(settings.database_url)}")


@seed_app.command("demo")
def seed_demo(
    seed: int = typer.Option(7, help="Random seed; the same seed gives the same data."),
) -> None:
    """Fill an empty database with realistic demo data of the border area."""
    from booking.db import make_engine, make_session_factory, session_scope
    from booking.demo import DemoRefused, seed_demo_data

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            summary = seed_demo_data(session, seed=seed)
    except DemoRefused as exc:
        raise fail(str(exc)) from None
    typer.echo(summary)


FIRST_ADMIN_HINT = (
    "empty database: create the first admin with `truchement user create --email EMAIL "
    '--role admin --organisation "NAME" --create-organisation`'
)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(1, help="Uvicorn worker processes (PostgreSQL only)."),
) -> None:
    """Run the web service; on the embedded SQLite default, migrate on start, and in
    development seed the demo into an empty database."""
    import uvicorn

    from booking.migrate import is_up_to_date

    settings = _settings()
    _refuse_public_bind_with_a_weak_secret(host, settings.secret_key)
    if settings.is_sqlite:
        _prepare_embedded_database(
            settings.database_url, seed_demo=settings.environment == "development"
        )
        workers = 1
    elif not is_up_to_date(settings.database_url):
        raise fail("the database schema is not up to date: run `truchement db upgrade`")
    if _database_is_empty(settings.database_url):
        typer.echo(FIRST_ADMIN_HINT)
    typer.echo(f"Truchement on http://{host}:{port}/  (API docs: /api/v1/docs)")
    if settings.runs_embedded_solver:
        typer.echo("plans are solved in this process (one solver thread)")
    else:
        typer.echo("plans are queued for `truchement solver` processes")
    uvicorn.run(
        "api.serving:create_served_app", factory=True, host=host, port=port, workers=workers
    )


def _refuse_public_bind_with_a_weak_secret(host: str, secret: str) -> None:
    """Development's placeholder secret is public: anyone could forge a session cookie.

    On the loopback interface only this machine can reach the service; on any
    other, the service must have a real secret (outside development the
    settings already insist on one).
    """
    from booking.settings import MIN_SECRET_BYTES, weak_secret

    if weak_secret(secret) and not is_loopback(host):
        raise fail(
            f"refusing to listen on {host} with the placeholder (or a short) secret key: "
            "anyone could forge a session. Set TRUCHEMENT_SECRET_KEY to a secret of at least "
            f"{MIN_SECRET_BYTES} bytes (`openssl rand -hex 32`), or listen on 127.0.0.1.",
            2,
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may well be reachable from elsewhere


def _prepare_embedded_database(url: str, *, seed_demo: bool) -> None:
    """Migrate; in development only, fill an empty database with the demo (password `demo`)."""
    from booking.db import make_engine, make_session_factory, session_scope
    from booking.demo import database_is_empty, seed_demo_data
    from booking.migrate import upgrade

    upgrade(url)
    if not seed_demo:
        return
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        if database_is_empty(session):
            typer.echo(seed_demo_data(session, seed=7))
    engine.dispose()


def _database_is_empty(url: str) -> bool:
    from booking.db import make_engine, make_session_factory, session_scope
    from booking.demo import database_is_empty

    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            return database_is_empty(session)
    finally:
        engine.dispose()


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _register() -> None:
    from truchement import matcher_cli

    matcher_cli.register(app)
    from truchement import worker_cli

    worker_cli.register(app)
    from truchement import solver_cli

    solver_cli.register(app)
    from truchement import token_cli

    token_cli.register(app)
    from truchement import user_cli

    user_cli.register(app)
    from truchement import privacy_cli

    privacy_cli.register(app)


_register()


if __name__ == "__main__":
    app()
