"""Plans: one run of the matcher over a horizon, with its score, bound and explanations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from booking.db import Base, one_of
from booking.types import utc_now
from booking.vocabulary import PlanKind, PlanStatus


class Plan(Base):
    """A stored matcher run, so a dispatcher can review, apply in part, and compare runs."""

    __tablename__ = "plan"
    __table_args__ = (
        CheckConstraint(one_of("status", PlanStatus), name="status"),
        CheckConstraint("horizon_end > horizon_start", name="horizon"),
        CheckConstraint(one_of("kind", PlanKind), name="kind"),
        # The solvers' queue: pending plans, and running ones whose lease may have run out.
        Index("ix_plan_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The dispatcher who asked stays accountable; users are deactivated, not deleted.
    created_by_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="RESTRICT"), index=True
    )
    # The providing service the plan staffs: only its dispatchers read and apply it.
    # NULL only for admin plans made before plans had a service (admins alone see those).
    providing_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    horizon_start: Mapped[dt.datetime]
    horizon_end: Mapped[dt.datetime]
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(8), default=PlanStatus.PENDING)
    # `plan` (a dispatcher's run) or `repair` (re-staffing after work fell through).
    kind: Mapped[str] = mapped_column(String(8), default=PlanKind.PLAN, server_default="plan")
    score_hard: Mapped[int | None]
    score_medium: Mapped[int | None]
    score_soft: Mapped[int | None]
    bound_medium: Mapped[int | None]
    bound_soft: Mapped[int | None]
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # {"unassigned": [{"booking_id", "reason", "detail"}], "stats": {...}}
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    finished_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # Which failure it was (booking/plans/failures.py), told in the reader's language;
    # `error` keeps the technical text.
    error_code: Mapped[str | None] = mapped_column(String(24))
    # The job (booking/plans/jobs.py): which solver holds the plan, until when
    # (renewed by its heartbeat; an expired lease lets another solver take the
    # plan again), how many times it was taken, what the solve reached so far,
    # and whether a dispatcher asked to stop it and keep the best plan found.
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    progress: Mapped[dict[str, Any] | None]
    stop_requested: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A plan of an admin's every-service run waits for the plan before it (the
    # bookings that one staffs are left out of this one).
    after_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id", ondelete="SET NULL"))
