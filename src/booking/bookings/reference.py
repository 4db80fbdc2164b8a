"""Human booking references: short, unambiguous when read over the phone, not guessable."""

from __future__ import annotations

import secrets

# Crockford's base 32: no I, L, O, U, so nothing is misread or spelled rudely.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_booking_reference() -> str:
    """A reference like ``TR-7K4Q-X2M9`` (40 random bits; the unique key catches a collision)."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"TR-{chars[:4]}-{chars[4:]}"
