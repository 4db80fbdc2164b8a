"""`truchement privacy retention`: the dry run lists, the real run erases, both on a fixed clock."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from booking.db import make_engine
from booking.models import Booking
from booking.settings import get_settings
from tests.conftest import migrate
from tests.factories import make_booking
from truchement.cli import app

runner = CliRunner()
NOW = "2027-06-01T03:30:00+02:00"


@pytest.fixture
def cli_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated SQLite file the CLI is pointed at."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = make_engine(url)
    migrate(engine)
    monkeypatch.setenv("TRUCHEMENT_DATABASE_URL", url)
    get_settings.cache_clear()
    yield engine
    get_settings.cache_clear()
    engine.dispose()


@pytest.fixture
def old_booking(cli_engine: Engine) -> int:
    with Session(cli_engine) as session:
        booking = make_booking(
            session, starts_at=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), notes="Private"
        )
        session.commit()
        return booking.id


def beneficiary_ref(engine: Engine, booking_id: int) -> str | None:
    with Session(engine) as session:
        booking = session.get(Booking, booking_id)
        assert booking is not None
        return booking.beneficiary_ref


def test_the_dry_run_lists_what_would_be_erased_and_erases_nothing(
    cli_engine: Engine, old_booking: int
) -> None:
    result = runner.invoke(app, ["privacy", "retention", "--dry-run", "--now", NOW])
    assert result.exit_code == 0, result.output
    assert f"booking {old_booking} " in result.stdout
    assert "beneficiary_ref, notes, address" in result.stdout
    assert "would erase: 1 bookings, 0 notification bodies, 0 read-log rows" in result.stdout
    assert beneficiary_ref(cli_engine, old_booking) == "b-7c1f"


def test_the_run_erases_and_commits(cli_engine: Engine, old_booking: int) -> None:
    result = runner.invoke(app, ["privacy", "retention", "--now", NOW])
    assert result.exit_code == 0, result.output
    assert "erased: 1 bookings" in result.stdout
    assert beneficiary_ref(cli_engine, old_booking) is None


def test_a_clock_without_offset_is_refused(cli_engine: Engine) -> None:
    result = runner.invoke(app, ["privacy", "retention", "--now", "2027-06-01T03:30"])
    assert result.exit_code == 2
    assert "offset" in result.output


def test_a_beneficiary_is_exported_then_erased_from_the_shell(
    cli_engine: Engine, old_booking: int
) -> None:
    with Session(cli_engine) as session:
        organisation_id = session.get_one(Booking, old_booking).organisation_id
    subject = ["--organisation", str(organisation_id), "--reference", "b-7c1f"]
    exported = runner.invoke(app, ["privacy", "export", *subject])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["bookings"][0]["booking"]["id"] == old_booking
    erased = runner.invoke(app, ["privacy", "erase", *subject, "--yes"])
    assert erased.exit_code == 0, erased.output
    assert f"[{old_booking}]" in erased.stdout
    assert beneficiary_ref(cli_engine, old_booking) is None
    again = runner.invoke(app, ["privacy", "export", *subject])
    assert again.exit_code == 1
    assert "No booking of this organisation holds this beneficiary reference" in again.output
