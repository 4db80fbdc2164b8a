"""Plans: a matcher run, what it proposes, what it could not staff and why, and applying it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.schemas.assignments import AssignmentOut, UTCInstant, WhyOut
from api.schemas.common import Id, Instant, ProblemDetails, ResponseModel, StrictModel
from booking.vocabulary import AssignmentStatus, PlanKind, PlanStatus


class PlanCreate(StrictModel):
    horizon_start: Instant
    horizon_end: Instant = Field(description="At most 31 days after `horizon_start`.")
    booking_ids: list[Id] | None = Field(
        default=None, max_length=1000, description="Only these bookings (default: all open)."
    )
    providing_org_id: Id | None = Field(
        default=None,
        description="The providing service to plan for. A dispatcher's own (the default; "
        "another is a 422). An admin names one, or leaves it out to plan every service: "
        "one plan per service, listed in `batch_plan_ids`.",
    )
    time_limit: float | None = Field(
        default=None,
        gt=0,
        le=600,
        description="Seconds for the solver; capped by the service's setting (its default).",
    )


class ScoreOut(ResponseModel):
    hard: int
    medium: int = Field(description="Minus the priority of the sessions left unstaffed.")
    soft: int = Field(description="Minus travel minutes, plus 60 per preferred provider.")


class BoundOut(ResponseModel):
    medium: int
    soft: int


class ProposalOut(ResponseModel):
    assignment_id: int
    booking_id: int
    booking_reference: str
    provider_id: int
    provider_name: str
    starts_at: UTCInstant
    ends_at: UTCInstant
    explanation: str = Field(description="Why this provider, in the caller's language.")
    why: list[WhyOut] = Field(
        default_factory=list, description="The explanation as data, part by part."
    )
    status: AssignmentStatus = Field(description="What became of the proposal since.")
    place: int = Field(0, description="The place of a group booking it fills (0: its own).")
    modality: str | None = Field(
        None, description="The modality used: a lower step of the booking's ladder, or its own."
    )


class PlanSuggestionOut(ResponseModel):
    kind: str
    change: dict[str, str | int]
    provider_ids: list[int]
    starts_at: UTCInstant


class UnassignedOut(ResponseModel):
    booking_id: int
    booking_reference: str
    reason: str = Field(
        description="`no_provider_speaks_language`, `no_eligible_provider`, "
        "`out_of_travel_range`, `no_availability`, `capacity` or `not_solved`."
    )
    detail: str = Field(description="How far the nearest providers got, in the caller's language.")
    explanation: str = Field(description="The reason and its detail, in the caller's language.")
    why: list[WhyOut] = Field(
        default_factory=list, description="The reason, then its detail, as data."
    )
    offers_pending: bool = Field(description="Live offers are out for it.")
    staffable: list[PlanSuggestionOut] = Field(
        default_factory=list,
        description="What would make it staffable, best first (as `GET /bookings/{id}/staffable`, "
        "against this plan).",
    )


class PinnedOut(ResponseModel):
    assignment_id: int
    booking_id: int
    provider_id: int
    status: AssignmentStatus


class ProgressOut(ResponseModel):
    elapsed_seconds: float = Field(default=0.0, description="Seconds solving so far.")
    time_limit: float = Field(default=0.0, description="The seconds the solve may take at most.")
    solutions: int = Field(default=0, description="Solutions the solver found so far.")
    medium: float | None = Field(
        default=None,
        description="The medium level of the best solution so far (of the part being solved).",
    )
    medium_bound: float | None = None
    soft: float | None = Field(default=None, description="Its soft level, once phase 2 runs.")
    soft_bound: float | None = None
    stop_requested: bool = False
    stopped: bool = Field(default=False, description="A dispatcher stopped it: best so far.")
    proven: bool = Field(default=False, description="The plan is proven best (ended only).")
    last_error: str | None = Field(
        default=None,
        description="Why the last attempt broke, when the plan went back to the queue.",
    )


class PlanSummary(ResponseModel):
    id: int
    status: PlanStatus
    kind: PlanKind = Field(
        description="`plan` (a dispatcher's run) or `repair` (re-staffing what fell through)."
    )
    horizon_start: UTCInstant
    horizon_end: UTCInstant
    providing_org_id: int | None = Field(
        description="The service the plan staffs: its dispatchers read and apply it. "
        "Null only for admin plans made before plans had a service (admins only)."
    )
    created_by_id: int
    created_at: UTCInstant
    finished_at: UTCInstant | None
    score: ScoreOut | None
    bound: BoundOut | None
    error: str | None = Field(
        description="Why the plan failed, in the technical words of the matcher or the "
        "database (English); `error_code` and `error_text` say it for a dispatcher."
    )
    error_code: str | None = Field(
        default=None,
        description="Which failure: `unsolvable` (committed work cannot all be kept), "
        "`interrupted`, `rejected`, `stopped_before_run`, `stopped_unstored`, `given_up`, "
        "`database` or `crashed`. Null for a plan that did not fail (and for plans that "
        "failed before codes existed).",
    )
    error_text: str | None = Field(
        default=None,
        description="The failure told in the caller's language (`Accept-Language`), with "
        "what to do next.",
    )
    progress: ProgressOut | None = Field(
        default=None,
        description="While `pending` or `running`, what the solve has reached (stored every "
        "few seconds by the solver); once ended, how it ended.",
    )
    attempts: int = Field(
        default=0,
        description="How many times a solver took the plan (a solver that "
        "stopped mid-plan leaves it to be taken again).",
    )


class WorkloadOut(ResponseModel):
    providers: int = Field(description="Providers of the plan's service, with work or not.")
    min: int = Field(description="Session minutes of the least busy provider.")
    median: float
    max: int = Field(description="Session minutes of the busiest provider.")
    gini: float = Field(description="0 for an even share, towards 1 when one does all.")


class FairnessOut(ResponseModel):
    weight: int
    largest_load: int = Field(description="The busiest provider's session minutes.")
    penalty: int = Field(description="weight x largest_load, weighed against soft.")


class SharingOut(ResponseModel):
    """How the plan shares the work beside what it drives: the price of fairness."""

    travel_minutes: int | None = Field(description="Every provider's driving, in minutes.")
    fairness_weight: int = Field(description="The service's setting when the plan was made.")
    workload: WorkloadOut
    fairness: FairnessOut | None = None


class PlanOut(PlanSummary):
    timings: dict[str, float] = Field(description="Seconds: build, solve, store, total.")
    stats: dict[str, Any] = Field(description="The solver's own figures.")
    sharing: SharingOut | None = Field(
        default=None, description="Minutes per provider and travel (plans made since 2026-12)."
    )
    sizes: dict[str, int] = Field(description="Sessions, planned, pinned, providers.")
    proposals: list[ProposalOut]
    unassigned: list[UnassignedOut]
    pinned: list[PinnedOut] = Field(description="Accepted or confirmed work the plan kept.")
    warnings: list[str] = Field(
        default_factory=list,
        description="E.g. held work that could not all be kept together and was planned "
        "around as busy time.",
    )
    batch_plan_ids: list[int] = Field(
        default_factory=list,
        description="An admin's plan of every service: the plans of that run, one per "
        "service, this one included (shown to admins only).",
    )


class PlanApply(StrictModel):
    assignment_ids: list[Id] | None = Field(
        default=None, max_length=1000, description="The proposals to apply (default: all)."
    )
    mode: Literal["confirm", "offer"] = Field(
        default="confirm",
        description="`confirm` books the providers; `offer` sends them offers to accept.",
    )
    offer_expires_in_minutes: int | None = Field(
        default=None,
        ge=1,
        le=7 * 24 * 60,
        description="For `offer`: minutes of the service's working hours; default: the "
        "service's offer timeout.",
    )


class RefusalOut(ResponseModel):
    assignment_id: int
    booking_id: int
    code: str = Field(
        description="`not_proposed`, `booking_changed`, `booking_not_open`, `booking_taken`, "
        "`stale_assignment` or `provider_double_booked`; out of the caller's reach: "
        "`not_found` (the booking), `forbidden` (the provider) or `not_served` (the "
        "provider's service does not serve the booking's organisation)."
    )
    detail: str


class ApplyOut(ResponseModel):
    plan_id: int
    mode: Literal["confirm", "offer"]
    applied: list[AssignmentOut]
    refused: list[RefusalOut] = Field(default_factory=list)


class ApplyProblem(ProblemDetails):
    """409 of a partial apply: the stale proposals were refused, the others WERE applied."""

    plan_id: int
    mode: Literal["confirm", "offer"]
    refused: list[RefusalOut]
    applied: list[AssignmentOut]
