"""The provider's pages: offers to answer, upcoming work, availability, the calendar feed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from api.reads import log_reads
from api.web.context import CheckedForm, Form, Page, ProviderPage
from api.web.forms import language_names
from booking.access import provider_for_user
from booking.assignments.models import Assignment
from booking.assignments.service import (
    accept,
    assignment_query_for,
    decline,
    get_visible_assignment,
)
from booking.bookings.models import Booking
from booking.bookings.provider_view import place_language
from booking.dates import day_in_bounds, wall_time
from booking.errors import DomainError, NotFound, Unprocessable
from booking.policies import provider_may_decline
from booking.privacy.models import ReadVia
from booking.privacy.read_log import booking_reads
from booking.providers.availability import (
    MAX_EXCEPTIONS,
    MAX_RULES,
    ExceptionData,
    RuleAdjustment,
    RuleData,
    get_availability,
    replace_availability,
    rule_adjustments,
)
from booking.providers.calendar import feed_url, issue_calendar_token
from booking.providers.models import Provider
from booking.providers.service import (
    CONTACT_FIELDS,
    get_managed_provider,
    timezone_of,
    update_contact,
)
from booking.types import utc_now
from booking.vocabulary import (
    PROVIDER_VISIBLE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    AvailabilityExceptionKind,
    MessageChannels,
)

router = APIRouter(include_in_schema=False)

BLANK_RULES = 3
BLANK_EXCEPTIONS = 2
DONE_MESSAGES = frozenset({"accepted", "declined", "saved"})
ANSWERS = frozenset({"accept", "decline"})
"""``?offer=ID&answer=accept|decline``, the links of the offer emails: they show the offer
and put the focus on its button; answering stays a form (POST with CSRF), never a GET."""
EXCEPTION_FIELDS = ("start_date", "start_time", "end_date", "end_time", "note")


def _provider(page: Page) -> Provider:
    assert page.user is not None
    provider = provider_for_user(page.db, page.user)
    if provider is None:
        raise page.error(404, "schedule.no_provider")
    return provider


def _schedule(page: Page, *, status: int = 200, **extra: Any) -> HTMLResponse:
    assert page.user is not None
    provider = _provider(page)
    now = utc_now()
    rows = page.db.execute(
        assignment_query_for(page.db, page.user)
        .join(Booking, Booking.id == Assignment.booking_id)
        .where(
            Assignment.status.in_(PROVIDER_VISIBLE_ASSIGNMENT_STATUSES), Assignment.ends_at >= now
        )
        .add_columns(Booking)
        .order_by(Assignment.starts_at, Assignment.id)
    ).all()
    offers = [
        (a, b)
        for a, b in rows
        if a.status == AssignmentStatus.OFFERED
        and (a.offer_expires_at is None or a.offer_expires_at > now)
    ]
    work = [(a, b) for a, b in rows if a.status != AssignmentStatus.OFFERED]
    # The work the provider holds shows its notes: a read of those bookings.
    log_reads(page.request, booking_reads(page.user, [b for _, b in work], via=ReadVia.WEB))
    lock_hours = page.settings.decline_lock_hours
    # A group booking's provider speaks their own place's language, by the step's modality.
    own_language = {a.id: place_language(b, a) for a, b in rows}
    own_modality = {a.id: a.modality or b.modality for a, b in rows}
    codes = set(own_language.values())
    languages = language_names(page.db, page.locale, codes)
    query = page.request.query_params
    done = query.get("done", "")
    asked = query.get("offer", "")
    chosen = next((a.id for a, _ in offers if asked == str(a.id)), None)
    answer = query.get("answer", "")
    return page.render(
        "schedule.html",
        status=status,
        provider=provider,
        offers=offers,
        work=work,
        may_give_back={a.id: provider_may_decline(a, now, lock_hours=lock_hours) for a, _ in work},
        lock_hours=lock_hours,
        languages=languages,
        own_language=own_language,
        own_modality=own_modality,
        done=done if done in DONE_MESSAGES else "",
        chosen=chosen,
        answer=answer if chosen is not None and answer in ANSWERS else "",
        offer_gone=bool(asked) and chosen is None,
        problem=extra.get("problem"),
        feed=extra.get("feed"),
        has_feed=provider.calendar_token_hash is not None,
    )


@router.get("/schedule")
def schedule(page: ProviderPage) -> HTMLResponse:
    """Offers to answer, upcoming work, and the calendar feed.

    ``?offer=ID`` (the Accept and Decline links of an offer email) marks that
    offer; with ``&answer=accept`` or ``decline`` its button has the focus,
    one press away. Nothing is answered by opening the page.
    """
    return _schedule(page)


def _answer(page: Page, assignment_id: str) -> Assignment:
    assert page.user is not None
    if not assignment_id.isdigit() or not 1 <= int(assignment_id) < 2**31:
        raise page.error(404, "error.not_found")
    try:
        return get_visible_assignment(page.db, page.user, int(assignment_id))
    except NotFound:
        raise page.error(404, "error.not_found") from None


def _problem(page: Page, refused: DomainError) -> str:
    return page.domain_message(refused)


@router.post("/schedule/assignments/{assignment_id}/accept")
def accept_offer(page: ProviderPage, form: CheckedForm, assignment_id: str) -> Response:
    """Take an offer (the first provider to accept gets the session)."""
    assert page.user is not None
    assignment = _answer(page, assignment_id)
    try:
        with page.attempt():
            accept(page.db, actor=page.user, assignment=assignment)
    except DomainError as refused:
        return _schedule(page, status=refused.status, problem=_problem(page, refused))
    return page.redirect("/schedule?done=accepted")


@router.post("/schedule/assignments/{assignment_id}/decline")
def decline_offer(page: ProviderPage, form: CheckedForm, assignment_id: str) -> Response:
    """Say no to an offer, or give work back while it is not too late."""
    assert page.user is not None
    assignment = _answer(page, assignment_id)
    reason = form.get("reason")[:500] or None
    try:
        with page.attempt():
            decline(
                page.db,
                actor=page.user,
                assignment=assignment,
                lock_hours=page.settings.decline_lock_hours,
                reason=reason,
            )
    except DomainError as refused:
        return _schedule(page, status=refused.status, problem=_problem(page, refused))
    return page.redirect("/schedule?done=declined")


@router.post("/schedule/calendar")
def new_feed(page: ProviderPage, form: CheckedForm) -> HTMLResponse:
    """Issue a new private calendar link (shown once; the previous link stops working)."""
    assert page.user is not None
    provider = _provider(page)
    with page.attempt():
        token = issue_calendar_token(page.db, actor=page.user, provider=provider)
    return _schedule(page, feed=feed_url(page.settings.base_url, provider.id, token))


# --- availability ------------------------------------------------------------------------


@dataclass
class AvailabilityForm:
    """The editor's rows as typed, and the errors by field name (``rule-0-end``...)."""

    rules: list[dict[str, str]]
    exceptions: list[dict[str, str]]
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, key: str) -> None:
        self.errors.setdefault(name, []).append(key)


def _managed(page: Page) -> Provider:
    assert page.user is not None
    provider = _provider(page)
    try:
        return get_managed_provider(page.db, page.user, provider.id, allow_self=True)
    except DomainError:
        raise page.error(403, "error.forbidden") from None


def _stored_rows(page: Page, provider: Provider, timezone: str) -> AvailabilityForm:
    stored = get_availability(page.db, provider=provider, timezone=timezone)
    zone = page.t.zone
    rules = [
        {
            "weekday": str(rule.weekday),
            "start": rule.start_time.strftime("%H:%M"),
            "end": rule.end_time.strftime("%H:%M"),
            "valid_from": rule.valid_from.isoformat() if rule.valid_from else "",
            "valid_until": rule.valid_until.isoformat() if rule.valid_until else "",
            "remove": "",
        }
        for rule in stored.rules
    ]
    exceptions = []
    for item in stored.exceptions:
        start = item.starts_at.astimezone(zone)
        end = item.ends_at.astimezone(zone)
        exceptions.append(
            {
                "kind": item.kind,
                "start_date": start.date().isoformat(),
                "start_time": start.strftime("%H:%M"),
                "end_date": end.date().isoformat(),
                "end_time": end.strftime("%H:%M"),
                "note": item.note or "",
                "remove": "",
            }
        )
    return AvailabilityForm(rules, exceptions)


def _availability_page(
    page: Page, provider: Provider, typed: AvailabilityForm, *, status: int = 200
) -> HTMLResponse:
    rules = typed.rules + [
        {"weekday": "", "start": "", "end": "", "valid_from": "", "valid_until": "", "remove": ""}
        for _ in range(BLANK_RULES)
    ]
    exceptions = typed.exceptions + [
        {
            "kind": AvailabilityExceptionKind.ABSENCE.value,
            "start_date": "",
            "start_time": "",
            "end_date": "",
            "end_time": "",
            "note": "",
            "remove": "",
        }
        for _ in range(BLANK_EXCEPTIONS)
    ]
    query = page.request.query_params
    return page.render(
        "availability.html",
        status=status,
        provider=provider,
        rules=rules,
        exceptions=exceptions,
        errors={name: [page.t(key) for key in keys] for name, keys in typed.errors.items()},
        weekdays=range(7),
        kinds=[k.value for k in AvailabilityExceptionKind],
        saved=query.get("done") == "saved",
        timezone=timezone_of(page.db, provider),
        adjustments=_clock_changes(page, provider),
    )


def _clock_changes(page: Page, provider: Provider) -> list[RuleAdjustment]:
    """Where the stored weekly rules meet a clock change within the booking horizon."""
    timezone = timezone_of(page.db, provider)
    zone = ZoneInfo(timezone)
    today = dt.datetime.now(zone).date()
    return rule_adjustments(
        get_availability(page.db, provider=provider, timezone=timezone).rules,
        first_day=today,
        last_day=today + dt.timedelta(days=page.settings.max_booking_ahead_days),
        zone=zone,
    )


@router.get("/schedule/availability")
def availability(page: ProviderPage) -> HTMLResponse:
    """The availability editor: weekly rules and dated absences (or extra hours)."""
    provider = _managed(page)
    return _availability_page(
        page, provider, _stored_rows(page, provider, timezone_of(page.db, provider))
    )


def _time(value: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(value) if value else None
    except ValueError:
        return None


def _date(value: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None
    # Outside 2000-2199 a date is refused like an unreadable one (its next day may not exist).
    return day if day is None or day_in_bounds(day) else None


def _date_problem(value: str) -> str:
    """Why ``_date`` refused a value: out of the bounds, or no date at all."""
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return "error.not_a_date"
    return "error.date_out_of_range"


def _parse_availability(
    form: Form, timezone: str
) -> tuple[AvailabilityForm, list[RuleData], list[int], list[ExceptionData], list[int]]:
    """The posted rows, what the service gets from them, and which row each item came from."""
    zone = ZoneInfo(timezone)
    typed = AvailabilityForm([], [])
    rules: list[RuleData] = []
    rule_rows: list[int] = []
    for i in range(MAX_RULES + BLANK_RULES):
        prefix = f"rule-{i}-"
        if not form.has(prefix + "weekday"):
            break
        row = {
            key: form.get(prefix + key)
            for key in ("weekday", "start", "end", "valid_from", "valid_until", "remove")
        }
        if row["remove"] or not any(row[k] for k in ("weekday", "start", "end")):
            continue
        index = len(typed.rules)
        typed.rules.append(row)
        weekday = int(row["weekday"]) if row["weekday"] in {str(d) for d in range(7)} else None
        start, end = _time(row["start"]), _time(row["end"])
        valid_from, valid_until = _date(row["valid_from"]), _date(row["valid_until"])
        if weekday is None:
            typed.add(f"rule-{index}-weekday", "error.not_a_choice")
        if start is None:
            typed.add(f"rule-{index}-start", "error.not_a_time")
        if end is None:
            typed.add(f"rule-{index}-end", "error.not_a_time")
        if weekday is None or start is None or end is None:
            continue
        rules.append(RuleData(weekday, start, end, valid_from, valid_until))
        rule_rows.append(index)
    exceptions: list[ExceptionData] = []
    exception_rows: list[int] = []
    for i in range(MAX_EXCEPTIONS + BLANK_EXCEPTIONS):
        prefix = f"exc-{i}-"
        if not form.has(prefix + "kind"):
            break
        row = {
            key: form.get(prefix + key)
            for key in (
                "kind",
                "start_date",
                "start_time",
                "end_date",
                "end_time",
                "note",
                "remove",
            )
        }
        filled = ("start_date", "start_time", "end_date", "end_time", "note")
        if row["remove"] or not any(row[k] for k in filled):
            continue
        index = len(typed.exceptions)
        typed.exceptions.append(row)
        kinds = {k.value for k in AvailabilityExceptionKind}
        start_day, end_day = _date(row["start_date"]), _date(row["end_date"])
        start_time = _time(row["start_time"]) if row["start_time"] else dt.time(0)
        end_time = _time(row["end_time"]) if row["end_time"] else None
        if row["kind"] not in kinds:
            typed.add(f"exc-{index}-kind", "error.not_a_choice")
        if start_day is None:
            typed.add(f"exc-{index}-start_date", _date_problem(row["start_date"]))
        if end_day is None:
            typed.add(f"exc-{index}-end_date", _date_problem(row["end_date"]))
        if start_time is None:
            typed.add(f"exc-{index}-start_time", "error.not_a_time")
        if row["end_time"] and end_time is None:
            typed.add(f"exc-{index}-end_time", "error.not_a_time")
        if len(row["note"]) > 500:
            typed.add(f"exc-{index}-note", "error.too_long")
        if (
            row["kind"] not in kinds
            or start_day is None
            or end_day is None
            or start_time is None
            or (row["end_time"] and end_time is None)
            or len(row["note"]) > 500
        ):
            continue
        starts_at = wall_time(start_day, start_time, zone).instant
        # Without an end time an absence lasts to the end of its last day.
        if end_time is None:
            ends_at = wall_time(end_day + dt.timedelta(days=1), dt.time(0), zone).instant
        else:
            ends_at = wall_time(end_day, end_time, zone).instant
        exceptions.append(ExceptionData(row["kind"], starts_at, ends_at, row["note"] or None))
        exception_rows.append(index)
    return typed, rules, rule_rows, exceptions, exception_rows


SERVICE_FIELDS = {
    "weekday": "weekday",
    "start_time": "start",
    "end_time": "end",
    "valid_until": "valid_until",
    "valid_from": "valid_from",
    "kind": "kind",
    "starts_at": "start_date",
    "ends_at": "end_date",
}


@router.post("/schedule/availability")
def save_availability(page: ProviderPage, form: CheckedForm) -> Response:
    """Replace the weekly rules and exceptions with what the editor holds."""
    assert page.user is not None
    provider = _managed(page)
    timezone = timezone_of(page.db, provider)
    typed, rules, rule_rows, exceptions, exception_rows = _parse_availability(form, timezone)
    if typed.errors:
        return _availability_page(page, provider, typed, status=422)
    try:
        with page.attempt():
            replace_availability(
                page.db,
                actor=page.user,
                provider=provider,
                timezone=timezone,
                rules=rules,
                exceptions=exceptions,
            )
    except Unprocessable as refused:
        for error in refused.errors:
            parts = error.field.split(".")
            if len(parts) == 3 and parts[1].isdigit():
                rows = rule_rows if parts[0] == "rules" else exception_rows
                prefix = "rule" if parts[0] == "rules" else "exc"
                position = int(parts[1])
                row = rows[position] if position < len(rows) else 0
                name = SERVICE_FIELDS.get(parts[2], parts[2])
                typed.add(f"{prefix}-{row}-{name}", "availability.error_order")
            else:
                typed.add("", "availability.error_too_many")
        return _availability_page(page, provider, typed, status=422)
    return page.redirect("/schedule/availability?done=saved")


# --- contact details ---------------------------------------------------------------------


def _contact_page(
    page: Page,
    provider: Provider,
    values: dict[str, str],
    errors: dict[str, list[str]],
    *,
    status: int = 200,
) -> HTMLResponse:
    return page.render(
        "contact.html",
        status=status,
        provider=provider,
        values=values,
        errors=errors,
        channels=[channel.value for channel in MessageChannels],
        saved=page.request.query_params.get("done") == "saved",
    )


@router.get("/schedule/contact")
def contact(page: ProviderPage) -> HTMLResponse:
    """Where the provider's messages go: email, mobile number, language, channels."""
    provider = _managed(page)
    values = {
        "email": provider.email or "",
        "phone": provider.phone_e164 or "",
        "locale": provider.locale,
        "message_channels": provider.message_channels,
    }
    return _contact_page(page, provider, values, {})


@router.post("/schedule/contact")
def save_contact(page: ProviderPage, form: CheckedForm) -> Response:
    """Change them (audited); an empty email or phone removes it."""
    assert page.user is not None
    provider = _managed(page)
    values = {name: form.get(name) for name in CONTACT_FIELDS}
    try:
        with page.attempt():
            update_contact(page.db, actor=page.user, provider=provider, changes=values)
    except Unprocessable as refused:
        page.db.refresh(provider)
        errors: dict[str, list[str]] = {}
        for error in refused.errors:
            key = f"error.{error.code}"
            errors.setdefault(error.field, []).append(
                page.t(key if page.t.has(key) else "error.invalid")
            )
        return _contact_page(page, provider, values, errors, status=422)
    return page.redirect("/schedule/contact?done=saved")
