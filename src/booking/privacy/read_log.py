"""Who saw what: reads of personal data, recorded in batches off the hot path.

Reading a booking, a provider's personal data (home, phone, email) or a
calendar feed appends a ``ReadLog`` row: who (a user, or the provider whose
feed it is), what, when, from which organisation, whose data. A read must
stay as cheap as it was, so the reading request only appends a small dict to
an in-process buffer (``ReadLogBuffer.record``: a lock and a list append); a
background thread writes what gathered as one batched ``INSERT`` every
second, or as soon as ``max_rows`` wait, in its own short transaction. The
app closes the buffer on shutdown, writing what is left. The price: a process
killed outright loses at most its last second of reads.

The log is read through ``read_log_query_for``, scoped like every read: an
admin sees every row, a dispatcher the reads of their own service's data and
the reads made by its people; nobody else. No code updates or deletes a row,
except the retention run, which forgets rows after 12 months.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import Select, Table, insert, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from booking.bookings.models import Booking
from booking.db import session_scope
from booking.errors import Forbidden
from booking.privacy.models import ReadLog, ReadSubject, ReadVia
from booking.providers.models import Provider
from booking.types import utc_now
from booking.users.models import User
from booking.vocabulary import UserRole

log = logging.getLogger("truchement.privacy")

Row = dict[str, Any]
Sink = Callable[[list[Row]], None]

FLUSH_SECONDS = 1.0
MAX_ROWS = 500
"""Rows that wake the writer before its second is up."""
MAX_PENDING = 100_000
"""Rows kept while the database refuses them; beyond this the oldest are dropped (and logged)."""


def _row(
    *,
    reader: User | None,
    subject_type: ReadSubject,
    subject_id: int,
    subject_organisation_id: int | None,
    via: ReadVia,
    reader_provider_id: int | None = None,
    reader_organisation_id: int | None = None,
    at: dt.datetime | None = None,
) -> Row:
    return {
        "at": at or utc_now(),
        "reader_user_id": reader.id if reader is not None else None,
        "reader_provider_id": reader_provider_id,
        "reader_organisation_id": (
            reader.organisation_id if reader is not None else reader_organisation_id
        ),
        "subject_type": str(subject_type),
        "subject_id": subject_id,
        "subject_organisation_id": subject_organisation_id,
        "via": str(via),
    }


class _Subject(Protocol):
    """Whose data a read shows: a booking or a provider (their id and organisation)."""

    @property
    def id(self) -> int: ...

    @property
    def organisation_id(self) -> int: ...


def _reads(
    reader: User, subject_type: ReadSubject, subjects: Iterable[_Subject], via: ReadVia
) -> list[Row]:
    """One row per subject ``reader`` was shown, all at the same instant."""
    now = utc_now()
    return [
        _row(
            reader=reader,
            subject_type=subject_type,
            subject_id=subject.id,
            subject_organisation_id=subject.organisation_id,
            via=via,
            at=now,
        )
        for subject in subjects
    ]


def booking_reads(reader: User, bookings: Iterable[Booking], *, via: ReadVia) -> list[Row]:
    """One row per booking ``reader`` was shown."""
    return _reads(reader, ReadSubject.BOOKING, bookings, via)


def provider_reads(reader: User, providers: Iterable[Provider], *, via: ReadVia) -> list[Row]:
    """One row per provider whose personal data ``reader`` was shown (not their own)."""
    others = (p for p in providers if p.user_id is None or p.user_id != reader.id)
    return _reads(reader, ReadSubject.PROVIDER, others, via)


def feed_read(provider: Provider) -> list[Row]:
    """A calendar feed fetched with its token: the reader is whoever holds the provider's token."""
    return [
        _row(
            reader=None,
            reader_provider_id=provider.id,
            reader_organisation_id=provider.organisation_id,
            subject_type=ReadSubject.CALENDAR_FEED,
            subject_id=provider.id,
            subject_organisation_id=provider.organisation_id,
            via=ReadVia.FEED,
        )
    ]


READ_LOG_TABLE: Table = ReadLog.__table__  # type: ignore[assignment]


def write_rows(db: Session, rows: Sequence[Row]) -> None:
    """Append ``rows`` as one batched Core ``INSERT`` (executemany; no ORM bookkeeping)."""
    if rows:
        db.execute(insert(READ_LOG_TABLE), list(rows))


def session_sink(session_factory: sessionmaker[Session]) -> Sink:
    """Write each batch in its own short transaction.

    On PostgreSQL the commit does not wait for the disk (``synchronous_commit``
    off for this transaction only): a database crash may lose the last fraction
    of a second of reads, as a killed process loses its last second anyway.
    """

    def sink(rows: list[Row]) -> None:
        with session_scope(session_factory) as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            write_rows(session, rows)

    return sink


class ReadLogBuffer:
    """Reads waiting to be written; ``record`` is all a request pays.

    With ``flush_seconds`` a daemon thread (started by the first ``record``)
    writes every that many seconds, or sooner when ``max_rows`` wait; with
    ``None`` nothing is written until ``flush()`` or ``close()`` (tests).
    """

    def __init__(
        self,
        sink: Sink,
        *,
        flush_seconds: float | None = FLUSH_SECONDS,
        max_rows: int = MAX_ROWS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.sink = sink
        self.flush_seconds = flush_seconds
        self.max_rows = max_rows
        self.max_pending = max_pending
        self._pending: list[Row] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, rows: Sequence[Row]) -> None:
        """Queue ``rows`` for the next batch."""
        if not rows:
            return
        with self._lock:
            self._pending.extend(rows)
            full = len(self._pending) >= self.max_rows
            if self.flush_seconds is not None and self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="read-log-writer", daemon=True
                )
                self._thread.start()
        if full:
            self._wake.set()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> int:
        """Write what waits in one batch (the rows written); on failure keep it for the next try."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                self.sink(batch)
            except Exception:
                log.exception("read log: could not write %d rows; will retry", len(batch))
                with self._lock:
                    self._pending = batch + self._pending
                    dropped = len(self._pending) - self.max_pending
                    if dropped > 0:
                        del self._pending[:dropped]
                        log.error("read log: dropped the %d oldest unwritten rows", dropped)
                return 0
            return len(batch)

    def drain(self) -> list[Row]:
        """Take what waits, for a caller that writes it in its own transaction."""
        with self._flushing, self._lock:
            batch, self._pending = self._pending, []
        return batch

    def _run(self) -> None:
        assert self.flush_seconds is not None
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        """Stop the writer and write what is left (the app's shutdown)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
        self.flush()


def read_log_query_for(user: User) -> Select[ReadLog]:
    """The read-log rows ``user`` may read; 403 for anyone but admins and dispatchers."""
    query = select(ReadLog)
    if user.role == UserRole.ADMIN:
        return query
    if user.role == UserRole.DISPATCHER:
        own = user.organisation_id
        return query.where(
            or_(ReadLog.subject_organisation_id == own, ReadLog.reader_organisation_id == own)
        )
    raise Forbidden("Only admins and dispatchers read the read log.")
