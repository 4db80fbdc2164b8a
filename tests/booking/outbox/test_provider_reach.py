"""Every event that concerns a provider reaches their own contact, with a sign-in or without.

Each event runs twice: for a provider who signs in (links to their schedule)
and for one who never does (signed links to one page). Either way the
messages go to the provider's own email and mobile, in their language, by
the channels they chose, through the outbox with its keys and quiet hours.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy.orm import Session

from booking.outbox import events
from booking.outbox.models import OutboxMessage
from booking.providers.links import read_link
from booking.settings import get_settings
from booking.vocabulary import OutboxStatus
from notify.render import render_email, render_sms
from tests.booking.outbox.scene import (
    BENEFICIARY,
    NOTES,
    START,
    Scene,
    assign,
    make_scene,
    messages,
)
from tests.conftest import reconfigure

NOW = START - dt.timedelta(days=3)
PHONE = "+32470123456"
BASE = "https://truchement.example.org"


@pytest.fixture(params=[True, False], ids=["signed-in", "no-sign-in"])
def signed_in(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def provider_rows(db: Session, scene: Scene, **filters: object) -> list[OutboxMessage]:
    return messages(db, recipient_provider_id=scene.provider.id, **filters)


def delivered(db: Session, scene: Scene, *, event: str, channel: str | None = None) -> None:
    """The worker sent the provider's ``event`` messages (of one ``channel``, or all): later
    messages may refer to them (a CANCEL only follows an invitation that went out)."""
    filters: dict[str, object] = {"event": event}
    if channel is not None:
        filters["channel"] = channel
    for row in provider_rows(db, scene, **filters):
        row.status = OutboxStatus.SENT
        row.sent_at = NOW
    db.flush()


def channels_by_event(rows: list[OutboxMessage]) -> set[tuple[str, str]]:
    return {(row.event, row.channel) for row in rows}


def assert_addressed(rows: list[OutboxMessage], scene: Scene) -> None:
    """Each row goes to the provider's own address, in their language, named as theirs."""
    assert rows
    for row in rows:
        assert row.recipient == (PHONE if row.channel == "sms" else scene.provider.email)
        assert row.locale == "nl"
        assert row.recipient_provider_id == scene.provider.id
        expected_user = scene.provider_user.id if scene.provider_user is not None else None
        assert row.recipient_user_id == expected_user
        assert f":p{scene.provider.id}:" in row.dedup_key


def assert_links(row: OutboxMessage, scene: Scene, *, purpose: str, assignment_id: int) -> None:
    """Signed-in: links to the schedule. Otherwise: the signed page of this assignment."""
    url_key = "offer_url" if purpose == "offer" else "booking_url"
    url = str(row.context[url_key])
    if scene.provider_user is not None:
        assert url.startswith(f"{BASE}/schedule")
        return
    assert url.startswith(f"{BASE}/l/")
    token = url.removeprefix(f"{BASE}/l/")
    claim = read_link(get_settings().secret_key, token, now=NOW)
    assert (claim.assignment_id, claim.purpose) == (assignment_id, purpose)
    # An offer's link lasts a day past its deadline, a session's a day past the session.
    assert claim.expires_at > NOW


def test_an_offer_reaches_the_provider_by_email_and_sms(db: Session, signed_in: bool) -> None:
    scene = make_scene(db, signed_in=signed_in)
    offer = assign(db, scene, status="offered")
    offer.offer_expires_at = NOW + dt.timedelta(hours=2)
    events.offer_sent(db, assignment=offer, now=NOW)
    rows = provider_rows(db, scene)
    assert channels_by_event(rows) == {("offer_sent", "email"), ("offer_sent", "sms")}
    assert_addressed(rows, scene)
    for row in rows:
        assert_links(row, scene, purpose="offer", assignment_id=offer.id)
    email = next(row for row in rows if row.channel == "email")
    if not signed_in:
        url = str(email.context["offer_url"])
        assert email.context["accept_url"] == f"{url}?answer=accept"
        assert email.context["decline_url"] == f"{url}?answer=decline"
    sms = next(row for row in rows if row.channel == "sms")
    body = render_sms(template=sms.template, locale=sms.locale, context=sms.context)
    assert not body.truncated and str(sms.context["offer_url"]) in body.body


def test_a_confirmation_reaches_the_provider_with_invitation_and_reminders(
    db: Session, signed_in: bool
) -> None:
    scene = make_scene(db, signed_in=signed_in)
    assignment = assign(db, scene)
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    rows = provider_rows(db, scene)
    assert channels_by_event(rows) == {
        (event, channel)
        for event in ("assignment_confirmed", "reminder_24h", "reminder_2h")
        for channel in ("email", "sms")
    }
    assert_addressed(rows, scene)
    for row in rows:
        assert_links(row, scene, purpose="session", assignment_id=assignment.id)
    email = next(r for r in rows if r.event == "assignment_confirmed" and r.channel == "email")
    rendered = render_email(
        template=email.template,
        locale=email.locale,
        context=email.context,
        sender="Truchement <noreply@truchement.example.org>",
        recipient=email.recipient,
    )
    assert rendered.attachments[0].params == {"method": "REQUEST"}
    assert str(email.context["booking_url"]) in rendered.text


def test_a_change_reaches_the_provider(db: Session, signed_in: bool) -> None:
    scene = make_scene(db, signed_in=signed_in)
    assignment = assign(db, scene)
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    scene.booking.starts_at = START + dt.timedelta(hours=2)
    assignment.starts_at = scene.booking.starts_at
    assignment.ends_at = scene.booking.ends_at
    events.booking_rescheduled(db, booking=scene.booking, now=NOW)
    rows = provider_rows(db, scene, event="booking_rescheduled")
    assert channels_by_event(rows) == {
        ("booking_rescheduled", "email"),
        ("booking_rescheduled", "sms"),
    }
    assert_addressed(rows, scene)
    for row in rows:
        assert_links(row, scene, purpose="session", assignment_id=assignment.id)
    # The reminders of the old time are voided, new ones written for the new time.
    reminders = provider_rows(db, scene, event="reminder_2h")
    assert {r.status for r in reminders} == {OutboxStatus.VOID, OutboxStatus.PENDING}
    live = [r for r in reminders if r.status == OutboxStatus.PENDING]
    assert {r.due_at for r in live} == {scene.booking.starts_at - dt.timedelta(hours=2)}


def test_a_cancelled_booking_reaches_the_provider_and_voids_their_reminders(
    db: Session, signed_in: bool
) -> None:
    scene = make_scene(db, signed_in=signed_in)
    assignment = assign(db, scene)
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    delivered(db, scene, event="assignment_confirmed")
    scene.booking.status = "cancelled"
    scene.booking.cancelled_at = NOW
    events.booking_cancelled(db, booking=scene.booking, now=NOW)
    cancels = provider_rows(db, scene, event="booking_cancelled")
    assert channels_by_event(cancels) == {
        ("booking_cancelled", "email"),
        ("booking_cancelled", "sms"),
    }
    assert_addressed(cancels, scene)
    email = next(r for r in cancels if r.channel == "email")
    assert email.context["ics"]["method"] == "CANCEL"
    reminders = [r for r in provider_rows(db, scene) if r.event.startswith("reminder")]
    assert reminders and {r.status for r in reminders} == {OutboxStatus.VOID}


def test_a_withdrawn_session_reaches_the_provider(db: Session, signed_in: bool) -> None:
    scene = make_scene(db, signed_in=signed_in)
    assignment = assign(db, scene)
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    delivered(db, scene, event="assignment_confirmed", channel="email")
    assignment.status = "cancelled"
    events.assignment_cancelled(db, assignment=assignment, now=NOW)
    rows = provider_rows(db, scene, event="assignment_cancelled")
    assert channels_by_event(rows) == {
        ("assignment_cancelled", "email"),
        ("assignment_cancelled", "sms"),
    }
    assert_addressed(rows, scene)
    # The part of their confirmation that had not gone yet (the SMS) is voided.
    confirmations = provider_rows(db, scene, event="assignment_confirmed")
    assert {(r.channel, r.status) for r in confirmations} == {
        ("email", OutboxStatus.SENT),
        ("sms", OutboxStatus.VOID),
    }


def test_a_filled_offer_is_closed_for_the_provider_and_its_sms_voided(
    db: Session, signed_in: bool
) -> None:
    scene = make_scene(db, signed_in=signed_in)
    offer = assign(db, scene, status="offered")
    events.offer_sent(db, assignment=offer, now=NOW)
    delivered(db, scene, event="offer_sent", channel="email")
    offer.status = "cancelled"
    events.offer_closed(db, assignment=offer, now=NOW)
    sent = provider_rows(db, scene, event="offer_sent")
    assert {(r.channel, r.status) for r in sent} == {
        ("email", OutboxStatus.SENT),
        ("sms", OutboxStatus.VOID),
    }
    (closed,) = provider_rows(db, scene, event="offer_closed")
    assert closed.channel == "email"
    assert_addressed([closed], scene)


def test_each_event_is_enqueued_once_however_often_it_runs(db: Session, signed_in: bool) -> None:
    scene = make_scene(db, signed_in=signed_in)
    assignment = assign(db, scene)
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    count = len(messages(db))
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    assert len(messages(db)) == count


def test_an_sms_due_at_night_waits_for_the_morning(db: Session, signed_in: bool) -> None:
    scene = make_scene(db, signed_in=signed_in)
    offer = assign(db, scene, status="offered")
    night = dt.datetime(2031, 3, 7, 22, 30, tzinfo=START.tzinfo)
    events.offer_sent(db, assignment=offer, now=night)
    (sms,) = provider_rows(db, scene, channel="sms")
    (email,) = provider_rows(db, scene, channel="email")
    assert email.due_at == night
    assert sms.due_at > night and sms.due_at.astimezone(START.tzinfo).hour >= 8


def test_no_provider_message_carries_the_beneficiary_data(db: Session, signed_in: bool) -> None:
    scene = make_scene(db, signed_in=signed_in)
    offer = assign(db, scene, status="offered")
    events.offer_sent(db, assignment=offer, now=NOW)
    offer.status = "confirmed"
    scene.booking.status = "confirmed"
    events.assignment_confirmed(db, assignment=offer, now=NOW)
    for row in provider_rows(db, scene):
        stored = json.dumps(row.context)
        assert BENEFICIARY not in stored and NOTES not in stored


# --- what the provider chose, and what they can receive -----------------------------------


def test_email_only_means_no_sms(db: Session) -> None:
    scene = make_scene(db, signed_in=False)
    scene.provider.message_channels = "email"
    events.assignment_confirmed(db, assignment=assign(db, scene), now=NOW)
    assert {r.channel for r in provider_rows(db, scene)} == {"email"}


def test_sms_only_means_no_email_where_an_sms_exists(db: Session) -> None:
    scene = make_scene(db, signed_in=False)
    scene.provider.message_channels = "sms"
    offer = assign(db, scene, status="offered")
    events.offer_sent(db, assignment=offer, now=NOW)
    assert {r.channel for r in provider_rows(db, scene)} == {"sms"}
    delivered(db, scene, event="offer_sent")
    # The notice that an offer was filled has no SMS form: it still reaches them by email.
    offer.status = "cancelled"
    events.offer_closed(db, assignment=offer, now=NOW)
    (closed,) = provider_rows(db, scene, event="offer_closed")
    assert closed.channel == "email"


def test_a_preference_that_cannot_be_met_falls_back_to_what_reaches_them(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = make_scene(db, signed_in=False, provider_phone=None)
    scene.provider.message_channels = "sms"
    events.assignment_confirmed(db, assignment=assign(db, scene), now=NOW)
    assert {r.channel for r in provider_rows(db, scene)} == {"email"}


def test_without_an_sms_gateway_an_sms_only_provider_gets_email(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconfigure(monkeypatch, sms_backend="none")
    scene = make_scene(db, signed_in=False)
    scene.provider.message_channels = "sms"
    events.assignment_confirmed(db, assignment=assign(db, scene), now=NOW)
    assert {r.channel for r in provider_rows(db, scene)} == {"email"}


def test_a_provider_with_only_a_phone_gets_sms_only(db: Session) -> None:
    scene = make_scene(db, signed_in=False)
    scene.provider.email = None
    events.assignment_confirmed(db, assignment=assign(db, scene), now=NOW)
    assert {r.channel for r in provider_rows(db, scene)} == {"sms"}


def test_a_provider_nobody_can_reach_gets_nothing_and_the_requester_still_does(
    db: Session,
) -> None:
    scene = make_scene(db, signed_in=False, provider_phone=None)
    scene.provider.email = None
    events.assignment_confirmed(db, assignment=assign(db, scene), now=NOW)
    assert provider_rows(db, scene) == []
    assert messages(db, recipient_user_id=scene.requester.id)


def test_the_login_s_own_email_is_not_where_messages_go(db: Session) -> None:
    """A linked login is a way in: the provider's own address is the one written to."""
    scene = make_scene(db, signed_in=True)
    scene.provider.email = "selam.own@example.org"
    events.assignment_confirmed(db, assignment=assign(db, scene), now=NOW)
    emails = provider_rows(db, scene, channel="email")
    assert {r.recipient for r in emails} == {"selam.own@example.org"}
    assert scene.provider_user is not None and scene.provider_user.email != "selam.own@example.org"


def test_an_inactive_provider_gets_nothing(db: Session) -> None:
    scene = make_scene(db, signed_in=False)
    scene.provider.is_active = False
    events.assignment_confirmed(db, assignment=assign(db, scene), now=NOW)
    assert provider_rows(db, scene) == []


def test_a_deactivated_login_gets_signed_links(db: Session) -> None:
    """They can no longer sign in, so a link to their schedule would be a dead end."""
    scene = make_scene(db, signed_in=True)
    assert scene.provider_user is not None
    scene.provider_user.is_active = False
    assignment = assign(db, scene)
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    (email,) = provider_rows(db, scene, event="assignment_confirmed", channel="email")
    assert str(email.context["booking_url"]).startswith(f"{BASE}/l/")
