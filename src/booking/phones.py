"""Mobile numbers in E.164, the only form an SMS gateway accepts without guessing."""

from __future__ import annotations

import phonenumbers

MOBILE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    }
)

FICTION_PREFIXES: tuple[str, ...] = ("+3363998",)
"""Arcep keeps 06 39 98 00 00 to 06 39 98 99 99 for films and books: numbers that reach
nobody. libphonenumber calls them invalid; the demo and the tests use them as mobiles."""


def mobile_e164(raw: str | None, *, default_region: str = "BE") -> str | None:
    """``raw`` as E.164 (``+32470123456``), or ``None`` if it is not a valid mobile-capable number.

    National forms (``0470 12 34 56``) are read in ``default_region`` (the
    organisation's country), so a Belgian and a French number written the
    local way both come out right.
    """
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, default_region.upper())
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164.startswith(FICTION_PREFIXES) and len(e164) == len("+33639980000"):
        return e164
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        return None
    return e164
