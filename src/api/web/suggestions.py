"""What would make a session staffable, written out for a page (issue 16).

The requester's booking page and the dispatcher's plan page show the same
suggestions (``matching.staffable``): one sentence per kind of change, in the
page's language, so both pages say it with the same words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from api.web.i18n import Translator


def suggestion_text(
    t: Translator,
    kind: str,
    change: Mapping[str, object],
    count: int,
    starts_at: dt.datetime | None,
) -> str:
    """One suggestion as a sentence: the change, and how many providers it would let in."""
    if kind == "start" and starts_at is not None:
        return t("staffable.start", when=t.datetime(starts_at), count=count)
    if kind == "modality":
        return t(
            "staffable.modality", modality=t(f"modality.{change.get('modality')}"), count=count
        )
    if kind == "drop_need":
        need = str(change.get("need", ""))
        label = (
            need.removeprefix("skill:")
            if need.startswith("skill:")
            else t(f"staffable.need_{need}")
        )
        return t("staffable.drop_need", need=label, count=count)
    if kind == "all_or_nothing":
        return t(
            "staffable.all_or_nothing",
            places=int(str(change.get("places", 0))),
            of=int(str(change.get("of", 0))),
        )
    if kind == "cross_border":
        return t("staffable.cross_border", country=str(change.get("country", "")))
    return t("staffable.travel_limit", minutes=int(str(change.get("extra_minutes", 0))))
