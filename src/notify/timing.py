"""When a failed message is tried again: the retry backoff. A pure function.

When an SMS may go at all (the quiet hours) is decided when it is enqueued,
by ``booking.outbox.timing``, and again here when a retry would wake someone.
"""

from __future__ import annotations

import datetime as dt
import random


def backoff_delay(
    attempts: int,
    *,
    base_seconds: float,
    max_seconds: float,
    rng: random.Random | None = None,
) -> dt.timedelta:
    """The wait before attempt ``attempts + 1``: exponential, capped, with "equal jitter".

    Half the exponential delay is fixed and half random, so workers that
    failed together on a dead SMTP server do not all come back in the same
    second, and the wait never drops below half its nominal value.
    """
    nominal = min(max_seconds, base_seconds * (2 ** max(0, attempts - 1)))
    draw = (rng or random).uniform(0.0, nominal / 2)
    return dt.timedelta(seconds=nominal / 2 + draw)
