"""From rows to the matcher's problem: availability in local time, holidays, pins, scope."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from booking.models import Organisation, ProviderLanguage, User
from booking.plans.problem_builder import build_problem, provider_key, session_key
from booking.providers.availability import RuleData, availability_spans, merge, subtract
from matching.problem import Assignment as MatchAssignment
from matching.problem import Interval
from matching.solve import solve
from matching.validate import check
from tests.factories import (
    BRUSSELS,
    make_assignment,
    make_availability_exception,
    make_availability_rule,
    make_booking,
    make_closure,
    make_organisation,
    make_preference,
    make_provider,
    make_series,
    make_service_agreement,
    make_user,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MONDAY, TUESDAY, WEDNESDAY = 0, 1, 2


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BRUSSELS)


def utc(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(UTC)


def spans_of(problem_provider: object) -> list[tuple[dt.datetime, dt.datetime]]:
    intervals: tuple[Interval, ...] = problem_provider.availability  # type: ignore[attr-defined]
    return [(i.start.astimezone(UTC), i.end.astimezone(UTC)) for i in intervals]


def build(db: Session, start: dt.date, days: int, **kwargs: object):  # type: ignore[no-untyped-def]
    begin = dt.datetime.combine(start, dt.time(0), tzinfo=BRUSSELS)
    return build_problem(
        db,
        horizon_start=begin,
        horizon_end=begin + dt.timedelta(days=days),
        now=kwargs.pop("now", NOW),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def only(problem, provider) -> object:  # type: ignore[no-untyped-def]
    [found] = [p for p in problem.providers if p.id == provider_key(provider.id)]
    return found


# --- pure interval arithmetic --------------------------------------------------------------


def test_touching_spans_merge_and_holes_split_them() -> None:
    day = dt.date(2026, 12, 1)
    merged = merge([(at(day, 8), at(day, 10)), (at(day, 10), at(day, 12))])
    assert merged == [(utc(at(day, 8)), utc(at(day, 12)))]
    assert subtract(merged, [(at(day, 9), at(day, 10))]) == [
        (utc(at(day, 8)), utc(at(day, 9))),
        (utc(at(day, 10)), utc(at(day, 12))),
    ]


def test_a_weekly_slot_keeps_its_wall_clock_across_the_autumn_dst_change() -> None:
    # 25 October 2026 Brussels goes from CEST (+02:00) to CET (+01:00).
    before, after = dt.date(2026, 10, 19), dt.date(2026, 10, 26)
    rule = make_rule_data(MONDAY, dt.time(8, 30), dt.time(17, 0))
    spans = availability_spans([rule], [], first_day=before, last_day=after, zone=BRUSSELS)
    assert spans == [
        (
            dt.datetime(2026, 10, 19, 6, 30, tzinfo=UTC),
            dt.datetime(2026, 10, 19, 15, 0, tzinfo=UTC),
        ),
        (
            dt.datetime(2026, 10, 26, 7, 30, tzinfo=UTC),
            dt.datetime(2026, 10, 26, 16, 0, tzinfo=UTC),
        ),
    ]


def test_a_holiday_takes_the_whole_local_day_even_on_a_23_hour_day() -> None:
    # 29 March 2026 (a Sunday) is only 23 hours long in Brussels.
    sunday = dt.date(2026, 3, 29)
    rule = make_rule_data(6, dt.time(0, 0), dt.time(23, 59))
    assert availability_spans([rule], [], first_day=sunday, last_day=sunday, zone=BRUSSELS)
    assert (
        availability_spans(
            [rule], [], first_day=sunday, last_day=sunday, zone=BRUSSELS, closed_days={sunday}
        )
        == []
    )


def make_rule_data(weekday: int, start: dt.time, end: dt.time) -> RuleData:
    return RuleData(weekday=weekday, start_time=start, end_time=end)


# --- providers -------------------------------------------------------------------------------


def test_weekly_rules_become_intervals_in_local_time_on_both_sides_of_dst(db: Session) -> None:
    provider = make_provider(db)
    make_availability_rule(
        db, provider=provider, weekday=MONDAY, start_time=dt.time(8, 30), end_time=dt.time(17)
    )
    problem, _ = build(db, dt.date(2026, 10, 19), 8, provider_ids=[provider.id])
    assert spans_of(only(problem, provider)) == [
        (
            dt.datetime(2026, 10, 19, 6, 30, tzinfo=UTC),
            dt.datetime(2026, 10, 19, 15, 0, tzinfo=UTC),
        ),
        (
            dt.datetime(2026, 10, 26, 7, 30, tzinfo=UTC),
            dt.datetime(2026, 10, 26, 16, 0, tzinfo=UTC),
        ),
    ]


def test_rules_outside_their_validity_open_nothing(db: Session) -> None:
    provider = make_provider(db)
    make_availability_rule(db, provider=provider, weekday=MONDAY, valid_from=dt.date(2026, 12, 8))
    make_availability_rule(
        db, provider=provider, weekday=TUESDAY, valid_until=dt.date(2026, 11, 30)
    )
    problem, _ = build(db, dt.date(2026, 11, 30), 7, provider_ids=[provider.id])
    days = {start.astimezone(BRUSSELS).date() for start, _ in spans_of(only(problem, provider))}
    assert days == set()


def test_absences_cut_and_extra_hours_add_availability(db: Session) -> None:
    day = dt.date(2026, 12, 7)  # a Monday
    provider = make_provider(db)
    make_availability_rule(db, provider=provider, weekday=MONDAY)  # 08:30-17:00
    make_availability_exception(
        db, provider=provider, kind="absence", starts_at=at(day, 12), ends_at=at(day, 14)
    )
    make_availability_exception(
        db, provider=provider, kind="extra", starts_at=at(day, 18), ends_at=at(day, 20)
    )
    problem, _ = build(db, day, 1, provider_ids=[provider.id])
    assert spans_of(only(problem, provider)) == [
        (utc(at(day, 8, 30)), utc(at(day, 12))),
        (utc(at(day, 14)), utc(at(day, 17))),
        (utc(at(day, 18)), utc(at(day, 20))),
    ]


def test_public_holidays_of_the_service_country_remove_the_day_unless_worked(db: Session) -> None:
    national_day = dt.date(2026, 7, 21)  # Belgian national holiday, a Tuesday; not in France
    belgian = make_organisation(db, kind="providing", country="BE")
    french = make_organisation(db, kind="providing", country="FR", timezone="Europe/Paris")
    off = make_provider(db, organisation=belgian)
    keen = make_provider(db, organisation=belgian, works_on_holidays=True)
    across = make_provider(db, organisation=french)
    for provider in (off, keen, across):
        make_availability_rule(db, provider=provider, weekday=TUESDAY)
    problem, _ = build(db, national_day, 1, provider_ids=[off.id, keen.id, across.id])
    assert spans_of(only(problem, off)) == []
    assert spans_of(only(problem, keen)) == [
        (utc(at(national_day, 8, 30)), utc(at(national_day, 17)))
    ]
    assert spans_of(only(problem, across)) == [
        (utc(at(national_day, 8, 30)), utc(at(national_day, 17)))
    ]


def test_the_services_closure_days_remove_availability(db: Session) -> None:
    day = dt.date(2026, 12, 28)  # a Monday the service closes
    service = make_organisation(db, kind="providing")
    provider = make_provider(db, organisation=service)
    make_availability_rule(db, provider=provider, weekday=MONDAY)
    make_closure(db, organisation=service, day=day)
    problem, _ = build(db, day, 1, provider_ids=[provider.id])
    assert spans_of(only(problem, provider)) == []


def test_an_expired_certification_no_longer_counts(db: Session) -> None:
    day = dt.date(2026, 12, 7)
    provider = make_provider(db, languages=("tir", "ara"), certified=True)
    rows = {
        row.language_code: row
        for row in db.query(ProviderLanguage).filter_by(provider_id=provider.id)
    }
    rows["tir"].certified_until = day - dt.timedelta(days=1)
    rows["ara"].certified_until = day + dt.timedelta(days=30)
    db.flush()
    problem, _ = build(db, day, 1, provider_ids=[provider.id])
    skills = {s.code: s.certified for s in only(problem, provider).languages}  # type: ignore[attr-defined]
    assert skills == {"tir": False, "ara": True}


def test_providers_of_a_salaried_service_count_their_idle_time(db: Session) -> None:
    salaried = make_organisation(db, kind="providing", counts_idle=True)
    freelance = make_organisation(db, kind="providing")
    employee = make_provider(db, organisation=salaried)
    freelancer = make_provider(db, organisation=freelance)
    problem, _ = build(db, dt.date(2026, 12, 7), 1, provider_ids=[employee.id, freelancer.id])
    assert only(problem, employee).counts_idle is True  # type: ignore[attr-defined]
    assert only(problem, freelancer).counts_idle is False  # type: ignore[attr-defined]


def test_inactive_providers_and_other_services_are_left_out(db: Session) -> None:
    service = make_organisation(db, kind="providing")
    mine = make_provider(db, organisation=service)
    make_provider(db, organisation=service, is_active=False)
    make_provider(db)  # another service
    problem, _ = build(db, dt.date(2026, 12, 7), 1, providing_org_id=service.id)
    assert [p.id for p in problem.providers] == [provider_key(mine.id)]


# --- sessions --------------------------------------------------------------------------------


def test_only_open_future_bookings_of_served_organisations_in_the_horizon_are_planned(
    db: Session,
) -> None:
    day = dt.date(2026, 12, 7)
    agreement = make_service_agreement(db)
    requester = make_user(db, organisation=db.get(Organisation, agreement.requesting_org_id))
    planned = [
        make_booking(db, requester=requester, starts_at=at(day, 10), status=status)
        for status in ("requested", "proposed", "unfilled")
    ]
    make_booking(db, requester=requester, starts_at=at(day, 11), status="cancelled")
    make_booking(db, requester=requester, starts_at=at(day, 11), status="confirmed")
    make_booking(db, requester=requester, starts_at=at(day + dt.timedelta(days=1), 10))
    make_booking(db, starts_at=at(day, 10))  # an organisation the service does not serve
    started = make_booking(db, requester=requester, starts_at=at(day, 8))
    _, index = build(
        db,
        day,
        1,
        providing_org_id=agreement.providing_org_id,
        now=at(day, 9),
    )
    assert index.planned == [session_key(b.id) for b in planned]
    assert session_key(started.id) not in index.bookings
    assert index.booking_versions[planned[0].id] == planned[0].version_id


def test_booking_ids_narrow_the_sessions(db: Session) -> None:
    day = dt.date(2026, 12, 7)
    first = make_booking(db, starts_at=at(day, 10))
    make_booking(db, starts_at=at(day, 11))
    problem, index = build(db, day, 1, booking_ids=[first.id])
    assert [s.id for s in problem.sessions] == [session_key(first.id)]
    assert index.planned == [session_key(first.id)]


def test_a_session_carries_the_booking_requirements_and_preferences(db: Session) -> None:
    day = dt.date(2026, 12, 7)
    disliked, liked, continuity = make_provider(db), make_provider(db), make_provider(db)
    series = make_series(db, preferred_provider=continuity)
    booking = make_booking(
        db,
        requester=db.get(User, series.requester_id),
        starts_at=at(day, 10),
        window_earliest=at(day, 9),
        window_latest=at(day, 11),
        required_gender="f",
        requires_certified=True,
        required_skills=["trauma"],
        provider_kind="interpreter",
        priority=3,
        series_id=series.id,
        series_index=0,
    )
    make_preference(db, booking=booking, provider=disliked, kind="excluded")
    make_preference(db, booking=booking, provider=liked, kind="preferred")
    problem, _ = build(db, day, 1)
    [session] = problem.sessions
    assert session.window is not None
    assert (session.window.earliest, session.window.latest) == (at(day, 9), at(day, 11))
    assert session.requires.gender == "f"
    assert session.requires.certified
    assert session.requires.skills == frozenset({"trauma"})
    assert session.provider_kind == "interpreter"
    assert session.priority == 3
    assert session.location is not None and session.location.country == "BE"
    assert session.excluded_providers == {provider_key(disliked.id)}
    assert session.preferred_providers == {provider_key(liked.id), provider_key(continuity.id)}
    assert session.beneficiary is None  # the pseudonym stays in the database


def test_confirmed_and_accepted_work_is_pinned_and_offers_are_only_hints(db: Session) -> None:
    day = dt.date(2026, 12, 7)
    provider = make_provider(db)
    other = make_provider(db)
    confirmed = make_booking(db, starts_at=at(day, 9), status="confirmed")
    held = make_assignment(
        db,
        booking=confirmed,
        provider=provider,
        status="confirmed",
        starts_at=at(day, 9),
    )
    accepted_booking = make_booking(db, starts_at=at(day, 13), status="proposed")
    accepted = make_assignment(db, booking=accepted_booking, provider=provider, status="accepted")
    offered_booking = make_booking(db, starts_at=at(day, 15), status="proposed")
    make_assignment(
        db,
        booking=offered_booking,
        provider=other,
        status="offered",
        offer_expires_at=NOW + dt.timedelta(hours=2),
    )
    problem, index = build(db, day, 1, providing_org_id=None)
    pins = {(f.session, f.provider) for f in problem.fixed}
    assert pins == {
        (session_key(confirmed.id), provider_key(provider.id)),
        (session_key(accepted_booking.id), provider_key(provider.id)),
    }
    assert index.pinned[session_key(confirmed.id)].id == held.id
    assert index.pinned[session_key(accepted_booking.id)].id == accepted.id
    assert index.planned == [session_key(offered_booking.id)]
    assert index.offered == {session_key(offered_booking.id): [provider_key(other.id)]}
    starts = {s.id: s.start for s in problem.sessions}
    assert starts[session_key(confirmed.id)] == at(day, 9)


def test_work_elsewhere_in_the_same_week_is_taken_off_the_weekly_limit(db: Session) -> None:
    monday = dt.date(2026, 12, 7)
    provider = make_provider(db, max_minutes_per_week=1800)
    earlier = make_booking(db, starts_at=at(monday, 9), duration_minutes=120, status="confirmed")
    make_assignment(db, booking=earlier, provider=provider, status="confirmed")
    problem, index = build(db, monday + dt.timedelta(days=2), 1, provider_ids=[provider.id])
    assert only(problem, provider).max_minutes_per_week == 1800 - 120  # type: ignore[attr-defined]
    assert index.pinned == {}


def test_held_work_counts_as_available_time_even_after_a_later_absence(db: Session) -> None:
    day = dt.date(2026, 12, 7)
    provider = make_provider(db)
    make_availability_rule(db, provider=provider, weekday=MONDAY)  # 08:30-17:00
    booking = make_booking(db, starts_at=at(day, 18), status="confirmed")
    make_assignment(db, booking=booking, provider=provider, status="confirmed")
    make_availability_exception(
        db, provider=provider, kind="absence", starts_at=at(day, 8), ends_at=at(day, 23)
    )
    problem, _ = build(db, day, 1, provider_ids=[provider.id])
    assert spans_of(only(problem, provider)) == [(utc(at(day, 18)), utc(at(day, 19)))]


def test_held_work_across_the_horizons_first_or_last_midnight_is_available_whole(
    db: Session,
) -> None:
    # Confirmed overnight work, 23:00-01:00, on both edges of a one-day horizon.
    # Cut at the horizon's midnight it broke rule 7, so the solve refused its own pin.
    day = dt.date(2026, 12, 7)
    provider = make_provider(db)
    make_availability_rule(db, provider=provider, weekday=MONDAY)  # 08:30-17:00
    before = make_booking(
        db, starts_at=at(day, 0) - dt.timedelta(hours=1), duration_minutes=120, status="confirmed"
    )
    after = make_booking(db, starts_at=at(day, 23), duration_minutes=120, status="confirmed")
    for booking in (before, after):
        make_assignment(db, booking=booking, provider=provider, status="confirmed")
    problem, _ = build(db, day, 1, provider_ids=[provider.id])
    assert {f.session for f in problem.fixed} == {session_key(before.id), session_key(after.id)}
    assert spans_of(only(problem, provider)) == [
        (utc(at(day, 0) - dt.timedelta(hours=1)), utc(at(day, 1))),
        (utc(at(day, 8, 30)), utc(at(day, 17))),
        (utc(at(day, 23)), utc(at(day + dt.timedelta(days=1), 1))),
    ]
    starts = {s.id: s.start for s in problem.sessions}
    kept = [MatchAssignment(f.session, f.provider, starts[f.session]) for f in problem.fixed]
    assert check(problem, kept).ok
    plan = solve(problem, time_limit=2.0, workers=1)
    assert {(a.session, a.provider) for a in plan.assignments} == {
        (f.session, f.provider) for f in problem.fixed
    }
