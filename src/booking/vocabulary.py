"""The closed word lists of the domain, shared by models, services, API and notify.

Each list is a ``StrEnum`` so members compare equal to the plain strings the
database returns. The database refuses anything else through CHECK
constraints built from these same lists (see ``booking.db.one_of``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

Word = TypeVar("Word", bound=str)


def as_word(value: str, words: tuple[Word, ...]) -> Word:
    """``value`` as one of ``words`` (a ``Literal`` type's words); ``ValueError`` otherwise.

    For a column the database keeps to a closed list (CHECK constraints) and a
    reader that types that list: the value is checked, not merely asserted.
    """
    for word in words:
        if word == value:
            return word
    raise ValueError(f"{value!r} is not one of {', '.join(words)}")


class Country(StrEnum):
    FR = "FR"
    BE = "BE"


class Locale(StrEnum):
    FR = "fr"
    NL = "nl"
    EN = "en"


class OrganisationKind(StrEnum):
    REQUESTING = "requesting"
    PROVIDING = "providing"


class UserRole(StrEnum):
    REQUESTER = "requester"
    DISPATCHER = "dispatcher"
    PROVIDER = "provider"
    ADMIN = "admin"


class ProviderKind(StrEnum):
    INTERPRETER = "interpreter"
    AMBASSADOR = "ambassador"
    MEDIATOR = "mediator"


class ProviderKindRequirement(StrEnum):
    """What a booking asks for: one provider kind, or ``any``."""

    INTERPRETER = "interpreter"
    AMBASSADOR = "ambassador"
    MEDIATOR = "mediator"
    ANY = "any"


class Gender(StrEnum):
    F = "f"
    M = "m"
    X = "x"


class Modality(StrEnum):
    ONSITE = "onsite"
    PHONE = "phone"
    VIDEO = "video"


class SessionKind(StrEnum):
    PSYCHOLOGICAL = "psychological"
    MEDICAL = "medical"
    LEGAL = "legal"
    SOCIAL = "social"
    GROUP = "group"
    MINORS_ACTIVITY = "minors_activity"
    OTHER = "other"


class BookingStatus(StrEnum):
    REQUESTED = "requested"
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    DONE = "done"
    CANCELLED = "cancelled"
    UNFILLED = "unfilled"


UNSTAFFED_BOOKING_STATUSES: tuple[BookingStatus, ...] = (
    BookingStatus.REQUESTED,
    BookingStatus.PROPOSED,
    BookingStatus.UNFILLED,
)
"""Nobody holds the session yet: the matcher may staff it, the dispatchers' digest lists it."""

CHANGEABLE_BOOKING_STATUSES: tuple[BookingStatus, ...] = (
    *UNSTAFFED_BOOKING_STATUSES,
    BookingStatus.CONFIRMED,
)
"""Neither done nor cancelled: the booking can still be edited or cancelled, and the board
lists it (in this order)."""


class PreferenceKind(StrEnum):
    EXCLUDED = "excluded"
    PREFERRED = "preferred"


class AvailabilityExceptionKind(StrEnum):
    ABSENCE = "absence"
    EXTRA = "extra"


class PlanKind(StrEnum):
    PLAN = "plan"
    REPAIR = "repair"


class PlanStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class AssignmentStatus(StrEnum):
    PROPOSED = "proposed"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


PENDING_ASSIGNMENT_STATUSES: tuple[AssignmentStatus, ...] = (
    AssignmentStatus.PROPOSED,
    AssignmentStatus.OFFERED,
)
"""A provider put forward but not yet holding the session."""

HELD_ASSIGNMENT_STATUSES: tuple[AssignmentStatus, ...] = (
    AssignmentStatus.ACCEPTED,
    AssignmentStatus.CONFIRMED,
)
"""The provider holds the session (they said yes, or the dispatcher booked them): a booking
has at most one such assignment (partial unique index), a provider's held work never
overlaps (exclusion constraint), and a new plan keeps it pinned."""

LIVE_ASSIGNMENT_STATUSES: tuple[AssignmentStatus, ...] = (
    *PENDING_ASSIGNMENT_STATUSES,
    *HELD_ASSIGNMENT_STATUSES,
)
"""Still in play: not declined, cancelled or expired."""

PROVIDER_VISIBLE_ASSIGNMENT_STATUSES: tuple[AssignmentStatus, ...] = (
    AssignmentStatus.OFFERED,
    *HELD_ASSIGNMENT_STATUSES,
)
"""The provider was asked or holds the work: they see the booking and it is on their
schedule, they may decline it, and its cancellation concerns them. A proposal nobody sent
them yet is the dispatcher's draft; work they declined or lost is no longer theirs."""

MANUAL_ASSIGNMENT_STATUSES: tuple[AssignmentStatus, ...] = (
    AssignmentStatus.PROPOSED,
    AssignmentStatus.OFFERED,
    AssignmentStatus.CONFIRMED,
)
"""What a dispatcher's manual assignment may start as."""


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    FILE = "file"


class MessageChannels(StrEnum):
    """Which channels a provider wants their messages by (see docs/operations.md).

    ``both``: every message by email, and by SMS too for what has an SMS form
    (offers, confirmations, changes, cancellations, reminders); ``email``:
    email only; ``sms``: SMS for what has an SMS form, email for the rest.
    """

    BOTH = "both"
    EMAIL = "email"
    SMS = "sms"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    VOID = "void"


UNSENT_OUTBOX_STATUSES: tuple[OutboxStatus, ...] = (OutboxStatus.PENDING, OutboxStatus.FAILED)
"""Messages nobody is sending right now and that would still go out: what voiding stops."""

RETRYABLE_OUTBOX_STATUSES: tuple[OutboxStatus, ...] = (OutboxStatus.FAILED, OutboxStatus.DEAD)
"""Messages an operator may put back in the queue."""
