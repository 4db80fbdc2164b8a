"""What each change of a booking tells whom: the outbox rows booking services write.

Call these from a service, after the change, in the same transaction. They
only insert (or void) outbox rows; the worker sends them later. Each message
has a deduplication key built from ids and ISO instants, so calling an event
twice for the same change enqueues nothing new.

No message carries beneficiary data: not the beneficiary reference, not the
notes. The assigned provider reads those in the application, behind a login.

Channels: requesters and dispatchers get email. A provider is written to at
their own contact, sign-in or not, by the channels they chose
(``provider_channels``): SMS, where they have a mobile number and a gateway
is configured, exists only for what they must know on the move (offers,
confirmations, changes, cancellations, reminders). A provider who cannot
sign in gets signed links (``booking.providers.links``) instead of links to
pages behind a sign-in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.assignments.models import Assignment
from booking.bookings.models import Booking
from booking.languages.models import Language
from booking.organisations.models import Organisation, ServiceAgreement
from booking.outbox.service import (
    Recipient,
    dedup_key,
    dispatchers_serving,
    enqueue,
    has_live_message,
    provider_channels,
    recipient_for,
    recipient_for_provider,
    sent_messages,
    void_unsent,
)
from booking.providers import links
from booking.providers.models import Provider
from booking.settings import get_settings
from booking.types import ensure_aware, utc_now
from booking.users.models import User
from booking.vocabulary import (
    PROVIDER_VISIBLE_ASSIGNMENT_STATUSES,
    UNSTAFFED_BOOKING_STATUSES,
    AssignmentStatus,
    Channel,
    Modality,
    UserRole,
)

BOOKING_RECEIVED = "booking_received"
OFFER_SENT = "offer_sent"
OFFER_CLOSED = "offer_closed"
OFFER_UNANSWERED = "offer_unanswered"
ASSIGNMENT_CONFIRMED = "assignment_confirmed"
ASSIGNMENT_CANCELLED = "assignment_cancelled"
BOOKING_RESCHEDULED = "booking_rescheduled"
BOOKING_CANCELLED = "booking_cancelled"
REMINDER = "reminder"
DIGEST = "dispatcher_digest"
REPAIR_PROPOSED = "repair_proposed"
NOT_YET_STAFFED = "booking_not_yet_staffed"

INVITATION_EVENTS = (ASSIGNMENT_CONFIRMED, BOOKING_RESCHEDULED)
"""Messages that carry an ``.ics`` REQUEST: once one may have gone out, a change needs a CANCEL."""

PLACE_SHORT_MAX = 32


def reminder_event(hours: int) -> str:
    """``reminder_24h``: the event name of a reminder ``hours`` before the session."""
    return f"{REMINDER}_{hours}h"


def invitation_uid(assignment_id: int) -> str:
    """The provider's iCalendar UID: one per assignment, stable across updates and the CANCEL."""
    return f"assignment-{assignment_id}@truchement"


def booking_invitation_uid(booking_id: int) -> str:
    """The requester's iCalendar UID: one per booking, so a change of provider updates the
    same calendar entry instead of leaving a stale one beside a new one."""
    return f"booking-{booking_id}@truchement"


def offer_links(base_url: str, assignment_id: int) -> dict[str, str]:
    """Where a provider answers an offer: the offer on their schedule page (it asks to sign
    in; accepting is a form there, never a bare GET link that a mail scanner could follow).
    ``?offer=`` marks the offer (it survives the sign-in, the ``#`` fragment does not) and
    ``&answer=`` puts the focus on its Accept or Decline button. The plain link, which the
    SMS carries too, stays short."""
    page = f"{base_url.rstrip('/')}/schedule"
    anchor = f"#offer-{assignment_id}"
    return {
        "offer_url": f"{page}{anchor}",
        "accept_url": f"{page}?offer={assignment_id}&answer=accept{anchor}",
        "decline_url": f"{page}?offer={assignment_id}&answer=decline{anchor}",
    }


def booking_link(
    base_url: str, booking_id: int, *, role: str, assignment_id: int | None = None
) -> str:
    """The page where this recipient reads the booking: the requester's booking page, the
    dispatcher's board, or the provider's schedule."""
    root = base_url.rstrip("/")
    if role == UserRole.PROVIDER:
        return f"{root}/schedule#work-{assignment_id}" if assignment_id else f"{root}/schedule"
    if role in (UserRole.DISPATCHER, UserRole.ADMIN):
        return f"{root}/board/bookings/{booking_id}"
    return f"{root}/bookings/{booking_id}"


# --- the events -----------------------------------------------------------------------


def booking_received(db: Session, *, booking: Booking, now: dt.datetime | None = None) -> None:
    """Acknowledge a new booking to the requester who made it (email)."""
    now = _now(now)
    db.flush()
    requester = recipient_for(db, booking.requester_id)
    if requester is None:
        return
    context = _booking_context(db, booking, requester)
    _tell(
        db,
        BOOKING_RECEIVED,
        requester,
        Channel.EMAIL,
        about=(f"b{booking.id}",),
        instant=booking.created_at or now,
        context=context,
        due_at=now,
        booking_id=booking.id,
    )


def offer_sent(db: Session, *, assignment: Assignment, now: dt.datetime | None = None) -> None:
    """Offer a session to a provider, with links to accept or decline (email and SMS)."""
    now = _now(now)
    booking = _booking(db, assignment)
    provider_user = _provider_recipient(db, assignment)
    if provider_user is None:
        return
    context = _booking_context(db, booking, provider_user, assignment=assignment)
    context.update(_offer_links(provider_user, assignment))
    context["offer_expires_at"] = assignment.offer_expires_at
    for channel in provider_channels(provider_user, has_sms=True):
        _tell(
            db,
            OFFER_SENT,
            provider_user,
            channel,
            about=(f"a{assignment.id}",),
            instant=assignment.starts_at,
            context=context,
            due_at=now,
            booking_id=booking.id,
            session_start=assignment.starts_at,
        )


def offer_closed(db: Session, *, assignment: Assignment, now: dt.datetime | None = None) -> None:
    """Tell a provider whose offer is withdrawn that the session was filled (email).

    Whatever of the offer has not gone out yet is voided: nobody should
    answer an offer that no longer exists. The provider hears of the closing
    only if the offer itself reached them; of an offer they never saw they
    hear nothing at all.
    """
    now = _now(now)
    booking = _booking(db, assignment)
    provider_user = _provider_recipient(db, assignment)
    if provider_user is None:
        return
    offer_settled(db, assignment=assignment, reason="offer closed before it was sent")
    if not _offer_reached(db, assignment, provider_user):
        return
    context = _booking_context(db, booking, provider_user, assignment=assignment)
    for channel in provider_channels(provider_user, has_sms=False):
        _tell(
            db,
            OFFER_CLOSED,
            provider_user,
            channel,
            about=(f"a{assignment.id}",),
            instant=assignment.starts_at,
            context=context,
            due_at=now,
            booking_id=booking.id,
        )


def offer_settled(db: Session, *, assignment: Assignment, reason: str) -> None:
    """The offer is answered, taken, withdrawn or expired: its messages still queued are voided.

    Call it whenever an assignment leaves ``offered``. An offer email held up
    by a slow mail server must not arrive after the offer is gone, asking a
    provider to accept what they already accepted or what someone else took.
    """
    provider_user = _provider_recipient(db, assignment)
    if provider_user is None:
        return
    void_unsent(
        db,
        booking_id=assignment.booking_id,
        events=[OFFER_SENT],
        **provider_user.whose,
        reason=reason,
    )


def offer_unanswered(db: Session, *, booking: Booking, now: dt.datetime | None = None) -> None:
    """Flag to the dispatchers serving the booking that an offer expired unanswered (email)."""
    now = _now(now)
    expired_at = db.scalar(
        select(Assignment.offer_expires_at)
        .where(Assignment.booking_id == booking.id, Assignment.offer_expires_at.is_not(None))
        .order_by(Assignment.offer_expires_at.desc())
        .limit(1)
    )
    instant = expired_at or now
    for user_id in dispatchers_serving(db, booking.organisation_id):
        dispatcher = recipient_for(db, user_id)
        if dispatcher is None:
            continue
        context = _booking_context(db, booking, dispatcher)
        context["offer_expired_at"] = instant
        _tell(
            db,
            OFFER_UNANSWERED,
            dispatcher,
            Channel.EMAIL,
            about=(f"b{booking.id}",),
            instant=instant,
            context=context,
            due_at=now,
            booking_id=booking.id,
        )


def repair_proposed(
    db: Session,
    *,
    booking: Booking,
    plan_id: int,
    fell_through: str,
    proposed: str | None,
    offered: bool,
    now: dt.datetime | None = None,
) -> None:
    """Tell the dispatchers serving the booking that work fell through and what a repair did.

    ``fell_through`` names the provider who dropped out (or the trigger),
    ``proposed`` the provider the repair chose (None: nobody could take it),
    ``offered`` whether the offer already went out (the service's
    ``auto_offer``) or the proposal waits on the board.
    """
    now = _now(now)
    for user_id in dispatchers_serving(db, booking.organisation_id):
        dispatcher = recipient_for(db, user_id)
        if dispatcher is None:
            continue
        context = _booking_context(db, booking, dispatcher)
        context.update(
            fell_through=fell_through,
            proposed_name=proposed,
            offered=offered,
            plan_url=f"{get_settings().base_url.rstrip('/')}/board/plans/{plan_id}",
        )
        _tell(
            db,
            REPAIR_PROPOSED,
            dispatcher,
            Channel.EMAIL,
            about=(f"b{booking.id}", f"plan{plan_id}"),
            instant=now,
            context=context,
            due_at=now,
            booking_id=booking.id,
        )


def booking_not_yet_staffed(
    db: Session, *, booking: Booking, plan_id: int, now: dt.datetime | None = None
) -> None:
    """Tell the requester that their session lost its provider and is not staffed yet.

    Only that, in their language: who dropped out and why is none of their
    business, and the session block carries no beneficiary reference nor
    notes. The new provider reaches them with the confirmation
    (``assignment_confirmed``), which updates the same calendar entry.
    """
    now = _now(now)
    requester = recipient_for(db, booking.requester_id)
    if requester is None:
        return
    _tell(
        db,
        NOT_YET_STAFFED,
        requester,
        Channel.EMAIL,
        about=(f"b{booking.id}", f"plan{plan_id}"),
        instant=now,
        context=_booking_context(db, booking, requester),
        due_at=now,
        booking_id=booking.id,
    )


def assignment_confirmed(
    db: Session, *, assignment: Assignment, now: dt.datetime | None = None
) -> None:
    """Confirm a session to the requester and the provider, and schedule the reminders.

    Both get an email with an ``.ics`` invitation (``METHOD:REQUEST``), the
    provider an SMS too. Reminders go out ``reminder_offsets_hours`` before the
    start (24 h and 2 h by default), except those whose moment has already
    passed: confirming a session for this afternoon sends no 24 h reminder.
    """
    now = _now(now)
    booking = _booking(db, assignment)
    sequence = _sequence(db, booking)
    provider_user = _provider_recipient(db, assignment)
    requester = recipient_for(db, booking.requester_id)
    for person, channels in (
        (requester, (Channel.EMAIL,)),
        (provider_user, _sms_too(provider_user)),
    ):
        if person is None:
            continue
        uid = (
            booking_invitation_uid(booking.id)
            if person is requester
            else invitation_uid(assignment.id)
        )
        for channel in channels:
            context = _booking_context(db, booking, person, assignment=assignment)
            if channel == Channel.EMAIL:
                context["ics"] = _ics(
                    uid,
                    booking,
                    assignment.starts_at,
                    assignment.ends_at,
                    "REQUEST",
                    sequence,
                    now,
                    modality=context["modality"],
                )
            _tell(
                db,
                ASSIGNMENT_CONFIRMED,
                person,
                channel,
                about=(f"a{assignment.id}",),
                instant=assignment.starts_at,
                context=context,
                due_at=now,
                booking_id=booking.id,
                session_start=assignment.starts_at,
            )
    _schedule_reminders(
        db, booking, assignment, sequence=sequence, now=now, people=(requester, provider_user)
    )


def booking_rescheduled(db: Session, *, booking: Booking, now: dt.datetime | None = None) -> None:
    """Tell the requester, and the confirmed provider, that the session moved.

    Call it after the booking (and its confirmed assignment) carry the new
    times. The invitation is updated in place (same UID, higher SEQUENCE),
    the old reminders are voided and new ones scheduled for the new time.
    """
    now = _now(now)
    sequence = _sequence(db, booking)
    assignment = _confirmed_assignment(db, booking)
    requester = recipient_for(db, booking.requester_id)
    # The requester's calendar holds the session since a confirmation: it moves with it,
    # even while the session waits for a new provider.
    requester_invited = requester is not None and has_live_message(
        db, booking_id=booking.id, events=INVITATION_EVENTS, **requester.whose
    )
    void_unsent(
        db,
        booking_id=booking.id,
        events=[*INVITATION_EVENTS],
        event_prefixes=[REMINDER + "_"],
        reason="superseded: booking rescheduled",
    )
    provider_user = _provider_recipient(db, assignment) if assignment is not None else None
    starts_at = assignment.starts_at if assignment is not None else booking.starts_at
    ends_at = assignment.ends_at if assignment is not None else booking.ends_at
    for person, channels in (
        (requester, (Channel.EMAIL,)),
        (provider_user, _sms_too(provider_user)),
    ):
        if person is None:
            continue
        uid: str | None = None
        if person is requester and (assignment is not None or requester_invited):
            uid = booking_invitation_uid(booking.id)
        elif person is provider_user and assignment is not None:
            uid = invitation_uid(assignment.id)
        for channel in channels:
            context = _booking_context(db, booking, person, assignment=assignment)
            if channel == Channel.EMAIL and uid is not None:
                context["ics"] = _ics(
                    uid,
                    booking,
                    starts_at,
                    ends_at,
                    "REQUEST",
                    sequence,
                    now,
                    modality=context["modality"],
                )
            _tell(
                db,
                BOOKING_RESCHEDULED,
                person,
                channel,
                about=(f"b{booking.id}", f"v{sequence}"),
                instant=starts_at,
                context=context,
                due_at=now,
                booking_id=booking.id,
                session_start=starts_at,
            )
    if assignment is not None:
        _schedule_reminders(
            db, booking, assignment, sequence=sequence, now=now, people=(requester, provider_user)
        )


def booking_cancelled(db: Session, *, booking: Booking, now: dt.datetime | None = None) -> None:
    """Void every unsent message of the booking (reminders included) and announce the cancellation.

    Call it before the assignments are released. The requester, whose booking
    it is, gets an email. A provider who is offered or holds the session gets
    an email and an SMS, but only if something about it ever reached them: a
    provider whose offer or confirmation was still queued hears nothing. A
    ``METHOD:CANCEL`` goes only to whoever an invitation (``REQUEST``) was
    actually sent to, so that it leaves their calendar; the others get the
    plain text.
    """
    now = _now(now)
    sequence = _sequence(db, booking)
    cancelled_at = booking.cancelled_at or now
    assignments = list(
        db.scalars(
            select(Assignment).where(Assignment.booking_id == booking.id).order_by(Assignment.id)
        )
    )
    requester = recipient_for(db, booking.requester_id)
    void_unsent(db, booking_id=booking.id, reason="booking cancelled")
    # (recipient, assignment shown, calendar UID to cancel or None, channels)
    audience: list[tuple[Recipient, Assignment | None, str | None, tuple[Channel, ...]]] = []
    holders = [a for a in assignments if a.status in PROVIDER_VISIBLE_ASSIGNMENT_STATUSES]
    confirmed = next((a for a in holders if a.status == AssignmentStatus.CONFIRMED), None)
    if requester is not None:
        uid = booking_invitation_uid(booking.id)
        invited = _invitation_reached(db, booking.id, requester, uid)
        audience.append((requester, confirmed, uid if invited else None, (Channel.EMAIL,)))
    for assignment in holders:
        person = _provider_recipient(db, assignment)
        if person is None or not sent_messages(db, booking_id=booking.id, **person.whose):
            continue
        provider_uid = invitation_uid(assignment.id)
        invited = _invitation_reached(db, booking.id, person, provider_uid)
        audience.append((person, assignment, provider_uid if invited else None, _sms_too(person)))
    seen: set[str] = set()
    for person, shown, cancel_uid, channels in audience:
        if person.key in seen:
            continue
        seen.add(person.key)
        starts_at = shown.starts_at if shown is not None else booking.starts_at
        ends_at = shown.ends_at if shown is not None else booking.ends_at
        for channel in channels:
            context = _booking_context(db, booking, person, assignment=shown)
            context["late_cancellation"] = bool(booking.late_cancellation)
            if channel == Channel.EMAIL and cancel_uid is not None:
                context["ics"] = _ics(
                    cancel_uid,
                    booking,
                    starts_at,
                    ends_at,
                    "CANCEL",
                    sequence,
                    now,
                    modality=context["modality"],
                )
            _tell(
                db,
                BOOKING_CANCELLED,
                person,
                channel,
                about=(f"b{booking.id}",),
                instant=cancelled_at,
                context=context,
                due_at=now,
                booking_id=booking.id,
                session_start=booking.starts_at,
            )


def assignment_cancelled(
    db: Session, *, assignment: Assignment, now: dt.datetime | None = None
) -> None:
    """Take a confirmed session off a provider's hands (sick, replaced): CANCEL, reminders voided.

    The booking itself stays open (the dispatcher finds someone else), so the
    requester is not told here; their calendar entry (one per booking) stays,
    and the next confirmation updates it. Pending reminders are voided for
    everyone, since they name this provider. The provider is told only if
    something about the session reached them, with a ``METHOD:CANCEL`` only
    if their invitation did.
    """
    now = _now(now)
    booking = _booking(db, assignment)
    provider_user = _provider_recipient(db, assignment)
    if provider_user is None:
        return
    sequence = _sequence(db, booking)
    void_unsent(
        db,
        booking_id=booking.id,
        events=[*INVITATION_EVENTS, OFFER_SENT],
        **provider_user.whose,
        reason="assignment cancelled",
    )
    # Everyone's reminders name this provider; the next confirmation schedules new ones.
    void_unsent(
        db,
        booking_id=booking.id,
        event_prefixes=[REMINDER + "_"],
        reason="assignment cancelled",
    )
    if not sent_messages(db, booking_id=booking.id, **provider_user.whose):
        return
    uid = invitation_uid(assignment.id)
    invited = _invitation_reached(db, booking.id, provider_user, uid)
    for channel in provider_channels(provider_user, has_sms=True):
        context = _booking_context(db, booking, provider_user, assignment=assignment)
        context["late_cancellation"] = False
        if channel == Channel.EMAIL and invited:
            context["ics"] = _ics(
                uid,
                booking,
                assignment.starts_at,
                assignment.ends_at,
                "CANCEL",
                sequence,
                now,
                modality=context["modality"],
            )
        _tell(
            db,
            ASSIGNMENT_CANCELLED,
            provider_user,
            channel,
            about=(f"a{assignment.id}",),
            instant=assignment.starts_at,
            context=context,
            due_at=now,
            booking_id=booking.id,
            session_start=assignment.starts_at,
        )


def dispatcher_digest(
    db: Session, *, now: dt.datetime | None = None, horizon_hours: int = 48
) -> int:
    """Send each dispatcher the sessions of the next ``horizon_hours`` still without a provider.

    One email a day per dispatcher (the key holds the local day), only when
    there is something to say. Returns how many digests were enqueued.
    """
    now = _now(now)
    until = now + dt.timedelta(hours=horizon_hours)
    dispatchers = db.scalars(
        select(User)
        .where(User.role == UserRole.DISPATCHER, User.is_active.is_(True))
        .order_by(User.id)
    ).all()
    enqueued = 0
    for dispatcher_user in dispatchers:
        person = recipient_for(db, dispatcher_user.id)
        if person is None:
            continue
        served = select(ServiceAgreement.requesting_org_id).where(
            ServiceAgreement.providing_org_id == dispatcher_user.organisation_id
        )
        bookings = db.scalars(
            select(Booking)
            .where(
                Booking.organisation_id.in_(served),
                Booking.status.in_(UNSTAFFED_BOOKING_STATUSES),
                Booking.starts_at >= now,
                Booking.starts_at < until,
            )
            .order_by(Booking.starts_at, Booking.id)
        ).all()
        if not bookings:
            continue
        sessions = [_booking_context(db, booking, person) for booking in bookings]
        local_day = now.astimezone(ZoneInfo(person.timezone)).date()
        day_start = dt.datetime.combine(local_day, dt.time(0), tzinfo=ZoneInfo(person.timezone))
        context: dict[str, Any] = {
            **_recipient_context(person),
            "sessions": sessions,
            "horizon_hours": horizon_hours,
            "generated_at": now,
            "board_url": get_settings().base_url.rstrip("/") + "/board",
        }
        if _tell(
            db,
            DIGEST,
            person,
            Channel.EMAIL,
            about=(f"o{dispatcher_user.organisation_id}",),
            instant=day_start,
            context=context,
            due_at=now,
        ):
            enqueued += 1
    return enqueued


# --- building blocks ------------------------------------------------------------------


def _tell(
    db: Session,
    event: str,
    person: Recipient,
    channel: Channel,
    *,
    about: tuple[str, ...],
    instant: dt.datetime,
    context: dict[str, Any],
    due_at: dt.datetime,
    booking_id: int | None = None,
    session_start: dt.datetime | None = None,
    template: str | None = None,
) -> bool:
    """Enqueue one message of ``event`` (its own template unless ``template``); ``True`` if new.

    Its key is ``event:<about...>:<person>:<channel>:<instant>``: the same change told
    twice to the same person by the same channel is one message.
    """
    return enqueue(
        db,
        key=dedup_key(event, *about, person.key, channel, instant),
        event=event,
        template=template or event,
        channel=channel,
        recipient=person,
        context=context,
        due_at=due_at,
        booking_id=booking_id,
        session_start=session_start,
    )


def _now(now: dt.datetime | None) -> dt.datetime:
    return ensure_aware(now) if now is not None else utc_now()


def _booking(db: Session, assignment: Assignment) -> Booking:
    booking = db.get(Booking, assignment.booking_id)
    if booking is None:  # pragma: no cover - foreign key
        raise LookupError(f"assignment {assignment.id} has no booking")
    return booking


def _sequence(db: Session, booking: Booking) -> int:
    """The iCalendar SEQUENCE: the booking's version, which every change increases.

    Flushed first, so a change the caller made in this transaction counts.
    """
    db.flush()
    return int(booking.version_id)


def _provider_recipient(db: Session, assignment: Assignment | None) -> Recipient | None:
    """The assignment's provider at their own contact, sign-in or not (``None``: inactive)."""
    if assignment is None:
        return None
    return recipient_for_provider(db, assignment.provider_id)


def _sms_too(person: Recipient | None) -> tuple[Channel, ...]:
    """A provider's channels for a message that has an SMS form."""
    return provider_channels(person, has_sms=True) if person is not None else ()


def _offer_links(person: Recipient, assignment: Assignment) -> dict[str, str]:
    """Where the provider answers: their schedule, or the offer's signed page without a sign-in.

    On the signed page too, ``?answer=`` only puts the focus on a button;
    answering is a form, never the GET a mail scanner could follow.
    """
    base_url = get_settings().base_url
    if person.signed_in:
        return offer_links(base_url, assignment.id)
    token = links.sign_link(
        get_settings().secret_key,
        assignment_id=assignment.id,
        purpose="offer",
        expires_at=links.offer_link_expiry(assignment.offer_expires_at, assignment.ends_at),
    )
    url = links.link_url(base_url, token)
    return {
        "offer_url": url,
        "accept_url": f"{url}?answer=accept",
        "decline_url": f"{url}?answer=decline",
    }


def _session_link(assignment: Assignment) -> str:
    """The signed page of one session, for a provider who cannot sign in."""
    settings = get_settings()
    token = links.sign_link(
        settings.secret_key,
        assignment_id=assignment.id,
        purpose="session",
        expires_at=links.session_link_expiry(assignment.ends_at),
    )
    return links.link_url(settings.base_url, token)


def _invitation_reached(db: Session, booking_id: int, person: Recipient, uid: str) -> bool:
    """Whether an email carrying the calendar invitation ``uid`` went out to ``person``."""
    return any(
        message.channel == Channel.EMAIL
        and isinstance(message.context.get("ics"), dict)
        and message.context["ics"].get("uid") == uid
        and message.context["ics"].get("method") == "REQUEST"
        for message in sent_messages(
            db, booking_id=booking_id, **person.whose, events=INVITATION_EVENTS
        )
    )


def _offer_reached(db: Session, assignment: Assignment, person: Recipient) -> bool:
    """Whether the offer ``assignment`` went out to ``person`` on any channel."""
    prefix = dedup_key(OFFER_SENT, f"a{assignment.id}") + ":"
    return any(
        message.dedup_key.startswith(prefix)
        for message in sent_messages(
            db,
            booking_id=assignment.booking_id,
            **person.whose,
            events=[OFFER_SENT],
        )
    )


def _confirmed_assignment(db: Session, booking: Booking) -> Assignment | None:
    return db.scalars(
        select(Assignment)
        .where(Assignment.booking_id == booking.id, Assignment.status == AssignmentStatus.CONFIRMED)
        .order_by(Assignment.id.desc())
        .limit(1)
    ).first()


def _recipient_context(person: Recipient) -> dict[str, Any]:
    return {
        "recipient_name": person.full_name,
        "recipient_role": person.role,
        "timezone": person.timezone,
        "base_url": get_settings().base_url.rstrip("/"),
    }


def _place_short(booking: Booking) -> str | None:
    """The town, or the end of the address: enough to find the way, short enough for an SMS."""
    if booking.modality != Modality.ONSITE or not booking.address:
        return None
    tail = booking.address.rsplit(",", 1)[-1].strip()
    return tail[:PLACE_SHORT_MAX]


def _booking_context(
    db: Session,
    booking: Booking,
    person: Recipient,
    *,
    assignment: Assignment | None = None,
) -> dict[str, Any]:
    """What a template may say about a session: never ``beneficiary_ref`` nor ``notes``.

    The modality is the one the assignment uses (a lower step of the booking's
    ladder, or its own): an onsite session's message has the address, a video
    session's the link the requester gave. A group booking's message names the
    language of the provider's place, and every place's (`group_languages`).
    """

    def name_of(code: str) -> str:
        language = db.get(Language, code)
        if language is None:
            return code
        return getattr(language, f"name_{person.locale}", None) or language.name_en

    own_code = booking.language_code
    if assignment is not None and assignment.place > 0:
        own_code = next(
            (p.language_code for p in booking.places if p.position == assignment.place), own_code
        )
    language_name = name_of(own_code)
    group_languages = (
        [name_of(booking.language_code), *(name_of(p.language_code) for p in booking.places)]
        if booking.places
        else []
    )
    modality = booking.modality
    if assignment is not None and assignment.modality is not None:
        modality = assignment.modality
    organisation = db.get(Organisation, booking.organisation_id)
    requester_user = db.get(User, booking.requester_id)
    provider_name: str | None = None
    if assignment is not None:
        provider = db.get(Provider, assignment.provider_id)
        provider_name = provider.display_name if provider is not None else None
    starts_at = assignment.starts_at if assignment is not None else booking.starts_at
    ends_at = assignment.ends_at if assignment is not None else booking.ends_at
    base_url = get_settings().base_url.rstrip("/")
    if assignment is not None and person.provider_id is not None and not person.signed_in:
        booking_url = _session_link(assignment)
    else:
        booking_url = booking_link(
            base_url,
            booking.id,
            role=person.role,
            assignment_id=assignment.id if assignment is not None else None,
        )
    return {
        **_recipient_context(person),
        "booking_id": booking.id,
        "booking_reference": booking.reference,
        "booking_url": booking_url,
        "language": language_name,
        "language_variety": booking.language_variety,
        "session_kind": booking.session_kind,
        "modality": modality,
        "video_link": booking.video_link if modality == Modality.VIDEO else None,
        "group_languages": group_languages,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "duration_minutes": int((ends_at - starts_at).total_seconds() // 60),
        "place": booking.address if modality == Modality.ONSITE else None,
        "place_short": _place_short(booking) if modality == Modality.ONSITE else None,
        "organisation_name": organisation.name if organisation is not None else "",
        "requester_name": requester_user.full_name if requester_user is not None else "",
        "requester_email": requester_user.email if requester_user is not None else "",
        "provider_name": provider_name,
    }


def _ics(
    uid: str,
    booking: Booking,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    method: str,
    sequence: int,
    now: dt.datetime,
    *,
    modality: str | None = None,
) -> dict[str, Any]:
    """What ``notify.ics`` needs to write the invitation: no beneficiary data in it.

    Its location follows ``modality``, the step of the ladder the assignment is
    worked by (the booking's own when none is given): the address onsite, the
    requester's link by video, none by phone.
    """
    used = modality or booking.modality
    return {
        "method": method,
        "uid": uid,
        "sequence": sequence,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "location": (
            booking.address
            if used == Modality.ONSITE
            else booking.video_link
            if used == Modality.VIDEO
            else None
        ),
        "stamp": now,
    }


def _schedule_reminders(
    db: Session,
    booking: Booking,
    assignment: Assignment,
    *,
    sequence: int,
    now: dt.datetime,
    people: tuple[Recipient | None, Recipient | None],
) -> None:
    """Reminders before the session; any earlier set of this booking is superseded.

    The requester is reminded by email, the provider by email and SMS. A
    reminder whose moment is already past is not written at all.
    """
    void_unsent(
        db,
        booking_id=booking.id,
        event_prefixes=[REMINDER + "_"],
        reason="superseded by a new schedule",
    )
    requester, provider_user = people
    for hours in sorted(set(get_settings().reminder_offsets_hours), reverse=True):
        due_at = assignment.starts_at - dt.timedelta(hours=hours)
        if due_at <= now:
            continue
        event = reminder_event(hours)
        for person, channels in (
            (requester, (Channel.EMAIL,)),
            (provider_user, _sms_too(provider_user)),
        ):
            if person is None:
                continue
            context = _booking_context(db, booking, person, assignment=assignment)
            context["hours_before"] = hours
            for channel in channels:
                _tell(
                    db,
                    event,
                    person,
                    channel,
                    about=(f"a{assignment.id}", f"v{sequence}"),
                    instant=assignment.starts_at,
                    context=context,
                    due_at=due_at,
                    booking_id=booking.id,
                    session_start=assignment.starts_at,
                    template=REMINDER,
                )
