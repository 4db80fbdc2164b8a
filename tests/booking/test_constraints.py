"""Every CHECK constraint refuses a bad row in the database itself, on both databases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import insert, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from booking.models import ApiToken, Language, Provider, SignInThrottle, User
from booking.privacy.models import ReadLog, RetentionPolicy
from booking.types import utc_now
from tests.booking.helpers import assert_refused
from tests.factories import (
    BRUSSELS,
    make_assignment,
    make_availability_exception,
    make_availability_rule,
    make_booking,
    make_idempotency_record,
    make_language,
    make_organisation,
    make_outbox_message,
    make_plan,
    make_provider,
    make_series,
    make_service_agreement,
    make_site,
    make_user,
)

START = dt.datetime(2026, 12, 1, 10, 0, tzinfo=BRUSSELS)
HOUR = dt.timedelta(hours=1)

Case = tuple[str, Callable[[Session], Any]]


def _read(db: Session, *, subject_type: str = "booking", via: str = "api") -> ReadLog:
    row = ReadLog(at=utc_now(), subject_type=subject_type, subject_id=1, via=via)
    db.add(row)
    db.flush()
    return row


def _retention(db: Session, *, months: int) -> RetentionPolicy:
    row = RetentionPolicy(organisation_id=make_organisation(db).id, months=months)
    db.add(row)
    db.flush()
    return row


def _throttle(db: Session, *, scope: str = "account", failures: int = 1) -> SignInThrottle:
    row = SignInThrottle(
        scope=scope, key="ana@example.org", failures=failures, last_failure_at=utc_now()
    )
    db.add(row)
    db.flush()
    return row


ALSO_ACCEPTED = {"ck_provider_max_minutes_per_week": frozenset({"ck_provider_day_within_week"})}

CASES: list[Case] = [
    # booking
    ("ck_booking_duration_minutes", lambda db: make_booking(db, duration_minutes=0)),
    ("ck_booking_duration_minutes", lambda db: make_booking(db, duration_minutes=14)),
    ("ck_booking_duration_minutes", lambda db: make_booking(db, duration_minutes=481)),
    (
        "ck_booking_window_contains_start",
        lambda db: make_booking(
            db, starts_at=START, window_earliest=START + HOUR, window_latest=START + 2 * HOUR
        ),
    ),
    (
        "ck_booking_window_contains_start",
        lambda db: make_booking(
            db, starts_at=START, window_earliest=START - 2 * HOUR, window_latest=START - HOUR
        ),
    ),
    ("ck_booking_window_pair", lambda db: make_booking(db, starts_at=START, window_earliest=START)),
    (
        "ck_booking_onsite_location",
        lambda db: make_booking(
            db, modality="onsite", location_country=None, location_lat=None, location_lon=None
        ),
    ),
    ("ck_booking_onsite_location", lambda db: make_booking(db, location_country=None)),
    ("ck_booking_location_pair", lambda db: make_booking(db, location_lon=None)),
    ("ck_booking_location_country", lambda db: make_booking(db, location_country="DE")),
    ("ck_booking_location_lat_range", lambda db: make_booking(db, location_lat=95.0)),
    ("ck_booking_location_lon_range", lambda db: make_booking(db, location_lon=-200.0)),
    ("ck_booking_modality", lambda db: make_booking(db, modality="fax")),
    ("ck_booking_session_kind", lambda db: make_booking(db, session_kind="party")),
    ("ck_booking_status", lambda db: make_booking(db, status="lost")),
    ("ck_booking_provider_kind", lambda db: make_booking(db, provider_kind="robot")),
    ("ck_booking_required_gender", lambda db: make_booking(db, required_gender="q")),
    ("ck_booking_priority", lambda db: make_booking(db, priority=0)),
    (
        "ck_booking_unfilled_reason",
        lambda db: make_booking(db, status="unfilled", unfilled_reason=None),
    ),
    ("ck_booking_cancelled_at", lambda db: make_booking(db, status="cancelled", cancelled_at=None)),
    ("ck_booking_series_pair", lambda db: make_booking(db, series_index=0)),
    (
        "ck_booking_series_index",
        lambda db: make_booking(db, series_id=make_series(db).id, series_index=-1),
    ),
    # user
    ("ck_user_role", lambda db: make_user(db, role="superuser")),
    ("ck_user_locale", lambda db: make_user(db, locale="de")),
    ("ck_user_phone_e164", lambda db: make_user(db, phone_e164="0470123456")),
    (
        "ck_user_email_lower_case",
        # The ORM lower-cases; a raw INSERT that does not is still refused.
        lambda db: db.execute(
            insert(User).values(
                organisation_id=make_organisation(db).id,
                email="Camille@Example.org",
                full_name="Camille",
                role="requester",
                locale="fr",
                is_active=True,
                created_at=utc_now(),
            )
        ),
    ),
    # failed sign-ins
    ("ck_sign_in_throttle_scope", lambda db: _throttle(db, scope="session")),
    ("ck_sign_in_throttle_failures", lambda db: _throttle(db, failures=-1)),
    # organisation, agreement, site
    ("ck_organisation_kind", lambda db: make_organisation(db, kind="charity")),
    ("ck_organisation_country", lambda db: make_organisation(db, country="NL")),
    ("ck_organisation_locale", lambda db: make_organisation(db, locale="de")),
    ("ck_organisation_fairness_weight", lambda db: make_organisation(db, fairness_weight=-1)),
    (
        "ck_organisation_urgent_within_hours",
        lambda db: make_organisation(db, urgent_within_hours=-1),
    ),
    (
        "ck_service_agreement_distinct_parties",
        lambda db: (
            (org := make_organisation(db))
            and make_service_agreement(db, providing=org, requesting=org)
        ),
    ),
    ("ck_site_country", lambda db: make_site(db, country="DE")),
    ("ck_site_lat_range", lambda db: make_site(db, lat=-91.0)),
    ("ck_site_lon_range", lambda db: make_site(db, lon=181.0)),
    # language
    (
        "ck_language_code_iso_639_3",
        lambda db: make_language(db, code="ti"),
    ),
    (
        "ck_language_code_iso_639_3",
        lambda db: db.add(Language(code="TIR", name_fr="t", name_nl="t", name_en="t")),
    ),
    # provider and availability
    ("ck_provider_kind", lambda db: make_provider(db, kind="robot")),
    ("ck_provider_gender", lambda db: make_provider(db, gender="q")),
    ("ck_provider_max_minutes_per_day", lambda db: make_provider(db, max_minutes_per_day=0)),
    (
        # A week of 0 minutes also breaks day <= week; either name may come first.
        "ck_provider_max_minutes_per_week",
        lambda db: make_provider(db, max_minutes_per_week=0),
    ),
    ("ck_provider_max_travel_minutes", lambda db: make_provider(db, max_travel_minutes=-1)),
    (
        "ck_provider_day_within_week",
        lambda db: make_provider(db, max_minutes_per_day=600, max_minutes_per_week=500),
    ),
    ("ck_provider_home_lat_range", lambda db: make_provider(db, home_lat=100.0)),
    ("ck_provider_home_lon_range", lambda db: make_provider(db, home_lon=190.0)),
    ("ck_provider_locale", lambda db: make_provider(db, locale="de")),
    ("ck_provider_message_channels", lambda db: make_provider(db, message_channels="fax")),
    ("ck_provider_phone_e164", lambda db: make_provider(db, phone_e164="0470123456")),
    (
        "ck_provider_email_lower_case",
        # The ORM lower-cases; a raw UPDATE that does not is still refused.
        lambda db: db.execute(
            update(Provider)
            .where(Provider.id == make_provider(db).id)
            .values(email="Selam@Example.org")
        ),
    ),
    ("ck_availability_rule_weekday", lambda db: make_availability_rule(db, weekday=7)),
    (
        "ck_availability_rule_end_after_start",
        lambda db: make_availability_rule(db, start_time=dt.time(17, 0), end_time=dt.time(8, 30)),
    ),
    (
        "ck_availability_rule_validity",
        lambda db: make_availability_rule(
            db, valid_from=dt.date(2026, 12, 1), valid_until=dt.date(2026, 11, 1)
        ),
    ),
    (
        "ck_availability_exception_end_after_start",
        lambda db: make_availability_exception(db, starts_at=START, ends_at=START),
    ),
    ("ck_availability_exception_kind", lambda db: make_availability_exception(db, kind="holiday")),
    # series, plan, assignment, outbox
    (
        "ck_series_count_xor_until",
        lambda db: make_series(db, occurrence_count=None, until_date=None),
    ),
    (
        "ck_series_count_xor_until",
        lambda db: make_series(db, occurrence_count=5, until_date=dt.date(2027, 1, 1)),
    ),
    ("ck_series_interval_weeks", lambda db: make_series(db, interval_weeks=0)),
    ("ck_series_count", lambda db: make_series(db, occurrence_count=0)),
    # tokens and idempotency keys store SHA-256 hex digests
    (
        "ck_api_token_token_hash_sha256",
        lambda db: db.add(ApiToken(user_id=make_user(db).id, name="x", token_hash="abc")),
    ),
    (
        "ck_idempotency_record_request_hash_sha256",
        lambda db: make_idempotency_record(db, request_hash="abc"),
    ),
    (
        "ck_plan_horizon",
        lambda db: make_plan(db, horizon_start=START, horizon_end=START - HOUR),
    ),
    ("ck_plan_status", lambda db: make_plan(db, status="thinking")),
    ("ck_plan_kind", lambda db: make_plan(db, kind="rescue")),
    # privacy
    ("ck_read_log_subject_type", lambda db: _read(db, subject_type="diary")),
    ("ck_read_log_via", lambda db: _read(db, via="fax")),
    ("ck_retention_policy_months", lambda db: _retention(db, months=0)),
    ("ck_retention_policy_months", lambda db: _retention(db, months=121)),
    (
        "ck_assignment_end_after_start",
        lambda db: make_assignment(db, starts_at=START, ends_at=START - HOUR),
    ),
    ("ck_assignment_status", lambda db: make_assignment(db, status="maybe")),
    (
        "ck_assignment_offer_expires",
        lambda db: make_assignment(db, status="offered", offer_expires_at=None),
    ),
    ("ck_outbox_message_channel", lambda db: make_outbox_message(db, channel="fax")),
    ("ck_outbox_message_status", lambda db: make_outbox_message(db, status="lost")),
    ("ck_outbox_message_locale", lambda db: make_outbox_message(db, locale="de")),
    ("ck_outbox_message_attempts", lambda db: make_outbox_message(db, attempts=-1)),
    ("ck_outbox_message_max_attempts", lambda db: make_outbox_message(db, max_attempts=0)),
    ("ck_outbox_message_sent_at", lambda db: make_outbox_message(db, status="sent", sent_at=None)),
    (
        "ck_outbox_message_lease",
        lambda db: make_outbox_message(db, status="sending", lease_until=None),
    ),
]


@pytest.mark.parametrize(
    ("constraint", "build"),
    CASES,
    ids=[f"{name}-{i}" for i, (name, _) in enumerate(CASES)],
)
def test_check_constraint_refuses_bad_row(
    db: Session, constraint: str, build: Callable[[Session], Any]
) -> None:
    accepted = frozenset({constraint}) | ALSO_ACCEPTED.get(constraint, frozenset())
    assert_refused(db, lambda: build(db), accepted)


def test_every_check_constraint_is_exercised() -> None:
    from booking.models import Base

    declared = {
        str(c.name)
        for table in Base.metadata.tables.values()
        for c in table.constraints
        if c.__class__.__name__ == "CheckConstraint"
    }
    tested = {name for name, _ in CASES}
    tested_elsewhere = {
        "ck_booking_notes_length",  # test_notes_are_length_limited
        "ck_provider_language_certified_until",  # test_certified_until_needs_certified
        "ck_booking_provider_preference_kind",  # test_preference_kind
    }
    assert declared - tested - tested_elsewhere == set()


def test_valid_rows_are_accepted(db: Session) -> None:
    make_booking(
        db,
        starts_at=START,
        window_earliest=START - HOUR,
        window_latest=START + HOUR,
        duration_minutes=15,
    )
    make_booking(db, modality="phone", duration_minutes=480, priority=3)
    make_booking(db, status="unfilled")
    make_booking(db, status="cancelled")
    make_user(db, phone_e164="+32470123456", locale="nl")
    make_provider(db, max_travel_minutes=0, gender="x")
    make_assignment(db, status="offered")
    make_outbox_message(db, status="sent")
    make_outbox_message(db, status="sending")
    make_series(db, occurrence_count=None, until_date=dt.date(2027, 6, 30))
    db.flush()


def test_notes_are_length_limited(db: Session) -> None:
    make_booking(db, notes="x" * 1000)
    # PostgreSQL refuses the VARCHAR(1000) overflow itself (DataError);
    # SQLite ignores lengths, so the CHECK constraint refuses it.
    with pytest.raises(DBAPIError), db.begin_nested():
        make_booking(db, notes="x" * 1001)


def test_certified_until_needs_certified(db: Session) -> None:
    from booking.models import ProviderLanguage

    provider = make_provider(db, languages=())
    make_language(db, code="prs")
    assert_refused(
        db,
        lambda: db.add(
            ProviderLanguage(
                provider_id=provider.id,
                language_code="prs",
                certified=False,
                certified_until=dt.date(2027, 1, 1),
            )
        ),
        "ck_provider_language_certified_until",
    )


def test_preference_kind(db: Session) -> None:
    from tests.factories import make_preference

    assert_refused(
        db, lambda: make_preference(db, kind="tolerated"), "ck_booking_provider_preference_kind"
    )
