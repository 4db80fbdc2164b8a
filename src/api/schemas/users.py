"""Users, the caller's own profile, and API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from api.schemas.common import Id, Instant, ResponseModel, StrictModel
from booking.vocabulary import Country, Locale, OrganisationKind, UserRole

MIN_PASSWORD_LENGTH = 12


def _email(value: str) -> str:
    """A syntactically valid address, lower-case (emails compare case-insensitively)."""
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise PydanticCustomError("email_invalid", "Not a valid email address.") from None
    return checked.normalized.lower()


Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_email)]
FullName = Annotated[str, Field(min_length=1, max_length=200)]
Phone = Annotated[
    str,
    Field(
        min_length=3,
        max_length=32,
        description="Any common notation; stored in E.164 (`+32470123456`). A number "
        "without country code is read in the country of the user's organisation.",
    ),
]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=200)]


class OrganisationSummary(ResponseModel):
    id: int
    name: str
    kind: OrganisationKind
    country: Country


class UserOut(ResponseModel):
    id: int
    organisation_id: int
    email: str
    full_name: str
    role: UserRole
    locale: Locale
    phone_e164: str | None
    is_active: bool
    created_at: dt.datetime


class MeOut(UserOut):
    """The caller, their organisation and, for a provider, their provider record."""

    organisation: OrganisationSummary
    provider_id: int | None = Field(
        default=None, description="The provider record of a provider user."
    )


class UserCreate(StrictModel):
    organisation_id: Id
    email: Email
    full_name: FullName
    role: UserRole
    locale: Locale = Locale.FR
    phone: Phone | None = None
    password: Password | None = Field(
        default=None, description="For the web sign-in; stored as an argon2 hash only."
    )


class UserUpdate(StrictModel):
    """Only the fields sent change; ``phone: null`` removes the number."""

    email: Email | None = None
    full_name: FullName | None = None
    role: UserRole | None = None
    locale: Locale | None = None
    phone: Phone | None = None
    password: Password | None = None
    is_active: bool | None = None


class TokenCreate(StrictModel):
    name: str = Field(default="api", min_length=1, max_length=100)
    expires_at: Instant | None = Field(
        default=None, description="When the token stops working; never if null."
    )


class TokenOut(ResponseModel):
    id: int
    user_id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself: shown once, never stored in clear.")
