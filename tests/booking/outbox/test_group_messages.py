"""What a confirmation says of a group session and of a session held by video (issue 16).

A video session's message carries the link the requester gave, an onsite
one the address; a group's names the provider's own language and every
place's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from booking.models import Assignment, BookingPlace
from booking.outbox import events
from notify.render import render_email, render_sms
from tests.booking.outbox.scene import START, Scene, assign, make_scene, messages
from tests.factories import make_language

LINK = "https://visio.example.org/r/7c1f"
NOW = START - dt.timedelta(days=7)


def confirmation_text(db: Session, scene: Scene, assignment: Assignment) -> str:
    """The provider's confirmation email, as the worker renders it."""
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    [row] = messages(
        db,
        event="assignment_confirmed",
        recipient_user_id=scene.provider_user.id,  # type: ignore[union-attr]
        channel="email",
    )
    email = render_email(
        template=row.template,
        locale="en",
        context=row.context,
        sender="a@b.org",
        recipient=row.recipient,
    )
    return email.text + email.html


def staffed_by_video_down_its_ladder(db: Session) -> tuple[Scene, Assignment]:
    """An onsite booking that accepts video, given to its provider by video (with a link)."""
    scene = make_scene(db)
    scene.booking.accepted_modalities = ["video"]
    scene.booking.video_link = LINK
    assignment = assign(db, scene)
    assignment.modality = "video"
    return scene, assignment


def test_a_video_session_s_message_has_the_link_and_no_address(db: Session) -> None:
    scene = make_scene(db, modality="video")
    scene.booking.video_link = LINK
    text = confirmation_text(db, scene, assign(db, scene))
    assert LINK in text


def test_an_onsite_session_s_message_has_the_address_and_no_link(db: Session) -> None:
    scene = make_scene(db)
    scene.booking.video_link = LINK
    text = confirmation_text(db, scene, assign(db, scene))
    assert scene.booking.address and scene.booking.address in text
    assert LINK not in text


def test_a_session_staffed_by_video_down_its_ladder_has_the_link(db: Session) -> None:
    scene, assignment = staffed_by_video_down_its_ladder(db)
    text = confirmation_text(db, scene, assignment)
    assert LINK in text
    assert scene.booking.address is not None and scene.booking.address not in text


def test_a_group_s_message_names_the_provider_s_place_and_every_language(db: Session) -> None:
    scene = make_scene(db)
    make_language(db, code="pus", name_en="Pashto", name_nl="Pashto", name_fr="Pachto")
    db.add(BookingPlace(booking_id=scene.booking.id, position=1, language_code="pus"))
    db.flush()
    db.refresh(scene.booking)
    assignment = assign(db, scene)
    assignment.place = 1
    text = confirmation_text(db, scene, assignment)
    assert "Language: Pashto" in text
    assert "(2 places)" in text


def test_the_invitation_of_a_session_staffed_by_video_down_its_ladder_is_located_at_the_link(
    db: Session,
) -> None:
    _scene, assignment = staffed_by_video_down_its_ladder(db)
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    emails = messages(db, event="assignment_confirmed", channel="email")
    assert len(emails) == 2  # the provider's and the requester's
    assert {row.context["ics"]["location"] for row in emails} == {LINK}


def test_the_invitation_of_an_onsite_session_is_located_at_the_address(db: Session) -> None:
    scene = make_scene(db)
    scene.booking.accepted_modalities = ["video"]
    scene.booking.video_link = LINK
    events.assignment_confirmed(db, assignment=assign(db, scene), now=NOW)
    emails = messages(db, event="assignment_confirmed", channel="email")
    assert {row.context["ics"]["location"] for row in emails} == {scene.booking.address}


def test_the_sms_of_a_video_session_carries_the_link(db: Session) -> None:
    _scene, assignment = staffed_by_video_down_its_ladder(db)
    events.assignment_confirmed(db, assignment=assignment, now=NOW)
    [row] = messages(db, event="assignment_confirmed", channel="sms")
    for locale in ("en", "fr", "nl"):
        sms = render_sms(template=row.template, locale=locale, context=row.context)
        assert sms.body.endswith(" " + LINK) and not sms.truncated, sms.body


def test_the_offer_sms_of_a_video_session_carries_the_link(db: Session) -> None:
    scene = make_scene(db, modality="video")
    scene.booking.video_link = LINK
    offer = assign(db, scene, status="offered")
    events.offer_sent(db, assignment=offer, now=NOW)
    [row] = messages(db, event="offer_sent", channel="sms")
    for locale in ("en", "fr", "nl"):
        sms = render_sms(template=row.template, locale=locale, context=row.context)
        assert f" {LINK}. " in sms.body and not sms.truncated, sms.body
        assert sms.body.endswith(row.context["offer_url"]), sms.body


def test_the_offer_sms_of_an_onsite_session_has_no_link(db: Session) -> None:
    scene = make_scene(db)
    scene.booking.video_link = LINK
    offer = assign(db, scene, status="offered")
    events.offer_sent(db, assignment=offer, now=NOW)
    [row] = messages(db, event="offer_sent", channel="sms")
    assert LINK not in render_sms(template=row.template, locale="fr", context=row.context).body
