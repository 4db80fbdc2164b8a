"""`truchement token`: create prints a working token once; revoke stops it; list shows both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from booking.db import make_engine
from booking.models import ApiToken, AuditLog
from booking.settings import get_settings
from booking.users.tokens import hash_token
from tests.conftest import migrate
from tests.factories import make_user
from truchement.cli import app

runner = CliRunner()
EMAIL = "admin@setis.example.be"


@pytest.fixture
def cli_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated SQLite file holding one admin, which the CLI is pointed at."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = make_engine(url)
    migrate(engine)
    with Session(engine) as session:
        make_user(session, role="admin", email=EMAIL)
        session.commit()
    monkeypatch.setenv("TRUCHEMENT_DATABASE_URL", url)
    get_settings.cache_clear()
    yield engine
    get_settings.cache_clear()
    engine.dispose()


def _token_row(engine: Engine, token: str) -> ApiToken | None:
    with Session(engine) as session:
        return session.scalars(
            select(ApiToken).where(ApiToken.token_hash == hash_token(token))
        ).first()


def test_create_then_revoke_round_trip(cli_engine: Engine) -> None:
    created = runner.invoke(
        app, ["token", "create", "--user", EMAIL.upper(), "--name", "ci", "--expires-days", "30"]
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("tru_")
    assert "\n" not in token
    row = _token_row(cli_engine, token)
    assert row is not None
    assert row.name == "ci"
    assert row.expires_at is not None
    assert row.revoked_at is None

    listed = runner.invoke(app, ["token", "list", "--user", EMAIL])
    assert listed.exit_code == 0
    assert f"{row.id}\tci\t" in listed.stdout
    assert "active" in listed.stdout
    assert token not in listed.stdout

    revoked = runner.invoke(app, ["token", "revoke", "--id", str(row.id)])
    assert revoked.exit_code == 0
    assert "is now revoked" in revoked.stdout
    row = _token_row(cli_engine, token)
    assert row is not None
    assert row.revoked_at is not None
    assert "revoked" in runner.invoke(app, ["token", "list", "--user", EMAIL]).stdout

    again = runner.invoke(app, ["token", "revoke", "--id", str(row.id)])
    assert again.exit_code == 0
    assert "was already revoked" in again.stdout

    with Session(cli_engine) as session:
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.entity_type == "api_token")
        ).all()
    assert sorted(actions) == ["api_token.created", "api_token.revoked"]


def test_the_created_token_opens_the_api(cli_engine: Engine) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    token = runner.invoke(app, ["token", "create", "--user", EMAIL]).stdout.strip()
    application = create_app(get_settings())
    with TestClient(application) as client:
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    application.state.engine.dispose()
    assert response.status_code == 200
    assert response.json()["email"] == EMAIL


@pytest.mark.parametrize(
    "arguments",
    [
        ["token", "create", "--user", "nobody@example.org"],
        ["token", "list", "--user", "nobody@example.org"],
        ["token", "revoke", "--id", "999999"],
    ],
)
def test_unknown_users_and_tokens_are_one_clear_error(
    cli_engine: Engine, arguments: list[str]
) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output
