"""Assignments: manual choice, the candidate ranking, and accept / decline / confirm / cancel."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from sqlalchemy.orm import Session

from api.auth import CurrentUser, require_roles
from api.deps import AppSettings, DbSession
from api.errors import request_locale
from api.schemas.assignments import (
    AssignmentCreate,
    AssignmentOut,
    CandidateOut,
    CandidatesOut,
    ConfirmIn,
    DayRoutesOut,
    DaySessionOut,
    ProviderDayOut,
    ReasonIn,
    WhyOut,
)
from api.schemas.common import IdPath, Page, PageQuery, error_responses, paginate
from booking.access import get_visible_booking
from booking.assignments import service
from booking.assignments.day_routes import day_routes
from booking.assignments.models import Assignment
from booking.bookings.models import MAX_PLACES, Booking
from booking.errors import NotFound
from booking.languages.service import language_names
from booking.providers.models import Provider
from booking.users.models import User
from booking.vocabulary import AssignmentStatus, ProviderKind, UserRole

router = APIRouter(prefix="/api/v1", tags=["assignments"])

DispatcherOrAdmin = Annotated[User, Depends(require_roles(UserRole.DISPATCHER, UserRole.ADMIN))]
Answerer = Annotated[
    User, Depends(require_roles(UserRole.PROVIDER, UserRole.DISPATCHER, UserRole.ADMIN))
]

TRANSITION_ERRORS = error_responses(401, 403, 404, 409, 422, 429)


def assignment_out(db: Session, assignment: Assignment) -> AssignmentOut:
    """The API view of an assignment, with its booking reference and provider's name."""
    booking = db.get_one(Booking, assignment.booking_id)
    provider = db.get_one(Provider, assignment.provider_id)
    explanation = assignment.explanation if isinstance(assignment.explanation, dict) else {}
    return AssignmentOut(
        id=assignment.id,
        booking_id=assignment.booking_id,
        booking_reference=booking.reference,
        provider_id=assignment.provider_id,
        provider_name=provider.display_name,
        plan_id=assignment.plan_id,
        status=AssignmentStatus(assignment.status),
        starts_at=assignment.starts_at,
        ends_at=assignment.ends_at,
        offer_expires_at=assignment.offer_expires_at,
        responded_at=assignment.responded_at,
        confirmed_by_phone=assignment.confirmed_by_phone,
        place=assignment.place,
        modality=assignment.modality,
        source=explanation.get("source"),
        explanation=explanation.get("sentence"),
        booking_version=assignment.booking_version,
        created_at=assignment.created_at,
        updated_at=assignment.updated_at,
    )


@router.get(
    "/assignments",
    summary="List the assignments the caller may see",
    response_model=Page[AssignmentOut],
    responses=error_responses(401, 422),
)
def list_assignments(
    db: DbSession,
    user: CurrentUser,
    page: PageQuery,
    status_: Annotated[
        list[AssignmentStatus] | None, Query(alias="status", description="Only these states.")
    ] = None,
    booking_id: Annotated[int | None, Query(ge=1, description="Only this booking's.")] = None,
) -> Page[AssignmentOut]:
    """A provider sees their own offers and work (`?status=offered` lists what awaits an
    answer); a dispatcher those of their service's providers; an admin all."""
    query = service.assignment_query_for(db, user)
    if status_:
        query = query.where(Assignment.status.in_(status_))
    if booking_id is not None:
        query = query.where(Assignment.booking_id == booking_id)
    return paginate(
        db,
        query,
        page,
        order_by=(Assignment.starts_at, Assignment.id),
        item=lambda row: assignment_out(db, row),
    )


@router.get(
    "/assignments/{assignment_id}",
    summary="Read one assignment",
    response_model=AssignmentOut,
    responses=error_responses(401, 404, 422),
)
def read_assignment(db: DbSession, user: CurrentUser, assignment_id: IdPath) -> AssignmentOut:
    return assignment_out(db, service.get_visible_assignment(db, user, assignment_id))


@router.post(
    "/assignments",
    summary="Assign a provider by hand (checked by the matcher's rules)",
    status_code=status.HTTP_201_CREATED,
    response_model=AssignmentOut,
    responses=TRANSITION_ERRORS,
)
def create_assignment(
    db: DbSession, settings: AppSettings, user: DispatcherOrAdmin, body: AssignmentCreate
) -> AssignmentOut:
    """The pair is checked on the provider's day as it stands, by the same rules as the
    matcher: a broken rule is a 422 whose `rule` is its number in docs/problem.md (e.g.
    7), `rule_code` its name (e.g. `availability`) and `detail` a sentence. 409 if the
    booking is no longer open or someone holds it, or (for `confirmed`) the provider is
    already confirmed elsewhere at that time."""
    booking = get_visible_booking(db, user, body.booking_id)
    provider = db.get(Provider, body.provider_id)
    if provider is None:
        raise NotFound(entity="provider", entity_id=body.provider_id)
    assignment = service.assign_manually(
        db,
        actor=user,
        booking=booking,
        provider=provider,
        starts_at=body.starts_at,
        status=AssignmentStatus(body.status),
        offer_minutes=body.offer_expires_in_minutes or settings.offer_timeout_minutes,
        timezone=settings.timezone,
        confirmed_by_phone=body.confirmed_by_phone,
        place=body.place,
    )
    return assignment_out(db, assignment)


@router.post(
    "/assignments/{assignment_id}/accept",
    summary="Accept an offer (the provider, or their dispatcher on their behalf)",
    response_model=AssignmentOut,
    responses=TRANSITION_ERRORS,
)
def accept_assignment(db: DbSession, user: Answerer, assignment_id: IdPath) -> AssignmentOut:
    """The first provider to accept wins the booking; the other offers are withdrawn and their
    providers told. 409 if the offer expired, was answered, or another provider already
    accepted."""
    assignment = service.get_visible_assignment(db, user, assignment_id)
    return assignment_out(db, service.accept(db, actor=user, assignment=assignment))


@router.post(
    "/assignments/{assignment_id}/decline",
    summary="Decline an offer, or give back accepted or confirmed work",
    response_model=AssignmentOut,
    responses=TRANSITION_ERRORS,
)
def decline_assignment(
    db: DbSession,
    settings: AppSettings,
    user: Answerer,
    assignment_id: IdPath,
    body: ReasonIn | None = None,
) -> AssignmentOut:
    """A provider may decline an offer at any time, but accepted or confirmed work only until
    `decline_lock_hours` before it starts (409 `decline_locked` after that); their
    dispatcher may at any time. The booking goes back to `requested`."""
    assignment = service.get_visible_assignment(db, user, assignment_id)
    declined = service.decline(
        db,
        actor=user,
        assignment=assignment,
        lock_hours=settings.decline_lock_hours,
        reason=body.reason if body is not None else None,
    )
    return assignment_out(db, declined)


@router.post(
    "/assignments/{assignment_id}/confirm",
    summary="Confirm an assignment (dispatcher): the provider is booked",
    response_model=AssignmentOut,
    responses=TRANSITION_ERRORS,
)
def confirm_assignment(
    db: DbSession, user: DispatcherOrAdmin, assignment_id: IdPath, body: ConfirmIn | None = None
) -> AssignmentOut:
    """From a proposal, an offer or an accepted offer. The requester and the provider get the
    confirmation with an invitation, and reminders are scheduled. 409 if the provider is
    already confirmed for overlapping work (never a double booking, even under concurrent
    confirmations), or if the booking is no longer open, held by someone else, or changed.
    A provider no message can reach (no email, no phone) is confirmed only with
    `confirmed_by_phone: true` (409 `provider_unreachable` otherwise); the assignment keeps it."""
    assignment = service.get_visible_assignment(db, user, assignment_id)
    confirmed = service.confirm(
        db,
        actor=user,
        assignment=assignment,
        confirmed_by_phone=body.confirmed_by_phone if body is not None else False,
    )
    return assignment_out(db, confirmed)


@router.post(
    "/assignments/{assignment_id}/cancel",
    summary="Withdraw a proposal, an offer or held work (dispatcher)",
    response_model=AssignmentOut,
    responses=TRANSITION_ERRORS,
)
def cancel_assignment(
    db: DbSession, user: DispatcherOrAdmin, assignment_id: IdPath, body: ReasonIn | None = None
) -> AssignmentOut:
    """The provider is told (a confirmed session gets an iCalendar CANCEL); the booking goes
    back to `requested` unless someone else holds it."""
    assignment = service.get_visible_assignment(db, user, assignment_id)
    cancelled = service.cancel_assignment(
        db, actor=user, assignment=assignment, reason=body.reason if body is not None else None
    )
    return assignment_out(db, cancelled)


@router.get(
    "/bookings/{booking_id}/candidates",
    summary="Every provider who speaks the language, ranked for this booking, with why not",
    response_model=CandidatesOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
def booking_candidates(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    user: DispatcherOrAdmin,
    booking_id: IdPath,
    place: Annotated[
        int,
        Query(
            ge=0, lt=MAX_PLACES, description="Of a group booking, rank for this place (0: its own)."
        ),
    ] = 0,
) -> CandidatesOut:
    """The booking's day as it stands (accepted and confirmed work pinned, current proposals
    in place). Feasible providers first, by added cost, with their best start and the
    driving it adds; then the others, each with the rule (`rule`, `code`) and a sentence.
    `detail` is written in the language of `Accept-Language` (fr, nl or en); `why` holds
    the same reason as data in every language."""
    booking = get_visible_booking(db, user, booking_id)
    ranked = service.candidates_for(
        db, actor=user, booking=booking, timezone=settings.timezone, place=place
    )
    locale = request_locale(request.headers)
    languages = language_names(
        db, locale, [booking.language_code, *(p.language_code for p in booking.places)]
    )
    return CandidatesOut(
        booking_id=booking.id,
        candidates=[
            CandidateOut(
                provider_id=c.provider.id,
                display_name=c.provider.display_name,
                kind=ProviderKind(c.provider.kind),
                feasible=c.feasible,
                starts_at=c.starts_at,
                cost=c.cost,
                travel_minutes=c.travel_minutes,
                preferred=c.preferred,
                current=c.current,
                reachable=c.provider.reachable,
                rule=c.rule,
                code=c.code,
                detail=c.describe(locale, settings.timezone, languages),
                why=WhyOut.model_validate(c.why.to_json()),
            )
            for c in ranked
        ],
    )


@router.get(
    "/day-routes",
    summary="Each provider's day: sessions in order and the drives between them",
    response_model=DayRoutesOut,
    responses=error_responses(401, 403, 422),
)
def read_day_routes(
    db: DbSession,
    settings: AppSettings,
    user: DispatcherOrAdmin,
    date: Annotated[dt.date, Query(description="The local day (`YYYY-MM-DD`).")],
) -> DayRoutesOut:
    """The live work (proposed to confirmed) of the caller's service's providers (an admin:
    every provider) starting that day in the service's time zone, as the board's day view
    shows it: the drive into each onsite session from home or from the previous place, and
    the drive home, timed as the matcher times them."""
    days = day_routes(db, actor=user, day=date, timezone=settings.timezone)
    return DayRoutesOut(
        date=date,
        timezone=settings.timezone,
        providers=[
            ProviderDayOut(
                provider_id=entry.provider.id,
                provider_name=entry.provider.display_name,
                work_minutes=entry.work_minutes,
                travel_minutes=entry.travel_minutes,
                return_minutes=entry.return_minutes,
                sessions=[
                    DaySessionOut(
                        assignment_id=item.assignment.id,
                        booking_id=item.booking.id,
                        booking_reference=item.booking.reference,
                        status=AssignmentStatus(item.assignment.status),
                        starts_at=item.assignment.starts_at,
                        ends_at=item.assignment.ends_at,
                        modality=item.booking.modality,
                        travel_minutes=item.travel_minutes,
                        from_home=item.travel_from_home,
                    )
                    for item in entry.items
                ],
            )
            for entry in days
        ],
    )
