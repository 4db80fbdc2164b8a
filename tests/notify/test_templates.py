"""Every template in every locale, rendered with a full context; dates in the reader's terms."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

from booking.providers.links import link_url, sign_link
from notify.render import TEMPLATES_DIR, render_email, render_sms
from notify.sms import fits_one_segment, gsm7_length

LOCALES = ("fr", "nl", "en")
TEMPLATES = sorted(
    path.name.removesuffix(".subject.txt") for path in (TEMPLATES_DIR / "en").glob("*.subject.txt")
)
SMS_TEMPLATES = sorted(
    path.name.removesuffix(".sms.txt") for path in (TEMPLATES_DIR / "en").glob("*.sms.txt")
)
SENDER = "Truchement <noreply@truchement.example.org>"
START = dt.datetime(2031, 8, 12, 8, 0, tzinfo=dt.UTC)  # 10:00 in Brussels (CEST)
SECRET = "b-7c1f-SECRET"


def session(**overrides: Any) -> dict[str, Any]:
    """What the events store about a session, with long values where lengths matter."""
    values: dict[str, Any] = {
        "recipient_name": "Selam Tesfaye-Woldemariam",
        "recipient_role": "provider",
        "timezone": "Europe/Brussels",
        "base_url": "https://truchement.example.org",
        "booking_id": 123456,
        "booking_reference": "TR-86NA-FTFV",
        "booking_url": "https://truchement.example.org/bookings/123456",
        "language": "kurde sorani",
        "language_variety": "dialecte de Souleimaniye",
        "session_kind": "minors_activity",
        "modality": "onsite",
        "starts_at": START.isoformat(),
        "ends_at": (START + dt.timedelta(minutes=90)).isoformat(),
        "duration_minutes": 90,
        "place": "Centre d'accueil pour demandeurs d'asile, Rue de la Gare 12, 62128 Croisilles",
        "place_short": "62128 Boulogne-sur-Mer (Condette)"[:32],
        "organisation_name": "SAVI Condette - Maison d'enfants à caractère social",
        "requester_name": "Camille Dupont",
        "requester_email": "camille.dupont@caes.example.org",
        "provider_name": "Selam Tesfaye",
    }
    values.update(overrides)
    return values


def full_context(**overrides: Any) -> dict[str, Any]:
    """Every variable any template may use."""
    context = session()
    context.update(
        offer_url="https://truchement.example.org/schedule#offer-987654",
        accept_url="https://truchement.example.org/schedule?offer=987654&answer=accept#offer-987654",
        decline_url="https://truchement.example.org/schedule?offer=987654&answer=decline#offer-987654",
        offer_expires_at=(START - dt.timedelta(days=2)).isoformat(),
        offer_expired_at=(START - dt.timedelta(days=1)).isoformat(),
        hours_before=24,
        late_cancellation=True,
        ics={
            "method": "REQUEST",
            "uid": "assignment-987654@truchement",
            "sequence": 3,
            "starts_at": START.isoformat(),
            "ends_at": (START + dt.timedelta(minutes=90)).isoformat(),
            "location": "Rue de la Gare 12, 62128 Croisilles",
            "stamp": (START - dt.timedelta(days=3)).isoformat(),
        },
        sessions=[session(booking_reference=f"TR-0000-000{i}") for i in range(3)],
        horizon_hours=48,
        generated_at=(START - dt.timedelta(hours=30)).isoformat(),
        board_url="https://truchement.example.org/board",
        fell_through="Awet",
        proposed_name="Selam",
        offered=False,
        plan_url="https://truchement.example.org/board/plans/12",
    )
    context.update(overrides)
    return context


def test_the_template_set_is_the_one_the_events_use() -> None:
    assert TEMPLATES == [
        "assignment_cancelled",
        "assignment_confirmed",
        "booking_cancelled",
        "booking_not_yet_staffed",
        "booking_received",
        "booking_rescheduled",
        "dispatcher_digest",
        "offer_closed",
        "offer_sent",
        "offer_unanswered",
        "reminder",
        "repair_proposed",
    ]
    assert SMS_TEMPLATES == [
        "assignment_cancelled",
        "assignment_confirmed",
        "booking_cancelled",
        "booking_rescheduled",
        "offer_sent",
        "reminder",
    ]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_locale_has_every_part_of_every_template(locale: str) -> None:
    for template in TEMPLATES:
        for part in ("subject.txt", "txt", "html"):
            assert (TEMPLATES_DIR / locale / f"{template}.{part}").is_file(), (
                locale,
                template,
                part,
            )
    for template in SMS_TEMPLATES:
        assert (TEMPLATES_DIR / locale / f"{template}.sms.txt").is_file(), (locale, template)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("role", ["provider", "requester"])
def test_every_email_renders_in_every_locale(locale: str, template: str, role: str) -> None:
    email = render_email(
        template=template,
        locale=locale,
        context=full_context(recipient_role=role),
        sender=SENDER,
        recipient="selam@example.org",
    )
    assert email.subject and "\n" not in email.subject
    assert "Selam Tesfaye-Woldemariam" in email.text
    assert email.html.startswith("<!doctype html>")
    assert f'<html lang="{locale}">' in email.html
    for part in (email.subject, email.text, email.html):
        assert "{{" not in part and "{%" not in part


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", SMS_TEMPLATES)
def test_every_sms_fits_one_gsm7_segment_without_cutting(locale: str, template: str) -> None:
    sms = render_sms(template=template, locale=locale, context=full_context())
    assert not sms.truncated, sms.body
    assert gsm7_length(sms.body) is not None, sms.body
    assert fits_one_segment(sms.body)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", SMS_TEMPLATES)
def test_an_sms_about_a_remote_session_names_the_modality(locale: str, template: str) -> None:
    context = full_context(modality="phone", place=None, place_short=None)
    sms = render_sms(template=template, locale=locale, context=context)
    assert not sms.truncated


def test_dates_are_written_in_the_recipients_language_and_time_zone() -> None:
    texts = {
        locale: render_email(
            template="reminder",
            locale=locale,
            context=full_context(),
            sender=SENDER,
            recipient="x@example.org",
        ).text
        for locale in LOCALES
    }
    assert "mardi 12 août 2031, 10:00" in texts["fr"]
    assert "dinsdag 12 augustus 2031, 10:00" in texts["nl"]
    assert "Tuesday, August 12, 2031, 10:00" in texts["en"]  # a 24-hour clock in English too
    london = render_email(
        template="reminder",
        locale="en",
        context=full_context(timezone="Europe/London"),
        sender=SENDER,
        recipient="x@example.org",
    ).text
    assert "Tuesday, August 12, 2031, 09:00" in london


def test_sms_dates_are_short_and_local() -> None:
    fr = render_sms(template="reminder", locale="fr", context=full_context()).body
    nl = render_sms(template="reminder", locale="nl", context=full_context()).body
    assert "mar. 12 aout 10:00" in fr  # "août" reduced to GSM-7
    assert "di 12 aug 10:00" in nl


def test_html_is_escaped_and_text_is_not() -> None:
    context = full_context(organisation_name="<script>alert('x')</script> & Co")
    email = render_email(
        template="booking_received",
        locale="en",
        context=context,
        sender=SENDER,
        recipient="x@example.org",
    )
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "&amp; Co" in email.html
    assert "<script>alert('x')</script> & Co" in email.text


def test_a_missing_variable_is_an_error_not_a_blank() -> None:
    context = full_context()
    del context["language"]
    with pytest.raises(UndefinedError):
        render_email(
            template="booking_received",
            locale="fr",
            context=context,
            sender=SENDER,
            recipient="x@example.org",
        )


def test_a_locale_without_templates_falls_back_to_english() -> None:
    email = render_email(
        template="booking_received",
        locale="de",
        context=full_context(),
        sender=SENDER,
        recipient="x@example.org",
    )
    assert email.subject.startswith("Request received")


def test_the_templates_never_mention_beneficiary_data() -> None:
    context = full_context(beneficiary_ref=SECRET, notes=SECRET)
    for path in Path(TEMPLATES_DIR).rglob("*.*"):
        source = path.read_text()
        assert "beneficiary" not in source and "notes" not in source, path
    for locale in LOCALES:
        for template in TEMPLATES:
            email = render_email(
                template=template,
                locale=locale,
                context=context,
                sender=SENDER,
                recipient="x@example.org",
            )
            assert SECRET not in email.subject + email.text + email.html
            assert all(SECRET.encode() not in a.content for a in email.attachments)


def test_an_invitation_is_attached_only_when_the_event_made_one() -> None:
    with_ics = render_email(
        template="assignment_confirmed",
        locale="fr",
        context=full_context(),
        sender=SENDER,
        recipient="x@example.org",
    )
    context = full_context()
    del context["ics"]
    without = render_email(
        template="booking_rescheduled",
        locale="fr",
        context=context,
        sender=SENDER,
        recipient="x@example.org",
    )
    assert [a.filename for a in with_ics.attachments] == ["invitation.ics"]
    assert with_ics.attachments[0].params == {"method": "REQUEST"}
    assert without.attachments == ()
    assert "invitation jointe" not in without.text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", ["assignment_confirmed", "booking_rescheduled", "reminder"])
def test_the_sms_of_a_video_session_ends_with_its_link_in_one_segment(
    locale: str, template: str
) -> None:
    link = "https://visio.example.org/r/7c1f-kurde-sorani-souleimaniye"
    context = full_context(modality="video", place=None, place_short=None, video_link=link)
    sms = render_sms(template=template, locale=locale, context=context)
    assert not sms.truncated, sms.body
    assert sms.body.endswith(" " + link), sms.body


@pytest.mark.parametrize("locale", LOCALES)
def test_an_offer_sms_by_video_keeps_both_links_whole_or_the_video_one_out(locale: str) -> None:
    """The answer link is whole and last; the video link is whole, or left out if both don't fit.

    (One segment is 160 characters: the email always has the link.)
    """
    link = "https://visio.example.org/r/7c1f"
    video = full_context(modality="video", place=None, place_short=None, video_link=link)
    short = render_sms(template="offer_sent", locale=locale, context=video)
    assert f" {link}. " in short.body and not short.truncated, short.body
    link += "-kurde-sorani-souleimaniye"
    video["video_link"] = link
    token = sign_link(
        SECRET * 4,
        assignment_id=987654321,
        purpose="offer",
        expires_at=dt.datetime(2099, 12, 31, tzinfo=dt.UTC),
    )
    url = link_url("https://truchement.example.org", token)
    long = render_sms(template="offer_sent", locale=locale, context={**video, "offer_url": url})
    assert fits_one_segment(long.body) and long.body.endswith(" " + url), long.body
    assert link in long.body or "https://visio" not in long.body, long.body


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", SMS_TEMPLATES)
def test_every_sms_keeps_a_signed_link_whole_in_one_segment(locale: str, template: str) -> None:
    """A provider without a sign-in gets the longest links; the SMS still carries them whole."""
    token = sign_link(
        SECRET * 4,
        assignment_id=987654321,
        purpose="offer" if template == "offer_sent" else "session",
        expires_at=dt.datetime(2099, 12, 31, tzinfo=dt.UTC),
    )
    url = link_url("https://truchement.example.org", token)
    sms = render_sms(
        template=template, locale=locale, context=full_context(offer_url=url, booking_url=url)
    )
    assert fits_one_segment(sms.body)
    assert gsm7_length(sms.body) is not None
    if template == "offer_sent":
        assert sms.body.endswith(" " + url), sms.body
