"""When an SMS may wake its recipient: the quiet hours. Pure functions.

The enqueue side applies them to every SMS it writes; the worker applies them
again to a retry (``notify.delivery``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

UTC = dt.UTC


def in_quiet_hours(local_time: dt.time, *, quiet_start: dt.time, quiet_end: dt.time) -> bool:
    """Whether a wall-clock time falls in ``[quiet_start, quiet_end)`` (which may span midnight)."""
    if quiet_start == quiet_end:
        return False
    if quiet_start < quiet_end:
        return quiet_start <= local_time < quiet_end
    return local_time >= quiet_start or local_time < quiet_end


def sms_not_before(
    due: dt.datetime,
    *,
    timezone: str,
    session_start: dt.datetime | None,
    quiet_start: dt.time,
    quiet_end: dt.time,
    urgent_within: dt.timedelta,
) -> dt.datetime:
    """The earliest instant at or after ``due`` when an SMS may wake the recipient.

    Nobody gets a text between ``quiet_start`` and ``quiet_end`` (21:00-08:00
    by default) in their own time zone, unless the session it is about starts
    within ``urgent_within`` of ``due``: then waiting would make it useless.
    """
    if session_start is not None and session_start - due <= urgent_within:
        return due
    zone = ZoneInfo(timezone)
    local = due.astimezone(zone)
    if not in_quiet_hours(local.time(), quiet_start=quiet_start, quiet_end=quiet_end):
        return due
    morning_day = local.date()
    if local.time() >= quiet_end:
        morning_day += dt.timedelta(days=1)
    morning = dt.datetime.combine(morning_day, quiet_end, tzinfo=zone).astimezone(UTC)
    if session_start is not None and morning > session_start:
        # Only with odd settings (quiet hours longer than the urgency margin).
        return due
    return morning
