"""Accepted work is a commitment as much as confirmed work: nothing new may clash with it.

Every path that gives a provider work (a manual assignment, an offer,
accepting, confirming, applying a plan) checks it against the provider's
accepted and confirmed work, overlaps and the time to drive between the
places alike, with the provider's lock held (``guards.lock_provider``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.bookings.models import Booking
from booking.errors import Conflict
from booking.plans.problem_builder import (
    assignment_session,
    build_problem,
    provider_key,
    session_key,
)
from booking.settings import get_settings
from booking.types import ensure_aware
from booking.vocabulary import HELD_ASSIGNMENT_STATUSES, AssignmentStatus
from matching.problem import Assignment as MatchAssignment
from matching.problem import Unassigned
from matching.validate import check


def assert_fits_commitments(
    db: Session,
    *,
    assignment: Assignment,
    booking: Booking,
    now: dt.datetime,
    timezone: str | None = None,
) -> None:
    """Refuse (409) work that clashes with the provider's accepted or confirmed work.

    An overlap is ``provider_double_booked``; work that leaves no free time to
    drive between two places (rule 9 of docs/problem.md, read as the matcher reads
    it, with the days before and after) is ``no_time_to_drive``. Only the
    clashes this assignment brings count: the rest of the provider's rules
    (availability, daily minutes) were checked when the work was proposed.
    The caller holds the provider's lock when it is about to commit them.
    """
    assert_no_confirmed_overlap(
        db,
        assignment.provider_id,
        assignment.starts_at,
        assignment.ends_at,
        exclude_assignment_id=assignment.id,
        statuses=HELD_ASSIGNMENT_STATUSES,
    )
    timezone = timezone or get_settings().timezone
    zone = ZoneInfo(timezone)
    first = assignment.starts_at.astimezone(zone).date() - dt.timedelta(days=1)
    last = assignment.ends_at.astimezone(zone).date() + dt.timedelta(days=2)
    problem, index = build_problem(
        db,
        horizon_start=dt.datetime.combine(first, dt.time(0), tzinfo=zone),
        horizon_end=dt.datetime.combine(last, dt.time(0), tzinfo=zone),
        booking_ids=[],
        now=now,
        provider_ids=[assignment.provider_id],
        timezone=timezone,
    )
    provider = provider_key(assignment.provider_id)
    if provider not in index.providers:
        return  # an inactive provider: nothing to route, the overlap check stands
    key = session_key(booking.id)
    index.pinned.pop(key, None)
    index.bookings[key] = booking
    session = assignment_session(booking, assignment, index)
    problem = dataclasses.replace(
        problem,
        sessions=(*(s for s in problem.sessions if s.id != key), session),
        fixed=tuple(f for f in problem.fixed if f.session != key),
    )
    held = [
        MatchAssignment(session=k, provider=provider_key(a.provider_id), start=a.starts_at)
        for k, a in index.pinned.items()
    ]
    mine = MatchAssignment(session=key, provider=provider, start=assignment.starts_at)
    before = check(problem, held, [Unassigned(session=key, reason="not_solved", detail="")])
    known = {(v.rule, v.session, v.message) for v in before.violations}
    clashes = [
        v
        for v in check(problem, [*held, mine]).violations
        if v.rule == 9 and (v.rule, v.session, v.message) not in known
    ]
    if clashes:
        # "2026-12-14: no free time for the drive 62 min from ... (ends 12:00) to ..."
        day, _, leg = index.humanise(clashes[0].message).partition(": ")
        raise Conflict(
            f"{index.provider(provider).display_name} would have {leg} on {day}.",
            code="no_time_to_drive",
            extra={
                "rule": 9,
                "rule_code": clashes[0].code,
                "provider_id": assignment.provider_id,
            },
        )


def assert_no_confirmed_overlap(
    session: Session,
    provider_id: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    exclude_assignment_id: int | None = None,
    statuses: Collection[AssignmentStatus] = (AssignmentStatus.CONFIRMED,),
) -> None:
    """Raise ``Conflict`` if the provider has work overlapping ``[starts_at, ends_at)``.

    PostgreSQL also enforces this (for accepted and confirmed work) with an
    exclusion constraint, which is what holds under concurrent dispatchers;
    this guard gives the same answer on SQLite (where one writer at a time
    and our explicit BEGIN make the check and the write atomic) and a
    readable error on both. Touching intervals (one ends when the next
    starts) do not overlap. ``statuses`` says which work counts (confirmed
    only by default; ``assert_fits_commitments`` asks for accepted too).
    """
    ensure_aware(starts_at)
    ensure_aware(ends_at)
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    query = (
        select(
            Assignment.id,
            Assignment.booking_id,
            Assignment.status,
            Assignment.starts_at,
            Assignment.ends_at,
        )
        .where(
            Assignment.provider_id == provider_id,
            Assignment.status.in_(list(statuses)),
            Assignment.starts_at < ends_at,
            Assignment.ends_at > starts_at,
        )
        .order_by(Assignment.starts_at)
        .limit(1)
    )
    if exclude_assignment_id is not None:
        query = query.where(Assignment.id != exclude_assignment_id)
    clash = session.execute(query).first()
    if clash is not None:
        raise Conflict(
            f"provider {provider_id} already holds work ({clash.status}) from "
            f"{clash.starts_at.isoformat()} to {clash.ends_at.isoformat()} "
            f"(booking {clash.booking_id})",
            code="provider_double_booked",
            extra={
                "assignment_id": clash.id,
                "booking_id": clash.booking_id,
                "starts_at": clash.starts_at.isoformat(),
                "ends_at": clash.ends_at.isoformat(),
            },
        )
