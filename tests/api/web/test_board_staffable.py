"""A dispatcher takes a cross-border or longer-drive suggestion from the booking's page.

These change the provider, not the booking: the button is the dispatcher's
(the provider update, with the tag the page read and an audit entry); the
requester sees the same suggestion as text only.
"""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.audit import AuditLog
from booking.models import Booking, Provider
from tests.api.web.conftest import Browser
from tests.booking.dispatch_world import World
from tests.factories import CALAIS


@pytest.fixture
def too_far(world: World, db: Session) -> tuple[Booking, Provider]:
    """An unfilled onsite booking whose only interpreter lives in Calais, beyond 90 minutes."""
    provider = world.provider(
        db, name="Awet", home_lat=CALAIS[0], home_lon=CALAIS[1], modalities=["onsite"]
    )
    return world.booking(db, hour=10, status="unfilled"), provider


def test_a_dispatcher_raises_the_named_provider_s_travel_limit_in_one_click(
    browser: Browser, world: World, db: Session, too_far: tuple[Booking, Provider]
) -> None:
    booking, awet = too_far
    dispatcher = browser.sign_in(world.dispatcher).language("en")
    page = dispatcher.get(f"/board/bookings/{booking.id}").text
    assert "What would make it possible" in page
    assert "Raise Awet&#39;s travel limit to" in page
    assert page.count(f'action="/board/bookings/{booking.id}/staffable"') == 1
    etag = html.unescape(page.split('name="etag" value="')[1].split('"')[0])
    form = {"n": "0", "provider_id": str(awet.id), "etag": etag}

    stale = dispatcher.post(f"/board/bookings/{booking.id}/staffable", {**form, "etag": '"0"'})
    assert stale.status_code == 412
    taken = dispatcher.post(f"/board/bookings/{booking.id}/staffable", form)
    assert taken.status_code == 303, taken.text
    db.refresh(awet)
    assert awet.max_travel_minutes > 90
    assert db.scalars(
        select(AuditLog).where(
            AuditLog.entity_id == str(awet.id), AuditLog.action == "provider.updated"
        )
    ).first()
    again = dispatcher.post(f"/board/bookings/{booking.id}/staffable", form)
    assert again.status_code == 409


def test_the_requester_sees_the_suggestion_but_no_button(
    browser: Browser, world: World, too_far: tuple[Booking, Provider]
) -> None:
    booking, _ = too_far
    page = browser.sign_in(world.requester).language("en").get(f"/bookings/{booking.id}").text
    assert "beyond their travel limit" in page
    assert "Not a change you make" in page
    assert "/staffable" not in page.split("beyond their travel limit")[1].split("</li>")[0]


def test_a_suggestion_that_changes_the_booking_is_shown_to_the_dispatcher_as_text(
    browser: Browser, world: World, db: Session
) -> None:
    """Another modality is the requester's change: the dispatcher's page says it, no button."""
    world.provider(db, name="Awet", modalities=["video"])
    booking = world.booking(db, hour=10, status="unfilled")
    page = browser.sign_in(world.dispatcher).language("en").get(f"/board/bookings/{booking.id}")
    assert page.status_code == 200, page.text
    assert "What would make it possible" in page.text
    assert "/staffable" not in page.text
