"""The requester's pages: book an interpreter, the confirmation, my bookings, cancel."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from api.reads import log_reads
from api.web.context import CheckedForm, Page, RequesterPage, form_id
from api.web.forms import (
    SITE_ADDRESS,
    BookingFormInput,
    FormErrors,
    add_service_errors,
    form_start_time,
    language_label,
    language_name,
    language_names,
    parse_booking_form,
)
from api.web.suggestions import suggestion_text
from booking.access import get_visible_booking
from booking.bookings.models import Booking
from booking.bookings.service import (
    BookingFilters,
    booking_list_query,
    cancel_booking,
    create_booking,
    describe_booking,
    describe_bookings,
    update_booking,
)
from booking.dates import WallTimeKind, wall_time
from booking.errors import DomainError, NotFound, Unprocessable
from booking.geography import area_towns, town_label
from booking.languages.service import language_query
from booking.organisations.models import Organisation, Site
from booking.organisations.service import site_query_for
from booking.plans.staffable import staffable_suggestions
from booking.privacy.models import ReadVia
from booking.privacy.read_log import booking_reads
from booking.providers.service import nameable_providers
from booking.types import utc_now
from booking.vocabulary import (
    CHANGEABLE_BOOKING_STATUSES,
    BookingStatus,
    Gender,
    Modality,
    ProviderKindRequirement,
    SessionKind,
)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
_HH_MM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
URGENCIES = ("normal", "high", "urgent")
DURATIONS = (30, 45, 60, 90, 120, 150, 180, 240)


def _defaults() -> dict[str, Any]:
    return {
        "form_id": form_id(),
        "language": "",
        "place_1": "",
        "place_2": "",
        "place_3": "",
        "partial_ok": "",
        "or_video": "",
        "video_link": "",
        "language_variety": "",
        "session_kind": "",
        "modality": Modality.ONSITE.value,
        "site": "",
        "address": "",
        "town": "",
        "date": "",
        "time": "",
        "window_start": "",
        "window_end": "",
        "duration": "60",
        "provider_kind": ProviderKindRequirement.ANY.value,
        "gender": "",
        "certified": "",
        "continuity": "",
        "avoid": [],
        "urgency": "normal",
        "beneficiary_ref": "",
        "notes": "",
    }


def _organisation_timezone(page: Page) -> str:
    assert page.user is not None
    organisation = page.db.get(Organisation, page.user.organisation_id)
    return organisation.timezone if organisation is not None else page.settings.timezone


def _form_page(
    page: Page, values: dict[str, Any], errors: FormErrors, *, status: int = 200
) -> HTMLResponse:
    """The booking form with what was typed and the errors next to their fields."""
    user = page.user
    assert user is not None
    db = page.db
    languages = sorted(
        db.scalars(language_query(db)), key=lambda lang: language_name(lang, page.locale).lower()
    )
    sites = list(
        db.scalars(
            site_query_for(db, user, organisation_id=user.organisation_id).order_by(
                Site.name, Site.id
            )
        )
    )
    providers = nameable_providers(db, user)
    days = page.settings.max_booking_ahead_days
    messages = {
        name: [page.t(key if "." in key else f"error.{key}", days=days) for key in keys]
        for name, keys in errors.by_field.items()
    }
    if not isinstance(values.get("avoid"), list):
        values["avoid"] = [values["avoid"]] if values.get("avoid") else []
    values.setdefault("form_id", form_id())
    return page.render(
        "book.html",
        status=status,
        values=values,
        errors=messages,
        languages=[(language_label(lang, page.locale), lang.code) for lang in languages],
        session_kinds=[kind.value for kind in SessionKind],
        modalities=[m.value for m in Modality],
        provider_kinds=[k.value for k in ProviderKindRequirement],
        genders=[g.value for g in Gender],
        urgencies=URGENCIES,
        durations=DURATIONS,
        sites=sites,
        site_address=SITE_ADDRESS,
        towns=[town_label(town) for town in area_towns()],
        previous=providers.served_before,
        everyone=providers.everyone,
    )


@router.get("/book")
def booking_form(page: RequesterPage) -> HTMLResponse:
    """Book an interpreter: the empty form."""
    return _form_page(page, _defaults(), FormErrors())


@router.post("/book")
def submit_booking(page: RequesterPage, form: CheckedForm) -> Response:
    """Check the form, store the booking through the booking service, show the confirmation."""
    assert page.user is not None
    typed = {**_defaults(), **form.fields()}
    typed["avoid"] = form.getlist("avoid")
    typed["certified"] = "on" if form.get("certified") else ""
    typed["partial_ok"] = "on" if form.get("partial_ok") else ""
    typed["or_video"] = "on" if form.get("or_video") else ""
    timezone = _organisation_timezone(page)
    typed_form, data, errors = parse_booking_form(
        page.db, form.fields(), timezone=timezone, organisation_id=page.user.organisation_id
    )
    if data is None or errors:
        return _form_page(page, typed, errors, status=422)
    try:
        with page.attempt():
            created = create_booking(
                page.db, actor=page.user, data=data, idempotency_key=form.get("form_id") or None
            )
    except Unprocessable as refused:
        add_service_errors(errors, refused.errors, known=page.t.has)
        if not refused.errors:
            errors.add("", "invalid")
        return _form_page(page, typed, errors, status=422)
    except DomainError as refused:
        return _form_page(page, typed, _form_level(page, refused), status=refused.status)
    return page.redirect(
        f"/bookings/{created.booking.id}?created=1{_clock_change(typed_form, timezone)}"
    )


def _clock_change(typed: BookingFormInput | None, timezone: str) -> str:
    """``&dst=shifted&asked=02:30`` when the typed time met a clock change, for the page to say.

    The booking itself was made by the same rule (``booking.dates.wall_time``).
    """
    start = form_start_time(typed) if typed is not None else None
    if typed is None or typed.date is None or start is None:
        return ""
    when = wall_time(typed.date, start, ZoneInfo(timezone))
    if not when.adjusted:
        return ""
    return f"&dst={when.kind.value}&asked={start.strftime('%H:%M')}"


def _form_level(page: Page, error: DomainError) -> FormErrors:
    """A refusal about the whole booking (not one field), shown above the form."""
    errors = FormErrors()
    key = f"problem.{error.code}"
    errors.add("", key if page.t.has(key) else f"problem.status_{error.status}")
    return errors


def _booking_or_404(page: Page, booking_id: str) -> Booking:
    assert page.user is not None
    if not booking_id.isdigit() or not 1 <= int(booking_id) < 2**31:
        raise page.error(404, "error.not_found")
    try:
        return get_visible_booking(page.db, page.user, int(booking_id))
    except NotFound:
        raise page.error(404, "error.not_found") from None


@router.get("/bookings")
def my_bookings(
    page: RequesterPage, show: str = "upcoming", scope: str = "mine", number: int = 1
) -> HTMLResponse:
    """My bookings: reference, time, language, status, who comes; cancel from the booking."""
    assert page.user is not None
    show = show if show in ("upcoming", "past") else "upcoming"
    scope = scope if scope in ("mine", "organisation") else "mine"
    number = number if 1 <= number <= 10_000 else 1
    start_of_today = utc_now() - dt.timedelta(hours=12)
    filters = (
        BookingFilters(starts_from=start_of_today)
        if show == "upcoming"
        else BookingFilters(starts_before=start_of_today)
    )
    query = booking_list_query(page.db, actor=page.user, filters=filters)
    if scope == "mine":
        query = query.where(Booking.requester_id == page.user.id)
    order = Booking.starts_at.asc() if show == "upcoming" else Booking.starts_at.desc()
    rows = list(
        page.db.scalars(
            query.order_by(order, Booking.id).offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
        )
    )
    has_more = len(rows) > PAGE_SIZE
    views = describe_bookings(page.db, rows[:PAGE_SIZE])
    return page.render(
        "bookings.html",
        views=views,
        languages=language_names(page.db, page.locale, {b.language_code for b in rows}),
        show=show,
        scope=scope,
        number=number,
        has_more=has_more,
        open_statuses=CHANGEABLE_BOOKING_STATUSES,
    )


def _detail(
    page: Page,
    booking: Booking,
    *,
    status: int = 200,
    cancel_error: str | None = None,
    reason: str = "",
    staffable_error: str | None = None,
) -> HTMLResponse:
    if page.user is not None:
        log_reads(page.request, booking_reads(page.user, [booking], via=ReadVia.WEB))
    view = describe_booking(page.db, booking)
    query = page.request.query_params
    return page.render(
        "booking.html",
        status=status,
        view=view,
        suggestions=_suggestions(page, booking),
        changed=query.get("changed") == "1",
        staffable_error=staffable_error,
        booking=booking,
        language=language_names(page.db, page.locale, {booking.language_code}).get(
            booking.language_code, ""
        ),
        created=query.get("created") == "1",
        clock_change=_clock_change_notice(page, booking),
        cancelled=query.get("cancelled") == "1",
        can_cancel=booking.status in CHANGEABLE_BOOKING_STATUSES and booking.starts_at > utc_now(),
        cancel_error=cancel_error,
        reason=reason,
    )


def _suggestions(page: Page, booking: Booking) -> list[dict[str, Any]]:
    """What would make an unfilled booking staffable, in the page's words, each with its action.

    Only for an unfilled booking (a plan found nobody): the check reads the
    days around it, so it is not run on every page of a booking.
    """
    if booking.status != BookingStatus.UNFILLED or booking.starts_at <= utc_now():
        return []
    found = staffable_suggestions(page.db, booking=booking, timezone=_organisation_timezone(page))
    shown = []
    for n, s in enumerate(found):
        text = suggestion_text(page.t, s.kind, s.change, len(s.providers), s.starts_at)
        shown.append(
            {
                "text": text,
                # A change of the booking is the requester's; another is the service's decision.
                "action": page.t("staffable.take") if s.patch is not None else None,
                "hint": page.t("staffable.not_yours"),
                "fields": {"n": n, "version": booking.version_id},
            }
        )
    return shown


@router.post("/bookings/{booking_id}/staffable")
def take_suggestion(page: RequesterPage, form: CheckedForm, booking_id: str) -> Response:
    """Take one suggestion: the booking update it stands for, checked and audited like any edit."""
    assert page.user is not None
    booking = _booking_or_404(page, booking_id)
    wanted, version = form.get("n"), form.get("version")
    found = staffable_suggestions(page.db, booking=booking, timezone=_organisation_timezone(page))
    if not (wanted.isdigit() and version.isdigit()) or int(wanted) >= len(found):
        return _detail(page, booking, status=409, staffable_error=page.t("staffable.gone"))
    patch = found[int(wanted)].patch
    if patch is None:
        return _detail(page, booking, status=409, staffable_error=page.t("staffable.gone"))
    try:
        with page.attempt():
            update_booking(
                page.db, actor=page.user, booking=booking, data=patch, expected_version=int(version)
            )
    except DomainError as refused:
        page.db.refresh(booking)
        return _detail(
            page, booking, status=refused.status, staffable_error=page.domain_message(refused)
        )
    return page.redirect(f"/bookings/{booking.id}?changed=1")


def _clock_change_notice(page: Page, booking: Booking) -> str | None:
    """The sentence that says how a time the clock change skipped or repeated was read."""
    query = page.request.query_params
    kind, asked = query.get("dst"), query.get("asked", "")
    if kind not in (WallTimeKind.SHIFTED, WallTimeKind.AMBIGUOUS) or not _HH_MM.fullmatch(asked):
        return None
    return page.t(
        f"booking.dst_{kind}",
        asked=asked,
        date=page.t.date(booking.starts_at),
        time=page.t.time(booking.starts_at),
    )


@router.get("/bookings/{booking_id}")
def booking_detail(page: RequesterPage, booking_id: str) -> HTMLResponse:
    """One booking: reference, status, who comes, and the cancel form."""
    return _detail(page, _booking_or_404(page, booking_id))


@router.post("/bookings/{booking_id}/cancel")
def cancel(page: RequesterPage, form: CheckedForm, booking_id: str) -> Response:
    """Cancel with a reason; late cancellations are flagged by the service's policy."""
    assert page.user is not None
    booking = _booking_or_404(page, booking_id)
    reason = form.get("reason")
    try:
        with page.attempt():
            cancel_booking(page.db, actor=page.user, booking=booking, reason=reason)
    except Unprocessable:
        page.db.refresh(booking)
        return _detail(
            page, booking, status=422, cancel_error=page.t("error.reason_required"), reason=reason
        )
    except DomainError as refused:
        page.db.refresh(booking)
        return _detail(
            page,
            booking,
            status=refused.status,
            cancel_error=page.domain_message(refused),
            reason=reason,
        )
    return page.redirect(f"/bookings/{booking.id}?cancelled=1")
