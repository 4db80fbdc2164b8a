"""Every model, imported in one place so that all mappers and tables are registered.

Alembic's env.py and the tests import this module; application code may
import the models from their aggregate modules or from here.
"""

from __future__ import annotations

from booking.assignments.models import Assignment
from booking.audit import AuditLog
from booking.bookings.models import (
    Booking,
    BookingPlace,
    BookingProviderPreference,
    IdempotencyRecord,
    Series,
)
from booking.db import Base
from booking.languages.models import Language
from booking.organisations.models import (
    Organisation,
    OrganisationClosure,
    ServiceAgreement,
    Site,
)
from booking.outbox.models import OutboxMessage
from booking.plans.models import Plan
from booking.privacy.models import ReadLog, RetentionPolicy
from booking.providers.models import (
    AvailabilityException,
    AvailabilityRule,
    Provider,
    ProviderLanguage,
)
from booking.users.models import ApiToken, SignInThrottle, User

__all__ = [
    "ApiToken",
    "Assignment",
    "AuditLog",
    "AvailabilityException",
    "AvailabilityRule",
    "Base",
    "Booking",
    "BookingPlace",
    "BookingProviderPreference",
    "IdempotencyRecord",
    "Language",
    "Organisation",
    "OrganisationClosure",
    "OutboxMessage",
    "Plan",
    "Provider",
    "ProviderLanguage",
    "ReadLog",
    "RetentionPolicy",
    "Series",
    "ServiceAgreement",
    "SignInThrottle",
    "Site",
    "User",
]
