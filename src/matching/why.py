"""Why the matcher decided something, as data: a code and its parameters, never a sentence.

Every explanation, every unassigned reason and every refusal of the
candidate list is a `Why` (docs/problem.md, "Explanations as data"). The
service renders them in French, Dutch or English with its own catalogue;
`english` here is the command line's rendering of the same data, and the
source of the English `detail` strings of the plan's JSON format.

Parameter names carry their kind, so that a renderer knows what to do with
each without knowing every code: `provider`, `session`, `previous`, `from`,
`to` and `pinned_to` hold ids (a renderer may show names), `providers` a
comma-separated list of ids, `language` a language code, `country` a country
code, `kind` and `wanted` a provider kind, `modality` a modality, `when`
(a date and time), `start`, `end`, `from_end` and `to_start` (times) ISO 8601
instants; the other numbers are minutes or counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Param = str | int | float | bool

ID_PARAMS = frozenset({"provider", "session", "previous", "from", "to", "pinned_to"})
"""Parameters that name a provider or a session by its id."""
INSTANT_PARAMS = frozenset({"when", "start", "end", "from_end", "to_start"})
"""Parameters that hold an ISO 8601 instant."""


@dataclass(frozen=True)
class Why:
    """One reason: a stable `code`, its `params`, and the reason behind it when there is one."""

    code: str
    params: Mapping[str, Param] = field(default_factory=dict)
    because: Why | None = None

    def __hash__(self) -> int:
        return hash((self.code, tuple(sorted(self.params.items())), self.because))

    def to_json(self) -> dict[str, Any]:
        """`{"code": ..., "params": {...}}`, with `because` when there is one."""
        data: dict[str, Any] = {"code": self.code, "params": dict(self.params)}
        if self.because is not None:
            data["because"] = self.because.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Why:
        params = data.get("params") or {}
        because = data.get("because")
        return cls(
            code=str(data["code"]),
            params={str(k): v for k, v in params.items() if isinstance(v, str | int | float)},
            because=cls.from_json(because) if isinstance(because, Mapping) else None,
        )


# --- every code and the parameters it carries ---------------------------------------------

REFUSAL_CODES: dict[str, tuple[str, ...]] = {
    "language": ("provider", "language"),
    "certification": ("provider", "language"),
    "kind": ("provider", "kind", "wanted"),
    "gender": ("provider", "gender"),
    "skills": ("provider", "skills", "count"),
    "excluded": ("provider",),
    "modality": ("provider", "modality"),
    "country": ("provider", "country"),
    "travel_range": ("provider", "minutes", "limit"),
    "availability": ("provider",),
    "round_trip_minutes": ("provider", "minutes", "limit"),
    "overlap": ("provider", "session", "start", "end"),
    "daily_minutes": ("provider", "minutes", "limit"),
    "weekly_minutes": ("provider", "minutes", "limit"),
    "drive": ("provider", "minutes", "from", "from_end", "to", "to_start"),
    "drive_elsewhere": ("provider", "minutes", "from", "from_end", "to", "to_start"),
    "fixed": ("provider", "pinned_to"),
    "can_take": ("provider", "start", "minutes", "preferred"),
}
"""One provider for one session: why not (a rule's refusal), or `can_take`."""

DETAIL_CODES: dict[str, tuple[str, ...]] = {
    "nobody_speaks": ("language",),
    "none_fits": ("language",),
    "all_too_far": ("count",),
    "none_free_then": ("count",),
    "none_has_minutes": ("count",),
    "no_room": ("count",),
    "all_taken": ("count", "providers", "more"),
    "time_ran_out": (),
    "text": ("text",),
}
"""The detail of an unassigned session: how far the nearest providers got; `text` is a
detail read from a plan file, which has words but no code."""

REASON_CODES: dict[str, tuple[str, ...]] = {
    "no_provider_speaks_language": ("language",),
    "no_eligible_provider": ("language",),
    "out_of_travel_range": ("language",),
    "no_availability": ("language",),
    "capacity": ("language",),
    "not_solved": ("language",),
    "missing": (),
}
"""An unassigned session's reason (docs/problem.md, "Unassigned reasons"), as the first part
of its explanation; `missing` when the plan forgot the session."""

PART_CODES: dict[str, tuple[str, ...]] = {
    "takes": ("provider", "kind", "language", "certified", "session", "when"),
    "takes_pinned": ("provider", "kind", "language", "certified", "session", "when"),
    "remote": ("modality",),
    "drive_from_home": ("minutes",),
    "drive_from_previous": ("minutes", "previous", "home_minutes"),
    "preferred": (),
    "continuity": (),
    "day_load": ("sessions", "minutes", "limit"),
    "nobody_else": (),
    "others_could": ("count",),
}
"""The parts of an assigned session's explanation, in the order they are written."""

WARNING_CODES: dict[str, tuple[str, ...]] = {"pins_dropped": ("pairs",)}
"""Held work a plan had to plan around; `pairs` is `session>provider,...`."""

ALL_CODES: dict[str, tuple[str, ...]] = {
    **WARNING_CODES,
    **REFUSAL_CODES,
    **DETAIL_CODES,
    **REASON_CODES,
    **PART_CODES,
}


# --- the English rendering -----------------------------------------------------------------

ENGLISH: dict[str, str] = {
    "language": "{provider} does not speak {language}",
    "certification": "{provider} is not certified in {language}",
    "kind": "{provider} is {kind}, the session asks for {wanted}",
    "gender": "{provider} does not match the requested gender ({gender})",
    "skills": "{provider} lacks the {skills|skill|skills} {skills}",
    "excluded": "{provider} is excluded for this beneficiary",
    "modality": "{provider} does not work by {modality}",
    "country": "{provider} may not work in {country}",
    "travel_range": "{provider} lives {minutes} min away, beyond their {limit} min limit",
    "availability": "{provider} is not available at that time",
    "round_trip_minutes": (
        "{provider} would work {minutes} min with the round trip, over their daily or "
        "weekly limit of {limit} min"
    ),
    "overlap": "{provider} already has {session} from {start} to {end}",
    "daily_minutes": (
        "{provider} would work {minutes} min that day with travel, over their {limit} min limit"
    ),
    "weekly_minutes": (
        "{provider} would work {minutes} min that week with travel, over their {limit} min limit"
    ),
    "drive": "{provider} has no free time for the {minutes} min drive from {from} to {to}",
    "drive_elsewhere": (
        "{provider} would leave no free time for the {minutes} min drive from {from} to {to}"
    ),
    "fixed": "{provider} cannot take it: the session is pinned to {pinned_to}",
    "can_take": "{provider} can take it at {start}: {minutes}",
    "nobody_speaks": "nobody speaks {language}",
    "none_fits": "someone speaks {language}, but nobody fits the request",
    "all_too_far": "{count} {count|provider fits|providers fit} the request; all live too far",
    "none_free_then": (
        "{count} {count|provider fits|providers fit} the request and could get there, "
        "none at that time"
    ),
    "none_has_minutes": (
        "{count} {count|provider fits|providers fit} the request; none has the minutes"
    ),
    "no_room": (
        "{count} {count|provider fits|providers fit} the request, but none has room for it "
        "without breaking rules 9-10"
    ),
    "all_taken": (
        "{count} {count|provider fits|providers fit} and {count|is|are} available "
        "({providers}), but each is taken by other sessions at that time, lacks the time to "
        "drive there, is at a daily or weekly limit, or would have to drop a more urgent session"
    ),
    "time_ran_out": "the time limit ran out before its part was solved",
    "text": "{text}",
    "pins_dropped": "these pinned assignments cannot all be kept: {pairs}",
    "no_provider_speaks_language": "Nobody in the pool speaks {language}.",
    "no_eligible_provider": (
        "Someone speaks {language}, but nobody meets the request "
        "(kind, gender, certification, skills, modality, country or exclusions)."
    ),
    "out_of_travel_range": "Every provider who fits the request lives too far from the place.",
    "no_availability": "Nobody who fits the request is available at that time.",
    "capacity": (
        "Providers who fit are available, but their days are full: taking it would break "
        "a travel or working-time limit, or push out a more urgent session."
    ),
    "not_solved": "The solver ran out of time before it considered this session.",
    "missing": "The plan neither assigns this session nor says why it is left out.",
    "takes": "{provider} ({kind}, speaks {language}) takes {session} on {when}",
    "takes_pinned": (
        "{provider} ({kind}, speaks {language}) takes {session} on {when} "
        "as pinned (confirmed work)"
    ),
    "remote": "by {modality}, no travel",
    "drive_from_home": "a {minutes} min drive from home",
    "drive_from_previous": (
        "a {minutes} min drive from their previous session {previous} "
        "(from home it would be {home_minutes} min)"
    ),
    "preferred": "a preferred provider for this session",
    "continuity": "the same provider as for this beneficiary's other sessions",
    "day_load": (
        "their day: {sessions} {sessions|session|sessions}, {minutes} of {limit} minutes "
        "with travel"
    ),
    "nobody_else": "nobody else could have taken it",
    "others_could": "{count} other {count|provider|providers} could have taken it",
}
"""Templates: `{name}` is a parameter, `{name|one|other}` the word for that count."""

EXAMPLE_EN = "e.g."


def plural_slots(template: str) -> list[tuple[str, str, list[str]]]:
    """Each `{name|form|form...}` of a template: the slot, the parameter and its forms."""
    slots = []
    start = template.find("{")
    while start != -1:
        end = template.index("}", start)
        inner = template[start + 1 : end]
        if "|" in inner:
            name, *forms = inner.split("|")
            slots.append((template[start : end + 1], name, forms))
        start = template.find("{", end)
    return slots


def fill(template: str, values: Mapping[str, str], plural: Mapping[str, int]) -> str:
    """The template with its plural slots chosen by `plural` (form index) and values put in."""
    for slot, name, forms in plural_slots(template):
        index = min(plural.get(name, len(forms) - 1), len(forms) - 1)
        template = template.replace(slot, forms[index])
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def _english_value(name: str, value: Param) -> str:
    if name in INSTANT_PARAMS and isinstance(value, str):
        if not value:
            return "home"
        at = datetime.fromisoformat(value)
        return at.strftime("%Y-%m-%d at %H:%M") if name == "when" else at.strftime("%H:%M")
    if name in ("from", "to") and value == "":
        return "home"
    if name == "language":
        return f"'{value}'"
    if name == "kind" or name == "wanted":
        return f"an {value}" if str(value)[:1] in "aeiou" else f"a {value}"
    if name == "country" and value == "":
        return "an unknown country"
    if name == "providers":
        return ", ".join(str(value).split(","))
    if name == "pairs":
        return ", ".join(pair.replace(">", " -> ") for pair in str(value).split(","))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def english(why: Why) -> str:
    """The command line's sentence for one `Why` (English, ids as they are)."""
    template = ENGLISH.get(why.code, why.code)
    params = dict(why.params)
    values = {name: _english_value(name, value) for name, value in params.items()}
    if why.code in ("takes", "takes_pinned"):
        if params.get("certified"):
            values["language"] += ", certified"
        values["kind"] = str(params.get("kind", ""))
    if why.code in ("drive", "drive_elsewhere"):
        for end, at, word in (("from", "from_end", "ends"), ("to", "to_start", "starts")):
            if params.get(end):
                values[end] = f"{params[end]} ({word} {values[at]})"
    if why.code == "can_take":
        minutes = int(params.get("minutes", 0))
        values["minutes"] = f"{minutes} more minutes of driving" if minutes else "no extra driving"
        if params.get("preferred"):
            values["minutes"] += ", a preferred provider (+60)"
    if why.code == "all_taken" and int(params.get("more", 0)):
        values["providers"] += f" and {params['more']} more"
    plural = {
        name: (0 if value == 1 else 1)
        for name, value in params.items()
        if isinstance(value, int) and not isinstance(value, bool)
    }
    if why.code == "skills":
        plural["skills"] = 0 if params.get("count") == 1 else 1
    text = fill(template, values, plural)
    if why.because is not None and why.code in WARNING_CODES:
        text += f": {english(why.because)}"
    elif why.because is not None:
        text += f" ({EXAMPLE_EN} {english(why.because)})"
    return text


def english_explanation(parts: Sequence[Why]) -> str:
    """A whole explanation: the reason and its detail, or the parts of an assignment."""
    if not parts:
        return ""
    first = parts[0]
    if first.code in REASON_CODES:
        text = english(first)
        stock = Why("nobody_speaks", {"language": first.params.get("language", "")})
        if len(parts) > 1 and parts[1] != stock and english(parts[1]) != english(stock):
            text += f" ({english(parts[1])})"
        return text
    return "; ".join(english(p) for p in parts) + "."
