"""Messages from templates: Jinja2 per locale, dates in the recipient's language and time zone.

Templates live in ``notify/templates/<locale>/<template>.<part>`` where part
is ``subject.txt``, ``txt``, ``html`` (email) or ``sms.txt``. A template
missing in a locale falls back to English; a variable missing from the
context is an error (``StrictUndefined``), never an empty hole in a message.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_time
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from booking.vocabulary import Locale
from notify.ics import build_invitation
from notify.labels import MODALITIES, SESSION_KINDS, label
from notify.sms import fit_sms

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
FALLBACK_LOCALE = Locale.EN.value
SMS_PART = "sms.txt"


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class RenderedSms:
    body: str
    truncated: bool


def _instant(value: Any) -> dt.datetime:
    instant = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if instant.tzinfo is None:
        raise ValueError(f"naive instant {value!r} in a message context")
    return instant


def _local(context: Context, value: Any) -> tuple[dt.datetime, str]:
    zone = ZoneInfo(context["timezone"])
    return _instant(value).astimezone(zone), context["locale"]


@pass_context
def _date_long(context: Context, value: Any) -> str:
    local, locale = _local(context, value)
    return format_date(local.date(), format="full", locale=locale)


@pass_context
def _time_short(context: Context, value: Any) -> str:
    """24-hour in all three locales, as on the web pages: readers live in Belgium and France."""
    local, locale = _local(context, value)
    return format_time(local.time(), format="HH:mm", locale=locale)


@pass_context
def _datetime_long(context: Context, value: Any) -> str:
    return f"{_date_long(context, value)}, {_time_short(context, value)}"


@pass_context
def _datetime_short(context: Context, value: Any) -> str:
    local, locale = _local(context, value)
    day = format_skeleton("MMMEd", local, locale=locale)
    return f"{day} {_time_short(context, value)}"


@pass_context
def _kind(context: Context, code: str | None) -> str:
    return label(SESSION_KINDS, context["locale"], code)


@pass_context
def _modality(context: Context, code: str | None) -> str:
    return label(MODALITIES, context["locale"], code)


@functools.cache
def environment() -> Environment:
    """The shared Jinja2 environment (autoescape for ``.html`` only)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        date_long=_date_long,
        time_short=_time_short,
        datetime_long=_datetime_long,
        datetime_short=_datetime_short,
        kind=_kind,
        modality=_modality,
    )
    return env


def _render_part(locale: str, template: str, part: str, context: Mapping[str, Any]) -> str:
    names = [f"{locale}/{template}.{part}"]
    if locale != FALLBACK_LOCALE:
        names.append(f"{FALLBACK_LOCALE}/{template}.{part}")
    selected = environment().select_template(names)
    return selected.render({**context, "locale": locale})


def render_email(
    *,
    template: str,
    locale: str,
    context: Mapping[str, Any],
    sender: str,
    recipient: str,
) -> RenderedEmail:
    """Subject, plain text and HTML of an email, with the ``.ics`` if the context has one."""
    subject = " ".join(_render_part(locale, template, "subject.txt", context).split())
    text = _render_part(locale, template, "txt", context).strip() + "\n"
    html = _render_part(locale, template, "html", context)
    attachments: list[Attachment] = []
    ics = context.get("ics")
    if ics:
        method = str(ics["method"]).upper()
        content = build_invitation(
            ics,
            locale=locale,
            language=str(context["language"]),
            session_kind=str(context["session_kind"]),
            description=f"{context['booking_reference']} - {context['booking_url']}",
            organizer=sender,
            attendee=recipient,
            attendee_name=str(context["recipient_name"]),
        )
        attachments.append(
            Attachment(
                filename="cancel.ics" if method == "CANCEL" else "invitation.ics",
                content=content,
                mime_type="text/calendar",
                params={"method": method},
            )
        )
    return RenderedEmail(subject=subject, text=text, html=html, attachments=tuple(attachments))


def render_sms(*, template: str, locale: str, context: Mapping[str, Any]) -> RenderedSms:
    """The text of an SMS, reduced to one segment."""
    body, truncated = fit_sms(_render_part(locale, template, SMS_PART, context))
    return RenderedSms(body=body, truncated=truncated)
