"""The requester's pages: book through the form, errors by their fields, my bookings, cancel."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.audit import AuditLog
from booking.models import Booking, BookingProviderPreference
from tests.api.web.conftest import Browser
from tests.booking.dispatch_world import World, at
from tests.factories import make_booking, make_language, make_organisation, make_user


@pytest.fixture
def requester(browser: Browser, world: World, db: Session) -> Browser:
    make_language(db, code="tir")
    make_language(db, code="ara")
    return browser.sign_in(world.requester).language("en")


def _form(world: World, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "form_id": "form-1",
        "language": "Tigrinya (tir)",
        "language_variety": "",
        "session_kind": "psychological",
        "modality": "onsite",
        "site": str(world.site.id),
        "address": "",
        "town": "",
        "date": world.day.isoformat(),
        "time": "10:00",
        "window_start": "",
        "window_end": "",
        "duration": "60",
        "provider_kind": "any",
        "gender": "",
        "continuity": "",
        "urgency": "normal",
        "beneficiary_ref": "b-7c1f",
        "notes": "Second floor, ask at the desk.",
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def _error_of(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="f-{field}-error">(.*?)</p>', html, re.S)
    assert found is not None, f"no error shown next to {field}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def _bookings(db: Session, world: World) -> list[Booking]:
    return list(db.scalars(select(Booking).where(Booking.requester_id == world.requester.id)))


def test_the_form_books_a_session_and_confirms_it_with_its_reference(
    requester: Browser, world: World, db: Session
) -> None:
    response = requester.post("/book", _form(world))
    assert response.status_code == 303
    [booking] = _bookings(db, world)
    assert response.headers["location"] == f"/bookings/{booking.id}?created=1"
    assert booking.status == "requested"
    assert booking.starts_at == at(world.day, 10)
    assert booking.site_id == world.site.id and booking.location_lat == world.site.lat
    assert booking.notes == "Second floor, ask at the desk."
    confirmation = requester.get(response.headers["location"]).text
    assert "Your request is registered" in confirmation
    assert booking.reference in confirmation and "Requested" in confirmation
    assert db.scalars(select(AuditLog).where(AuditLog.action == "booking.created")).first()


@pytest.mark.parametrize("typed", ["tir", "Tigrinya", "tigrigna", "TIGRINYA (tir)"])
def test_the_language_is_found_by_code_or_by_name_in_any_language(
    requester: Browser, world: World, db: Session, typed: str
) -> None:
    assert requester.post("/book", _form(world, language=typed)).status_code == 303
    assert [b.language_code for b in _bookings(db, world)] == ["tir"]


def test_a_date_in_the_past_is_shown_next_to_the_date_and_the_form_keeps_what_was_typed(
    requester: Browser, world: World, db: Session
) -> None:
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    response = requester.post("/book", _form(world, date=yesterday, notes="Keep me"))
    assert response.status_code == 422
    assert _error_of(response.text, "date") == "Error: The session cannot start in the past."
    assert 'id="error-summary"' in response.text and 'href="#f-date"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert ">Keep me</textarea>" in response.text
    assert f'value="{yesterday}"' in response.text
    assert _bookings(db, world) == []


def test_a_name_as_beneficiary_reference_is_refused(
    requester: Browser, world: World, db: Session
) -> None:
    response = requester.post("/book", _form(world, beneficiary_ref="Jean Dupont"))
    assert response.status_code == 422
    assert "never a name" in _error_of(response.text, "beneficiary_ref")
    assert _bookings(db, world) == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"language": "Klingon"}, "language", "No language by this name"),
        ({"language": ""}, "language", "This field is required"),
        ({"duration": "abc"}, "duration", "Give a whole number"),
        ({"duration": "600"}, "duration", "from 15 minutes to 8 hours"),
        ({"date": "2026-13-45"}, "date", "Give a date"),
        ({"time": "25:99"}, "time", "Give a time"),
        ({"time": ""}, "time", "Give a start time or a start window"),
        ({"window_start": "09:00"}, "window_end", "Give both"),
        ({"window_start": "11:00", "window_end": "12:00"}, "window_start", "inside the start"),
        ({"site": ""}, "site", "An on-site session needs a place"),
        ({"site": "abc"}, "site", "Choose one of the options"),
        ({"site": "999999"}, "site", "not one of your organisation"),
        ({"site": "address", "address": "Rue 1", "town": "Atlantis"}, "town", "No town"),
        ({"session_kind": "karaoke"}, "session_kind", "Choose one of the options"),
        ({"gender": "q"}, "gender", "Choose one of the options"),
        ({"avoid": ["x"]}, "avoid", "Give a whole number"),
        ({"avoid": ["999999"]}, "avoid", "not one of the providers"),
    ],
)
def test_bad_input_is_explained_next_to_its_field(
    requester: Browser, world: World, db: Session, changes: dict[str, Any], field: str, message: str
) -> None:
    response = requester.post("/book", _form(world, **changes))
    assert response.status_code == 422
    assert message.lower() in _error_of(response.text, field).lower()
    assert _bookings(db, world) == []


def _errors_of(html: str) -> dict[str, str]:
    found = re.findall(r'<p class="field-error" id="f-([a-z_]+)-error">(.*?)</p>', html, re.S)
    return {
        name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip() for name, text in found
    }


def test_every_error_of_the_form_is_reported_on_the_first_submit(
    requester: Browser, world: World, db: Session
) -> None:
    """A missing language and place, a 5-minute session and a reversed window: all at once."""
    form = _form(
        world, language="", site="", duration="5", time="", window_start="12:00", window_end="11:00"
    )
    response = requester.post("/book", form)
    assert response.status_code == 422
    errors = _errors_of(response.text)
    assert set(errors) == {"language", "site", "duration", "window_end"}
    assert "This field is required" in errors["language"]
    assert "needs a place" in errors["site"]
    assert "from 15 minutes to 8 hours" in errors["duration"]
    assert "end comes before the start" in errors["window_end"]
    assert response.text.count('<li><a href="#f-') == 4, "the summary lists all four"
    assert _bookings(db, world) == []


def test_a_malformed_field_does_not_hide_the_errors_of_the_others(
    requester: Browser, world: World, db: Session
) -> None:
    form = _form(world, date="2026-13-45", duration="abc", site="", beneficiary_ref="Jean Dupont")
    errors = _errors_of(requester.post("/book", form).text)
    assert set(errors) == {"date", "duration", "site", "beneficiary_ref"}
    assert "Give a date" in errors["date"] and "Give a whole number" in errors["duration"]
    assert "never a name" in errors["beneficiary_ref"]


def test_an_incomplete_start_is_not_called_a_start_in_the_past(
    requester: Browser, world: World
) -> None:
    today = dt.date.today().isoformat()
    errors = _errors_of(requester.post("/book", _form(world, date=today, time="")).text)
    assert errors == {"time": "Error: Give a start time or a start window."}


def test_an_unknown_field_is_refused_above_the_form(requester: Browser, world: World) -> None:
    response = requester.post("/book", _form(world, organisation_id="1"))
    assert response.status_code == 422
    assert "reload the page" in response.text


def test_errors_are_in_the_page_s_language(requester: Browser, world: World) -> None:
    requester.language("nl")
    response = requester.post("/book", _form(world, language="Klingon"))
    assert "Geen taal met deze naam of code" in _error_of(response.text, "language")


def test_a_typed_address_is_placed_at_its_town(
    requester: Browser, world: World, db: Session
) -> None:
    form = _form(world, site="address", address="Rue de la Citadelle 1", town="Tournai")
    assert requester.post("/book", form).status_code == 303
    [booking] = _bookings(db, world)
    assert booking.site_id is None
    assert booking.address == "Rue de la Citadelle 1, 7500 Tournai"
    assert booking.location_country == "BE" and round(booking.location_lat or 0) == 51


def test_a_window_phone_session_with_needs_keeps_them_all(
    requester: Browser, world: World, db: Session
) -> None:
    provider = world.provider(db, name="Known")
    other = world.provider(db, name="Avoided")
    form = _form(
        world,
        modality="phone",
        site="",
        time="",
        window_start="09:00",
        window_end="12:00",
        duration="30",
        gender="f",
        certified="on",
        continuity=str(provider.id),
        avoid=[str(other.id)],
        urgency="urgent",
    )
    assert requester.post("/book", form).status_code == 303
    [booking] = _bookings(db, world)
    assert (booking.window_earliest, booking.window_latest) == (
        at(world.day, 9),
        at(world.day, 12),
    )
    assert booking.required_gender == "f" and booking.requires_certified
    assert booking.priority == 3 and booking.location_lat is None
    preferences = {
        (p.provider_id, p.kind)
        for p in db.scalars(
            select(BookingProviderPreference).where(
                BookingProviderPreference.booking_id == booking.id
            )
        )
    }
    assert preferences == {(provider.id, "preferred"), (other.id, "excluded")}


def test_sending_the_same_form_twice_books_once(
    requester: Browser, world: World, db: Session
) -> None:
    first = requester.post("/book", _form(world))
    second = requester.post("/book", _form(world))
    assert first.headers["location"] == second.headers["location"]
    assert len(_bookings(db, world)) == 1


def test_the_form_offers_the_organisation_s_sites_only(
    requester: Browser, world: World, db: Session
) -> None:
    from tests.factories import make_site

    elsewhere = make_site(db, organisation=make_organisation(db), name="Somewhere else")
    html = requester.get("/book").text
    assert world.site.name in html and elsewhere.name not in html
    assert 'list="language-options"' in html and "Tigrinya (tir)" in html


def test_my_bookings_lists_mine_and_not_other_organisations(
    requester: Browser, world: World, db: Session
) -> None:
    mine = world.booking(db, hour=9)
    colleague = make_user(db, organisation=world.centre)
    theirs = make_booking(db, requester=colleague, starts_at=at(world.day, 11))
    foreign = make_booking(db, starts_at=at(world.day, 12))
    html = requester.get("/bookings").text
    assert mine.reference in html
    assert theirs.reference not in html and foreign.reference not in html
    everyone = requester.get("/bookings?scope=organisation").text
    assert theirs.reference in everyone and foreign.reference not in everyone
    assert requester.get(f"/bookings/{foreign.id}").status_code == 404


def test_a_booking_can_be_cancelled_with_a_reason(
    requester: Browser, world: World, db: Session
) -> None:
    booking = world.booking(db, hour=9)
    refused = requester.post(f"/bookings/{booking.id}/cancel", {"reason": "  "})
    assert refused.status_code == 422
    assert "Say why the session is cancelled" in refused.text
    done = requester.post(f"/bookings/{booking.id}/cancel", {"reason": "The family moved."})
    assert done.status_code == 303
    db.refresh(booking)
    assert booking.status == "cancelled" and booking.cancel_reason == "The family moved."
    page = requester.get(done.headers["location"]).text
    assert "The booking is cancelled" in page
    again = requester.post(f"/bookings/{booking.id}/cancel", {"reason": "Twice"})
    assert again.status_code == 409
    assert "The booking is already cancelled." in again.text


def test_another_organisation_s_booking_cannot_be_cancelled(
    requester: Browser, world: World, db: Session
) -> None:
    foreign = make_booking(db, starts_at=at(world.day, 12))
    response = requester.post(f"/bookings/{foreign.id}/cancel", {"reason": "Not mine"})
    assert response.status_code == 404
    db.refresh(foreign)
    assert foreign.status == "requested"
