"""The .ics invitations, parsed back with icalendar."""

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar

from notify.ics import build_invitation

START = dt.datetime(2031, 3, 11, 9, 0, tzinfo=dt.UTC)


def invitation(method: str = "REQUEST", **overrides: object) -> Calendar:
    ics: dict[str, object] = {
        "method": method,
        "uid": "assignment-42@truchement",
        "sequence": 4,
        "starts_at": START.isoformat(),
        "ends_at": (START + dt.timedelta(hours=1)).isoformat(),
        "location": "Rue de la Gare 12, 62128 Croisilles",
        "stamp": (START - dt.timedelta(days=3)).isoformat(),
    }
    ics.update(overrides)
    raw = build_invitation(
        ics,
        locale="fr",
        language="tigrigna",
        session_kind="psychological",
        description="TR-86NA-FTFV - https://truchement.example.org/bookings/7",
        organizer="Truchement <noreply@truchement.example.org>",
        attendee="selam@example.org",
        attendee_name="Selam Tesfaye",
    )
    return Calendar.from_ical(raw)


def test_a_request_carries_uid_sequence_times_and_place() -> None:
    calendar = invitation()
    assert calendar["METHOD"] == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == "assignment-42@truchement"
    assert int(event["SEQUENCE"]) == 4
    assert event.decoded("DTSTART") == START
    assert event.decoded("DTEND") == START + dt.timedelta(hours=1)
    assert str(event["LOCATION"]) == "Rue de la Gare 12, 62128 Croisilles"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == "Truchement : consultation psychologique (tigrigna)"
    assert str(event["ORGANIZER"]) == "mailto:noreply@truchement.example.org"
    assert str(event["ATTENDEE"]) == "mailto:selam@example.org"


def test_a_cancel_keeps_the_uid_and_says_cancelled() -> None:
    calendar = invitation("CANCEL", sequence=5)
    assert calendar["METHOD"] == "CANCEL"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == "assignment-42@truchement"
    assert int(event["SEQUENCE"]) == 5
    assert str(event["STATUS"]) == "CANCELLED"


def test_a_remote_session_has_no_location() -> None:
    (event,) = invitation(location=None).walk("VEVENT")
    assert "LOCATION" not in event


def test_other_itip_methods_are_refused() -> None:
    with pytest.raises(ValueError, match="PUBLISH"):
        invitation("PUBLISH")
