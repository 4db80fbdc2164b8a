"""Phone numbers in E.164, the only form an SMS gateway accepts without guessing."""

from __future__ import annotations

from booking.phones import mobile_e164


def normalise_phone(raw: str | None, *, default_region: str = "BE") -> str | None:
    """``raw`` as E.164 (``+32470123456``), or ``None`` if it is not a valid mobile-capable number.

    National forms (``0470 12 34 56``) are read in ``default_region`` (the
    recipient organisation's country), so a Belgian and a French number
    written the local way both come out right.
    """
    return mobile_e164(raw, default_region=default_region)
