"""Booking services: create (idempotent), edit and reschedule, cancel, history."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from booking.audit import AuditLog
from booking.bookings.service import (
    booking_history,
    cancel_booking,
    create_booking,
    describe_booking,
    update_booking,
)
from booking.bookings.validation import BookingData, Place, Window
from booking.errors import Conflict, Forbidden, PreconditionFailed, Unprocessable
from booking.models import (
    Assignment,
    Booking,
    BookingProviderPreference,
    IdempotencyRecord,
    OutboxMessage,
    User,
)
from booking.outbox import events
from booking.settings import Settings
from booking.types import utc_now
from tests.booking.bookings.conftest import World
from tests.booking.outbox.scene import mark_sent
from tests.factories import (
    BRUSSELS,
    CALAIS,
    make_assignment,
    make_booking,
    make_closure,
    make_language,
    make_organisation,
    make_provider,
    make_site,
    make_user,
)

SETTINGS = Settings(
    environment="test", secret_key="test-secret-key-not-for-production", late_cancellation_hour=10
)


def next_week(hour: int = 10, days: int = 7) -> dt.datetime:
    day = dt.datetime.now(BRUSSELS).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=BRUSSELS)


def onsite(world: World, **changes: object) -> BookingData:
    data = BookingData(
        language_code="tir",
        session_kind="psychological",
        modality="onsite",
        starts_at=next_week(),
        duration_minutes=60,
        site_id=world.site.id,
        beneficiary_ref="b-7c1f",
    )
    return dataclasses.replace(data, **changes)  # type: ignore[arg-type]


def outbox_events(db: Session, booking: Booking) -> list[str]:
    rows = db.scalars(
        select(OutboxMessage.event)
        .where(OutboxMessage.booking_id == booking.id, OutboxMessage.status == "pending")
        .order_by(OutboxMessage.id)
    )
    return list(rows)


def audit_actions(db: Session, entity_type: str, entity_id: int) -> list[str]:
    rows = db.scalars(
        select(AuditLog.action)
        .where(AuditLog.entity_type == entity_type, AuditLog.entity_id == str(entity_id))
        .order_by(AuditLog.id)
    )
    return list(rows)


def field_names(error: pytest.ExceptionInfo[Unprocessable]) -> set[str]:
    return {e.field for e in error.value.errors}


class TestCreate:
    def test_a_requester_books_at_a_site_and_the_site_is_copied(
        self, db: Session, world: World
    ) -> None:
        booking = create_booking(db, actor=world.requester, data=onsite(world)).booking
        assert booking.status == "requested"
        assert booking.organisation_id == world.centre.id
        assert booking.requester_id == world.requester.id
        assert booking.reference.startswith("TR-")
        assert booking.version_id == 1
        assert (booking.location_lat, booking.location_lon) == (world.site.lat, world.site.lon)
        assert booking.location_country == "BE"
        assert booking.address is not None and "Tournai" in booking.address
        assert booking.starts_at.utcoffset() == dt.timedelta(0)

    def test_creation_is_audited_and_acknowledged(self, db: Session, world: World) -> None:
        booking = create_booking(db, actor=world.requester, data=onsite(world)).booking
        assert audit_actions(db, "booking", booking.id) == ["booking.created"]
        assert outbox_events(db, booking) == ["booking_received"]

    def test_urgency_becomes_the_matchers_priority(self, db: Session, world: World) -> None:
        for urgency, priority in (("normal", 1), ("high", 2), ("urgent", 3)):
            data = onsite(world, urgency=urgency)
            assert create_booking(db, actor=world.requester, data=data).booking.priority == priority

    def test_a_phone_session_needs_no_place(self, db: Session, world: World) -> None:
        data = onsite(world, modality="phone", site_id=None)
        booking = create_booking(db, actor=world.requester, data=data).booking
        assert booking.location_lat is None and booking.site_id is None

    def test_an_onsite_session_may_give_its_own_place(self, db: Session, world: World) -> None:
        place = Place("Rue Mollien 12, 62100 Calais", *CALAIS, "FR")
        data = onsite(world, site_id=None, location=place)
        booking = create_booking(db, actor=world.requester, data=data).booking
        assert (booking.location_lat, booking.location_country) == (CALAIS[0], "FR")

    def test_preferred_and_excluded_providers_are_stored(self, db: Session, world: World) -> None:
        avoided = make_provider(db, organisation=world.setis)
        data = onsite(
            world, preferred_provider_ids=(world.provider.id,), excluded_provider_ids=(avoided.id,)
        )
        booking = create_booking(db, actor=world.requester, data=data).booking
        view = describe_booking(db, booking)
        assert view.preferred_provider_ids == [world.provider.id]
        assert view.excluded_provider_ids == [avoided.id]

    def test_a_provider_of_a_service_that_does_not_serve_us_is_unknown(
        self, db: Session, world: World
    ) -> None:
        stranger = make_provider(db)  # another providing service
        data = onsite(world, preferred_provider_ids=(stranger.id,))
        with pytest.raises(Unprocessable) as error:
            create_booking(db, actor=world.requester, data=data)
        assert field_names(error) == {"needs.preferred_provider_ids"}

    def test_every_broken_rule_is_reported_at_once(self, db: Session, world: World) -> None:
        data = onsite(
            world,
            language_code="xxx",
            starts_at=utc_now() - dt.timedelta(hours=1),
            duration_minutes=600,
            beneficiary_ref="Amina Yusuf",
        )
        with pytest.raises(Unprocessable) as error:
            create_booking(db, actor=world.requester, data=data)
        assert field_names(error) == {
            "language",
            "starts_at",
            "duration_minutes",
            "beneficiary_ref",
        }

    def test_ends_at_may_replace_the_duration_but_must_come_after_the_start(
        self, db: Session, world: World
    ) -> None:
        start = next_week()
        data = onsite(world, duration_minutes=None, ends_at=start + dt.timedelta(minutes=90))
        assert create_booking(db, actor=world.requester, data=data).booking.duration_minutes == 90
        with pytest.raises(Unprocessable) as error:
            create_booking(
                db,
                actor=world.requester,
                data=onsite(world, duration_minutes=None, ends_at=start - dt.timedelta(hours=1)),
            )
        assert field_names(error) == {"ends_at"}

    def test_a_window_must_contain_the_start(self, db: Session, world: World) -> None:
        start = next_week()
        inside = Window(start - dt.timedelta(hours=1), start + dt.timedelta(hours=1))
        booking = create_booking(db, actor=world.requester, data=onsite(world, window=inside))
        assert booking.booking.window_earliest == inside.earliest
        late = Window(start + dt.timedelta(hours=1), start + dt.timedelta(hours=2))
        with pytest.raises(Unprocessable) as error:
            create_booking(db, actor=world.requester, data=onsite(world, window=late))
        assert field_names(error) == {"window"}

    def test_another_organisations_site_is_unknown(self, db: Session, world: World) -> None:
        elsewhere = make_site(db)
        with pytest.raises(Unprocessable) as error:
            create_booking(db, actor=world.requester, data=onsite(world, site_id=elsewhere.id))
        assert field_names(error) == {"site_id"}

    def test_a_requester_books_only_for_their_own_organisation(
        self, db: Session, world: World
    ) -> None:
        other = make_organisation(db)
        with pytest.raises(Unprocessable) as error:
            create_booking(db, actor=world.requester, data=onsite(world, organisation_id=other.id))
        assert field_names(error) == {"organisation_id"}

    def test_a_dispatcher_books_on_behalf_of_an_organisation_their_service_serves(
        self, db: Session, world: World
    ) -> None:
        data = onsite(world, organisation_id=world.centre.id)
        booking = create_booking(db, actor=world.dispatcher, data=data).booking
        assert booking.organisation_id == world.centre.id
        assert booking.requester_id == world.dispatcher.id

    @pytest.mark.parametrize("organisation_id", [None, "unserved"])
    def test_a_dispatcher_must_name_an_organisation_they_serve(
        self, db: Session, world: World, organisation_id: str | None
    ) -> None:
        org_id = make_organisation(db).id if organisation_id else None
        data = onsite(world, organisation_id=org_id, site_id=None, modality="phone")
        with pytest.raises(Unprocessable) as error:
            create_booking(db, actor=world.dispatcher, data=data)
        assert field_names(error) == {"organisation_id"}

    def test_a_provider_cannot_book(self, db: Session, world: World) -> None:
        data = onsite(world, organisation_id=world.centre.id)
        with pytest.raises(Forbidden):
            create_booking(db, actor=world.provider_user, data=data)


class TestIdempotency:
    def test_the_same_key_and_request_give_the_same_booking(
        self, db: Session, world: World
    ) -> None:
        data = onsite(world)
        first = create_booking(db, actor=world.requester, data=data, idempotency_key="k-1")
        again = create_booking(db, actor=world.requester, data=data, idempotency_key="k-1")
        assert not first.replayed
        assert again.replayed
        assert again.booking.id == first.booking.id
        assert db.scalar(select(Booking.id).where(Booking.id > first.booking.id)) is None

    def test_the_same_instant_with_another_offset_is_the_same_request(
        self, db: Session, world: World
    ) -> None:
        data = onsite(world)
        first = create_booking(db, actor=world.requester, data=data, idempotency_key="k-2")
        in_utc = dataclasses.replace(data, starts_at=data.starts_at.astimezone(dt.UTC))
        again = create_booking(db, actor=world.requester, data=in_utc, idempotency_key="k-2")
        assert again.booking.id == first.booking.id

    def test_the_same_key_with_another_request_is_a_conflict(
        self, db: Session, world: World
    ) -> None:
        create_booking(db, actor=world.requester, data=onsite(world), idempotency_key="k-3")
        with pytest.raises(Conflict) as error:
            create_booking(
                db,
                actor=world.requester,
                data=onsite(world, duration_minutes=90),
                idempotency_key="k-3",
            )
        assert error.value.code == "idempotency_key_reused"

    def test_keys_belong_to_their_user(self, db: Session, world: World) -> None:
        colleague = make_user(db, organisation=world.centre)
        data = onsite(world)
        mine = create_booking(db, actor=world.requester, data=data, idempotency_key="k-4")
        theirs = create_booking(db, actor=colleague, data=data, idempotency_key="k-4")
        assert mine.booking.id != theirs.booking.id

    def test_a_refused_request_leaves_no_key_behind(self, db: Session, world: World) -> None:
        with pytest.raises(Unprocessable):
            create_booking(
                db,
                actor=world.requester,
                data=onsite(world, language_code="xxx"),
                idempotency_key="k-5",
            )
        assert db.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "k-5")) is None


def confirmed_booking(db: Session, world: World, **fields: object) -> tuple[Booking, Assignment]:
    booking = make_booking(
        db, requester=world.requester, site=world.site, status="confirmed", **fields
    )
    assignment = make_assignment(
        db,
        booking=booking,
        provider=world.provider,
        status="confirmed",
        created_by=world.dispatcher,
    )
    return booking, assignment


def confirmation_went_out(db: Session, assignment: Assignment) -> None:
    """The provider and the requester received the confirmation (and its invitation)."""
    events.assignment_confirmed(db, assignment=assignment)
    mark_sent(db, event="assignment_confirmed")


class TestUpdate:
    def test_a_stale_version_is_refused(self, db: Session, world: World) -> None:
        booking = make_booking(db, requester=world.requester)
        with pytest.raises(PreconditionFailed):
            update_booking(
                db,
                actor=world.requester,
                booking=booking,
                data={"notes": "Ground floor"},
                expected_version=booking.version_id + 1,
            )

    def test_an_edit_bumps_the_version_once_and_is_audited(self, db: Session, world: World) -> None:
        booking = make_booking(db, requester=world.requester)
        update_booking(
            db,
            actor=world.requester,
            booking=booking,
            data={"notes": "Ground floor", "urgency": "high"},
            expected_version=1,
        )
        assert (booking.notes, booking.priority, booking.version_id) == ("Ground floor", 2, 2)
        entry = db.scalars(
            select(AuditLog).where(
                AuditLog.entity_type == "booking", AuditLog.entity_id == str(booking.id)
            )
        ).one()
        assert entry.action == "booking.updated"
        assert entry.changes["notes"] == [None, "Ground floor"]
        assert entry.changes["priority"] == [1, 2]

    def test_an_edit_that_changes_nothing_keeps_the_version(
        self, db: Session, world: World
    ) -> None:
        booking = make_booking(db, requester=world.requester, site=world.site)
        update_booking(
            db,
            actor=world.requester,
            booking=booking,
            data={"starts_at": booking.starts_at, "duration_minutes": 60},
            expected_version=1,
        )
        assert booking.version_id == 1

    def test_moving_a_confirmed_session_releases_its_provider(
        self, db: Session, world: World
    ) -> None:
        booking, assignment = confirmed_booking(db, world)
        confirmation_went_out(db, assignment)
        later = booking.starts_at + dt.timedelta(days=1)
        update_booking(
            db,
            actor=world.requester,
            booking=booking,
            data={"starts_at": later},
            expected_version=booking.version_id,
        )
        assert booking.starts_at == later
        assert booking.status == "requested"
        assert assignment.status == "cancelled"
        assert audit_actions(db, "assignment", assignment.id) == ["assignment.cancelled"]
        assert audit_actions(db, "booking", booking.id) == ["booking.rescheduled"]
        assert {"assignment_cancelled", "booking_rescheduled"} <= set(outbox_events(db, booking))

    def test_shortening_a_confirmed_session_keeps_its_provider(
        self, db: Session, world: World
    ) -> None:
        booking, assignment = confirmed_booking(db, world, duration_minutes=90)
        later_start = booking.starts_at + dt.timedelta(minutes=30)
        update_booking(
            db,
            actor=world.requester,
            booking=booking,
            data={"starts_at": later_start, "duration_minutes": 45},
            expected_version=booking.version_id,
        )
        assert booking.status == "confirmed"
        assert assignment.status == "confirmed"
        assert (assignment.starts_at, assignment.ends_at) == (later_start, booking.ends_at)
        assert assignment.booking_version == booking.version_id
        assert "booking_rescheduled" in outbox_events(db, booking)

    def test_changing_the_notes_keeps_the_provider(self, db: Session, world: World) -> None:
        booking, assignment = confirmed_booking(db, world)
        update_booking(
            db,
            actor=world.requester,
            booking=booking,
            data={"notes": "Bring the consent form"},
            expected_version=booking.version_id,
        )
        assert (booking.status, assignment.status) == ("confirmed", "confirmed")
        assert "booking_rescheduled" not in outbox_events(db, booking)

    def test_excluding_the_assigned_provider_releases_them(self, db: Session, world: World) -> None:
        booking, assignment = confirmed_booking(db, world)
        update_booking(
            db,
            actor=world.requester,
            booking=booking,
            data={"excluded_provider_ids": (world.provider.id,)},
            expected_version=booking.version_id,
        )
        assert (booking.status, assignment.status) == ("requested", "cancelled")
        preference = db.scalars(
            select(BookingProviderPreference).where(
                BookingProviderPreference.booking_id == booking.id
            )
        ).one()
        assert (preference.provider_id, preference.kind) == (world.provider.id, "excluded")

    def test_asking_for_another_gender_releases_the_provider(
        self, db: Session, world: World
    ) -> None:
        booking, assignment = confirmed_booking(db, world)
        update_booking(
            db,
            actor=world.requester,
            booking=booking,
            data={"required_gender": "f"},
            expected_version=booking.version_id,
        )
        assert (booking.status, assignment.status) == ("requested", "cancelled")

    def test_moving_an_unfilled_booking_puts_it_back_in_the_queue(
        self, db: Session, world: World
    ) -> None:
        booking = make_booking(db, requester=world.requester, status="unfilled")
        update_booking(
            db,
            actor=world.requester,
            booking=booking,
            data={"starts_at": booking.starts_at + dt.timedelta(hours=2)},
            expected_version=booking.version_id,
        )
        assert (booking.status, booking.unfilled_reason) == ("requested", None)

    def test_switching_to_a_typed_place_drops_the_site(self, db: Session, world: World) -> None:
        booking = make_booking(db, requester=world.requester, site=world.site)
        place = Place("Rue Mollien 12, 62100 Calais", *CALAIS, "FR")
        update_booking(
            db,
            actor=world.requester,
            booking=booking,
            data={"location": place},
            expected_version=booking.version_id,
        )
        assert (booking.site_id, booking.location_country) == (None, "FR")

    def test_an_edit_is_checked_like_a_new_booking(self, db: Session, world: World) -> None:
        booking = make_booking(db, requester=world.requester, modality="phone")
        with pytest.raises(Unprocessable) as error:
            update_booking(
                db,
                actor=world.requester,
                booking=booking,
                data={"modality": "onsite"},
                expected_version=booking.version_id,
            )
        assert field_names(error) == {"location"}

    @pytest.mark.parametrize("status", ["cancelled", "done"])
    def test_a_closed_booking_cannot_be_edited(
        self, db: Session, world: World, status: str
    ) -> None:
        booking = make_booking(db, requester=world.requester, status=status)
        with pytest.raises(Conflict):
            update_booking(
                db,
                actor=world.requester,
                booking=booking,
                data={"notes": "x"},
                expected_version=booking.version_id,
            )


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BRUSSELS)


MONDAY = dt.date(2027, 2, 1)
FRIDAY_BEFORE = dt.date(2027, 1, 29)


class TestCancel:
    def test_cancelling_before_the_deadline_is_free(self, db: Session, world: World) -> None:
        booking = make_booking(db, requester=world.requester, starts_at=at(MONDAY, 10))
        cancel_booking(
            db,
            actor=world.requester,
            booking=booking,
            reason="Transferred to another centre",
            now=at(FRIDAY_BEFORE, 9, 59),
            settings=SETTINGS,
        )
        assert booking.status == "cancelled"
        assert booking.cancel_reason == "Transferred to another centre"
        assert booking.cancelled_at == at(FRIDAY_BEFORE, 9, 59)
        assert booking.late_cancellation is False
        assert audit_actions(db, "booking", booking.id) == ["booking.cancelled"]
        assert "booking_cancelled" in outbox_events(db, booking)

    def test_cancelling_after_the_deadline_is_late(self, db: Session, world: World) -> None:
        booking = make_booking(db, requester=world.requester, starts_at=at(MONDAY, 10))
        cancel_booking(
            db,
            actor=world.requester,
            booking=booking,
            reason="Hospitalised",
            now=at(FRIDAY_BEFORE, 11),
            settings=SETTINGS,
        )
        assert booking.late_cancellation is True

    def test_the_organisations_closure_days_are_not_working_days(
        self, db: Session, world: World
    ) -> None:
        make_closure(db, organisation=world.centre, day=FRIDAY_BEFORE)
        booking = make_booking(db, requester=world.requester, starts_at=at(MONDAY, 10))
        cancel_booking(
            db,
            actor=world.requester,
            booking=booking,
            reason="Hospitalised",
            now=at(FRIDAY_BEFORE, 8),
            settings=SETTINGS,
        )
        assert booking.late_cancellation is True

    def test_the_deadline_hour_is_a_setting(self, db: Session, world: World) -> None:
        booking = make_booking(db, requester=world.requester, starts_at=at(MONDAY, 10))
        noon = SETTINGS.model_copy(update={"late_cancellation_hour": 12})
        cancel_booking(
            db,
            actor=world.requester,
            booking=booking,
            reason="Hospitalised",
            now=at(FRIDAY_BEFORE, 11),
            settings=noon,
        )
        assert booking.late_cancellation is False

    def test_a_french_session_follows_the_french_calendar(self, db: Session, world: World) -> None:
        # Thursday 15 July 2027: 14 July is a French holiday, so the deadline is on Tuesday.
        booking = make_booking(
            db,
            requester=world.requester,
            starts_at=at(dt.date(2027, 7, 15), 10),
            location_country="FR",
            location_lat=CALAIS[0],
            location_lon=CALAIS[1],
            address="Rue Mollien 12, 62100 Calais",
        )
        cancel_booking(
            db,
            actor=world.requester,
            booking=booking,
            reason="Moved",
            now=at(dt.date(2027, 7, 14), 9),
            settings=SETTINGS,
        )
        assert booking.late_cancellation is True

    def test_cancelling_releases_and_tells_the_provider(self, db: Session, world: World) -> None:
        booking, assignment = confirmed_booking(db, world)
        confirmation_went_out(db, assignment)
        cancel_booking(
            db, actor=world.requester, booking=booking, reason="Moved", settings=SETTINGS
        )
        assert assignment.status == "cancelled"
        recipients = set(
            db.scalars(
                select(OutboxMessage.recipient_user_id).where(
                    OutboxMessage.booking_id == booking.id,
                    OutboxMessage.event == "booking_cancelled",
                )
            )
        )
        assert world.provider_user.id in recipients
        assert world.requester.id in recipients

    def test_a_cancelled_booking_cannot_be_cancelled_again(self, db: Session, world: World) -> None:
        booking = make_booking(db, requester=world.requester, status="cancelled")
        with pytest.raises(Conflict):
            cancel_booking(db, actor=world.requester, booking=booking, reason="x")

    def test_a_reason_is_required(self, db: Session, world: World) -> None:
        booking = make_booking(db, requester=world.requester)
        with pytest.raises(Unprocessable) as error:
            cancel_booking(db, actor=world.requester, booking=booking, reason="   ")
        assert field_names(error) == {"reason"}

    def test_a_provider_cannot_cancel_a_booking(self, db: Session, world: World) -> None:
        booking, _ = confirmed_booking(db, world)
        with pytest.raises(Forbidden):
            cancel_booking(db, actor=world.provider_user, booking=booking, reason="Ill")


class TestHistory:
    def test_the_history_lists_the_booking_and_its_assignments_in_order(
        self, db: Session, world: World
    ) -> None:
        booking = create_booking(db, actor=world.requester, data=onsite(world)).booking
        assignment = make_assignment(
            db, booking=booking, provider=world.provider, status="confirmed"
        )
        cancel_booking(
            db, actor=world.requester, booking=booking, reason="Moved", settings=SETTINGS
        )
        entries = booking_history(db, actor=world.requester, booking=booking)
        assert [(e.action, e.entity_id) for e in entries] == [
            ("booking.created", str(booking.id)),
            ("booking.cancelled", str(booking.id)),
            ("assignment.cancelled", str(assignment.id)),
        ]
        assert entries[0].actor_name == world.requester.full_name

    def test_a_provider_does_not_see_the_assignments_of_others(
        self, db: Session, world: World
    ) -> None:
        booking = make_booking(db, requester=world.requester)
        colleague = make_provider(db, organisation=world.setis)
        theirs = make_assignment(db, booking=booking, provider=colleague, status="offered")
        mine = make_assignment(db, booking=booking, provider=world.provider, status="offered")
        cancel_booking(
            db, actor=world.requester, booking=booking, reason="Moved", settings=SETTINGS
        )
        seen = {
            e.entity_id
            for e in booking_history(db, actor=world.provider_user, booking=booking)
            if e.entity_type == "assignment"
        }
        assert seen == {str(mine.id)}
        assert str(theirs.id) not in seen


@pytest.mark.postgres
def test_a_concurrent_edit_makes_the_slower_one_stale(
    committing_session_factory: sessionmaker[Session],
) -> None:
    with committing_session_factory() as setup:
        booking = make_booking(setup)
        requester = setup.get(User, booking.requester_id)
        assert requester is not None
        setup.commit()
        booking_id, requester_id = booking.id, requester.id
    first, second = committing_session_factory(), committing_session_factory()
    mine = first.get_one(Booking, booking_id)
    theirs = second.get_one(Booking, booking_id)
    me = first.get_one(User, requester_id)
    them = second.get_one(User, requester_id)
    update_booking(db=second, actor=them, booking=theirs, data={"notes": "b"}, expected_version=1)
    second.commit()
    with pytest.raises(PreconditionFailed):
        update_booking(db=first, actor=me, booking=mine, data={"notes": "a"}, expected_version=1)
    first.rollback()


@pytest.mark.postgres
def test_two_concurrent_requests_with_one_key_make_one_booking(
    committing_session_factory: sessionmaker[Session],
) -> None:
    with committing_session_factory() as setup:
        requester = make_user(setup)
        make_language(setup, code="tir")
        setup.commit()
        requester_id = requester.id
    data = BookingData(
        language_code="tir",
        session_kind="legal",
        modality="phone",
        starts_at=next_week(),
        duration_minutes=30,
    )
    first = committing_session_factory()
    created = create_booking(
        first, actor=first.get_one(User, requester_id), data=data, idempotency_key="race"
    )
    results: list[int] = []

    def second_request() -> None:
        with committing_session_factory() as second:
            again = create_booking(
                second, actor=second.get_one(User, requester_id), data=data, idempotency_key="race"
            )
            second.commit()
            results.append(again.booking.id)

    thread = threading.Thread(target=second_request)
    thread.start()
    thread.join(timeout=0.5)  # blocked on the first request's key
    first.commit()
    thread.join(timeout=10)
    assert results == [created.booking.id]
