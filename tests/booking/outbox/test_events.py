"""What each change enqueues, in the caller's transaction: recipients, keys, due times."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from icalendar import Calendar
from sqlalchemy.orm import Session

from booking.models import Assignment
from booking.outbox import events
from booking.outbox.models import OutboxMessage
from booking.vocabulary import OutboxStatus
from notify.render import render_email, render_sms
from tests.booking.outbox.scene import (
    BENEFICIARY,
    BRUSSELS,
    NOTES,
    START,
    Scene,
    assign,
    make_scene,
    mark_sent,
    messages,
)
from tests.conftest import reconfigure
from tests.factories import make_booking, make_organisation, make_service_agreement, make_user

NOW = START - dt.timedelta(days=3)  # Saturday 8 March 2031, 10:00 Brussels
UTC = dt.UTC


def keys(rows: list[OutboxMessage]) -> list[str]:
    return sorted(row.dedup_key for row in rows)


def invitation(row: OutboxMessage) -> Calendar:
    email = render_email(
        template=row.template,
        locale=row.locale,
        context=row.context,
        sender="Truchement <noreply@truchement.example.org>",
        recipient=row.recipient,
    )
    (attachment,) = email.attachments
    return Calendar.from_ical(attachment.content)


def confirmed_scene(db: Session) -> tuple[Scene, Assignment]:
    """A session confirmed with its provider: the confirmations and reminders are queued."""
    scene = make_scene(db)
    assignment = assign(db, scene)
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    return scene, assignment


def offered_scene(db: Session, now: dt.datetime = NOW) -> tuple[Scene, Assignment]:
    """A session offered to its provider at ``now``: the offer's email and SMS are queued."""
    scene = make_scene(db)
    assignment = assign(db, scene, status="offered")
    events.offer_sent(db, assignment=assignment, now=now)
    return scene, assignment


def cancel(db: Session, scene: Scene) -> None:
    """The booking is cancelled now."""
    scene.booking.status = "cancelled"
    scene.booking.cancelled_at = NOW
    events.booking_cancelled(db, booking=scene.booking, now=NOW)


def withdraw(db: Session, scene: Scene, assignment: Assignment) -> None:
    """The dispatcher takes the confirmed session off the provider's hands."""
    assignment.status = "cancelled"
    scene.booking.status = "requested"
    events.assignment_cancelled(db, assignment=assignment, now=NOW)


def test_a_new_booking_is_acknowledged_to_its_requester_by_email(db: Session) -> None:
    scene = make_scene(db)
    events.booking_received(db, booking=scene.booking, now=NOW)
    (row,) = messages(db)
    assert row.event == "booking_received"
    assert row.channel == "email"
    assert row.recipient == scene.requester.email
    assert row.recipient_user_id == scene.requester.id
    assert row.locale == "fr"
    assert row.due_at == NOW
    assert row.status == OutboxStatus.PENDING
    assert row.booking_id == scene.booking.id
    created = scene.booking.created_at.astimezone(UTC).isoformat()
    assert (
        row.dedup_key
        == f"booking_received:b{scene.booking.id}:u{scene.requester.id}:email:{created}"
    )


def test_the_same_event_twice_enqueues_nothing_more_and_keeps_the_transaction(db: Session) -> None:
    scene = make_scene(db)
    events.booking_received(db, booking=scene.booking, now=NOW)
    events.booking_received(db, booking=scene.booking, now=NOW)
    assert len(messages(db)) == 1
    # The transaction is still usable after the skipped insert.
    scene.booking.priority = 2
    db.flush()


def test_a_confirmation_goes_to_requester_and_provider_with_invitations_and_reminders(
    db: Session,
) -> None:
    scene, assignment = confirmed_scene(db)
    rows = messages(db)
    by_key = {(r.event, r.recipient_user_id, r.channel): r for r in rows}
    requester, provider = scene.requester.id, scene.provider_user.id
    assert set(by_key) == {
        ("assignment_confirmed", requester, "email"),
        ("assignment_confirmed", provider, "email"),
        ("assignment_confirmed", provider, "sms"),
        ("reminder_24h", requester, "email"),
        ("reminder_24h", provider, "email"),
        ("reminder_24h", provider, "sms"),
        ("reminder_2h", requester, "email"),
        ("reminder_2h", provider, "email"),
        ("reminder_2h", provider, "sms"),
    }
    assert by_key[("assignment_confirmed", provider, "sms")].recipient == "+32470123456"
    assert by_key[("assignment_confirmed", provider, "email")].locale == "nl"
    start = START.astimezone(UTC)
    assert by_key[("reminder_24h", provider, "email")].due_at == start - dt.timedelta(hours=24)
    assert by_key[("reminder_2h", provider, "sms")].due_at == start - dt.timedelta(hours=2)
    assert by_key[("assignment_confirmed", requester, "email")].dedup_key == (
        f"assignment_confirmed:a{assignment.id}:u{requester}:email:2031-03-11T09:00:00+00:00"
    )

    provider_invite = invitation(by_key[("assignment_confirmed", provider, "email")])
    (event,) = provider_invite.walk("VEVENT")
    assert provider_invite["METHOD"] == "REQUEST"
    assert str(event["UID"]) == f"assignment-{assignment.id}@truchement"
    assert int(event["SEQUENCE"]) == scene.booking.version_id
    assert event.decoded("DTSTART") == START
    assert str(event["LOCATION"]) == "Rue de la Gare 12, 62128 Croisilles"
    (requester_event,) = invitation(by_key[("assignment_confirmed", requester, "email")]).walk(
        "VEVENT"
    )
    assert str(requester_event["UID"]) == f"booking-{scene.booking.id}@truchement"


def test_no_message_carries_the_beneficiary_reference_or_the_notes(db: Session) -> None:
    scene = make_scene(db)
    events.booking_received(db, booking=scene.booking, now=NOW)
    assignment = assign(db, scene, status="offered")
    events.offer_sent(db, assignment=assignment, now=NOW)
    assignment.status = "confirmed"
    scene.booking.status = "confirmed"
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    scene.booking.starts_at = START + dt.timedelta(hours=3)
    assignment.starts_at = scene.booking.starts_at
    assignment.ends_at = scene.booking.ends_at
    events.booking_rescheduled(db, booking=scene.booking, now=NOW)
    events.booking_cancelled(db, booking=scene.booking, now=NOW)
    rows = messages(db)
    assert {r.event for r in rows} >= {
        "booking_received",
        "offer_sent",
        "assignment_confirmed",
        "booking_rescheduled",
        "booking_cancelled",
        "reminder_24h",
    }
    for row in rows:
        stored = json.dumps(row.context)
        assert BENEFICIARY not in stored and NOTES not in stored
        if row.channel == "sms":
            body = render_sms(template=row.template, locale=row.locale, context=row.context).body
            assert BENEFICIARY not in body
        else:
            email = render_email(
                template=row.template,
                locale=row.locale,
                context=row.context,
                sender="a@b.org",
                recipient=row.recipient,
            )
            everything = (
                email.subject
                + email.text
                + email.html
                + "".join(a.content.decode() for a in email.attachments)
            )
            assert BENEFICIARY not in everything and "trauma" not in everything


def test_a_reminder_whose_moment_has_passed_is_not_written(db: Session) -> None:
    scene = make_scene(db)
    assignment = assign(db, scene)
    events.assignment_confirmed(db, assignment=assignment, now=START - dt.timedelta(hours=5))
    reminders = [r.event for r in messages(db) if r.event.startswith("reminder")]
    assert set(reminders) == {"reminder_2h"}


def test_reminder_offsets_come_from_the_settings(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconfigure(monkeypatch, reminder_offsets_hours="[48, 1]")
    scene = make_scene(db)
    events.assignment_confirmed(db, assignment=assign(db, scene), now=NOW)
    due = {r.event: r.due_at for r in messages(db, recipient_user_id=scene.requester.id)}
    assert due["reminder_48h"] == START - dt.timedelta(hours=48)
    assert due["reminder_1h"] == START - dt.timedelta(hours=1)
    assert "reminder_24h" not in due


def test_a_cancellation_voids_pending_reminders_in_the_same_transaction(db: Session) -> None:
    scene, assignment = confirmed_scene(db)
    mark_sent(db, event="assignment_confirmed")
    first_sequence = scene.booking.version_id
    cancel(db, scene)
    rows = messages(db)
    assert {r.status for r in rows if r.event.startswith("reminder")} == {OutboxStatus.VOID}
    assert {r.last_error for r in rows if r.status == OutboxStatus.VOID} == {"booking cancelled"}
    cancels = [r for r in rows if r.event == "booking_cancelled"]

    assert {(r.recipient_user_id, r.channel) for r in cancels} == {
        (scene.requester.id, "email"),
        (scene.provider_user.id, "email"),
        (scene.provider_user.id, "sms"),
    }
    provider_cancel = next(
        r for r in cancels if r.recipient_user_id == scene.provider_user.id and r.channel == "email"
    )
    calendar = invitation(provider_cancel)
    (event,) = calendar.walk("VEVENT")
    assert calendar["METHOD"] == "CANCEL"
    assert str(event["UID"]) == f"assignment-{assignment.id}@truchement"
    assert int(event["SEQUENCE"]) > first_sequence
    assert str(event["STATUS"]) == "CANCELLED"


def test_a_cancellation_sends_a_calendar_cancel_only_where_an_invitation_went_out(
    db: Session,
) -> None:
    """The confirmation was still queued: it is voided, and nobody gets a CANCEL for it."""
    scene = make_scene(db)
    booking_id = scene.booking.id
    events.booking_received(db, booking=scene.booking, now=NOW)
    mark_sent(db, event="booking_received")
    assignment = assign(db, scene)
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    cancel(db, scene)
    rows = messages(db, booking_id=booking_id)
    assert {r.status for r in rows if r.event == "assignment_confirmed"} == {OutboxStatus.VOID}
    cancels = [r for r in rows if r.event == "booking_cancelled"]
    # The requester asked for the session: they hear of its end, in plain text.
    assert [(r.recipient_user_id, r.channel) for r in cancels] == [(scene.requester.id, "email")]
    assert "ics" not in cancels[0].context
    rendered = render_email(
        template="booking_cancelled",
        locale="en",
        context=cancels[0].context,
        sender="a@b.org",
        recipient=cancels[0].recipient,
    )
    assert rendered.attachments == () and "calendar" not in rendered.text
    # Nothing about the session ever reached the provider: they hear nothing now.
    assert all(
        r.status == OutboxStatus.VOID for r in rows if r.recipient_user_id == scene.provider_user.id
    )


def test_a_cancellation_cancels_each_calendar_entry_that_was_sent_and_no_other(
    db: Session,
) -> None:
    scene, _ = confirmed_scene(db)
    # The requester's invitation left; the provider's email is stuck, their SMS went out.
    mark_sent(db, event="assignment_confirmed", recipient_user_id=scene.requester.id)
    mark_sent(db, event="assignment_confirmed", channel="sms")
    cancel(db, scene)
    cancels = {
        (r.recipient_user_id, r.channel): r.context.get("ics")
        for r in messages(db, event="booking_cancelled")
    }
    assert set(cancels) == {
        (scene.requester.id, "email"),
        (scene.provider_user.id, "email"),
        (scene.provider_user.id, "sms"),
    }
    requester_ics = cancels[(scene.requester.id, "email")]
    assert requester_ics is not None and requester_ics["method"] == "CANCEL"
    assert requester_ics["uid"] == f"booking-{scene.booking.id}@truchement"
    assert cancels[(scene.provider_user.id, "email")] is None


def test_a_cancellation_tells_an_offered_provider_only_if_the_offer_reached_them(
    db: Session,
) -> None:
    scene, _ = offered_scene(db)
    mark_sent(db, event="offer_sent", channel="email")
    cancel(db, scene)
    to_provider = messages(db, event="booking_cancelled", recipient_user_id=scene.provider_user.id)
    assert {r.channel for r in to_provider} == {"email", "sms"}
    assert all("ics" not in r.context for r in to_provider)


def test_a_sent_message_is_not_voided(db: Session) -> None:
    scene, _ = confirmed_scene(db)
    for row in messages(db, event="assignment_confirmed"):
        row.status = OutboxStatus.SENT
        row.sent_at = NOW
    db.flush()
    events.booking_cancelled(db, booking=scene.booking, now=NOW)
    assert {r.status for r in messages(db, event="assignment_confirmed")} == {OutboxStatus.SENT}


def test_a_rescheduled_session_updates_the_invitation_and_moves_the_reminders(db: Session) -> None:
    scene, assignment = confirmed_scene(db)
    old_sequence = scene.booking.version_id
    new_start = START + dt.timedelta(days=1, hours=4)
    scene.booking.starts_at = new_start
    assignment.starts_at = new_start
    assignment.ends_at = new_start + dt.timedelta(hours=1)
    events.booking_rescheduled(db, booking=scene.booking, now=NOW)
    rows = messages(db)
    live_reminders = [
        r for r in rows if r.event.startswith("reminder") and r.status == OutboxStatus.PENDING
    ]
    assert {r.due_at for r in live_reminders} == {
        new_start - dt.timedelta(hours=24),
        new_start - dt.timedelta(hours=2),
    }
    assert len(live_reminders) == 6
    assert all(r.status == OutboxStatus.VOID for r in rows if r.event == "assignment_confirmed")
    update = next(
        r
        for r in rows
        if r.event == "booking_rescheduled"
        and r.recipient_user_id == scene.provider_user.id
        and r.channel == "email"
    )
    calendar = invitation(update)
    (event,) = calendar.walk("VEVENT")
    assert calendar["METHOD"] == "REQUEST"
    assert str(event["UID"]) == f"assignment-{assignment.id}@truchement"
    assert int(event["SEQUENCE"]) > old_sequence
    assert event.decoded("DTSTART") == new_start


def test_moving_back_to_the_first_time_schedules_reminders_again(db: Session) -> None:
    scene, assignment = confirmed_scene(db)
    for start in (START + dt.timedelta(hours=2), START):
        scene.booking.starts_at = start
        assignment.starts_at = start
        assignment.ends_at = start + dt.timedelta(hours=1)
        events.booking_rescheduled(db, booking=scene.booking, now=NOW)
    live = [
        r
        for r in messages(db)
        if r.event.startswith("reminder") and r.status == OutboxStatus.PENDING
    ]
    assert {r.due_at for r in live} == {
        START - dt.timedelta(hours=24),
        START - dt.timedelta(hours=2),
    }


def test_an_evening_sms_waits_for_the_morning_unless_the_session_is_near(db: Session) -> None:
    evening = dt.datetime(2031, 3, 7, 22, 30, tzinfo=BRUSSELS)
    offered_scene(db, evening)
    (sms,) = messages(db, channel="sms")
    (email,) = messages(db, channel="email")
    assert email.due_at == evening
    assert sms.due_at == dt.datetime(2031, 3, 8, 8, 0, tzinfo=BRUSSELS)

    near = make_scene(db, starts_at=dt.datetime(2031, 3, 8, 9, 0, tzinfo=BRUSSELS))
    offer = assign(db, near, status="offered")
    events.offer_sent(db, assignment=offer, now=evening)
    (urgent,) = messages(db, channel="sms", booking_id=near.booking.id)
    assert urgent.due_at == evening


def test_no_sms_without_a_mobile_number_or_without_a_gateway(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = make_scene(db, provider_phone=None)
    events.assignment_confirmed(db, assignment=assign(db, scene), now=NOW)
    assert messages(db, channel="sms") == []
    reconfigure(monkeypatch, sms_backend="none")
    other = make_scene(db)
    events.assignment_confirmed(db, assignment=assign(db, other), now=NOW)
    assert messages(db, channel="sms") == []
    assert len(messages(db, channel="email")) > 0


def test_an_offer_links_to_accept_and_decline_on_the_providers_schedule(db: Session) -> None:
    _, assignment = offered_scene(db)
    (email,) = messages(db, channel="email")
    root = "https://truchement.example.org/schedule"
    offer = assignment.id
    accept = f"{root}?offer={offer}&answer=accept#offer-{offer}"
    assert email.context["accept_url"] == accept
    assert email.context["decline_url"] == f"{root}?offer={offer}&answer=decline#offer-{offer}"
    assert email.context["booking_url"] == f"{root}#work-{assignment.id}"
    text = render_email(
        template="offer_sent",
        locale="nl",
        context=email.context,
        sender="a@b.org",
        recipient=email.recipient,
    ).text
    assert f"Aanvaarden: {accept}" in text
    (sms,) = messages(db, channel="sms")
    body = render_sms(template="offer_sent", locale="nl", context=sms.context).body
    assert f"{root}#offer-{assignment.id}" in body


def test_each_recipient_is_linked_to_the_page_they_can_open(db: Session) -> None:
    scene = make_scene(db)
    events.booking_received(db, booking=scene.booking, now=NOW)
    assign(db, scene, status="offered")
    events.offer_unanswered(db, booking=scene.booking, now=NOW)
    (to_requester,) = messages(db, event="booking_received")
    (to_dispatcher,) = messages(db, event="offer_unanswered")
    booking_id = scene.booking.id
    assert to_requester.context["booking_url"] == (
        f"https://truchement.example.org/bookings/{booking_id}"
    )
    assert to_dispatcher.context["booking_url"] == (
        f"https://truchement.example.org/board/bookings/{booking_id}"
    )


def test_a_closed_offer_voids_its_unsent_sms_and_says_so_by_email(db: Session) -> None:
    evening = dt.datetime(2031, 3, 7, 22, 30, tzinfo=BRUSSELS)
    _, assignment = offered_scene(db, evening)
    # The email left at once; the SMS waits for the morning (quiet hours).
    mark_sent(db, event="offer_sent", channel="email")
    events.offer_closed(db, assignment=assignment, now=evening)
    by_event = {(r.event, r.channel): r.status for r in messages(db)}
    assert by_event == {
        ("offer_sent", "email"): OutboxStatus.SENT,
        ("offer_sent", "sms"): OutboxStatus.VOID,
        ("offer_closed", "email"): OutboxStatus.PENDING,
    }


def test_an_offer_closed_before_any_of_it_went_out_is_voided_and_never_mentioned(
    db: Session,
) -> None:
    _, assignment = offered_scene(db)
    events.offer_closed(db, assignment=assignment, now=NOW)
    by_event = {(r.event, r.channel): r.status for r in messages(db)}
    assert by_event == {
        ("offer_sent", "email"): OutboxStatus.VOID,
        ("offer_sent", "sms"): OutboxStatus.VOID,
    }


@pytest.mark.parametrize("reason", ["offer accepted", "offer declined", "offer expired"])
def test_an_offer_that_is_settled_voids_what_of_it_is_still_queued(
    db: Session, reason: str
) -> None:
    scene = make_scene(db)
    other = make_scene(db)
    assignment = assign(db, scene, status="offered")
    untouched = assign(db, other, status="offered")
    events.offer_sent(db, assignment=assignment, now=NOW)
    events.offer_sent(db, assignment=untouched, now=NOW)
    mark_sent(db, event="offer_sent", channel="sms", booking_id=scene.booking.id)
    events.offer_settled(db, assignment=assignment, reason=reason)
    mine = {r.channel: (r.status, r.last_error) for r in messages(db, booking_id=scene.booking.id)}
    assert mine == {"email": (OutboxStatus.VOID, reason), "sms": (OutboxStatus.SENT, None)}
    assert {r.status for r in messages(db, booking_id=other.booking.id)} == {OutboxStatus.PENDING}


def test_an_unanswered_offer_is_flagged_to_the_dispatchers_who_serve_the_booking(
    db: Session,
) -> None:
    scene = make_scene(db)
    colleague = make_user(db, organisation=scene.providing, role="dispatcher")
    elsewhere = make_user(
        db, organisation=make_organisation(db, kind="providing"), role="dispatcher"
    )
    assignment = assign(db, scene, status="offered")
    events.offer_unanswered(db, booking=scene.booking, now=NOW)
    events.offer_unanswered(db, booking=scene.booking, now=NOW + dt.timedelta(minutes=1))
    rows = messages(db, event="offer_unanswered")
    assert {r.recipient_user_id for r in rows} == {scene.dispatcher.id, colleague.id}
    assert elsewhere.id not in {r.recipient_user_id for r in rows}
    assert {r.context["offer_expired_at"] for r in rows} == {
        assignment.offer_expires_at.astimezone(UTC).isoformat()
    }


def test_a_withdrawn_assignment_cancels_the_providers_invitation_and_everyones_reminders(
    db: Session,
) -> None:
    scene, assignment = confirmed_scene(db)
    mark_sent(db, event="assignment_confirmed", recipient_user_id=scene.provider_user.id)
    withdraw(db, scene, assignment)
    rows = messages(db)
    assert {r.status for r in rows if r.event.startswith("reminder")} == {OutboxStatus.VOID}
    withdrawn = [r for r in rows if r.event == "assignment_cancelled"]
    assert {(r.recipient_user_id, r.channel) for r in withdrawn} == {
        (scene.provider_user.id, "email"),
        (scene.provider_user.id, "sms"),
    }
    email = next(r for r in withdrawn if r.channel == "email")
    assert invitation(email)["METHOD"] == "CANCEL"
    # The requester's own invitation (one per booking) is left alone.
    requester_confirmation = messages(
        db, event="assignment_confirmed", recipient_user_id=scene.requester.id
    )
    assert [r.status for r in requester_confirmation] == [OutboxStatus.PENDING]


def test_work_withdrawn_before_its_confirmation_went_out_is_never_mentioned(
    db: Session,
) -> None:
    scene, assignment = confirmed_scene(db)
    withdraw(db, scene, assignment)
    to_provider = messages(db, recipient_user_id=scene.provider_user.id)
    assert {r.status for r in to_provider} == {OutboxStatus.VOID}
    assert "assignment_cancelled" not in {r.event for r in to_provider}


def test_work_withdrawn_after_an_sms_but_before_the_invitation_gets_no_calendar_cancel(
    db: Session,
) -> None:
    scene, assignment = confirmed_scene(db)
    mark_sent(db, event="assignment_confirmed", channel="sms")
    withdraw(db, scene, assignment)
    email = messages(db, event="assignment_cancelled", channel="email")[0]
    assert "ics" not in email.context
    rendered = render_email(
        template=email.template,
        locale="en",
        context=email.context,
        sender="a@b.org",
        recipient=email.recipient,
    )
    assert rendered.attachments == ()
    assert "calendar" not in rendered.text


def test_the_digest_lists_open_sessions_of_the_next_48_hours_once_a_day(db: Session) -> None:
    scene = make_scene(db, starts_at=NOW + dt.timedelta(hours=20))
    make_booking(db, requester=scene.requester, starts_at=NOW + dt.timedelta(hours=30))
    make_booking(db, requester=scene.requester, starts_at=NOW + dt.timedelta(hours=60))
    make_booking(
        db, requester=scene.requester, starts_at=NOW + dt.timedelta(hours=10), status="confirmed"
    )
    unserved = make_user(db, organisation=make_organisation(db), role="requester")
    make_booking(db, requester=unserved, starts_at=NOW + dt.timedelta(hours=5))
    # A dispatcher of a service that serves nobody with open work gets nothing.
    idle_service = make_organisation(db, kind="providing")
    make_service_agreement(db, providing=idle_service)
    make_user(db, organisation=idle_service, role="dispatcher")

    assert events.dispatcher_digest(db, now=NOW) == 1
    assert events.dispatcher_digest(db, now=NOW + dt.timedelta(hours=2)) == 0
    (digest,) = messages(db, event="dispatcher_digest")
    assert digest.recipient_user_id == scene.dispatcher.id
    assert digest.booking_id is None
    assert len(digest.context["sessions"]) == 2
    email = render_email(
        template="dispatcher_digest",
        locale="fr",
        context=digest.context,
        sender="a@b.org",
        recipient=digest.recipient,
    )
    assert email.subject == "2 séances sans intervenant·e dans les 48 h"
    assert events.dispatcher_digest(db, now=NOW + dt.timedelta(days=1)) == 1


def test_every_message_the_events_write_renders(db: Session) -> None:
    scene = make_scene(db, modality="video", requester_locale="en")
    events.booking_received(db, booking=scene.booking, now=NOW)
    assignment = assign(db, scene, status="offered")
    events.offer_sent(db, assignment=assignment, now=NOW)
    mark_sent(db)
    events.offer_unanswered(db, booking=scene.booking, now=NOW)
    events.offer_closed(db, assignment=assignment, now=NOW)
    assignment.status = "confirmed"
    scene.booking.status = "confirmed"
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    events.booking_rescheduled(db, booking=scene.booking, now=NOW)
    mark_sent(db)
    events.assignment_cancelled(db, assignment=assignment, now=NOW)
    events.booking_cancelled(db, booking=scene.booking, now=NOW)
    make_booking(db, requester=scene.requester, starts_at=START, modality="phone")
    events.dispatcher_digest(db, now=START - dt.timedelta(hours=12))
    rows = messages(db)
    assert {r.template for r in rows} == {
        "booking_received",
        "offer_sent",
        "offer_unanswered",
        "offer_closed",
        "assignment_confirmed",
        "booking_rescheduled",
        "assignment_cancelled",
        "booking_cancelled",
        "reminder",
        "dispatcher_digest",
    }
    for row in rows:
        if row.channel == "sms":
            assert not render_sms(
                template=row.template, locale=row.locale, context=row.context
            ).truncated
        else:
            render_email(
                template=row.template,
                locale=row.locale,
                context=row.context,
                sender="a@b.org",
                recipient=row.recipient,
            )
