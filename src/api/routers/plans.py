"""Plans: run the matcher over a horizon, read its proposals and reasons, apply it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.auth import require_roles
from api.deps import AppSettings, DbSession
from api.errors import PROBLEM_JSON, localised_error, request_locale
from api.routers.assignments import assignment_out
from api.schemas.assignments import WhyOut
from api.schemas.common import IdPath, Page, PageQuery, error_responses, paginate
from api.schemas.plans import (
    ApplyOut,
    ApplyProblem,
    BoundOut,
    PinnedOut,
    PlanApply,
    PlanCreate,
    PlanOut,
    PlanSummary,
    ProgressOut,
    ProposalOut,
    RefusalOut,
    ScoreOut,
    SharingOut,
    UnassignedOut,
)
from booking.plans import jobs, service
from booking.plans.failures import failure_text
from booking.plans.models import Plan
from booking.plans.result import PlanResult
from booking.users.models import User
from booking.vocabulary import AssignmentStatus, PlanKind, PlanStatus, UserRole

router = APIRouter(prefix="/api/v1/plans", tags=["plans"])

DispatcherOrAdmin = Annotated[User, Depends(require_roles(UserRole.DISPATCHER, UserRole.ADMIN))]


def _summary_fields(plan: Plan, locale: str = "en") -> dict[str, Any]:
    score = None
    if plan.score_hard is not None and plan.score_medium is not None:
        score = ScoreOut(hard=plan.score_hard, medium=plan.score_medium, soft=plan.score_soft or 0)
    bound = None
    if plan.bound_medium is not None and plan.bound_soft is not None:
        bound = BoundOut(medium=plan.bound_medium, soft=plan.bound_soft)
    return {
        "id": plan.id,
        "status": PlanStatus(plan.status),
        "kind": PlanKind(plan.kind),
        "horizon_start": plan.horizon_start,
        "horizon_end": plan.horizon_end,
        "providing_org_id": plan.providing_org_id,
        "created_by_id": plan.created_by_id,
        "created_at": plan.created_at,
        "finished_at": plan.finished_at,
        "score": score,
        "bound": bound,
        "error": plan.error,
        "error_code": plan.error_code,
        "error_text": failure_text(plan.error_code, locale, attempts=plan.attempts),
        "progress": _progress(plan),
        "attempts": plan.attempts,
    }


def _progress(plan: Plan) -> ProgressOut | None:
    if plan.progress is None:
        return None
    known = set(ProgressOut.model_fields)
    return ProgressOut(**{k: v for k, v in plan.progress.items() if k in known})


def plan_out(
    db: Session, plan: Plan, viewer: User, locale: str = "en", timezone: str = "Europe/Brussels"
) -> PlanOut:
    """The stored plan, with what became of each proposal since, explained in ``locale``."""
    result = PlanResult.of(plan.result)
    reasons = result.reasons(db, locale, timezone)
    current = {a.id: a.status for a in service.plan_assignments(db, plan)}
    return PlanOut(
        **_summary_fields(plan, locale),
        timings={k: float(v) for k, v in (plan.timings or {}).items()},
        stats=result.stats,
        sharing=SharingOut.model_validate(result.sharing) if result.sharing else None,
        sizes=result.sizes,
        proposals=[
            ProposalOut(
                **item.model_dump(exclude={"why", "explanation", "travel_minutes"}),
                explanation=result.explanation(item, reasons),
                why=[WhyOut.model_validate(w.model_dump()) for w in item.why],
                status=AssignmentStatus(current.get(item.assignment_id, "cancelled")),
            )
            for item in result.proposals
        ],
        unassigned=[
            UnassignedOut(
                **item.model_dump(exclude={"why", "explanation", "detail"}),
                detail=result.detail(item, reasons),
                explanation=result.explanation(item, reasons),
                why=[WhyOut.model_validate(w.model_dump()) for w in item.why],
            )
            for item in result.unassigned
        ],
        pinned=[PinnedOut(**item.model_dump()) for item in result.pinned],
        warnings=result.warning_texts(reasons),
        batch_plan_ids=service.batch_plan_ids(plan) if viewer.role == UserRole.ADMIN else [],
    )


@router.post(
    "",
    summary="Queue a plan: the matcher runs over a horizon in a solver process",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PlanOut,
    responses=error_responses(401, 403, 409, 413, 422, 429),
)
def create_plan(
    request: Request,
    response: Response,
    db: DbSession,
    settings: AppSettings,
    user: DispatcherOrAdmin,
    body: PlanCreate,
) -> PlanOut:
    """Queues a plan of the open bookings of the horizon (or only `booking_ids`) for one
    providing service: its providers, for the organisations it serves. Answers at once
    (202) with the plan `pending` and its address in `Location`; a solver process takes it,
    and reading the plan shows its `progress` while it runs, then its proposals: accepted
    and confirmed work is kept, every other session is proposed a provider or left
    unassigned with a reason and a sentence. A dispatcher plans for their own service. An
    admin names `providing_org_id`, or leaves it out to plan every service: one plan per
    service, solved one after the other (the time limit shared between them), the answer
    being the first and `batch_plan_ids` listing them all. The solve takes up to
    `time_limit` seconds (capped by the service's setting). A matcher failure (confirmed
    work that cannot all be kept) ends as `status: failed` with its `error`."""
    limit = settings.plan_time_limit_seconds
    [plan, *_] = jobs.queue_plans(
        db,
        actor=user,
        horizon_start=body.horizon_start,
        horizon_end=body.horizon_end,
        booking_ids=body.booking_ids,
        providing_org_id=body.providing_org_id,
        time_limit=min(body.time_limit or limit, limit),
        timezone=settings.timezone,
    )
    response.headers["Location"] = f"/api/v1/plans/{plan.id}"
    return plan_out(db, plan, user, request_locale(request.headers), settings.timezone)


@router.get(
    "",
    summary="List the plans of the caller's service, newest first",
    response_model=Page[PlanSummary],
    responses=error_responses(401, 403, 422),
)
def list_plans(
    request: Request, db: DbSession, user: DispatcherOrAdmin, page: PageQuery
) -> Page[PlanSummary]:
    locale = request_locale(request.headers)
    return paginate(
        db,
        service.plan_query_for(db, user),
        page,
        order_by=(Plan.created_at.desc(), Plan.id.desc()),
        item=lambda plan: PlanSummary(**_summary_fields(plan, locale)),
    )


@router.get(
    "/{plan_id}",
    summary="Read a plan: proposals, unassigned sessions with reasons, score, bound, timings",
    response_model=PlanOut,
    responses=error_responses(401, 403, 404, 422),
)
def read_plan(
    request: Request, db: DbSession, settings: AppSettings, user: DispatcherOrAdmin, plan_id: IdPath
) -> PlanOut:
    """Explanations and details are written in the language of `Accept-Language` (fr, nl or
    en); their `why` (codes and parameters) is the same in every language."""
    plan = service.get_visible_plan(db, user, plan_id)
    return plan_out(db, plan, user, request_locale(request.headers), settings.timezone)


@router.post(
    "/{plan_id}/stop",
    summary="Stop a plan: keep the best plan found so far",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PlanOut,
    responses=error_responses(401, 403, 404, 409, 422, 429),
)
def stop_plan(db: DbSession, user: DispatcherOrAdmin, plan_id: IdPath) -> PlanOut:
    """A `pending` plan never runs (it ends `failed`, saying it was stopped). A `running` plan
    stops at its solver's next heartbeat and solution, and ends `done` with the best plan
    found so far (`progress.stopped`, and a warning). A plan that has ended is a 409."""
    plan = jobs.request_stop(db, actor=user, plan=service.get_visible_plan(db, user, plan_id))
    return plan_out(db, plan, user)


@router.post(
    "/{plan_id}/apply",
    summary="Confirm (or offer) the plan's proposals, all or some",
    response_model=ApplyOut,
    responses={
        **error_responses(401, 403, 404, 413, 422, 429),
        409: {
            "model": ApplyProblem,
            "description": "Some proposals were stale and refused (listed in `refused` with "
            "the reason each); the others WERE applied (listed in `applied`). Also a plain "
            "409 problem when the plan itself cannot be applied (not `done`).",
            "content": {PROBLEM_JSON: {}},
        },
    },
)
def apply_plan(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    user: DispatcherOrAdmin,
    plan_id: IdPath,
    body: PlanApply | None = None,
) -> ApplyOut | JSONResponse:
    """Each proposal is applied on its own. A stale one is refused: its booking changed since
    the plan (`booking_changed`), is no longer open (`booking_not_open`) or is held by
    someone else (`booking_taken`), the proposal is no longer one (`not_proposed`), or
    confirming would double-book the provider (`provider_double_booked`). If any is refused
    the answer is 409 listing them, but the others ARE applied and stay applied: read the
    plan again rather than retrying blindly. With `mode: "offer"` the providers get offers
    to accept instead of confirmations. Each proposal is checked again as the direct
    endpoints would: a booking the caller may not see (`not_found`), a provider they do not
    dispatch (`forbidden`), or a provider whose service does not serve the booking's
    organisation (`not_served`) is refused the same way, and nothing is sent for it."""
    body = body or PlanApply()
    plan = service.get_visible_plan(db, user, plan_id)
    outcome = service.apply_plan(
        db,
        actor=user,
        plan=plan,
        assignment_ids=body.assignment_ids,
        mode=body.mode,
        offer_minutes=body.offer_expires_in_minutes or settings.offer_timeout_minutes,
    )
    applied = [assignment_out(db, a) for a in outcome.applied]
    refused = [
        RefusalOut(
            assignment_id=r.assignment_id, booking_id=r.booking_id, code=r.code, detail=r.detail
        )
        for r in outcome.refused
    ]
    if refused:
        # Not raised: the request must still commit what was applied.
        return localised_error(
            request_locale(request.headers),
            409,
            "stale_proposals",
            params={"refused": len(refused), "applied": len(applied)},
            plan_id=plan.id,
            mode=body.mode,
            refused=[r.model_dump(mode="json") for r in refused],
            applied=[a.model_dump(mode="json") for a in applied],
        )
    return ApplyOut(plan_id=plan.id, mode=body.mode, applied=applied, refused=[])
