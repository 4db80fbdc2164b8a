"""UTC instants and JSON documents survive the round trip on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from booking.models import Booking, Plan
from booking.types import UTC, NaiveDateTimeError, to_jsonable
from tests.factories import BRUSSELS, PARIS, make_booking, make_plan


def _reload(db: Session, booking: Booking) -> Booking:
    db.flush()
    db.expire_all()
    reloaded = db.get(Booking, booking.id)
    assert reloaded is not None
    return reloaded


def test_aware_in_aware_utc_out(db: Session) -> None:
    local = dt.datetime(2026, 12, 1, 10, 0, tzinfo=BRUSSELS)
    booking = _reload(db, make_booking(db, starts_at=local))
    assert booking.starts_at == local
    assert booking.starts_at.utcoffset() == dt.timedelta(0)
    assert booking.starts_at == dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        # Spring forward in Brussels: 02:00 CET becomes 03:00 CEST.
        (dt.datetime(2026, 3, 29, 1, 30, tzinfo=BRUSSELS), dt.datetime(2026, 3, 29, 0, 30)),
        (dt.datetime(2026, 3, 29, 3, 30, tzinfo=BRUSSELS), dt.datetime(2026, 3, 29, 1, 30)),
        # Fall back: 02:30 happens twice; fold=1 is the second time, in CET.
        (dt.datetime(2026, 10, 25, 2, 30, tzinfo=PARIS), dt.datetime(2026, 10, 25, 0, 30)),
        (dt.datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=PARIS), dt.datetime(2026, 10, 25, 1, 30)),
    ],
)
def test_daylight_saving_changes(db: Session, local: dt.datetime, utc: dt.datetime) -> None:
    booking = _reload(db, make_booking(db, starts_at=local))
    assert booking.starts_at == utc.replace(tzinfo=UTC)


def test_naive_datetime_is_refused(db: Session) -> None:
    with pytest.raises(StatementError) as info:
        make_booking(db, starts_at=dt.datetime(2026, 12, 1, 10, 0))
    assert isinstance(info.value.orig, NaiveDateTimeError)


def test_naive_datetime_is_refused_in_queries(db: Session) -> None:
    with pytest.raises(StatementError) as info:
        db.execute(select(Booking).where(Booking.starts_at < dt.datetime(2026, 1, 1)))
    assert isinstance(info.value.orig, NaiveDateTimeError)


def test_comparisons_in_sql_use_the_instant_not_the_wall_clock(db: Session) -> None:
    # 10:00 in Brussels is 09:00 UTC; 09:30 in UTC is later although it "reads" earlier.
    brussels = make_booking(db, starts_at=dt.datetime(2026, 12, 1, 10, 0, tzinfo=BRUSSELS))
    utc = make_booking(db, starts_at=dt.datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    cutoff = dt.datetime(2026, 12, 1, 10, 15, tzinfo=BRUSSELS)  # 09:15 UTC
    found = db.scalars(select(Booking.id).where(Booking.starts_at < cutoff)).all()
    assert brussels.id in found
    assert utc.id not in found
    ordered = db.scalars(
        select(Booking.id).where(Booking.id.in_([brussels.id, utc.id])).order_by(Booking.starts_at)
    ).all()
    assert ordered == [brussels.id, utc.id]


def test_sqlite_stores_utc_wall_time(db: Session) -> None:
    if db.get_bind().dialect.name != "sqlite":
        pytest.skip("storage format of SQLite")
    booking = make_booking(db, starts_at=dt.datetime(2026, 7, 1, 10, 0, tzinfo=BRUSSELS))
    stored = db.execute(
        text("SELECT starts_at FROM booking WHERE id = :id"), {"id": booking.id}
    ).scalar()
    assert stored == "2026-07-01 08:00:00.000000"


def test_json_documents_round_trip_and_none_is_sql_null(db: Session) -> None:
    plan = make_plan(
        db,
        parameters={"time_limit_seconds": 20, "languages": ["tir", "prs"]},
        result=None,
    )
    db.flush()
    db.expire_all()
    assert db.scalar(select(Plan.id).where(Plan.id == plan.id, Plan.result.is_(None))) == plan.id
    reloaded = db.get(Plan, plan.id)
    assert reloaded is not None
    assert reloaded.parameters == {"time_limit_seconds": 20, "languages": ["tir", "prs"]}
    assert reloaded.result is None


def test_engine_serialises_instants_inside_json(db: Session) -> None:
    at = dt.datetime(2026, 12, 1, 10, 0, tzinfo=BRUSSELS)
    plan = make_plan(db, timings={"started": at})
    db.flush()
    db.expire_all()
    reloaded = db.get(Plan, plan.id)
    assert reloaded is not None
    assert reloaded.timings == {"started": "2026-12-01T09:00:00+00:00"}


def test_to_jsonable() -> None:
    value = {
        "at": dt.datetime(2026, 12, 1, 10, tzinfo=BRUSSELS),
        "day": dt.date(2026, 12, 1),
        "codes": {"tir", "ara"},
        "pair": (1, 2),
    }
    assert to_jsonable(value) == {
        "at": "2026-12-01T09:00:00+00:00",
        "day": "2026-12-01",
        "codes": ["ara", "tir"],
        "pair": [1, 2],
    }
    with pytest.raises(NaiveDateTimeError):
        to_jsonable(dt.datetime(2026, 1, 1))
    with pytest.raises(TypeError):
        to_jsonable(object())
