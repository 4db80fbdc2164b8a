"""Reaching providers from the pages: unreachable ones marked and confirmed by phone; the
provider's own contact page."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from booking.models import Provider
from tests.api.web.conftest import Browser
from tests.booking.dispatch_world import World
from tests.factories import make_assignment


@pytest.fixture
def dispatcher(browser: Browser, world: World) -> Browser:
    return browser.sign_in(world.dispatcher).language("en")


@pytest.fixture
def silent(db: Session, world: World) -> Provider:
    return world.provider(db, name="Mulu Haile", with_login=False, email=None, phone_e164=None)


def test_the_board_and_the_candidates_mark_who_no_message_reaches(
    dispatcher: Browser, world: World, db: Session, silent: Provider
) -> None:
    world.provider(db, name="Selam Tesfaye", email="selam@example.org")
    booking = world.booking(db, hour=10)
    make_assignment(db, booking=booking, provider=silent, created_by=world.dispatcher)
    board = dispatcher.get(f"/board?start={world.day.isoformat()}").text
    assert 'Mulu Haile (Proposed) <span class="badge badge-unreachable">' in board
    page = dispatcher.get(f"/board/bookings/{booking.id}").text
    rows = page[page.index('id="candidates-title"') :]
    mulu = rows[rows.index("Mulu Haile") : rows.index("</tr>", rows.index("Mulu Haile"))]
    selam = rows[rows.index("Selam Tesfaye") : rows.index("</tr>", rows.index("Selam Tesfaye"))]
    assert "No email or phone" in mulu and "No email or phone" not in selam
    # Nobody would see an offer: it is not among Mulu's choices.
    assert 'value="offered"' not in mulu and 'value="offered"' in selam
    assert 'name="confirmed_by_phone"' in mulu


def test_confirming_an_unreachable_provider_asks_to_call_them(
    dispatcher: Browser, world: World, db: Session, silent: Provider
) -> None:
    booking = world.booking(db, hour=10)
    proposal = make_assignment(db, booking=booking, provider=silent, created_by=world.dispatcher)
    page = dispatcher.get(f"/board/bookings/{booking.id}").text
    assert "No message reaches them: call them, then confirm." in page
    assert 'name="confirmed_by_phone" value="yes" required' in page
    refused = dispatcher.post(f"/board/assignments/{proposal.id}/confirm", {})
    assert refused.status_code == 409
    assert "Agreed with them by phone" in refused.text and "no email and no phone" in refused.text
    db.refresh(proposal)
    assert proposal.status == "proposed"
    done = dispatcher.post(
        f"/board/assignments/{proposal.id}/confirm", {"confirmed_by_phone": "yes"}
    )
    assert done.headers["location"].endswith("?done=confirmed")
    db.refresh(proposal)
    assert proposal.status == "confirmed" and proposal.confirmed_by_phone
    assert "Confirmed by phone." in dispatcher.get(f"/board/bookings/{booking.id}").text


def test_a_reachable_holder_shows_where_to_reach_them(
    dispatcher: Browser, world: World, db: Session
) -> None:
    provider = world.provider(
        db, name="Selam", email="selam@example.org", phone_e164="+32470000007"
    )
    booking = world.booking(db, hour=10)
    make_assignment(db, booking=booking, provider=provider, created_by=world.dispatcher)
    page = dispatcher.get(f"/board/bookings/{booking.id}").text
    assert 'href="mailto:selam@example.org"' in page and 'href="tel:+32470000007"' in page
    assert 'name="confirmed_by_phone"' not in page


def test_a_dispatcher_assigns_and_confirms_by_phone_in_one_go(
    dispatcher: Browser, world: World, db: Session, silent: Provider
) -> None:
    booking = world.booking(db, hour=10)
    form = {"provider_id": str(silent.id), "status": "confirmed"}
    refused = dispatcher.post(f"/board/bookings/{booking.id}/assign", form)
    assert refused.status_code == 409
    done = dispatcher.post(
        f"/board/bookings/{booking.id}/assign", {**form, "confirmed_by_phone": "yes"}
    )
    assert done.headers["location"].endswith("?done=assigned")
    db.refresh(booking)
    assert booking.status == "confirmed"


# --- the provider's own page ------------------------------------------------------------


@pytest.fixture
def me(browser: Browser, world: World, db: Session) -> tuple[Browser, Provider]:
    provider = world.provider(db, name="Yonas Tesfaye")
    return browser.sign_in(world.login(db, provider)).language("en"), provider


def test_a_provider_edits_their_contact_details(me: tuple[Browser, Provider], db: Session) -> None:
    browser, provider = me
    page = browser.get("/schedule/contact")
    assert page.status_code == 200
    assert 'href="/schedule/contact" aria-current="page"' in page.text
    assert f'value="{provider.email}"' in page.text
    saved = browser.post(
        "/schedule/contact",
        {
            "email": "yonas@example.org",
            "phone": "0470 00 00 11",
            "locale": "nl",
            "message_channels": "sms",
        },
    )
    assert saved.headers["location"] == "/schedule/contact?done=saved"
    db.refresh(provider)
    assert (provider.email, provider.phone_e164, provider.locale, provider.message_channels) == (
        "yonas@example.org",
        "+32470000011",
        "nl",
        "sms",
    )
    assert "Your contact details are saved." in browser.get(saved.headers["location"]).text


def test_bad_contact_details_are_shown_next_to_their_fields(
    me: tuple[Browser, Provider], db: Session
) -> None:
    browser, provider = me
    before = provider.email
    refused = browser.post(
        "/schedule/contact",
        {"email": "yonas@", "phone": "069 22 11 11", "locale": "fr", "message_channels": "both"},
    )
    assert refused.status_code == 422
    assert "This is not a valid email address." in refused.text
    assert "This is not a mobile number" in refused.text
    assert 'value="yonas@"' in refused.text
    db.refresh(provider)
    assert provider.email == before


def test_without_email_or_phone_the_page_says_nothing_reaches_them(
    me: tuple[Browser, Provider], db: Session
) -> None:
    browser, provider = me
    browser.post(
        "/schedule/contact",
        {"email": "", "phone": "", "locale": "fr", "message_channels": "both"},
    )
    db.refresh(provider)
    assert provider.email is None and not provider.reachable
    assert "no message reaches you" in browser.get("/schedule/contact").text
