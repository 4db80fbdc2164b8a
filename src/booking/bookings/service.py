"""Booking use cases: create (idempotently), edit or reschedule (optimistic lock), cancel, read.

Every function flushes and never commits; each write records an audit row
and enqueues its notifications (``booking.outbox.events``) in the caller's
transaction. Tenancy for reads is ``booking.access``; the caller passes in
a booking it was allowed to see.

Rescheduling a booking that already has a provider: the provider keeps it
only if the new session lies inside the time they had agreed to (a session
shortened or started later) and nothing they were chosen for changed (place,
modality, kind, gender, certification, skills, variety, or the provider now
excluded). Otherwise their assignment is cancelled, they are told, and the
booking goes back to ``requested`` for the dispatcher to fill again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, cast, literal, null, or_, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from booking.access import booking_query_for, served_organisation_ids
from booking.assignments.models import Assignment
from booking.audit import AuditLog, pending_changes, record_audit
from booking.bookings.models import (
    Booking,
    BookingPlace,
    BookingProviderPreference,
    IdempotencyRecord,
)
from booking.bookings.reference import new_booking_reference
from booking.bookings.validation import (
    BookingData,
    BookingPatch,
    CheckedBooking,
    Place,
    PlaceNeeds,
    StoredPlace,
    Window,
    check_booking,
    check_cancel_reason,
    urgency_for_priority,
)
from booking.db import violated_constraint
from booking.errors import Conflict, FieldError, Forbidden, PreconditionFailed, Unprocessable
from booking.organisations.models import Organisation, OrganisationClosure
from booking.outbox import events
from booking.policies import is_late_cancellation
from booking.providers.models import Provider
from booking.settings import Settings, get_settings
from booking.types import UTC, ensure_aware, utc_now
from booking.users.models import User
from booking.vocabulary import (
    CHANGEABLE_BOOKING_STATUSES,
    HELD_ASSIGNMENT_STATUSES,
    LIVE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    BookingStatus,
    OrganisationKind,
    PreferenceKind,
    UserRole,
)

IDEMPOTENCY_UNIQUE = "uq_idempotency_record_user_id_key"

TIME_COLUMNS = frozenset({"starts_at", "duration_minutes", "window_earliest", "window_latest"})
MATCHING_COLUMNS = frozenset(
    {
        "modality",
        "location_lat",
        "location_lon",
        "location_country",
        "provider_kind",
        "required_gender",
        "requires_certified",
        "required_skills",
        "language_variety",
    }
)
"""Columns whose change may make the chosen provider wrong for the session."""


@dataclass(frozen=True, slots=True)
class CreatedBooking:
    """The booking, and whether it was an ``Idempotency-Key`` replay of an earlier request."""

    booking: Booking
    replayed: bool


@dataclass(frozen=True, slots=True)
class AssignedProvider:
    """Who holds the session, as a requester may see them: no home, no phone."""

    id: int
    display_name: str
    kind: str
    assignment_status: str


@dataclass(frozen=True, slots=True)
class BookingView:
    """A booking with what its row does not hold: preferences and the current provider."""

    booking: Booking
    preferred_provider_ids: list[int]
    excluded_provider_ids: list[int]
    assigned_provider: AssignedProvider | None

    @property
    def urgency(self) -> str:
        return urgency_for_priority(self.booking.priority)


@dataclass(frozen=True, slots=True)
class BookingFilters:
    """What a list of bookings can be narrowed to; instants are aware."""

    statuses: tuple[str, ...] = ()
    language_code: str | None = None
    starts_from: dt.datetime | None = None
    starts_before: dt.datetime | None = None
    site_id: int | None = None
    series_id: int | None = None
    organisation_id: int | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One audited change of a booking or of one of its assignments."""

    id: int
    at: dt.datetime
    action: str
    entity_type: str
    entity_id: str
    actor_id: int | None
    actor_name: str | None
    changes: dict[str, Any]


# --- create ---------------------------------------------------------------------------


def create_booking(
    db: Session,
    *,
    actor: User,
    data: BookingData,
    idempotency_key: str | None = None,
    now: dt.datetime | None = None,
) -> CreatedBooking:
    """Store a new ``requested`` booking for ``actor``, audit it and acknowledge it.

    With an ``idempotency_key`` (scoped to the actor), repeating the same
    request returns the booking made the first time (``replayed``), even if
    it has changed since; the same key with a different request is a
    ``Conflict``. Two concurrent requests with one key make one booking.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    request_hash = request_fingerprint(data) if idempotency_key is not None else None
    if idempotency_key is not None and request_hash is not None:
        earlier = _replay(db, actor=actor, key=idempotency_key, request_hash=request_hash)
        if earlier is not None:
            return CreatedBooking(earlier, replayed=True)
    organisation = booking_organisation(db, actor=actor, organisation_id=data.organisation_id)
    checked = check_booking(db, data=data, organisation_id=organisation.id, now=now)
    if idempotency_key is None or request_hash is None:
        booking = insert_booking(
            db, actor=actor, data=data, checked=checked, organisation_id=organisation.id, now=now
        )
        return CreatedBooking(booking, replayed=False)
    try:
        with db.begin_nested():
            booking = insert_booking(
                db,
                actor=actor,
                data=data,
                checked=checked,
                organisation_id=organisation.id,
                now=now,
            )
            db.add(
                IdempotencyRecord(
                    user_id=actor.id,
                    key=idempotency_key,
                    request_hash=request_hash,
                    booking_id=booking.id,
                )
            )
            db.flush()
    except IntegrityError as error:
        # Another request with the same key committed first: answer as a replay.
        if violated_constraint(error) != IDEMPOTENCY_UNIQUE:
            raise
        earlier = _replay(db, actor=actor, key=idempotency_key, request_hash=request_hash)
        if earlier is None:  # pragma: no cover - the unique key says it exists
            raise
        return CreatedBooking(earlier, replayed=True)
    return CreatedBooking(booking, replayed=False)


def request_fingerprint(data: BookingData) -> str:
    """SHA-256 of the request's canonical JSON (sorted keys, instants in UTC)."""
    canonical = json.dumps(
        dataclasses.asdict(data), default=_canonical, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            return value.astimezone(UTC).isoformat()
        return value.isoformat()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} in a booking request")


def _replay(db: Session, *, actor: User, key: str, request_hash: str) -> Booking | None:
    record = db.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == actor.id, IdempotencyRecord.key == key
        )
    ).first()
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise Conflict(
            "This Idempotency-Key was already used for a different request; "
            "use a new key for a new booking.",
            code="idempotency_key_reused",
            extra={"booking_id": record.booking_id},
        )
    return db.get(Booking, record.booking_id)


def booking_organisation(db: Session, *, actor: User, organisation_id: int | None) -> Organisation:
    """The organisation ``actor`` books for: a requester's own; one a dispatcher serves; any.

    An organisation the actor may not book for is answered as unknown.
    """
    if actor.role == UserRole.REQUESTER:
        if organisation_id not in (None, actor.organisation_id):
            raise _unknown_organisation(organisation_id)
        organisation = db.get(Organisation, actor.organisation_id)
        if organisation is None or organisation.kind != OrganisationKind.REQUESTING:
            raise Forbidden(
                "Only a requesting organisation books sessions.", code="not_a_requesting_org"
            )
        return organisation
    if actor.role not in (UserRole.DISPATCHER, UserRole.ADMIN):
        raise Forbidden("Providers do not book sessions.", code="forbidden_role")
    if organisation_id is None:
        raise Unprocessable(
            "Say which organisation the session is for.",
            errors=[FieldError("organisation_id", "Required when booking on behalf.", "missing")],
        )
    if actor.role == UserRole.DISPATCHER and organisation_id not in served_organisation_ids(
        db, actor.organisation_id
    ):
        raise _unknown_organisation(organisation_id)
    organisation = db.get(Organisation, organisation_id)
    if organisation is None or organisation.kind != OrganisationKind.REQUESTING:
        raise _unknown_organisation(organisation_id)
    return organisation


def _unknown_organisation(organisation_id: int | None) -> Unprocessable:
    return Unprocessable(
        "You cannot book for this organisation.",
        errors=[
            FieldError(
                "organisation_id",
                f"No requesting organisation {organisation_id} you book for.",
                "unknown_organisation",
            )
        ],
    )


def insert_booking(
    db: Session,
    *,
    actor: User,
    data: BookingData,
    checked: CheckedBooking,
    organisation_id: int,
    now: dt.datetime,
    series_id: int | None = None,
    series_index: int | None = None,
) -> Booking:
    """Insert a checked booking with its preferences, audit it, acknowledge it."""
    booking = Booking(
        reference=new_booking_reference(),
        organisation_id=organisation_id,
        requester_id=actor.id,
        language_code=data.language_code,
        status=BookingStatus.REQUESTED,
        series_id=series_id,
        series_index=series_index,
    )
    _apply(booking, data, checked)
    db.add(booking)
    changes = {k: v for k, v in pending_changes(booking).items() if v[1] not in (None, [])}
    db.flush()
    changes.update(
        _sync_preferences(
            db,
            booking,
            preferred=data.preferred_provider_ids,
            excluded=data.excluded_provider_ids,
            existing=[],
        )
    )
    if data.places:
        changes["places"] = [None, [p.language_code for p in data.places]]
    for position, place in enumerate(data.places, start=1):
        db.add(
            BookingPlace(
                booking_id=booking.id,
                position=position,
                language_code=place.language_code,
                provider_kind=place.provider_kind,
                required_gender=place.required_gender,
                requires_certified=place.requires_certified,
                required_skills=list(place.required_skills),
            )
        )
    db.flush()
    record_audit(db, actor=actor, action="booking.created", entity=booking, changes=changes)
    events.booking_received(db, booking=booking, now=now)
    # Starting within the service's urgent_within_hours: a repair staffs it at the next tick.
    from booking.plans.repair import urgent_request

    urgent_request(db, booking=booking, now=now)
    return booking


def _apply(booking: Booking, data: BookingData, checked: CheckedBooking) -> None:
    """Copy what ``data`` asks for onto the row (instants in UTC, place copied).

    Only values that differ are set, so an edit that changes nothing writes
    nothing and keeps the version.
    """
    place = checked.place
    window = data.window
    values: dict[str, Any] = {
        "language_variety": data.language_variety,
        "session_kind": data.session_kind,
        "modality": data.modality,
        "site_id": checked.site_id,
        "address": place.address if place is not None else None,
        "location_lat": place.lat if place is not None else None,
        "location_lon": place.lon if place is not None else None,
        "location_country": place.country if place is not None else None,
        "starts_at": data.starts_at.astimezone(UTC),
        "duration_minutes": checked.duration_minutes,
        "window_earliest": window.earliest.astimezone(UTC) if window is not None else None,
        "window_latest": window.latest.astimezone(UTC) if window is not None else None,
        "provider_kind": data.provider_kind,
        "required_gender": data.required_gender,
        "requires_certified": data.requires_certified,
        "required_skills": list(data.required_skills),
        "priority": checked.priority,
        "beneficiary_ref": data.beneficiary_ref,
        "notes": data.notes,
        "all_or_nothing": data.all_or_nothing,
        "accepted_modalities": list(data.accepted_modalities),
        "video_link": data.video_link,
    }
    for name, value in values.items():
        if getattr(booking, name) != value:
            setattr(booking, name, value)


def _sync_preferences(
    db: Session,
    booking: Booking,
    *,
    preferred: Iterable[int],
    excluded: Iterable[int],
    existing: Sequence[BookingProviderPreference],
) -> dict[str, list[list[int]]]:
    """Make the booking's preference rows match; ``{field: [old ids, new ids]}`` that changed."""
    changes: dict[str, list[list[int]]] = {}
    wanted = {PreferenceKind.PREFERRED: set(preferred), PreferenceKind.EXCLUDED: set(excluded)}
    for kind, ids in wanted.items():
        rows = [row for row in existing if row.kind == kind]
        old = {row.provider_id for row in rows}
        if old == ids:
            continue
        for row in rows:
            if row.provider_id not in ids:
                db.delete(row)
        for provider_id in sorted(ids - old):
            db.add(
                BookingProviderPreference(booking_id=booking.id, provider_id=provider_id, kind=kind)
            )
        changes[f"{kind}_provider_ids"] = [sorted(old), sorted(ids)]
    return changes


def _preferences(db: Session, booking_id: int) -> list[BookingProviderPreference]:
    return list(
        db.scalars(
            select(BookingProviderPreference)
            .where(BookingProviderPreference.booking_id == booking_id)
            .order_by(BookingProviderPreference.id)
        )
    )


# --- edit and reschedule --------------------------------------------------------------


def update_booking(
    db: Session,
    *,
    actor: User,
    booking: Booking,
    data: BookingPatch,
    expected_version: int,
    now: dt.datetime | None = None,
) -> Booking:
    """Edit or reschedule ``booking`` if it is still at ``expected_version`` (else 412).

    Keys left out of ``data`` keep their value; giving ``location`` drops the
    site and giving ``site_id`` drops the typed location. A change of time
    or of what the provider was chosen for releases the provider unless the
    new session lies inside their agreed interval (see the module docstring).
    """
    now = ensure_aware(now) if now is not None else utc_now()
    _refuse_providers(actor)
    _check_version(booking, expected_version)
    _ensure_open(booking, now)
    existing = _preferences(db, booking.id)
    merged = _merged(booking, existing, data)
    touches_place = "site_id" in data or "location" in data
    stored = None if touches_place else StoredPlace(booking.site_id, _stored_place(booking))
    checked = check_booking(
        db, data=merged, organisation_id=booking.organisation_id, now=now, stored_place=stored
    )
    # One UPDATE of the booking, so its version moves by one: nothing flushes until the end.
    with db.no_autoflush:
        _apply(booking, merged, checked)
        changed_columns = set(pending_changes(booking))
        preference_changes = _sync_preferences(
            db,
            booking,
            preferred=merged.preferred_provider_ids,
            excluded=merged.excluded_provider_ids,
            existing=existing,
        )
        if not changed_columns and not preference_changes:
            return booking
        time_changed = bool(TIME_COLUMNS & changed_columns)
        matching_changed = bool(MATCHING_COLUMNS & changed_columns)
        released, kept = _settle_assignments(
            db,
            actor=actor,
            booking=booking,
            time_changed=time_changed,
            matching_changed=matching_changed,
            excluded=set(merged.excluded_provider_ids),
        )
        # A group that may now go ahead with fewer places is planned again, like a new time.
        reopened = time_changed or matching_changed or "all_or_nothing" in changed_columns
        if reopened and booking.status == BookingStatus.UNFILLED:
            booking.status = BookingStatus.REQUESTED
            booking.unfilled_reason = None
        if released and not kept and booking.status != BookingStatus.REQUESTED:
            booking.status = BookingStatus.REQUESTED
        changes: dict[str, Any] = {**pending_changes(booking), **preference_changes}
    _flush_or_raise(db, _stale_version(booking))
    for assignment in kept:
        # Still right for the edited booking: stamp it, so it is not taken as stale.
        assignment.booking_version = booking.version_id
    action = "booking.rescheduled" if time_changed else "booking.updated"
    record_audit(db, actor=actor, action=action, entity=booking, changes=changes)
    for assignment, previous_status in released:
        if previous_status in HELD_ASSIGNMENT_STATUSES:
            events.assignment_cancelled(db, assignment=assignment, now=now)
        elif previous_status == AssignmentStatus.OFFERED:
            events.offer_closed(db, assignment=assignment, now=now)
    if time_changed:
        events.booking_rescheduled(db, booking=booking, now=now)
    db.flush()
    return booking


def _merged(
    booking: Booking, existing: Sequence[BookingProviderPreference], patch: BookingPatch
) -> BookingData:
    """The booking as it would be with ``patch`` applied."""
    current = booking_data(booking, existing)
    fields: dict[str, Any] = dict(patch)
    if "ends_at" in patch and "duration_minutes" not in patch:
        fields["duration_minutes"] = None
    if "location" in patch and "site_id" not in patch:
        fields["site_id"] = None
    if "site_id" in patch and "location" not in patch:
        fields["location"] = None
    return dataclasses.replace(current, **fields)


def booking_data(
    booking: Booking, preferences: Sequence[BookingProviderPreference] = ()
) -> BookingData:
    """The stored booking as the request that would create it."""
    window = None
    if booking.window_earliest is not None and booking.window_latest is not None:
        window = Window(booking.window_earliest, booking.window_latest)
    return BookingData(
        organisation_id=booking.organisation_id,
        language_code=booking.language_code,
        language_variety=booking.language_variety,
        session_kind=booking.session_kind,
        modality=booking.modality,
        site_id=booking.site_id,
        location=None if booking.site_id is not None else _stored_place(booking),
        starts_at=booking.starts_at,
        duration_minutes=booking.duration_minutes,
        window=window,
        provider_kind=booking.provider_kind,
        required_gender=booking.required_gender,
        requires_certified=booking.requires_certified,
        required_skills=tuple(booking.required_skills or ()),
        preferred_provider_ids=tuple(
            sorted(p.provider_id for p in preferences if p.kind == PreferenceKind.PREFERRED)
        ),
        excluded_provider_ids=tuple(
            sorted(p.provider_id for p in preferences if p.kind == PreferenceKind.EXCLUDED)
        ),
        urgency=urgency_for_priority(booking.priority),
        beneficiary_ref=booking.beneficiary_ref,
        notes=booking.notes,
        places=tuple(
            PlaceNeeds(
                language_code=p.language_code,
                provider_kind=p.provider_kind,
                required_gender=p.required_gender,
                requires_certified=p.requires_certified,
                required_skills=tuple(p.required_skills or ()),
            )
            for p in booking.places
        ),
        all_or_nothing=booking.all_or_nothing,
        accepted_modalities=tuple(booking.accepted_modalities or ()),
        video_link=booking.video_link,
    )


def _stored_place(booking: Booking) -> Place | None:
    if booking.location_lat is None or booking.location_lon is None:
        return None
    return Place(
        address=booking.address or "",
        lat=booking.location_lat,
        lon=booking.location_lon,
        country=booking.location_country or "",
    )


def _settle_assignments(
    db: Session,
    *,
    actor: User,
    booking: Booking,
    time_changed: bool,
    matching_changed: bool,
    excluded: set[int],
) -> tuple[list[tuple[Assignment, str]], list[Assignment]]:
    """Release what the edit invalidates, shrink what it keeps.

    Returns the released assignments with the status they had, and the kept ones.
    """
    assignments = db.scalars(
        select(Assignment)
        .where(
            Assignment.booking_id == booking.id,
            Assignment.status.in_(LIVE_ASSIGNMENT_STATUSES),
        )
        .order_by(Assignment.id)
    ).all()
    starts_at, ends_at = booking.starts_at, booking.ends_at
    released: list[tuple[Assignment, str]] = []
    kept: list[Assignment] = []
    for assignment in assignments:
        inside = assignment.starts_at <= starts_at and ends_at <= assignment.ends_at
        if matching_changed or assignment.provider_id in excluded or (time_changed and not inside):
            previous = _cancel_assignment(
                db,
                actor=actor,
                assignment=assignment,
                organisation_id=booking.organisation_id,
                reason="booking_changed",
            )
            released.append((assignment, previous))
            continue
        if time_changed and (assignment.starts_at, assignment.ends_at) != (starts_at, ends_at):
            changes = {
                "starts_at": [assignment.starts_at.isoformat(), starts_at.isoformat()],
                "ends_at": [assignment.ends_at.isoformat(), ends_at.isoformat()],
            }
            assignment.starts_at = starts_at
            assignment.ends_at = ends_at
            record_audit(
                db,
                actor=actor,
                action="assignment.rescheduled",
                entity=assignment,
                changes=changes,
                organisation_id=booking.organisation_id,
            )
        kept.append(assignment)
    return released, kept


def _cancel_assignment(
    db: Session, *, actor: User, assignment: Assignment, organisation_id: int, reason: str
) -> str:
    """Cancel one assignment and audit it; returns the status it had."""
    previous = assignment.status
    assignment.status = AssignmentStatus.CANCELLED
    record_audit(
        db,
        actor=actor,
        action="assignment.cancelled",
        entity=assignment,
        changes={"status": [previous, AssignmentStatus.CANCELLED], "reason": reason},
        organisation_id=organisation_id,
    )
    return previous


# --- cancel ---------------------------------------------------------------------------


def cancel_booking(
    db: Session,
    *,
    actor: User,
    booking: Booking,
    reason: str,
    now: dt.datetime | None = None,
    settings: Settings | None = None,
) -> Booking:
    """Cancel ``booking``: mark it late or not, release its providers, tell everyone.

    Late means after ``late_cancellation_hour`` local time on the working day
    before the session (``booking.policies.is_late_cancellation``) in the
    session's country (its place, else its organisation's), skipping
    weekends, that country's public holidays and the organisation's closures.
    """
    now = ensure_aware(now) if now is not None else utc_now()
    settings = settings or get_settings()
    _refuse_providers(actor)
    reason = check_cancel_reason(reason)
    if booking.status == BookingStatus.CANCELLED:
        raise Conflict("The booking is already cancelled.", code="already_cancelled")
    if booking.status not in CHANGEABLE_BOOKING_STATUSES:
        raise Conflict(f"A {booking.status} booking cannot be cancelled.", code="not_open")
    organisation = db.get(Organisation, booking.organisation_id)
    country = booking.location_country or (organisation.country if organisation else "BE")
    closures = set(
        db.scalars(
            select(OrganisationClosure.day).where(
                OrganisationClosure.organisation_id == booking.organisation_id
            )
        )
    )
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = now.astimezone(UTC)
    booking.cancel_reason = reason
    booking.late_cancellation = is_late_cancellation(
        booking.starts_at,
        now,
        country=country,
        deadline_hour=settings.late_cancellation_hour,
        closures=closures,
    )
    changes = pending_changes(booking)
    _flush_or_raise(db, _stale_concurrent(booking))
    record_audit(db, actor=actor, action="booking.cancelled", entity=booking, changes=changes)
    # Told while the providers still hold their assignments, so the notice reaches them.
    events.booking_cancelled(db, booking=booking, now=now)
    assignments = db.scalars(
        select(Assignment)
        .where(
            Assignment.booking_id == booking.id,
            Assignment.status.in_(LIVE_ASSIGNMENT_STATUSES),
        )
        .order_by(Assignment.id)
    ).all()
    for assignment in assignments:
        _cancel_assignment(
            db,
            actor=actor,
            assignment=assignment,
            organisation_id=booking.organisation_id,
            reason="booking_cancelled",
        )
    db.flush()
    return booking


# --- read -----------------------------------------------------------------------------


def booking_list_query(db: Session, *, actor: User, filters: BookingFilters) -> Select[Booking]:
    """The bookings ``actor`` may see, narrowed by ``filters`` (unordered: the caller pages)."""
    query = booking_query_for(db, actor)
    if filters.statuses:
        query = query.where(Booking.status.in_(filters.statuses))
    if filters.language_code is not None:
        query = query.where(Booking.language_code == filters.language_code)
    if filters.starts_from is not None:
        query = query.where(Booking.starts_at >= ensure_aware(filters.starts_from))
    if filters.starts_before is not None:
        query = query.where(Booking.starts_at < ensure_aware(filters.starts_before))
    if filters.site_id is not None:
        query = query.where(Booking.site_id == filters.site_id)
    if filters.series_id is not None:
        query = query.where(Booking.series_id == filters.series_id)
    if filters.organisation_id is not None:
        query = query.where(Booking.organisation_id == filters.organisation_id)
    return query


def describe_bookings(db: Session, bookings: Sequence[Booking]) -> list[BookingView]:
    """Each booking with its preferences and current provider: one query for the lot
    (the preferences and the holders, as one ``UNION ALL``)."""
    ids = [booking.id for booking in bookings]
    preferred: dict[int, list[int]] = {i: [] for i in ids}
    excluded: dict[int, list[int]] = {i: [] for i in ids}
    assigned: dict[int, AssignedProvider] = {}
    if ids:
        no_text = cast(null(), String)
        preferences = select(
            literal(False).label("held"),
            BookingProviderPreference.booking_id,
            BookingProviderPreference.provider_id,
            BookingProviderPreference.kind.label("state"),
            no_text.label("display_name"),
            no_text.label("provider_kind"),
        ).where(BookingProviderPreference.booking_id.in_(ids))
        holders = (
            select(
                literal(True),
                Assignment.booking_id,
                Provider.id,
                Assignment.status,
                Provider.display_name,
                Provider.kind,
            )
            .join(Provider, Provider.id == Assignment.provider_id)
            .where(
                Assignment.booking_id.in_(ids),
                Assignment.status.in_(HELD_ASSIGNMENT_STATUSES),
            )
        )
        for held, booking_id, provider_id, state, name, kind in db.execute(
            union_all(preferences, holders)
        ):
            if held:
                assigned[booking_id] = AssignedProvider(provider_id, name, kind, state)
            else:
                target = preferred if state == PreferenceKind.PREFERRED else excluded
                target[booking_id].append(provider_id)
        for ids_of_one in (*preferred.values(), *excluded.values()):
            ids_of_one.sort()
    return [
        BookingView(
            booking=booking,
            preferred_provider_ids=preferred[booking.id],
            excluded_provider_ids=excluded[booking.id],
            assigned_provider=assigned.get(booking.id),
        )
        for booking in bookings
    ]


def describe_booking(db: Session, booking: Booking) -> BookingView:
    """One booking with its preferences and current provider."""
    return describe_bookings(db, [booking])[0]


def booking_history(db: Session, *, actor: User, booking: Booking) -> list[HistoryEntry]:
    """The audit trail of the booking and its assignments, oldest first.

    A provider sees the booking's entries and those of their own
    assignments, not who else was offered the session.
    """
    assignments = select(Assignment.id).where(Assignment.booking_id == booking.id)
    if actor.role == UserRole.PROVIDER:
        assignments = assignments.join(Provider, Provider.id == Assignment.provider_id).where(
            Provider.user_id == actor.id
        )
    assignment_ids = [str(i) for i in db.scalars(assignments)]
    rows = db.execute(
        select(AuditLog, User.full_name)
        .outerjoin(User, User.id == AuditLog.actor_user_id)
        .where(
            or_(
                (AuditLog.entity_type == "booking") & (AuditLog.entity_id == str(booking.id)),
                (AuditLog.entity_type == "assignment") & AuditLog.entity_id.in_(assignment_ids),
            )
        )
        .order_by(AuditLog.at, AuditLog.id)
    )
    return [
        HistoryEntry(
            id=log.id,
            at=log.at,
            action=log.action,
            entity_type=log.entity_type,
            entity_id=log.entity_id,
            actor_id=log.actor_user_id,
            actor_name=name,
            changes=dict(log.changes or {}),
        )
        for log, name in rows
    ]


# --- guards ---------------------------------------------------------------------------


def _refuse_providers(actor: User) -> None:
    if actor.role not in (UserRole.REQUESTER, UserRole.DISPATCHER, UserRole.ADMIN):
        raise Forbidden(
            "Providers decline their assignments; they do not edit bookings.",
            code="forbidden_role",
        )


def _check_version(booking: Booking, expected_version: int) -> None:
    if booking.version_id != expected_version:
        raise _stale_version(booking)


def _ensure_open(booking: Booking, now: dt.datetime) -> None:
    if booking.status not in CHANGEABLE_BOOKING_STATUSES:
        raise Conflict(f"A {booking.status} booking cannot be changed.", code="not_open")
    if booking.starts_at <= now:
        raise Conflict("The session has already started.", code="already_started")


def _stale_version(booking: Booking) -> PreconditionFailed:
    return PreconditionFailed(
        "The booking changed since you read it; read it again and retry.",
        extra={"booking_id": booking.id},
    )


def _stale_concurrent(booking: Booking) -> Conflict:
    return Conflict(
        "The booking changed while you were cancelling it; read it again and retry.",
        code="concurrent_change",
        extra={"booking_id": booking.id},
    )


def _flush_or_raise(db: Session, error: Exception) -> None:
    """Flush; if the booking's version moved on under us (a concurrent change), raise ``error``."""
    try:
        db.flush()
    except StaleDataError as stale:
        raise error from stale
