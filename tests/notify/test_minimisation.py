"""Minimisation: no message ever carries the beneficiary's reference, the notes or a reason.

Every event is driven through the real event builders on a session whose
booking holds a beneficiary reference, notes and a cancellation reason; then
every message they queued is rendered in every language (fr, nl, en), as an
email (subject, text, HTML, the ``.ics`` invitation) or an SMS, and searched
for those values, in what is stored (the outbox row's context) and in what
would be sent.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy.orm import Session

from booking.outbox import events
from booking.vocabulary import Channel
from notify.render import TEMPLATES_DIR, render_email, render_sms
from notify.settings import NotifySettings
from tests.booking.outbox.scene import (
    BENEFICIARY,
    NOTES,
    START,
    assign,
    make_scene,
    mark_sent,
    messages,
)
from tests.factories import make_assignment, make_booking, make_provider

LOCALES = ("fr", "nl", "en")
NOW = START - dt.timedelta(days=7)
CANCEL_REASON = "Hospitalised after a panic attack"
SECRETS = (BENEFICIARY, NOTES, CANCEL_REASON, "trauma", "panic attack")
EMAIL_TEMPLATES = {
    p.name.removesuffix(".subject.txt") for p in TEMPLATES_DIR.glob("en/*.subject.txt")
}
SMS_TEMPLATES = {p.name.removesuffix(".sms.txt") for p in TEMPLATES_DIR.glob("en/*.sms.txt")}


def every_event(db: Session, *, signed_in: bool) -> None:
    """Drive each event once, on a booking that holds everything that must not leak."""
    scene = make_scene(db, signed_in=signed_in)
    booking = scene.booking
    events.booking_received(db, booking=booking, now=NOW)

    # A second provider's offer goes out, then closes when someone else takes it.
    other = make_provider(
        db, organisation=scene.providing, email="farid@example.org", phone_e164="+32470000099"
    )
    taken_elsewhere = assign(db, scene, status="offered")
    taken_elsewhere.provider_id = other.id
    db.flush()
    events.offer_sent(db, assignment=taken_elsewhere, now=NOW)
    mark_sent(db)
    events.offer_closed(db, assignment=taken_elsewhere, now=NOW)
    events.offer_unanswered(db, booking=booking, now=NOW)

    held = assign(db, scene, status="offered")
    events.offer_sent(db, assignment=held, now=NOW)
    mark_sent(db)
    held.status = "confirmed"
    booking.status = "confirmed"
    events.assignment_confirmed(db, assignment=held, now=NOW)
    mark_sent(db, event="assignment_confirmed")
    booking.starts_at = START + dt.timedelta(hours=3)
    held.starts_at, held.ends_at = booking.starts_at, booking.ends_at
    db.flush()
    events.booking_rescheduled(db, booking=booking, now=NOW)
    mark_sent(db, event="booking_rescheduled")
    events.assignment_cancelled(db, assignment=held, now=NOW)
    events.repair_proposed(
        db,
        booking=booking,
        plan_id=987,
        fell_through="Selam Tesfaye",
        proposed="Farid Nazari",
        offered=False,
        now=NOW,
    )
    events.booking_not_yet_staffed(db, booking=booking, plan_id=987, now=NOW)

    booking.cancel_reason = CANCEL_REASON
    booking.status = "cancelled"
    booking.cancelled_at = NOW
    db.flush()
    events.booking_cancelled(db, booking=booking, now=NOW)

    # A video session offered: its SMS carries the requester's link, and still nothing else.
    by_video = make_booking(
        db,
        requester=scene.requester,
        starts_at=START + dt.timedelta(days=1),
        modality="video",
        video_link="https://visio.example.org/r/7c1f",
        beneficiary_ref=BENEFICIARY,
        notes=NOTES,
    )
    offer = make_assignment(
        db, booking=by_video, provider=scene.provider, status="offered", created_by=scene.dispatcher
    )
    events.offer_sent(db, assignment=offer, now=NOW)

    # An open session tomorrow, for the dispatchers' digest.
    make_booking(
        db,
        requester=scene.requester,
        starts_at=START,
        beneficiary_ref=BENEFICIARY,
        notes=NOTES,
    )
    events.dispatcher_digest(db, now=START - dt.timedelta(hours=20))


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret.lower() in text.lower()]


@pytest.mark.parametrize("signed_in", [True, False], ids=["with-login", "without-login"])
def test_no_message_in_any_language_carries_beneficiary_data(
    db: Session, notify_env: NotifySettings, signed_in: bool
) -> None:
    every_event(db, signed_in=signed_in)
    rows = messages(db)
    emails = {row.template for row in rows if row.channel == Channel.EMAIL}
    texts = {row.template for row in rows if row.channel == Channel.SMS}
    assert emails == EMAIL_TEMPLATES, "every email template is exercised"
    assert texts == SMS_TEMPLATES, "every SMS template is exercised"
    assert any("ics" in row.context for row in rows), "invitations are exercised"
    for row in rows:
        assert leaks(json.dumps(row.context)) == [], (row.event, "stored context")
        for locale in LOCALES:
            if row.channel == Channel.SMS:
                body = render_sms(template=row.template, locale=locale, context=row.context).body
                assert leaks(body) == [], (row.event, locale, "sms")
                continue
            email = render_email(
                template=row.template,
                locale=locale,
                context=row.context,
                sender="Truchement <noreply@example.org>",
                recipient=row.recipient,
            )
            sent = email.subject + email.text + email.html
            sent += "".join(a.content.decode() for a in email.attachments)
            assert leaks(sent) == [], (row.event, locale, "email")


SIGNED_IN_PAGES = ("/bookings/", "/board", "/schedule")
"""Pages behind a sign-in (tests/api/web/test_message_links.py pins that they are)."""
SIGNED_LINK = "/l/"
"""A provider without a login gets a signed link to one offer or session instead."""


@pytest.mark.parametrize("signed_in", [True, False], ids=["with-login", "without-login"])
def test_every_link_in_a_message_needs_a_sign_in_or_is_a_signed_link(
    db: Session, notify_env: NotifySettings, signed_in: bool
) -> None:
    every_event(db, signed_in=signed_in)
    base = "https://truchement.example.org"  # TRUCHEMENT_BASE_URL of notify_env
    signed_links_to: set[int | None] = set()
    for row in messages(db):
        if row.channel == Channel.SMS:
            text = render_sms(template=row.template, locale="en", context=row.context).body
        else:
            text = render_email(
                template=row.template,
                locale="en",
                context=row.context,
                sender="a@b.org",
                recipient=row.recipient,
            ).text
        for path in re.findall(re.escape(base) + r"(/[^\s\"'<>)]*)", text):
            assert path.startswith((*SIGNED_IN_PAGES, SIGNED_LINK)), (row.event, path)
            if path.startswith(SIGNED_LINK):
                signed_links_to.add(row.recipient_user_id)
    # Only people who cannot sign in (no login: no user) get signed links.
    assert signed_links_to == {None}
