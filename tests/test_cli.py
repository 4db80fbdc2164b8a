"""The `truchement` command's foundation: migrate, seed, and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from booking.settings import get_settings
from truchement.cli import app

runner = CliRunner()


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("TRUCHEMENT_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


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
