"""The routers' one-line hook into the read log (``booking.privacy.read_log``).

A router that shows personal data calls ``log_reads(request, rows)`` after it
has decided what to show: the rows go to the app's buffer, which writes them
in batches off the request's path.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request

from booking.privacy.read_log import ReadLogBuffer, Row


def read_log_of(request: Request) -> ReadLogBuffer | None:
    buffer = getattr(request.app.state, "read_log", None)
    return buffer if isinstance(buffer, ReadLogBuffer) else None


def log_reads(request: Request, rows: Sequence[Row]) -> None:
    """Queue ``rows`` (built by ``booking.privacy.read_log``) for the next batch."""
    buffer = read_log_of(request)
    if buffer is not None:
        buffer.record(rows)
