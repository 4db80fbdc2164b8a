"""The dispatcher's pages: the board, plans and their proposals, candidates, the day view.

Everything goes through the dispatch services: ``bookings.board`` (the
open bookings and who holds them), ``plans.jobs`` (queue and stop a plan),
``plans.service`` (read and apply a plan),
``assignments.service`` (candidates, manual assignment, confirm, cancel),
``assignments.offers`` (offer to the best N), ``assignments.day_routes``
(each provider's day and drives, as the matcher times them). The matcher's
own sentences (explanations, reasons a candidate is refused) exist in English
only; the pages show them marked ``lang="en"`` next to translated labels
built from their codes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from api.reads import log_reads
from api.web.context import CheckedForm, DispatcherPage, Page
from api.web.forms import language_names
from api.web.suggestions import suggestion_text
from booking.access import get_visible_booking
from booking.assignments.day_routes import ProviderDay, day_routes
from booking.assignments.offers import asked_providers, offer_booking
from booking.assignments.service import (
    CandidateView,
    assign_manually,
    cancel_assignment,
    candidates_for,
    confirm,
    get_visible_assignment,
)
from booking.bookings.board import (
    BoardEntry,
    board_listing,
    booking_regions,
    held_assignments,
    holders_of,
)
from booking.bookings.models import Booking
from booking.bookings.service import BookingFilters, booking_list_query, describe_booking
from booking.bookings.validation import Urgency, urgency_for_priority
from booking.dates import day_in_bounds
from booking.errors import DomainError, NotFound, Unprocessable
from booking.organisations.models import Organisation, OrganisationClosure
from booking.plans.failures import failure_text
from booking.plans.jobs import queue_plans, request_stop
from booking.plans.models import Plan
from booking.plans.repair import MoveConfirmed, open_repairs, repair_again
from booking.plans.result import PlanResult
from booking.plans.service import (
    MAX_HORIZON_DAYS,
    apply_plan,
    batch_plan_ids,
    get_visible_plan,
    plan_assignments,
    plan_query_for,
)
from booking.plans.staffable import StaffableView, staffable_suggestions, take_provider_change
from booking.policies import next_working_day
from booking.privacy.models import ReadVia
from booking.privacy.read_log import booking_reads
from booking.providers.service import get_visible_provider, sees_private_data
from booking.reasons import stored_explanation
from booking.types import ensure_aware, utc_now
from booking.vocabulary import (
    CHANGEABLE_BOOKING_STATUSES,
    HELD_ASSIGNMENT_STATUSES,
    MANUAL_ASSIGNMENT_STATUSES,
    UNSTAFFED_BOOKING_STATUSES,
    AssignmentStatus,
    BookingStatus,
    PlanStatus,
    UserRole,
)

router = APIRouter(include_in_schema=False)

DEFAULT_DAYS = 7
MAX_BOARD_DAYS = 31
MAX_BOARD_ROWS = 500
DAY_START_HOUR = 7
DAY_END_HOUR = 20
OFFER_COUNT_CHOICES = (1, 2, 3, 5)
DONE_MESSAGES = frozenset({"assigned", "offered", "confirmed", "withdrawn", "provider_changed"})
REFUSAL = re.compile(r"[a-z_]{1,64}")
"""Why sending offers was refused, as ``?refused=`` carries it back to the booking page."""


def _zone(page: Page) -> ZoneInfo:
    return ZoneInfo(page.settings.timezone)


def _today(page: Page) -> dt.date:
    return dt.datetime.now(_zone(page)).date()


def _parse_date(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _day(page: Page, value: str | None) -> dt.date:
    """The day a page asks for (today when absent or unreadable); a 400 page out of bounds.

    Years 1 and 9999 are valid ISO dates, but their next or previous day
    is not: every date a page computes from stays between 2000 and 2199.
    """
    day = _parse_date(value, _today(page))
    if not day_in_bounds(day):
        raise page.error(400, "error.date_out_of_range")
    return day


def _parse_int(value: str | None, default: int, low: int, high: int) -> int:
    if value is None or not value.strip().isdigit():
        return default
    return min(max(int(value), low), high)


def _id(page: Page, value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) < 2**31:
        raise page.error(404, "error.not_found")
    return int(value)


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone)


@router.get("/board")
def board(
    page: DispatcherPage,
    start: str = "",
    days: str = "",
    language: str = "",
    region: str = "",
    status: str = "",
) -> HTMLResponse:
    """Open bookings of the coming days by day, filters, and the plan runner."""
    filters = {"start": start, "days": days, "language": language, "region": region}
    return _board_page(page, {**filters, "status": status})


def _board_page(
    page: Page,
    chosen: dict[str, str] | None = None,
    *,
    plan_form: dict[str, str] | None = None,
    plan_errors: dict[str, str] | None = None,
    http_status: int = 200,
) -> HTMLResponse:
    """The board with the list ``chosen`` by its filters (none: the defaults) and the plan form
    as it opens, or as typed with its errors."""
    assert page.user is not None
    chosen = chosen or {}
    start, days = chosen.get("start", ""), chosen.get("days", "")
    language, region, status = (chosen.get(k, "") for k in ("language", "region", "status"))
    zone = _zone(page)
    first_day = _day(page, start)
    count = _parse_int(days, DEFAULT_DAYS, 1, MAX_BOARD_DAYS)
    statuses = (status,) if status in CHANGEABLE_BOOKING_STATUSES else CHANGEABLE_BOOKING_STATUSES
    languages = language_names(page.db, page.locale)
    filters = BookingFilters(
        statuses=statuses,
        language_code=language if language in languages else None,
        starts_from=_local_midnight(first_day, zone),
        starts_before=_local_midnight(first_day + dt.timedelta(days=count), zone),
    )
    regions = booking_regions(page.db, actor=page.user)
    listing = board_listing(
        page.db,
        actor=page.user,
        filters=filters,
        region=region if region in regions else None,
        limit=MAX_BOARD_ROWS,
    )
    by_day: dict[dt.date, list[BoardEntry]] = defaultdict(list)
    for entry in listing.entries:
        by_day[entry.booking.starts_at.astimezone(zone).date()].append(entry)
    plans = list(
        page.db.scalars(
            plan_query_for(page.db, page.user).order_by(Plan.created_at.desc(), Plan.id.desc())
        ).fetchmany(5)
    )
    repairs = open_repairs(page.db, page.user.organisation_id)
    service = page.db.get(Organisation, page.user.organisation_id)
    return page.render(
        "board.html",
        repairs=repairs,
        # The service's staffing settings (an admin changes them through the API).
        staffing=service if service is not None and service.kind == "providing" else None,
        status=http_status,
        days=sorted(by_day.items()),
        languages=sorted(languages.items(), key=lambda item: item[1].lower()),
        language_names=languages,
        regions=regions,
        statuses=CHANGEABLE_BOOKING_STATUSES,
        chosen={
            "start": first_day.isoformat(),
            "days": count,
            "language": filters.language_code or "",
            "region": region if region in regions else "",
            "status": status if status in CHANGEABLE_BOOKING_STATUSES else "",
        },
        truncated=listing.truncated,
        plans=plans,
        time_limit=int(page.settings.plan_time_limit_seconds),
        max_horizon_days=MAX_HORIZON_DAYS,
        plan_form=plan_form or _plan_defaults(page),
        plan_errors=plan_errors or {},
    )


def _plan_defaults(page: Page) -> dict[str, str]:
    """The plan form as it opens: from the service's next working day to its last open request.

    A plan over "tomorrow and six days" starts on a Saturday half the time and
    leaves out the requests of the week after: the open requests say how far
    to look (at most ``MAX_HORIZON_DAYS``; a week when there is none).
    """
    assert page.user is not None
    zone = _zone(page)
    service = page.db.get_one(Organisation, page.user.organisation_id)
    today = _today(page)
    closures = set(
        page.db.scalars(
            select(OrganisationClosure.day).where(
                OrganisationClosure.organisation_id == service.id,
                OrganisationClosure.day > today,
            )
        )
    )
    first_day = next_working_day(today, country=service.country, closures=closures)
    last_start = page.db.scalar(
        booking_list_query(
            page.db,
            actor=page.user,
            filters=BookingFilters(
                statuses=UNSTAFFED_BOOKING_STATUSES, starts_from=_local_midnight(first_day, zone)
            ),
        )
        .with_only_columns(func.max(Booking.starts_at))
        .order_by(None)
    )
    count = DEFAULT_DAYS
    if last_start is not None:
        last_day = ensure_aware(last_start).astimezone(zone).date()
        count = min((last_day - first_day).days + 1, MAX_HORIZON_DAYS)
    return {
        "start": first_day.isoformat(),
        "days": str(count),
        "time_limit": str(int(page.settings.plan_time_limit_seconds)),
    }


def _plan_form_errors(page: Page, form: dict[str, str]) -> dict[str, str]:
    """What is wrong with the plan form, by field: nothing runs on a value the form did not
    mean (a horizon of 60 days is refused and said so, not quietly cut to 31)."""
    errors: dict[str, str] = {}
    try:
        if not day_in_bounds(dt.date.fromisoformat(form["start"])):
            errors["start"] = page.t("error.date_out_of_range")
    except ValueError:
        errors["start"] = page.t("error.not_a_date")
    bounds = {
        "days": MAX_HORIZON_DAYS,
        "time_limit": max(1, int(page.settings.plan_time_limit_seconds)),
    }
    for name, highest in bounds.items():
        value = form[name]
        if not value.isdigit() or not 1 <= int(value) <= highest:
            errors[name] = page.t(f"board.plan_{name}_range", highest=highest, asked=value)
    return errors


@router.post("/board/plans")
def start_plan(page: DispatcherPage, form: CheckedForm) -> Response:
    """Queue a plan of a horizon for the solvers and show its page, which follows the solve.

    A value out of range is refused with the board and the form as typed
    (422), never quietly replaced by another one; a field left empty takes
    the value the form opens with.
    """
    assert page.user is not None
    zone = _zone(page)
    values = {name: (form.get(name) or "").strip()[:20] for name in ("start", "days", "time_limit")}
    if not all(values.values()):
        # A field left out is the form's default, as it opens.
        defaults = _plan_defaults(page)
        values = {name: value or defaults[name] for name, value in values.items()}
    errors = _plan_form_errors(page, values)
    if errors:
        return _board_page(page, plan_form=values, plan_errors=errors, http_status=422)
    first_day = dt.date.fromisoformat(values["start"])
    horizon_start = _local_midnight(first_day, zone)
    horizon_end = _local_midnight(first_day + dt.timedelta(days=int(values["days"])), zone)
    try:
        with page.attempt():
            # An admin plans every service, one plan each; the first one's page
            # links to the others.
            [plan, *_] = queue_plans(
                page.db,
                actor=page.user,
                horizon_start=horizon_start,
                horizon_end=horizon_end,
                time_limit=float(values["time_limit"]),
                timezone=page.settings.timezone,
            )
    except DomainError as refused:
        raise page.error(refused.status, "problem.plan_failed") from None
    return page.redirect(f"/board/plans/{plan.id}")


def _plan_or_404(page: Page, plan_id: str) -> Plan:
    assert page.user is not None
    try:
        return get_visible_plan(page.db, page.user, _id(page, plan_id))
    except NotFound:
        raise page.error(404, "error.not_found") from None


@router.get("/board/plans/{plan_id}")
def plan_page(page: DispatcherPage, plan_id: str) -> HTMLResponse:
    """A plan: its proposals beside their explanation, the sessions left unfilled and why."""
    plan = _plan_or_404(page, plan_id)
    result = PlanResult.of(plan.result)
    reasons = result.reasons(page.db, page.locale, page.settings.timezone)
    current = {a.id: a for a in plan_assignments(page.db, plan)}
    booking_ids = {p.booking_id for p in result.proposals}
    booking_ids |= {u.booking_id for u in result.unassigned}
    bookings = {
        b.id: b for b in page.db.scalars(select(Booking).where(Booking.id.in_(booking_ids)))
    }
    proposals = []
    for item in result.proposals:
        assignment = current.get(item.assignment_id)
        booking = bookings.get(item.booking_id)
        proposals.append(
            {
                **item.model_dump(),
                "explanation": result.explanation(item, reasons),
                "status": assignment.status if assignment else AssignmentStatus.CANCELLED,
                "booking": booking,
                **_session_view(booking, item.place, item.modality),
            }
        )
    unassigned = [
        {
            **item.model_dump(),
            # Nobody speaks it: the reason says it all.
            "detail": ""
            if item.reason == "no_provider_speaks_language"
            else result.detail(item, reasons),
            "booking": bookings.get(item.booking_id),
            "languages": place_languages(bookings.get(item.booking_id)),
            "suggestions": [_suggestion(page, found) for found in item.staffable],
        }
        for item in result.unassigned
    ]
    urgent = sum(
        1
        for u in unassigned
        if u["booking"] is not None
        and urgency_for_priority(u["booking"].priority) == Urgency.URGENT
    )
    query = page.request.query_params
    service = (
        page.db.get(Organisation, plan.providing_org_id)
        if plan.providing_org_id is not None
        else None
    )
    batch: list[tuple[Plan, str]] = []
    if page.user is not None and page.user.role == UserRole.ADMIN and batch_plan_ids(plan):
        for sibling in page.db.scalars(
            select(Plan).where(Plan.id.in_(batch_plan_ids(plan))).order_by(Plan.id)
        ):
            owner = page.db.get(Organisation, sibling.providing_org_id or 0)
            batch.append((sibling, owner.name if owner is not None else ""))
    return page.render(
        "plan.html",
        plan=plan,
        failure=failure_text(plan.error_code, page.locale, attempts=plan.attempts),
        solving=plan.status in (PlanStatus.PENDING, PlanStatus.RUNNING),
        progress=_progress_view(plan),
        refresh_seconds=PLAN_REFRESH_SECONDS,
        service_name=service.name if service is not None else None,
        batch=batch,
        proposals=proposals,
        unassigned=unassigned,
        language_names=language_names(page.db, page.locale),
        warnings=result.warning_texts(reasons),
        stats=result.stats,
        sharing=result.sharing or {},
        sizes=result.sizes,
        urgent=urgent,
        drive=reasons.duration(result.drive_minutes) if result.drive_minutes is not None else None,
        proven=_proven(plan, result),
        applied=_parse_int(query.get("applied"), -1, 0, 10_000),
        refused=_parse_int(query.get("refused"), 0, 0, 10_000),
        open_count=sum(1 for p in proposals if p["status"] == AssignmentStatus.PROPOSED),
        repair_requested=_parse_int(query.get("again"), 0, 0, 2_000_000_000),
    )


def place_languages(booking: Booking | None) -> list[str]:
    """The language of each place of a session: its own first, then its group's other places."""
    if booking is None:
        return []
    return [booking.language_code, *(place.language_code for place in booking.places)]


def _session_view(booking: Booking | None, place: int, modality: str | None) -> dict[str, Any]:
    """Which place of its session a proposal fills and by which step of the session's ladder."""
    languages = place_languages(booking)
    ladder = booking.modality_ladder if booking is not None else []
    used = modality or (booking.modality if booking is not None else None)
    return {
        "places": len(languages),
        "place_language": languages[place] if place < len(languages) else None,
        "modality_used": used,
        # A lower step of the ladder the requester accepted (video when nobody can come).
        "step_down": used in ladder and ladder.index(used) > 0,
    }


def _suggestion(page: Page, found: dict[str, Any]) -> str:
    """One of a plan's stored suggestions (``UnassignedEntry.staffable``) as a sentence."""
    starts_at = found.get("starts_at")
    when = dt.datetime.fromisoformat(starts_at) if isinstance(starts_at, str) else None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)  # stored in UTC
    change = found.get("change")
    providers = found.get("provider_ids")
    return suggestion_text(
        page.t,
        str(found.get("kind", "")),
        change if isinstance(change, dict) else {},
        len(providers) if isinstance(providers, list) else 0,
        when,
    )


def _proven(plan: Plan, result: PlanResult) -> bool:
    """The solver proved that no plan staffs more (by urgency) with less driving."""
    return (
        result.stats.get("status") == "OPTIMAL"
        and plan.bound_medium == plan.score_medium
        and plan.bound_soft == plan.score_soft
    )


PLAN_REFRESH_SECONDS = 5
"""How often the page of a plan being solved reads its progress again (web.js)."""


def _progress_view(plan: Plan) -> dict[str, Any]:
    """The progress bar's figures: seconds used of the limit, solutions, how it ended."""
    progress = plan.progress or {}
    limit = float(progress.get("time_limit") or (plan.parameters or {}).get("time_limit") or 1)
    elapsed = min(float(progress.get("elapsed_seconds") or 0), limit)
    return {
        "limit": round(limit),
        "elapsed": round(elapsed),
        "solutions": int(progress.get("solutions") or 0),
        "stop_requested": bool(plan.stop_requested),
        "stopped": bool(progress.get("stopped")),
        "proven": bool(progress.get("proven")),
    }


@router.post("/board/plans/{plan_id}/stop")
def stop(page: DispatcherPage, form: CheckedForm, plan_id: str) -> Response:
    """Stop a plan being solved; its page then shows the best plan found so far."""
    assert page.user is not None
    plan = _plan_or_404(page, plan_id)
    try:
        with page.attempt():
            request_stop(page.db, actor=page.user, plan=plan)
    except DomainError as refused:
        raise page.error(refused.status, page_problem_key(page, refused)) from None
    return page.redirect(f"/board/plans/{plan.id}")


@router.post("/board/plans/{plan_id}/repair-again")
def repair_again_form(page: DispatcherPage, form: CheckedForm, plan_id: str) -> Response:
    """Ask a solved repair again for what it left open, moving confirmed work or not."""
    assert page.user is not None
    plan = _plan_or_404(page, plan_id)
    move: MoveConfirmed = "allow" if form.get("move_confirmed") == "allow" else "forbid"
    try:
        with page.attempt():
            again = repair_again(page.db, actor=page.user, plan=plan, move_confirmed=move)
    except DomainError as refused:
        raise page.error(refused.status, page_problem_key(page, refused)) from None
    return page.redirect(f"/board/plans/{plan.id}?again={again.id}")


@router.post("/board/plans/{plan_id}/apply")
def apply(page: DispatcherPage, form: CheckedForm, plan_id: str) -> Response:
    """Offer or confirm the plan's proposals: all of them, or the ticked ones."""
    assert page.user is not None
    plan = _plan_or_404(page, plan_id)
    mode: Literal["confirm", "offer"] = "confirm" if form.get("mode") == "confirm" else "offer"
    chosen: list[int] | None = None
    if form.get("scope") != "all":
        chosen = [int(v) for v in form.getlist("assignment_id") if v.isdigit() and len(v) < 10]
        if not chosen:
            raise page.error(422, "board.nothing_chosen")
    try:
        with page.attempt():
            outcome = apply_plan(
                page.db,
                actor=page.user,
                plan=plan,
                assignment_ids=chosen,
                mode=mode,
                offer_minutes=page.settings.offer_timeout_minutes,
            )
    except Unprocessable:
        raise page.error(422, "board.nothing_chosen") from None
    except DomainError as refused:
        raise page.error(refused.status, page_problem_key(page, refused)) from None
    return page.redirect(
        f"/board/plans/{plan.id}?applied={len(outcome.applied)}&refused={len(outcome.refused)}"
    )


def page_problem_key(page: Page, error: DomainError) -> str:
    key = f"problem.{error.code}"
    return key if page.t.has(key) else f"problem.status_{error.status}"


def _booking_or_404(page: Page, booking_id: str) -> Booking:
    assert page.user is not None
    try:
        return get_visible_booking(page.db, page.user, _id(page, booking_id))
    except NotFound:
        raise page.error(404, "error.not_found") from None


def _place(booking: Booking, value: str | None) -> int:
    """The place of a group booking the page or form is about (0, its own, unless it names
    another the booking has)."""
    place = _parse_int(value, 0, 0, len(booking.places))
    return place if place == 0 or any(p.position == place for p in booking.places) else 0


def _place_query(place: int) -> str:
    return f"&place={place}" if place else ""


def _booking_page(
    page: Page,
    booking: Booking,
    *,
    status: int = 200,
    problem: str | None = None,
    place: int | None = None,
) -> HTMLResponse:
    assert page.user is not None
    log_reads(page.request, booking_reads(page.user, [booking], via=ReadVia.WEB))
    if place is None:
        place = _place(booking, page.request.query_params.get("place"))
    candidates: list[CandidateView] = []
    candidates_problem: str | None = None
    try:
        with page.attempt():
            candidates = candidates_for(
                page.db,
                actor=page.user,
                booking=booking,
                timezone=page.settings.timezone,
                place=place,
            )
    except DomainError as error:
        candidates_problem = page_problem_key(page, error)
    holders = holders_of(page.db, page.user, [booking.id]).get(booking.id, [])
    asked = asked_providers(page.db, booking.id)
    # Offers go only to feasible candidates a message can reach.
    offerable = [c for c in candidates if c.feasible and c.provider.reachable]
    refused = page.request.query_params.get("refused", "")
    if problem is None and refused:
        key = f"problem.{refused}"
        problem = page.t(
            key if REFUSAL.fullmatch(refused) and page.t.has(key) else "problem.status_409"
        )
    query = page.request.query_params
    languages = language_names(page.db, page.locale, set(place_languages(booking)))
    timezone = page.settings.timezone
    return page.render(
        "board_booking.html",
        place=place,
        place_names=[languages.get(code, code) for code in place_languages(booking)],
        why_not={c.provider.id: c.describe(page.locale, timezone, languages) for c in candidates},
        said=lambda data: stored_explanation(
            data, page.locale, timezone=timezone, languages=languages
        ),
        status=status,
        booking=booking,
        view=describe_booking(page.db, booking),
        organisation=page.db.get(Organisation, booking.organisation_id),
        language=languages.get(booking.language_code, booking.language_code),
        holders=holders,
        assignments=held_assignments(page.db, holders),
        candidates=candidates,
        candidates_problem=candidates_problem,
        problem=problem,
        done=query.get("done", "") if query.get("done") in DONE_MESSAGES else "",
        manual_statuses=MANUAL_ASSIGNMENT_STATUSES,
        offer_counts=OFFER_COUNT_CHOICES,
        # No offer button when everyone one may offer to was asked before.
        can_offer=any(c.provider.id not in asked for c in offerable),
        everyone_asked=bool(offerable) and all(c.provider.id in asked for c in offerable),
        suggestions=[_shown(page, n, s) for n, s in enumerate(_staffable(page, booking))],
    )


def _staffable(page: Page, booking: Booking) -> list[StaffableView]:
    """What would make an unfilled booking staffable (as the requester's page has it).

    Only for an unfilled booking (a plan found nobody) whose session is to
    come: the check reads the days around it.
    """
    if booking.status != BookingStatus.UNFILLED or booking.starts_at <= utc_now():
        return []
    return staffable_suggestions(page.db, booking=booking, timezone=page.settings.timezone)


def _shown(page: Page, n: int, s: StaffableView) -> dict[str, Any]:
    """One suggestion in the page's words; a provider change the dispatcher may make, a button."""
    text = suggestion_text(page.t, s.kind, s.change, len(s.providers), s.starts_at)
    change = s.provider_change
    assert page.user is not None
    if change is None or not sees_private_data(page.user, change.provider):
        return {"text": text, "action": None, "hint": None}
    name = change.provider.display_name
    if "countries" in change.changes:
        label = page.t("board.allow_country", name=name, country=str(s.change.get("country")))
    else:
        label = page.t(
            "board.raise_travel", name=name, minutes=change.changes["max_travel_minutes"]
        )
    fields = {"n": n, "provider_id": change.provider.id, "etag": change.etag}
    return {"text": text, "action": label, "fields": fields}


@router.post("/board/bookings/{booking_id}/staffable")
def take_staffable(page: DispatcherPage, form: CheckedForm, booking_id: str) -> Response:
    """Take a cross-border or longer-drive suggestion: the provider update, audited.

    Refused (409) when the suggestion no longer holds, and as the provider
    update refuses a provider changed since the page was read (412).
    """
    assert page.user is not None
    booking = _booking_or_404(page, booking_id)
    wanted, provider_id, etag = form.get("n"), form.get("provider_id"), form.get("etag")
    found = _staffable(page, booking)
    change = (
        found[int(wanted)].provider_change
        if wanted.isdigit() and int(wanted) < len(found)
        else None
    )
    if change is None or str(change.provider.id) != provider_id:
        return _booking_page(page, booking, status=409, problem=page.t("staffable.gone"))
    try:
        with page.attempt():
            take_provider_change(page.db, actor=page.user, change=change, expected_etag=etag)
    except DomainError as refused:
        return _refused_again(page, booking, refused)
    return page.redirect(f"/board/bookings/{booking.id}?done=provider_changed")


@router.get("/board/bookings/{booking_id}")
def booking_page(page: DispatcherPage, booking_id: str) -> HTMLResponse:
    """One booking: its current assignments, the ranked candidates, manual assignment."""
    return _booking_page(page, _booking_or_404(page, booking_id))


def _refused_again(
    page: Page, booking: Booking, refused: DomainError, place: int = 0
) -> HTMLResponse:
    page.db.refresh(booking)
    message = page.t(page_problem_key(page, refused))
    if isinstance(refused, Unprocessable) and refused.errors:
        rule = refused.extra().get("rule_code")
        if rule and page.t.has(f"rule.{rule}"):
            message = page.t("board.rule_broken", rule=page.t(f"rule.{rule}"))
    return _booking_page(page, booking, status=refused.status, problem=message, place=place)


@router.post("/board/bookings/{booking_id}/assign")
def assign(page: DispatcherPage, form: CheckedForm, booking_id: str) -> Response:
    """Put a provider on the booking by hand (proposal, offer or confirmation)."""
    assert page.user is not None
    booking = _booking_or_404(page, booking_id)
    place = _place(booking, form.get("place"))
    provider_id = form.get("provider_id")
    status = form.get("status")
    if status not in MANUAL_ASSIGNMENT_STATUSES:
        status = "proposed"
    try:
        provider = get_visible_provider(page.db, page.user, _id(page, provider_id))
    except NotFound:
        raise page.error(404, "error.not_found") from None
    starts_at = None
    if form.get("starts_at"):
        try:
            starts_at = dt.datetime.fromisoformat(form.get("starts_at"))
        except ValueError:
            starts_at = None
        if starts_at is not None and starts_at.tzinfo is None:
            starts_at = None
    try:
        with page.attempt():
            assign_manually(
                page.db,
                actor=page.user,
                booking=booking,
                provider=provider,
                starts_at=starts_at,
                status=AssignmentStatus(status),
                offer_minutes=page.settings.offer_timeout_minutes,
                timezone=page.settings.timezone,
                confirmed_by_phone=form.get("confirmed_by_phone") == "yes",
                place=place,
            )
    except DomainError as refused:
        return _refused_again(page, booking, refused, place)
    return page.redirect(f"/board/bookings/{booking.id}?done=assigned{_place_query(place)}")


@router.post("/board/bookings/{booking_id}/offers")
def offer(page: DispatcherPage, form: CheckedForm, booking_id: str) -> Response:
    """Offer the booking to the N best candidates at once; the first to accept gets it."""
    assert page.user is not None
    booking = _booking_or_404(page, booking_id)
    count = _parse_int(form.get("count"), 3, 1, max(OFFER_COUNT_CHOICES))
    place = _place(booking, form.get("place"))
    try:
        with page.attempt():
            offer_booking(
                page.db,
                actor=page.user,
                booking=booking,
                count=count,
                expires_in_minutes=page.settings.offer_timeout_minutes,
                timezone=page.settings.timezone,
                place=place,
            )
    except DomainError as refused:
        # Post/redirect/get, refused or not: reloading the page never sends the form again.
        reason = refused.code
        if reason == "no_candidate" and refused.extra().get("everyone_asked"):
            reason = "everyone_asked"
        return page.redirect(f"/board/bookings/{booking.id}?refused={reason}{_place_query(place)}")
    return page.redirect(f"/board/bookings/{booking.id}?done=offered{_place_query(place)}")


@router.post("/board/assignments/{assignment_id}/{action}")
def transition(
    page: DispatcherPage, form: CheckedForm, assignment_id: str, action: str
) -> Response:
    """Confirm or withdraw one assignment from the booking page."""
    assert page.user is not None
    if action not in ("confirm", "cancel"):
        raise page.error(404, "error.not_found")
    try:
        assignment = get_visible_assignment(page.db, page.user, _id(page, assignment_id))
    except NotFound:
        raise page.error(404, "error.not_found") from None
    booking = page.db.get_one(Booking, assignment.booking_id)
    try:
        with page.attempt():
            if action == "confirm":
                confirm(
                    page.db,
                    actor=page.user,
                    assignment=assignment,
                    confirmed_by_phone=form.get("confirmed_by_phone") == "yes",
                )
            else:
                cancel_assignment(
                    page.db, actor=page.user, assignment=assignment, reason=form.get("reason")
                )
    except DomainError as refused:
        return _refused_again(page, booking, refused)
    done = "confirmed" if action == "confirm" else "withdrawn"
    return page.redirect(f"/board/bookings/{booking.id}?done={done}")


@router.get("/board/day")
def day_view(page: DispatcherPage, date: str = "") -> HTMLResponse:
    """A compact day per provider: sessions, the drives between them, offers outstanding."""
    assert page.user is not None
    day = _day(page, date)
    provider_days = day_routes(page.db, actor=page.user, day=day, timezone=page.settings.timezone)
    hours = list(range(DAY_START_HOUR, DAY_END_HOUR + 1))
    return page.render(
        "day.html",
        day=day,
        previous_day=(day - dt.timedelta(days=1)).isoformat(),
        next_day=(day + dt.timedelta(days=1)).isoformat(),
        provider_days=provider_days,
        hours=hours,
        chart=_chart_geometry(page, provider_days, day),
        language_names=language_names(page.db, page.locale),
    )


CHART_LEFT = 0
CHART_WIDTH = 1000
ROW_HEIGHT = 28


def _x(page: Page, instant: dt.datetime, day: dt.date) -> float:
    """The x position of an instant on the day chart (clamped to the chart's hours)."""
    local = instant.astimezone(_zone(page))
    minutes = (local.date() - day).days * 1440 + local.hour * 60 + local.minute
    span = (DAY_END_HOUR - DAY_START_HOUR) * 60
    offset = min(max(minutes - DAY_START_HOUR * 60, 0), span)
    return round(CHART_LEFT + CHART_WIDTH * offset / span, 1)


def _chart_geometry(
    page: Page, provider_days: list[ProviderDay], day: dt.date
) -> dict[int, list[dict[str, Any]]]:
    """Rectangles of the SVG day chart, per provider: drives then sessions."""
    shapes: dict[int, list[dict[str, Any]]] = {}
    for entry in provider_days:
        items: list[dict[str, Any]] = []
        for item in entry.items:
            start = item.assignment.starts_at
            end = item.assignment.ends_at
            if item.travel_minutes:
                drive_start = start - dt.timedelta(minutes=item.travel_minutes)
                x0, x1 = _x(page, drive_start, day), _x(page, start, day)
                items.append({"kind": "travel", "x": x0, "width": max(x1 - x0, 1)})
            x0, x1 = _x(page, start, day), _x(page, end, day)
            items.append(
                {
                    "kind": "held"
                    if item.assignment.status in HELD_ASSIGNMENT_STATUSES
                    else "pending",
                    "x": x0,
                    "width": max(x1 - x0, 2),
                    "label": item.booking.language_code,
                }
            )
        shapes[entry.provider.id] = items
    return shapes
