"""Signed links for providers without a sign-in: one assignment, one purpose, until a date.

A message to a provider who cannot sign in carries a link to a page that
shows that one session (``session``), or that one offer with its Accept and
Decline buttons (``offer``), and nothing else. The link is the credential:
``<assignment>.<purpose>.<expiry>.<HMAC-SHA256>`` signed with the service's
secret (itsdangerous; the MAC cut to its first 128 bits, as RFC 2104 allows,
so the link fits an SMS beside the offer). Changing the secret voids
every link at once; otherwise a link dies at its expiry (a day after the
offer's deadline, a day after the session).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, HMACAlgorithm, Signer

from booking.types import ensure_aware

LinkPurpose = Literal["offer", "session"]

SALT = "truchement.provider-link"
PATH = "/l/"
GRACE = dt.timedelta(days=1)
"""How long a link outlives what it is about, so a late click explains instead of failing."""
_CODES: dict[str, LinkPurpose] = {"o": "offer", "s": "session"}
_LETTERS: dict[LinkPurpose, str] = {purpose: code for code, purpose in _CODES.items()}
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
MAX_TOKEN_LENGTH = 120


class LinkRefused(Exception):
    """The link is not one we signed, or no longer works; ``expired`` tells which."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


@dataclass(frozen=True, slots=True)
class LinkHolder:
    """Whoever opened a provider's signed link: that provider, for that one assignment.

    The assignment services take it in place of a signed-in user when the
    provider answers an offer from the link; it is audited as such.
    """

    provider_id: int
    assignment_id: int


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What a valid link grants."""

    assignment_id: int
    purpose: LinkPurpose
    expires_at: dt.datetime


MAC_BYTES = 16


class _ShortHMAC(HMACAlgorithm):
    """HMAC-SHA256 truncated to 128 bits: 22 characters in the link instead of 43."""

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return super().get_signature(key, value)[:MAC_BYTES]


def _signer(secret: str) -> Signer:
    return Signer(
        secret,
        salt=SALT,
        sep=".",
        key_derivation="hmac",
        digest_method=hashlib.sha256,
        algorithm=_ShortHMAC(hashlib.sha256),
    )


def _base36(number: int) -> str:
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = _DIGITS[digit] + out
        if number == 0:
            return out


def sign_link(
    secret: str, *, assignment_id: int, purpose: LinkPurpose, expires_at: dt.datetime
) -> str:
    """The token of a link to ``assignment_id`` for ``purpose``, valid until ``expires_at``."""
    seconds = int(ensure_aware(expires_at).timestamp())
    value = f"{assignment_id}.{_LETTERS[purpose]}.{_base36(seconds)}"
    return _signer(secret).sign(value).decode()


def read_link(secret: str, token: str, *, now: dt.datetime) -> LinkClaim:
    """The claim of a token we signed that has not expired; ``LinkRefused`` otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise LinkRefused(expired=False)
    try:
        value = _signer(secret).unsign(token).decode()
    except BadSignature:
        raise LinkRefused(expired=False) from None
    assignment, code, expiry = value.split(".")
    claim = LinkClaim(
        assignment_id=int(assignment),
        purpose=_CODES[code],
        expires_at=dt.datetime.fromtimestamp(int(expiry, 36), tz=dt.UTC),
    )
    if claim.expires_at <= ensure_aware(now):
        raise LinkRefused(expired=True)
    return claim


def link_url(base_url: str, token: str) -> str:
    """The address of the signed page."""
    return f"{base_url.rstrip('/')}{PATH}{token}"


def offer_link_expiry(offer_expires_at: dt.datetime | None, ends_at: dt.datetime) -> dt.datetime:
    """An offer's link: a day past its deadline (to say it is over), never past the session."""
    if offer_expires_at is None:
        return ends_at
    return min(ensure_aware(offer_expires_at) + GRACE, ensure_aware(ends_at))


def session_link_expiry(ends_at: dt.datetime) -> dt.datetime:
    """A session's link: until a day after it ends."""
    return ensure_aware(ends_at) + GRACE
