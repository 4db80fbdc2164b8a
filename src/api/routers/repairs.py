"""Repairs (re-staffing work that fell through): ask a solved repair again, another way."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import Field

from api.auth import require_roles
from api.deps import DbSession
from api.routers.plans import plan_out
from api.schemas.common import IdPath, StrictModel, error_responses
from api.schemas.plans import PlanOut
from booking.plans import repair, service
from booking.users.models import User
from booking.vocabulary import UserRole

router = APIRouter(prefix="/api/v1/plans", tags=["plans"])

DispatcherOrAdmin = Annotated[User, Depends(require_roles(UserRole.DISPATCHER, UserRole.ADMIN))]


class RepairAgain(StrictModel):
    move_confirmed: repair.MoveConfirmed = Field(
        default="forbid",
        description="`forbid` keeps the service's accepted and confirmed work where it is; "
        "`allow` lets the repair move some, only when that staffs a session more "
        "(docs/operations.md, Re-staffing).",
    )


@router.post(
    "/{plan_id}/repair-again",
    summary="Ask a solved repair again for the sessions it left open",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PlanOut,
    responses=error_responses(401, 403, 404, 409, 413, 422, 429),
)
def repair_again(
    db: DbSession, user: DispatcherOrAdmin, plan_id: IdPath, body: RepairAgain
) -> PlanOut:
    """Stores a new pending repair of the sessions this repair left open, with the same
    trigger and the chosen `move_confirmed`; the worker solves it at its next tick. 409 if
    the plan is not a solved repair, or left nothing open."""
    again = repair.repair_again(
        db,
        actor=user,
        plan=service.get_visible_plan(db, user, plan_id),
        move_confirmed=body.move_confirmed,
    )
    return plan_out(db, again, user)
