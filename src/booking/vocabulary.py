"""The closed word lists of the domain, shared by models, services, API and notify.

Each list is a ``StrEnum`` so members compare equal to the plain strings the
database returns. The database refuses anything else through CHECK
constraints built from these same lists (see ``booking.db.one_of``).
"""

from __future__ import annotations

from enum import StrEnum


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


class PreferenceKind(StrEnum):
    EXCLUDED = "excluded"
    PREFERRED = "preferred"


class AvailabilityExceptionKind(StrEnum):
    ABSENCE = "absence"
    EXTRA = "extra"


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


ACTIVE_ASSIGNMENT_STATUSES: tuple[AssignmentStatus, ...] = (
    AssignmentStatus.ACCEPTED,
    AssignmentStatus.CONFIRMED,
)
"""A booking holds at most one assignment in these states (partial unique index)."""


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
