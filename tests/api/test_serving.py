"""The app as `truchement serve` runs it: a solver thread on SQLite, none on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.serving import create_served_app
from booking.settings import Settings


def solver_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "solver" and t.is_alive()]


def settings_for(url: str, **values: object) -> Settings:
    return Settings(
        environment="test",
        database_url=url,
        secret_key="test-secret-key-not-for-production",
        **values,  # type: ignore[arg-type]
    )


def test_who_solves_follows_the_database_unless_the_setting_says_otherwise() -> None:
    assert settings_for("sqlite:///./x.sqlite3").runs_embedded_solver
    assert not settings_for("postgresql+psycopg://u@h/db").runs_embedded_solver
    assert settings_for("postgresql+psycopg://u@h/db", embedded_solver=True).runs_embedded_solver
    assert not settings_for("sqlite:///./x.sqlite3", embedded_solver=False).runs_embedded_solver


@pytest.mark.parametrize("embedded", [True, False])
def test_the_served_app_runs_one_solver_thread_while_it_serves_when_told(
    database_url: str, engine: Engine, embedded: bool
) -> None:
    before = len(solver_threads())
    app = create_served_app(settings_for(database_url, embedded_solver=embedded))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        assert len(solver_threads()) == before + embedded
    assert len(solver_threads()) == before
    app.state.engine.dispose()


def test_the_heartbeat_must_beat_at_least_twice_per_lease() -> None:
    with pytest.raises(ValueError, match="at most half"):
        settings_for("sqlite:///./x.sqlite3", plan_lease_seconds=5, plan_heartbeat_seconds=3)
