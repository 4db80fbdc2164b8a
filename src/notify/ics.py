"""iCalendar invitations (RFC 5545 / iTIP RFC 5546) for confirmed sessions.

One VEVENT per assignment, ``UID`` ``assignment-<id>@truchement`` for its whole
life; each change sends it again with a higher ``SEQUENCE`` (the booking's
version), and a cancellation sends ``METHOD:CANCEL`` with ``STATUS:CANCELLED``.
The event says what, when and where, never who the session is for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText

from notify.labels import CALENDAR_SUMMARY, SESSION_KINDS, label

PRODID = "-//Truchement//Notifications//EN"


def _instant(value: Any) -> dt.datetime:
    instant = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if instant.tzinfo is None:
        raise ValueError(f"naive instant {value!r} in an invitation")
    return instant.astimezone(dt.UTC)


def build_invitation(
    ics: Mapping[str, Any],
    *,
    locale: str,
    language: str,
    session_kind: str,
    description: str,
    organizer: str,
    attendee: str,
    attendee_name: str,
) -> bytes:
    """The ``.ics`` file for one message: ``ics`` is the ``context["ics"]`` the event wrote."""
    method = str(ics["method"]).upper()
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported iTIP method {method!r}")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", str(ics["uid"]))
    event.add("sequence", int(ics["sequence"]))
    event.add("dtstamp", _instant(ics["stamp"]))
    event.add("dtstart", _instant(ics["starts_at"]))
    event.add("dtend", _instant(ics["ends_at"]))
    kind = label(SESSION_KINDS, locale, session_kind)
    summary = CALENDAR_SUMMARY.get(locale, CALENDAR_SUMMARY["en"])
    event.add("summary", summary.format(kind=kind, language=language))
    if ics.get("location"):
        event.add("location", str(ics["location"]))
    event.add("description", description)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")

    organizer_name, organizer_address = parseaddr(organizer)
    organizer_value = vCalAddress(f"mailto:{organizer_address or organizer}")
    if organizer_name:
        organizer_value.params["cn"] = vText(organizer_name)
    event.add("organizer", organizer_value)
    attendee_value = vCalAddress(f"mailto:{attendee}")
    attendee_value.params["cn"] = vText(attendee_name)
    attendee_value.params["role"] = vText("REQ-PARTICIPANT")
    attendee_value.params["rsvp"] = vText("FALSE")
    event.add("attendee", attendee_value)

    calendar.add_component(event)
    return bytes(calendar.to_ical())
