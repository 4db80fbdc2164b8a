"""The `truchement` command's foundation: migrate, seed, and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from booking.db import make_engine, make_session_factory
from booking.models import Organisation, User
from booking.settings import get_settings
from booking.users.service import verify_password
from truchement.cli import app

runner = CliRunner()


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("TRUCHEMENT_DATABASE_URL", url)
    monkeypatch.delenv("TRUCHEMENT_ENVIRONMENT", raising=False)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


@pytest.fixture
def production(sqlite_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRUCHEMENT_ENVIRONMENT", "production")
    monkeypatch.setenv("TRUCHEMENT_SECRET_KEY", "a-real-secret-of-a-real-production-service")
    get_settings.cache_clear()
    return sqlite_env


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """``truchement serve`` prepares the database, then hands over to uvicorn: not here."""
    calls: list[dict[str, object]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append(kwargs))
    return calls


def users_in(url: str) -> list[tuple[str, str]]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return [(u.email, u.role) for u in session.scalars(select(User).order_by(User.id))]
    finally:
        engine.dispose()


def create_admin(*extra: str, password: str = "correct horse battery") -> Result:
    return runner.invoke(
        app,
        ["user", "create", "--email", "Chef@Setis.example.org", "--role", "admin", *extra],
        input=f"{password}\n{password}\n",
    )


def test_db_upgrade_then_seed_demo_prints_the_demo_users(sqlite_env: str) -> None:
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    seeded = runner.invoke(app, ["seed", "demo"])
    assert seeded.exit_code == 0, seeded.output
    assert "requester@demo.truchement.eu" in seeded.output


def test_seeding_twice_is_refused_with_one_line(sqlite_env: str) -> None:
    runner.invoke(app, ["db", "upgrade"])
    runner.invoke(app, ["seed", "demo"])
    again = runner.invoke(app, ["seed", "demo"])
    assert again.exit_code != 0
    assert "already holds" in again.output
    assert "Traceback" not in again.output


def test_serve_in_development_seeds_the_demo_into_an_empty_database(
    sqlite_env: str, served: list[dict[str, object]]
) -> None:
    result = runner.invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.truchement.eu" in result.output
    assert ("admin@demo.truchement.eu", "admin") in users_in(sqlite_env)
    assert served and served[0]["port"] == 8123


def test_serve_in_production_only_migrates_and_says_how_to_make_the_first_admin(
    production: str, served: list[dict[str, object]]
) -> None:
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    assert users_in(production) == []
    assert "demo" not in result.output
    [hint] = [line for line in result.output.splitlines() if "truchement user create" in line]
    assert "--role admin" in hint
    assert served

    assert create_admin("--organisation", "SéTIS wallon", "--create-organisation").exit_code == 0
    again = runner.invoke(app, ["serve"])
    assert again.exit_code == 0, again.output
    assert "user create" not in again.output
    assert users_in(production) == [("chef@setis.example.org", "admin")]


def test_the_first_admin_is_created_with_their_organisation_and_can_sign_in(
    production: str,
) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = create_admin(
        "--organisation", "SéTIS wallon", "--create-organisation", "--name", "Chef de service"
    )
    assert result.exit_code == 0, result.output
    assert "organisation 1 'SéTIS wallon' created (providing, BE)" in result.output
    assert "chef@setis.example.org (admin)" in result.output
    engine = make_engine(production)
    with make_session_factory(engine)() as session:
        user = session.scalars(select(User)).one()
        organisation = session.get_one(Organisation, user.organisation_id)
        assert (user.full_name, user.locale, user.is_active) == ("Chef de service", "fr", True)
        assert (organisation.name, organisation.kind) == ("SéTIS wallon", "providing")
        assert verify_password(user.password_hash, "correct horse battery")
    engine.dispose()


def test_a_user_joins_an_existing_organisation_by_name_or_id(production: str) -> None:
    runner.invoke(app, ["db", "upgrade"])
    create_admin("--organisation", "SéTIS wallon", "--create-organisation")
    result = runner.invoke(
        app,
        [
            *("user", "create", "--email", "d@setis.example.org", "--role", "dispatcher"),
            *("--organisation", "1", "--password", "another long password"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "created" not in result.output
    assert users_in(production)[-1] == ("d@setis.example.org", "dispatcher")


@pytest.mark.parametrize(
    ("arguments", "password", "message"),
    [
        (["--organisation", "Nowhere"], "correct horse battery", "--create-organisation"),
        (["--organisation", "42"], "correct horse battery", "no organisation with id 42"),
        (["--organisation", "X", "--create-organisation"], "too short", "12 to 200 characters"),
    ],
)
def test_user_create_refuses_in_one_line(
    production: str, arguments: list[str], password: str, message: str
) -> None:
    runner.invoke(app, ["db", "upgrade"])
    result = create_admin(*arguments, password=password)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert users_in(production) == []


def test_user_create_refuses_an_address_already_in_use(production: str) -> None:
    runner.invoke(app, ["db", "upgrade"])
    create_admin("--organisation", "SéTIS wallon", "--create-organisation")
    again = create_admin("--organisation", "SéTIS wallon")
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert len(users_in(production)) == 1


def test_a_placeholder_secret_outside_development_is_refused(
    sqlite_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUCHEMENT_ENVIRONMENT", "production")
    monkeypatch.delenv("TRUCHEMENT_SECRET_KEY", raising=False)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code != 0
    assert "TRUCHEMENT_SECRET_KEY" in result.output
    assert "Traceback" not in result.output


def test_the_worker_runs_in_a_fresh_process(tmp_path: Path) -> None:
    """A process that imports only what the worker imports still maps every model."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "TRUCHEMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        "TRUCHEMENT_ENVIRONMENT": "development",
    }
    for args in (["db", "upgrade"], ["seed", "demo"], ["worker", "--once"]):
        done = subprocess.run(
            [sys.executable, "-m", "truchement.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sent ")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "truchement.example.org"])
def test_serve_with_the_placeholder_secret_refuses_a_public_interface(
    sqlite_env: str, served: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    # Security review, finding 9: the development secret is public, so a forged
    # cookie would sign in as anyone on a service reachable from elsewhere.
    monkeypatch.delenv("TRUCHEMENT_SECRET_KEY", raising=False)
    result = runner.invoke(app, ["serve", "--host", host])
    assert result.exit_code == 2
    assert f"refusing to listen on {host}" in result.output
    assert "TRUCHEMENT_SECRET_KEY" in result.output and "Traceback" not in result.output
    assert served == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.1.1"])
def test_serve_with_the_placeholder_secret_may_listen_on_loopback(
    sqlite_env: str, served: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.delenv("TRUCHEMENT_SECRET_KEY", raising=False)
    result = runner.invoke(app, ["serve", "--host", host])
    assert result.exit_code == 0, result.output
    assert served and served[0]["host"] == host


def test_serve_in_development_with_a_real_secret_may_listen_publicly(
    sqlite_env: str, served: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUCHEMENT_SECRET_KEY", "d" * 64)
    get_settings.cache_clear()
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert served[0]["host"] == "0.0.0.0"


@pytest.mark.parametrize("secret", ["change-me", "short-but-not-a-placeholder", "é" * 15])
def test_outside_development_the_secret_needs_32_bytes(
    sqlite_env: str, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("TRUCHEMENT_ENVIRONMENT", "production")
    monkeypatch.setenv("TRUCHEMENT_SECRET_KEY", secret)
    get_settings.cache_clear()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code != 0
    assert "at least 32 bytes" in result.output and "Traceback" not in result.output
    monkeypatch.setenv("TRUCHEMENT_SECRET_KEY", "é" * 16)  # 32 bytes in UTF-8
    get_settings.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
