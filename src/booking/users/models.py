"""People who log in (requesters, dispatchers, providers, admins) and their API tokens."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from booking.db import Base, one_of
from booking.types import utc_now
from booking.vocabulary import Locale, UserRole

if TYPE_CHECKING:
    from booking.organisations.models import Organisation


class User(Base):
    """A person acting in the service; deactivated (``is_active``) rather than deleted."""

    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint(one_of("role", UserRole), name="role"),
        CheckConstraint(one_of("locale", Locale), name="locale"),
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint(
            "phone_e164 IS NULL OR (phone_e164 LIKE '+%' AND length(phone_e164) BETWEEN 8 AND 16)",
            name="phone_e164",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A user belongs to exactly one organisation, which cannot vanish under them.
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(2), default=Locale.FR)
    phone_e164: Mapped[str | None] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every web session cookie carries the generation it was signed in at; raising it
    # (sign-out, password change, deactivation, an admin's "sign out everywhere")
    # ends every session of the user at once, on every browser and every worker.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)

    organisation: Mapped[Organisation] = relationship(back_populates="users", lazy="raise")

    @validates("email")
    def _lower_case_email(self, _key: str, value: str) -> str:
        """Emails are compared case-insensitively, so they are stored lower-case."""
        return value.strip().lower()


class ApiToken(Base):
    """A long-lived bearer token for integrations; only its SHA-256 is stored."""

    __tablename__ = "api_token"
    __table_args__ = (CheckConstraint("length(token_hash) = 64", name="token_hash_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # A token is a credential of its user and must die with them.
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(lazy="raise")


class SignInThrottle(Base):
    """Failed sign-ins of one account (the email typed) or one client address.

    Kept in the database so that every worker process sees the same counts;
    ``booking.users.throttle`` decides the backoff. The email is kept as
    typed (lower-case), whether or not an account has it, so the throttle
    says nothing about which addresses exist.
    """

    __tablename__ = "sign_in_throttle"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        CheckConstraint("scope IN ('account', 'address')", name="scope"),
        CheckConstraint("failures >= 0", name="failures"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(320))
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(index=True)
    locked_until: Mapped[dt.datetime | None]
