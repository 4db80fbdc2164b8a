"""Phone numbers in E.164, the only form an SMS gateway accepts without guessing."""

from __future__ import annotations

import phonenumbers


def normalise_phone(raw: str | None, *, default_region: str = "BE") -> str | None:
    """``raw`` as E.164 (``+32470123456``), or ``None`` if it is not a valid mobile-capable number.

    National forms (``0470 12 34 56``) are read in ``default_region`` (the
    recipient organisation's country), so a Belgian and a French number
    written the local way both come out right.
    """
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, default_region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    kind = phonenumbers.number_type(number)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
