"""Users and their API tokens: create, change, deactivate, issue and revoke credentials.

Passwords are kept as argon2 hashes only (for the web sign-in and the demo
users); API tokens as SHA-256 hashes only (``booking.users.tokens``), shown
once at creation. Every change is audited; no secret ever reaches the trail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.audit import pending_changes, record_audit
from booking.dates import OUT_OF_RANGE, bounds_message, instant_in_bounds
from booking.errors import Conflict, FieldError, NotFound, Unprocessable
from booking.organisations.models import Organisation
from booking.providers.calendar import revoke_calendar_token
from booking.providers.models import Provider
from booking.types import ensure_aware, utc_now
from booking.users import throttle
from booking.users.models import ApiToken, User
from booking.users.tokens import new_token
from booking.vocabulary import OrganisationKind, UserRole

_hasher = PasswordHasher()

SECRET_FIELDS = frozenset({"password_hash"})

ROLE_ORGANISATION_KINDS: dict[str, frozenset[str]] = {
    UserRole.REQUESTER: frozenset({OrganisationKind.REQUESTING}),
    UserRole.DISPATCHER: frozenset({OrganisationKind.PROVIDING}),
    UserRole.PROVIDER: frozenset({OrganisationKind.PROVIDING}),
    UserRole.ADMIN: frozenset({OrganisationKind.REQUESTING, OrganisationKind.PROVIDING}),
}
"""A requester works for a requesting organisation, a dispatcher or provider for a service."""


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; safe to store)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash; ``False`` for no hash or a bad one."""
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = hash_password("not a real password")
"""Checked against when the email is unknown, so a wrong email takes as long as a wrong password."""


@dataclass(frozen=True, slots=True)
class SignIn:
    """What became of a sign-in: the user it signed in, or how long signing in is paused."""

    user: User | None = None
    wait_seconds: int = 0
    """Signing in is paused for this account or address this long; the password was not read."""


def sign_in(
    db: Session,
    *,
    email: str,
    password: str,
    address: str | None,
    policy: throttle.ThrottlePolicy,
) -> SignIn:
    """Check an email and a password, behind the brake of ``booking.users.throttle``.

    While signing in is paused the password is not even checked. An unknown
    email, a wrong or empty password and a deactivated account all fail the
    same way, and count as failures; a success clears the account's count
    and is audited.
    """
    wait = throttle.seconds_to_wait(db, email=email, address=address)
    if wait:
        return SignIn(wait_seconds=wait)
    user = db.scalars(select(User).where(User.email == email)).first() if email else None
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.is_active or not password:
        throttle.record_failure(db, email=email, address=address, user=user, policy=policy)
        return SignIn()
    throttle.record_success(db, email=email)
    record_audit(db, actor=user, action="user.signed_in", entity=user, changes={})
    return SignIn(user=user)


def normalise_phone(raw: str, *, country: str, field: str = "phone") -> str:
    """``raw`` in E.164, reading a national number in ``country`` (FR or BE)."""
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Unprocessable(
            f"{raw!r} is not a valid phone number",
            errors=[FieldError(field, "Not a valid phone number.", code="phone_invalid")],
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _redacted(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: (["***", "***"] if key in SECRET_FIELDS else value) for key, value in changes.items()
    }


def _organisation(db: Session, organisation_id: int) -> Organisation:
    organisation = db.get(Organisation, organisation_id)
    if organisation is None:
        raise Unprocessable(
            f"organisation {organisation_id} does not exist",
            errors=[FieldError("organisation_id", "Unknown organisation.", code="unknown")],
        )
    return organisation


def _check_role_fits(role: str, organisation: Organisation) -> None:
    if organisation.kind not in ROLE_ORGANISATION_KINDS[role]:
        raise Unprocessable(
            f"a {role} cannot belong to a {organisation.kind} organisation",
            errors=[
                FieldError(
                    "role",
                    f"A {role} belongs to a "
                    + " or ".join(sorted(ROLE_ORGANISATION_KINDS[role]))
                    + " organisation.",
                    code="role_organisation_kind",
                )
            ],
            rule="role_matches_organisation_kind",
        )


def _email_taken(db: Session, email: str, *, except_id: int | None = None) -> bool:
    query = select(User.id).where(User.email == email.strip().lower())
    if except_id is not None:
        query = query.where(User.id != except_id)
    return db.scalars(query).first() is not None


def _email_conflict(email: str) -> Conflict:
    return Conflict(
        f"a user with email {email} already exists",
        code="email_taken",
        extra={"errors": [{"field": "email", "message": "Already in use.", "type": "email_taken"}]},
    )


def _flush_user(db: Session, email: str) -> None:
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        # Two admins creating the same address at once: the unique index decides.
        raise _email_conflict(email) from None


def user_query(db: Session, *, organisation_id: int | None = None) -> Select[User]:
    """Users, optionally of one organisation (for the admin's list)."""
    query = select(User)
    if organisation_id is not None:
        query = query.where(User.organisation_id == organisation_id)
    return query


def profile(db: Session, *, user: User) -> tuple[Organisation, Provider | None]:
    """The organisation of ``user`` and the provider record they log in as, if any."""
    organisation = db.get_one(Organisation, user.organisation_id)
    provider = db.scalars(select(Provider).where(Provider.user_id == user.id)).first()
    return organisation, provider


def get_user(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(entity="user", entity_id=user_id)
    return user


def create_user(
    db: Session,
    *,
    actor: User | None,
    organisation_id: int,
    email: str,
    full_name: str,
    role: str,
    locale: str = "fr",
    phone: str | None = None,
    password: str | None = None,
) -> User:
    """Add a user to an organisation; the role must fit the organisation's kind."""
    organisation = _organisation(db, organisation_id)
    _check_role_fits(role, organisation)
    if _email_taken(db, email):
        raise _email_conflict(email)
    user = User(
        organisation_id=organisation.id,
        email=email,
        full_name=full_name,
        role=role,
        locale=locale,
        phone_e164=normalise_phone(phone, country=organisation.country) if phone else None,
        password_hash=hash_password(password) if password else None,
        is_active=True,
    )
    db.add(user)
    _flush_user(db, user.email)
    record_audit(
        db,
        actor=actor,
        action="user.created",
        entity=user,
        changes={
            "email": user.email,
            "role": user.role,
            "organisation_id": user.organisation_id,
            "password_set": password is not None,
        },
    )
    return user


def update_user(
    db: Session,
    *,
    actor: User | None,
    user: User,
    changes: Mapping[str, Any],
) -> User:
    """Apply the given fields (``email``, ``full_name``, ``role``, ``locale``, ``phone``,
    ``password``, ``is_active``); a key absent from ``changes`` stays as it is.
    Deactivating also revokes the user's API tokens and their calendar feed.

    An admin cannot deactivate themselves or give up their own admin role,
    so the last admin cannot lock everyone out by mistake. A new password or
    a deactivation ends the user's web sessions everywhere.
    """
    if actor is not None and actor.id == user.id:
        locks_out = changes.get("is_active") is False or (
            changes.get("role") is not None and changes["role"] != user.role
        )
        if locks_out:
            raise Unprocessable(
                "you cannot deactivate yourself or change your own role",
                errors=[
                    FieldError(
                        "is_active" if changes.get("is_active") is False else "role",
                        "Ask another admin to do this.",
                        code="self_lockout",
                    )
                ],
                rule="no_self_lockout",
            )
    was_active = user.is_active
    if "email" in changes and changes["email"] is not None:
        if _email_taken(db, changes["email"], except_id=user.id):
            raise _email_conflict(changes["email"])
        user.email = changes["email"]
    if changes.get("role") is not None and changes["role"] != user.role:
        _check_role_fits(changes["role"], _organisation(db, user.organisation_id))
        user.role = changes["role"]
    for key in ("full_name", "locale", "is_active"):
        if changes.get(key) is not None:
            setattr(user, key, changes[key])
    if "phone" in changes:
        phone = changes["phone"]
        if phone:
            country = _organisation(db, user.organisation_id).country
            user.phone_e164 = normalise_phone(phone, country=country)
        else:
            user.phone_e164 = None
    if changes.get("password"):
        user.password_hash = hash_password(changes["password"])
    if changes.get("password") or (was_active and not user.is_active):
        # A new password or a deactivation ends every web session (a copied cookie too).
        user.session_generation += 1
    diff = _redacted(pending_changes(user))
    if not diff:
        return user
    _flush_user(db, user.email)
    record_audit(db, actor=actor, action="user.updated", entity=user, changes=diff)
    if diff.get("is_active") == [True, False]:
        revoke_all_tokens(db, actor=actor, user=user)
        provider = db.scalars(select(Provider).where(Provider.user_id == user.id)).first()
        if provider is not None:
            revoke_calendar_token(db, actor=actor, provider=provider, reason="login_deactivated")
    return user


def end_web_sessions(db: Session, *, actor: User | None, user: User, action: str) -> User:
    """End every web session of ``user`` (on every browser), auditing it as ``action``.

    Used at sign-out (``user.signed_out``) and by an admin's "sign out
    everywhere" (``user.signed_out_everywhere``). API tokens are separate
    credentials: revoke them with ``revoke_token``.
    """
    before = user.session_generation
    user.session_generation = before + 1
    db.flush()
    record_audit(
        db,
        actor=actor,
        action=action,
        entity=user,
        changes={"session_generation": [before, user.session_generation]},
    )
    return user


def find_user_by_email(db: Session, email: str) -> User:
    user = db.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise NotFound(f"no user with email {email}", entity="user")
    return user


def create_token(
    db: Session,
    *,
    actor: User | None,
    user: User,
    name: str = "api",
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Issue an API token for ``user``: the row, and the token to show once."""
    if expires_at is not None and ensure_aware(expires_at) <= utc_now():
        raise Unprocessable(
            "the expiry is in the past",
            errors=[FieldError("expires_at", "Must be in the future.", code="in_the_past")],
        )
    if expires_at is not None and not instant_in_bounds(expires_at):
        raise Unprocessable(
            "the expiry is out of range",
            errors=[FieldError("expires_at", bounds_message(), code=OUT_OF_RANGE)],
        )
    if not user.is_active:
        raise Unprocessable(
            f"user {user.id} is deactivated",
            errors=[FieldError("user_id", "The user is deactivated.", code="user_inactive")],
        )
    token, token_hash = new_token()
    row = ApiToken(user_id=user.id, name=name, token_hash=token_hash, expires_at=expires_at)
    db.add(row)
    db.flush()
    record_audit(
        db,
        actor=actor,
        action="api_token.created",
        entity=row,
        changes={"user_id": user.id, "name": name, "expires_at": expires_at},
        organisation_id=user.organisation_id,
    )
    return row, token


def token_query(db: Session, *, user_id: int) -> Select[ApiToken]:
    """The tokens of one user, revoked ones included (the admin sees the history)."""
    return select(ApiToken).where(ApiToken.user_id == user_id)


def get_token(db: Session, token_id: int) -> ApiToken:
    row = db.get(ApiToken, token_id)
    if row is None:
        raise NotFound(entity="api_token", entity_id=token_id)
    return row


def revoke_token(
    db: Session, *, actor: User | None, token: ApiToken, now: dt.datetime | None = None
) -> ApiToken:
    """Stop a token from working; revoking twice keeps the first revocation time."""
    if token.revoked_at is not None:
        return token
    token.revoked_at = now or utc_now()
    owner = db.get(User, token.user_id)
    record_audit(
        db,
        actor=actor,
        action="api_token.revoked",
        entity=token,
        changes={"user_id": token.user_id, "name": token.name},
        organisation_id=owner.organisation_id if owner is not None else None,
    )
    db.flush()
    return token


def revoke_all_tokens(db: Session, *, actor: User | None, user: User) -> int:
    """Revoke every live token of ``user`` (on deactivation); how many were revoked."""
    rows = db.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for row in rows:
        revoke_token(db, actor=actor, token=row)
    return len(rows)
