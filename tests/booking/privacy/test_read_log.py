"""The read log's buffer: a read costs an append; rows reach the table in batches."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.errors import Forbidden
from booking.privacy.models import ReadLog, ReadVia
from booking.privacy.read_log import (
    ReadLogBuffer,
    Row,
    booking_reads,
    feed_read,
    provider_reads,
    read_log_query_for,
    write_rows,
)
from tests.factories import make_booking, make_organisation, make_provider, make_user


class Batches:
    """A sink that remembers each batch it was given (and can be told to fail)."""

    def __init__(self) -> None:
        self.batches: list[list[Row]] = []
        self.failing = False
        self.written = threading.Event()

    def __call__(self, rows: list[Row]) -> None:
        if self.failing:
            raise ConnectionError("database restarting")
        self.batches.append(rows)
        self.written.set()


def rows(count: int) -> list[Row]:
    return [{"subject_id": i} for i in range(count)]


def test_recording_writes_nothing_until_the_buffer_is_flushed() -> None:
    sink = Batches()
    buffer = ReadLogBuffer(sink, flush_seconds=None)
    for _ in range(3):
        buffer.record(rows(2))
    assert sink.batches == [] and buffer.pending == 6
    assert buffer.flush() == 6
    assert [len(batch) for batch in sink.batches] == [6]  # one batch for six reads
    assert buffer.flush() == 0


def test_a_failed_write_keeps_the_rows_for_the_next_batch() -> None:
    sink = Batches()
    buffer = ReadLogBuffer(sink, flush_seconds=None)
    buffer.record(rows(3))
    sink.failing = True
    assert buffer.flush() == 0
    assert buffer.pending == 3
    sink.failing = False
    buffer.record(rows(1))
    assert buffer.flush() == 4


def test_rows_beyond_the_bound_are_dropped_oldest_first_while_the_database_refuses() -> None:
    sink = Batches()
    sink.failing = True
    buffer = ReadLogBuffer(sink, flush_seconds=None, max_pending=5)
    buffer.record([{"subject_id": i} for i in range(8)])
    buffer.flush()
    sink.failing = False
    buffer.flush()
    assert [row["subject_id"] for row in sink.batches[0]] == [3, 4, 5, 6, 7]


def test_the_writer_thread_writes_within_its_interval_and_close_writes_the_rest() -> None:
    sink = Batches()
    buffer = ReadLogBuffer(sink, flush_seconds=0.05)
    buffer.record(rows(2))
    assert sink.written.wait(2), "the writer did not write within its interval"
    buffer.record(rows(1))
    buffer.close()
    assert sum(len(batch) for batch in sink.batches) == 3


def test_a_full_batch_wakes_the_writer_before_its_interval() -> None:
    sink = Batches()
    buffer = ReadLogBuffer(sink, flush_seconds=60, max_rows=10)
    buffer.record(rows(10))
    started = time.monotonic()
    assert sink.written.wait(5)
    assert time.monotonic() - started < 5
    buffer.close()


def test_rows_name_the_reader_the_subject_and_whose_data_it_is(db: Session) -> None:
    booking = make_booking(db)
    reader = make_user(db, role="dispatcher")
    provider = make_provider(db)
    write_rows(db, booking_reads(reader, [booking], via=ReadVia.API))
    write_rows(db, provider_reads(reader, [provider], via=ReadVia.WEB))
    write_rows(db, feed_read(provider))
    logged = {row.subject_type: row for row in db.scalars(select(ReadLog).order_by(ReadLog.id))}
    read = logged["booking"]
    assert (read.reader_user_id, read.reader_organisation_id) == (
        reader.id,
        reader.organisation_id,
    )
    assert (read.subject_id, read.subject_organisation_id, read.via) == (
        booking.id,
        booking.organisation_id,
        "api",
    )
    assert logged["provider"].subject_organisation_id == provider.organisation_id
    feed = logged["calendar_feed"]
    assert (feed.reader_user_id, feed.reader_provider_id, feed.via) == (None, provider.id, "feed")


def test_a_provider_reading_their_own_data_is_not_logged(db: Session) -> None:
    user = make_user(db, role="provider")
    provider = make_provider(db, user=user)
    assert provider_reads(user, [provider], via=ReadVia.API) == []


def test_admins_read_every_row_dispatchers_those_of_their_service_others_none(
    db: Session,
) -> None:
    service = make_organisation(db, kind="providing")
    other = make_organisation(db, kind="providing")
    ours = make_provider(db, organisation=service)
    theirs = make_provider(db, organisation=other)
    outsider = make_user(db, organisation=other, role="dispatcher")
    write_rows(db, provider_reads(outsider, [ours, theirs], via=ReadVia.API))

    def seen(user_role: str, organisation: object) -> set[int]:
        user = make_user(db, organisation=organisation, role=user_role)  # type: ignore[arg-type]
        return {row.subject_id for row in db.scalars(read_log_query_for(user))}

    assert seen("admin", service) >= {ours.id, theirs.id}
    assert seen("dispatcher", service) == {ours.id}
    assert seen("dispatcher", other) == {ours.id, theirs.id}  # reads its own people made
    with pytest.raises(Forbidden):
        read_log_query_for(make_user(db, organisation=service, role="requester"))
    assert db.scalar(select(func.count()).select_from(ReadLog)) == 2
