"""Plans: one run of the matcher over a horizon, with its score, bound and explanations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

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
