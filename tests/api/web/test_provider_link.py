"""The signed page of a provider without a sign-in: one offer or one session, nothing more."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments.offers import offer_booking
from booking.audit import AuditLog
from booking.models import Assignment, OutboxMessage, Provider
from booking.providers.links import GRACE, LinkPurpose, link_url, sign_link
from booking.settings import Settings
from booking.types import utc_now
from tests.api.web.conftest import Browser
from tests.booking.dispatch_world import World
from tests.conftest import clear_settings
from tests.factories import make_assignment

BASE = "https://truchement.example.org"
BENEFICIARY = "b-7c1f-SECRET"
NOTES = "Knows the father; trauma after the crossing"


@pytest.fixture(autouse=True)
def same_secret(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The outbox signs links with the settings the app reads them with, as in production."""
    monkeypatch.setenv("TRUCHEMENT_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("TRUCHEMENT_BASE_URL", BASE)
    monkeypatch.setenv("TRUCHEMENT_SMS_BACKEND", "file")
    clear_settings()
    yield
    clear_settings()


@pytest.fixture
def provider(db: Session, world: World) -> Provider:
    return world.provider(
        db,
        name="Awet Gebre",
        with_login=False,
        email="awet@example.org",
        phone_e164="+32470000042",
        locale="en",
    )


def path_of(
    settings: Settings,
    assignment: Assignment,
    purpose: LinkPurpose = "offer",
    expires_at: dt.datetime | None = None,
) -> str:
    token = sign_link(
        settings.secret_key,
        assignment_id=assignment.id,
        purpose=purpose,
        expires_at=expires_at or utc_now() + dt.timedelta(days=1),
    )
    return urlsplit(link_url(BASE, token)).path


def offer_to(db: Session, world: World, provider: Provider) -> Assignment:
    booking = world.booking(db, hour=10, beneficiary_ref=BENEFICIARY, notes=NOTES)
    booking.status = "proposed"
    return make_assignment(
        db, booking=booking, provider=provider, status="offered", created_by=world.dispatcher
    )


def audit(db: Session, action: str) -> list[AuditLog]:
    return list(db.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_the_sms_link_of_an_offer_leads_to_accepting_it(
    browser: Browser, world: World, db: Session, provider: Provider
) -> None:
    """The whole way: an offer sent by the service, the link of its SMS, the Accept button."""
    booking = world.booking(db, hour=10)
    (offer,) = offer_booking(
        db, actor=world.dispatcher, booking=booking, count=1, expires_in_minutes=120
    )
    sms = db.scalars(
        select(OutboxMessage).where(
            OutboxMessage.recipient_provider_id == provider.id, OutboxMessage.channel == "sms"
        )
    ).one()
    assert sms.recipient == "+32470000042"
    url = str(sms.context["offer_url"])
    assert url.startswith(f"{BASE}/l/")
    page = browser.get(urlsplit(url).path)
    assert page.status_code == 200
    assert "An offer for you" in page.text and "Hello Awet Gebre," in page.text
    assert 'data-answer="accept"' in page.text and booking.reference in page.text
    response = browser.post(urlsplit(url).path + "/accept", {})
    assert response.status_code == 303
    assert response.headers["location"] == urlsplit(url).path + "?done=accepted"
    db.refresh(offer)
    assert offer.status == "accepted" and offer.decided_by_id is None
    (accepted,) = audit(db, "assignment.accepted")
    assert accepted.actor_user_id is None and accepted.changes["via"] == "signed_link"
    after = browser.get(response.headers["location"]).text
    assert "You accepted the offer." in after and 'data-answer="accept"' not in after


def test_the_email_link_puts_the_focus_on_the_button_it_named(
    browser: Browser, world: World, db: Session, provider: Provider, settings: Settings
) -> None:
    offer = offer_to(db, world, provider)
    page = browser.get(path_of(settings, offer) + "?answer=decline").text
    decline = page[page.index('data-answer="decline"') :].split(">", 1)[0]
    assert "autofocus" in decline
    assert offer.status == "offered", "opening the page answers nothing"


def test_the_page_shows_the_session_and_never_the_beneficiary_or_the_notes(
    browser: Browser, world: World, db: Session, provider: Provider, settings: Settings
) -> None:
    offer = offer_to(db, world, provider)
    offer.status = "confirmed"
    page = browser.get(path_of(settings, offer, "session"))
    assert page.status_code == 200
    assert "Your session" in page.text
    assert BENEFICIARY not in page.text and NOTES not in page.text and "trauma" not in page.text
    assert "Tigrinya" in page.text and world.centre.name in page.text
    assert 'data-answer="accept"' not in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "same-origin"
    (opened,) = audit(db, "assignment.link_opened")
    assert opened.changes == {
        "provider_id": provider.id,
        "purpose": "session",
        "via": "signed_link",
    }


def test_the_page_speaks_the_provider_s_language_unless_the_browser_chose(
    browser: Browser, world: World, db: Session, provider: Provider, settings: Settings
) -> None:
    provider.locale = "nl"
    offer = offer_to(db, world, provider)
    assert "Een aanbod voor u" in browser.get(path_of(settings, offer)).text
    assert "Une offre pour vous" in browser.language("fr").get(path_of(settings, offer)).text


def test_an_offer_is_declined_from_its_link(
    browser: Browser, world: World, db: Session, provider: Provider, settings: Settings
) -> None:
    offer = offer_to(db, world, provider)
    path = path_of(settings, offer)
    response = browser.post(path + "/decline", {})
    assert response.headers["location"] == path + "?done=declined"
    db.refresh(offer)
    assert offer.status == "declined"
    (declined,) = audit(db, "assignment.declined")
    assert declined.actor_user_id is None and declined.changes["via"] == "signed_link"


def test_an_answered_offer_says_so_and_cannot_be_answered_again(
    browser: Browser, world: World, db: Session, provider: Provider, settings: Settings
) -> None:
    offer = offer_to(db, world, provider)
    path = path_of(settings, offer)
    browser.post(path + "/accept", {})
    again = browser.post(path + "/decline", {})
    assert again.status_code == 409
    assert "This offer was already answered or withdrawn." in again.text
    db.refresh(offer)
    assert offer.status == "accepted"


def test_an_expired_offer_is_refused_by_the_service(
    browser: Browser, world: World, db: Session, provider: Provider, settings: Settings
) -> None:
    offer = offer_to(db, world, provider)
    offer.offer_expires_at = utc_now() - dt.timedelta(minutes=1)
    path = path_of(settings, offer)
    assert 'data-answer="accept"' not in browser.get(path).text
    refused = browser.post(path + "/accept", {})
    assert refused.status_code == 409 and "This offer has expired." in refused.text


def test_a_session_link_cannot_answer_anything(
    browser: Browser, world: World, db: Session, provider: Provider, settings: Settings
) -> None:
    offer = offer_to(db, world, provider)
    assert browser.post(path_of(settings, offer, "session") + "/accept", {}).status_code == 403
    db.refresh(offer)
    assert offer.status == "offered"


def test_a_form_without_its_csrf_token_is_refused(
    browser: Browser, world: World, db: Session, provider: Provider, settings: Settings
) -> None:
    offer = offer_to(db, world, provider)
    browser.settle()
    refused = browser.client.post(path_of(settings, offer) + "/accept", data={})
    assert refused.status_code == 403
    db.refresh(offer)
    assert offer.status == "offered"


def test_an_expired_link_is_gone_and_a_forged_one_not_found(
    browser: Browser, world: World, db: Session, provider: Provider, settings: Settings
) -> None:
    offer = offer_to(db, world, provider)
    expired = path_of(settings, offer, expires_at=utc_now() - dt.timedelta(seconds=1))
    gone = browser.get(expired)
    assert gone.status_code == 410 and "This link has expired." in gone.text
    good = path_of(settings, offer)
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    assert browser.get(forged).status_code == 404
    other_secret = Settings(
        environment="test", secret_key="another-secret-entirely-1234-of-32-bytes-at-least"
    )
    assert browser.get(path_of(other_secret, offer)).status_code == 404
    for junk in ("/l/x", "/l/" + "9" * 300, "/l/1.o.zz", "/l/..."):
        assert browser.get(junk).status_code == 404
    assert browser.post(forged + "/accept", {}).status_code == 404
    db.refresh(offer)
    assert offer.status == "offered"


def test_a_link_of_one_provider_cannot_answer_another_s_offer(
    browser: Browser, world: World, db: Session, provider: Provider, settings: Settings
) -> None:
    """The token names the assignment; another provider's offer needs its own signed link."""
    mine = offer_to(db, world, provider)
    other = world.provider(db, name="Someone Else", with_login=False)
    theirs = make_assignment(
        db,
        booking=world.booking(db, hour=14),
        provider=other,
        status="offered",
        created_by=world.dispatcher,
    )
    browser.post(path_of(settings, mine) + "/accept", {})
    db.refresh(theirs)
    assert theirs.status == "offered"


def test_an_inactive_provider_s_link_no_longer_works(
    browser: Browser, world: World, db: Session, provider: Provider, settings: Settings
) -> None:
    offer = offer_to(db, world, provider)
    provider.is_active = False
    assert browser.get(path_of(settings, offer)).status_code == 404


def test_links_expire_a_day_after_what_they_are_about() -> None:
    from booking.providers.links import offer_link_expiry, session_link_expiry

    now = utc_now()
    assert offer_link_expiry(now, now + dt.timedelta(days=5)) == now + GRACE
    assert offer_link_expiry(now, now + dt.timedelta(hours=3)) == now + dt.timedelta(hours=3)
    assert session_link_expiry(now) == now + GRACE


def test_a_link_is_short_enough_for_an_sms_and_its_mac_is_checked_in_full(
    settings: Settings,
) -> None:
    from booking.providers.links import LinkRefused, read_link

    expires = utc_now() + dt.timedelta(days=30)
    token = sign_link(
        settings.secret_key, assignment_id=1234567, purpose="offer", expires_at=expires
    )
    assert len(token) <= 45
    assert read_link(settings.secret_key, token, now=utc_now()).assignment_id == 1234567
    value, mac = token.rsplit(".", 1)
    for forged in (f"{value}.{mac[:-1]}", f"{value}.{mac}A", f"1234568{value[7:]}.{mac}"):
        with pytest.raises(LinkRefused):
            read_link(settings.secret_key, forged, now=utc_now())
