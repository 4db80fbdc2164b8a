"""What happens to the rows that point at a deleted row: each ``ondelete`` was chosen."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from booking.audit import record_audit
from booking.models import (
    ApiToken,
    Assignment,
    AuditLog,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    BookingProviderPreference,
    IdempotencyRecord,
    Language,
    Organisation,
    OrganisationClosure,
    OutboxMessage,
    Plan,
    Provider,
    ProviderLanguage,
    Series,
    ServiceAgreement,
    Site,
    User,
)
from tests.booking.helpers import assert_refused
from tests.factories import (
    make_api_token,
    make_assignment,
    make_availability_exception,
    make_availability_rule,
    make_booking,
    make_closure,
    make_idempotency_record,
    make_language,
    make_organisation,
    make_outbox_message,
    make_plan,
    make_preference,
    make_provider,
    make_series,
    make_service_agreement,
    make_site,
    make_user,
)


def _count(db: Session, model: type[Any], *where: Any) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _fk(db: Session, name: str) -> str | None:
    """PostgreSQL names the foreign key that refused; SQLite does not."""
    return name if db.get_bind().dialect.name == "postgresql" else None


def test_deleting_a_user_keeps_history_and_drops_credentials(db: Session) -> None:
    user = make_user(db, role="provider")
    make_api_token(db, user=user)
    provider = make_provider(db, user=user)
    message = make_outbox_message(db, recipient_user=user)
    entry = record_audit(db, actor=user, action="provider.updated", entity=provider)
    db.flush()

    db.execute(delete(User).where(User.id == user.id))
    db.expire_all()

    assert _count(db, ApiToken, ApiToken.user_id == user.id) == 0  # CASCADE
    assert db.scalar(select(Provider.user_id).where(Provider.id == provider.id)) is None
    assert db.scalar(select(AuditLog.actor_user_id).where(AuditLog.id == entry.id)) is None
    assert (
        db.scalar(select(OutboxMessage.recipient_user_id).where(OutboxMessage.id == message.id))
        is None
    )


def test_a_requester_with_bookings_cannot_be_deleted(db: Session) -> None:
    booking = make_booking(db)
    assert_refused(
        db,
        lambda: db.execute(delete(User).where(User.id == booking.requester_id)),
        _fk(db, "fk_booking_requester_id_user"),
    )


def test_deleting_a_booking_takes_its_assignments_preferences_and_idempotency_keys(
    db: Session,
) -> None:
    booking = make_booking(db)
    make_assignment(db, booking=booking, status="confirmed")
    make_preference(db, booking=booking)
    make_idempotency_record(db, booking=booking)
    booking_id = booking.id

    # Through the ORM: lazy="raise" collections with passive_deletes leave it to the database.
    db.delete(booking)
    db.flush()

    assert _count(db, Assignment, Assignment.booking_id == booking_id) == 0
    assert (
        _count(db, BookingProviderPreference, BookingProviderPreference.booking_id == booking_id)
        == 0
    )
    assert _count(db, IdempotencyRecord, IdempotencyRecord.booking_id == booking_id) == 0


def test_a_booking_with_messages_cannot_be_deleted(db: Session) -> None:
    booking = make_booking(db)
    make_outbox_message(db, booking=booking, status="sent")
    assert_refused(
        db,
        lambda: db.execute(delete(Booking).where(Booking.id == booking.id)),
        _fk(db, "fk_outbox_message_booking_id_booking"),
    )


def test_deleting_a_provider_takes_its_calendar_and_preferences(db: Session) -> None:
    provider = make_provider(db, languages=("tir", "ara"))
    make_availability_rule(db, provider=provider)
    make_availability_exception(db, provider=provider)
    make_preference(db, provider=provider, kind="preferred")
    series = make_series(db, preferred_provider=provider)
    provider_id = provider.id

    db.delete(provider)
    db.flush()

    assert _count(db, ProviderLanguage, ProviderLanguage.provider_id == provider_id) == 0
    assert _count(db, AvailabilityRule, AvailabilityRule.provider_id == provider_id) == 0
    assert _count(db, AvailabilityException, AvailabilityException.provider_id == provider_id) == 0
    assert (
        _count(db, BookingProviderPreference, BookingProviderPreference.provider_id == provider_id)
        == 0
    )
    assert db.scalar(select(Series.preferred_provider_id).where(Series.id == series.id)) is None


def test_a_provider_with_assignments_cannot_be_deleted(db: Session) -> None:
    assignment = make_assignment(db, status="declined")
    assert_refused(
        db,
        lambda: db.execute(delete(Provider).where(Provider.id == assignment.provider_id)),
        _fk(db, "fk_assignment_provider_id_provider"),
    )


def test_deleting_a_plan_keeps_its_assignments(db: Session) -> None:
    plan = make_plan(db)
    assignment = make_assignment(db, plan=plan)
    db.execute(delete(Plan).where(Plan.id == plan.id))
    db.expire_all()
    assert db.scalar(select(Assignment.plan_id).where(Assignment.id == assignment.id)) is None


def test_a_language_in_use_cannot_be_deleted(db: Session) -> None:
    make_provider(db, languages=("som",))
    assert_refused(
        db,
        lambda: db.execute(delete(Language).where(Language.code == "som")),
        _fk(db, "fk_provider_language_language_code_language"),
    )
    make_language(db, code="pus")
    db.execute(delete(Language).where(Language.code == "pus"))  # unused: fine


def test_an_organisation_with_users_cannot_be_deleted(db: Session) -> None:
    user = make_user(db)
    assert_refused(
        db,
        lambda: db.execute(delete(Organisation).where(Organisation.id == user.organisation_id)),
        _fk(db, "fk_user_organisation_id_organisation"),
    )


def test_deleting_an_empty_organisation_takes_its_closures_and_agreements(db: Session) -> None:
    organisation = make_organisation(db)
    make_closure(db, organisation=organisation)
    make_service_agreement(db, requesting=organisation)
    org_id = organisation.id

    db.execute(delete(Organisation).where(Organisation.id == org_id))

    assert _count(db, OrganisationClosure, OrganisationClosure.organisation_id == org_id) == 0
    assert _count(db, ServiceAgreement, ServiceAgreement.requesting_org_id == org_id) == 0


def test_deleting_a_site_unlinks_its_bookings_which_keep_their_address(db: Session) -> None:
    site = make_site(db)
    booking = make_booking(db, site=site)
    db.execute(delete(Site).where(Site.id == site.id))
    db.expire_all()
    reloaded = db.get(Booking, booking.id)
    assert reloaded is not None
    assert reloaded.site_id is None
    assert reloaded.address is not None
    assert reloaded.location_lat == site.lat


def test_a_series_with_bookings_cannot_be_deleted(db: Session) -> None:
    series = make_series(db)
    make_booking(db, series_id=series.id, series_index=0)
    assert_refused(
        db,
        lambda: db.execute(delete(Series).where(Series.id == series.id)),
        _fk(db, "fk_booking_series_id_series"),
    )


def test_foreign_keys_are_enforced(db: Session) -> None:
    provider = make_provider(db)
    assert_refused(
        db,
        lambda: db.add(ProviderLanguage(provider_id=provider.id, language_code="zzz")),
        _fk(db, "fk_provider_language_language_code_language"),
    )
    assert_refused(
        db,
        lambda: db.add(ApiToken(user_id=999_999, name="ghost", token_hash="0" * 64)),
        _fk(db, "fk_api_token_user_id_user"),
    )
