"""When a provider can work: weekly rules and dated exceptions, turned into instants.

Weekly rules are wall-clock times of the provider's organisation (Europe/Brussels
or Europe/Paris). Each day's slot is built as a local datetime with ``zoneinfo``
and only then converted, so a rule "Monday 08:30-17:00" stays 08:30-17:00 on
both sides of a daylight-saving change. On the two nights a year a rule's time
may not exist or may occur twice, the rule of ``booking.dates`` decides
(forward across the gap, the first of the two), and ``rule_adjustments`` lists
where it did. Extra hours are added, absences, public holidays (unless the
provider works on them) and the organisation's closure days are taken away.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from booking.audit import record_audit
from booking.dates import (
    OUT_OF_RANGE,
    WallTime,
    bounds_message,
    day_in_bounds,
    instant_in_bounds,
    wall_time,
)
from booking.errors import FieldError, Unprocessable
from booking.providers.models import AvailabilityException, AvailabilityRule, Provider
from booking.types import ensure_aware
from booking.users.models import User
from booking.vocabulary import AvailabilityExceptionKind

UTC = dt.UTC
MAX_RULES = 50
MAX_EXCEPTIONS = 500

Span = tuple[dt.datetime, dt.datetime]
"""A half-open stretch of time ``[start, end)`` between two aware instants."""


@dataclass(frozen=True)
class RuleData:
    """A weekly slot as a client sends it: weekday (0 = Monday), local times, validity."""

    weekday: int
    start_time: dt.time
    end_time: dt.time
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None


@dataclass(frozen=True)
class ExceptionData:
    """A dated change: an ``absence`` or ``extra`` hours, between two aware instants."""

    kind: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    note: str | None = None


@functools.cache
def _public_holidays(country: str, year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays(country, years=year))


def public_holidays(country: str, first_day: dt.date, last_day: dt.date) -> set[dt.date]:
    """The national public holidays of ``country`` between two dates (both included)."""
    found: set[dt.date] = set()
    for year in range(first_day.year, last_day.year + 1):
        found |= {day for day in _public_holidays(country, year) if first_day <= day <= last_day}
    return found


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, non-overlapping spans covering the same time (touching spans are joined)."""
    ordered = sorted(
        ((a.astimezone(UTC), b.astimezone(UTC)) for a, b in spans if b > a), key=lambda s: s[0]
    )
    merged: list[Span] = []
    for start, end in ordered:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract(spans: Sequence[Span], holes: Iterable[Span]) -> list[Span]:
    """``spans`` minus every hole; the result stays sorted and non-overlapping."""
    result = merge(spans)
    for hole_start, hole_end in merge(holes):
        kept: list[Span] = []
        for start, end in result:
            if hole_end <= start or end <= hole_start:
                kept.append((start, end))
                continue
            if start < hole_start:
                kept.append((start, hole_start))
            if hole_end < end:
                kept.append((hole_end, end))
        result = kept
    return result


def local_day_span(day: dt.date, zone: ZoneInfo) -> Span:
    """Local midnight to the next local midnight (23 or 25 hours on a DST change)."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def days_between(first_day: dt.date, last_day: dt.date) -> list[dt.date]:
    """Every date from ``first_day`` to ``last_day``, both included."""
    count = (last_day - first_day).days + 1
    return [first_day + dt.timedelta(days=i) for i in range(max(count, 0))]


def _applies(rule: RuleData | AvailabilityRule, day: dt.date) -> bool:
    """Whether a weekly rule opens a slot on ``day`` (its weekday, within its validity)."""
    if rule.weekday != day.weekday():
        return False
    if rule.valid_from is not None and day < rule.valid_from:
        return False
    return rule.valid_until is None or day <= rule.valid_until


def weekly_spans(
    rules: Iterable[RuleData | AvailabilityRule],
    *,
    first_day: dt.date,
    last_day: dt.date,
    zone: ZoneInfo,
) -> list[Span]:
    """The slots the weekly rules open on each local day of ``[first_day, last_day]``."""
    spans: list[Span] = []
    rules = list(rules)
    for day in days_between(first_day, last_day):
        for rule in rules:
            if not _applies(rule, day):
                continue
            start = wall_time(day, rule.start_time, zone).instant
            end = wall_time(day, rule.end_time, zone).instant
            spans.append((start, end))
    return merge(spans)


@dataclass(frozen=True)
class RuleAdjustment:
    """A weekly rule's time that does not exist, or occurs twice, on one of its days."""

    rule: RuleData | AvailabilityRule
    field: str
    """``start_time`` or ``end_time``."""
    wall_time: WallTime


def _clock_change_days(first_day: dt.date, last_day: dt.date, zone: ZoneInfo) -> list[dt.date]:
    """The local days of ``[first_day, last_day]`` on which the zone's offset changes."""
    changes = []
    for day in days_between(first_day, last_day):
        start, end = local_day_span(day, zone)
        if start.astimezone(zone).utcoffset() != end.astimezone(zone).utcoffset():
            changes.append(day)
    return changes


def rule_adjustments(
    rules: Iterable[RuleData | AvailabilityRule],
    *,
    first_day: dt.date,
    last_day: dt.date,
    zone: ZoneInfo,
) -> list[RuleAdjustment]:
    """Where the daylight-saving rule moves or chooses a weekly rule's time, day by day."""
    found: list[RuleAdjustment] = []
    days = _clock_change_days(first_day, last_day, zone)
    for rule in rules:
        for day in days:
            if not _applies(rule, day):
                continue
            for name in ("start_time", "end_time"):
                when = wall_time(day, getattr(rule, name), zone)
                if when.adjusted:
                    found.append(RuleAdjustment(rule, name, when))
    return found


def availability_spans(
    rules: Iterable[RuleData | AvailabilityRule],
    exceptions: Iterable[ExceptionData | AvailabilityException],
    *,
    first_day: dt.date,
    last_day: dt.date,
    zone: ZoneInfo,
    closed_days: Collection[dt.date] = (),
) -> list[Span]:
    """When the provider can work over local days ``[first_day, last_day]``, in UTC.

    Weekly slots, plus ``extra`` exceptions, minus ``absence`` exceptions, minus
    the whole local days in ``closed_days`` (public holidays the provider does
    not work, the organisation's closures). Nothing outside those days is kept.
    """
    exceptions = list(exceptions)
    horizon = (local_day_span(first_day, zone)[0], local_day_span(last_day, zone)[1])
    spans = weekly_spans(rules, first_day=first_day, last_day=last_day, zone=zone)
    extra = [
        (max(e.starts_at, horizon[0]), min(e.ends_at, horizon[1]))
        for e in exceptions
        if e.kind == AvailabilityExceptionKind.EXTRA
    ]
    spans = merge([*spans, *extra])
    holes = [
        (e.starts_at, e.ends_at) for e in exceptions if e.kind == AvailabilityExceptionKind.ABSENCE
    ]
    holes += [local_day_span(day, zone) for day in closed_days if first_day <= day <= last_day]
    return subtract(spans, holes)


# The stored rules and exceptions of one provider, read and replaced as a whole.


@dataclass(frozen=True)
class Availability:
    """A provider's weekly rules and dated exceptions, and the zone the rules are read in."""

    provider: Provider
    timezone: str
    rules: list[AvailabilityRule]
    exceptions: list[AvailabilityException]


def get_availability(db: Session, *, provider: Provider, timezone: str) -> Availability:
    """The provider's rules (by weekday and time) and exceptions (by start)."""
    rules = list(
        db.scalars(
            select(AvailabilityRule)
            .where(AvailabilityRule.provider_id == provider.id)
            .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time, AvailabilityRule.id)
        )
    )
    exceptions = list(
        db.scalars(
            select(AvailabilityException)
            .where(AvailabilityException.provider_id == provider.id)
            .order_by(AvailabilityException.starts_at, AvailabilityException.id)
        )
    )
    return Availability(provider, timezone, rules, exceptions)


def _check(rules: Sequence[RuleData], exceptions: Sequence[ExceptionData]) -> None:
    errors: list[FieldError] = []
    if len(rules) > MAX_RULES:
        errors.append(FieldError("rules", f"At most {MAX_RULES} weekly rules.", "too_long"))
    if len(exceptions) > MAX_EXCEPTIONS:
        errors.append(FieldError("exceptions", f"At most {MAX_EXCEPTIONS} exceptions.", "too_long"))
    for i, rule in enumerate(rules):
        if not 0 <= rule.weekday <= 6:
            errors.append(FieldError(f"rules.{i}.weekday", "Use 0 (Monday) to 6 (Sunday)."))
        if rule.end_time <= rule.start_time:
            errors.append(FieldError(f"rules.{i}.end_time", "Must be after start_time (same day)."))
        if (
            rule.valid_from is not None
            and rule.valid_until is not None
            and rule.valid_until < rule.valid_from
        ):
            errors.append(FieldError(f"rules.{i}.valid_until", "Must not be before valid_from."))
        for name in ("valid_from", "valid_until"):
            day = getattr(rule, name)
            if day is not None and not day_in_bounds(day):
                errors.append(FieldError(f"rules.{i}.{name}", bounds_message(), OUT_OF_RANGE))
    for i, item in enumerate(exceptions):
        if item.kind not in set(AvailabilityExceptionKind):
            errors.append(FieldError(f"exceptions.{i}.kind", "Use 'absence' or 'extra'."))
        for name in ("starts_at", "ends_at"):
            if not instant_in_bounds(getattr(item, name)):
                errors.append(FieldError(f"exceptions.{i}.{name}", bounds_message(), OUT_OF_RANGE))
        if item.ends_at <= item.starts_at:
            errors.append(FieldError(f"exceptions.{i}.ends_at", "Must be after starts_at."))
    if errors:
        raise Unprocessable("The availability breaks a rule.", errors=errors)


def replace_availability(
    db: Session,
    *,
    actor: User,
    provider: Provider,
    timezone: str,
    rules: Sequence[RuleData],
    exceptions: Sequence[ExceptionData],
) -> Availability:
    """Replace all the provider's rules and exceptions by the given ones (audited)."""
    for item in exceptions:
        ensure_aware(item.starts_at)
        ensure_aware(item.ends_at)
    _check(rules, exceptions)
    before = get_availability(db, provider=provider, timezone=timezone)
    db.execute(delete(AvailabilityRule).where(AvailabilityRule.provider_id == provider.id))
    db.execute(
        delete(AvailabilityException).where(AvailabilityException.provider_id == provider.id)
    )
    db.add_all(
        AvailabilityRule(
            provider_id=provider.id,
            weekday=r.weekday,
            start_time=r.start_time,
            end_time=r.end_time,
            valid_from=r.valid_from,
            valid_until=r.valid_until,
        )
        for r in rules
    )
    db.add_all(
        AvailabilityException(
            provider_id=provider.id,
            kind=e.kind,
            starts_at=e.starts_at,
            ends_at=e.ends_at,
            note=e.note,
        )
        for e in exceptions
    )
    db.flush()
    record_audit(
        db,
        actor=actor,
        action="provider.availability_replaced",
        entity=provider,
        changes={
            "rules": [len(before.rules), len(rules)],
            "exceptions": [len(before.exceptions), len(exceptions)],
        },
    )
    if any(e.kind == AvailabilityExceptionKind.ABSENCE for e in exceptions):
        # Held work inside an absence falls through and is re-staffed (plans build on this).
        from booking.plans.repair import absence_recorded

        absence_recorded(db, actor=actor, provider=provider)
    return get_availability(db, provider=provider, timezone=timezone)
