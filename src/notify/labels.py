"""Words the templates need in each locale that the database does not hold."""

from __future__ import annotations

SESSION_KINDS: dict[str, dict[str, str]] = {
    "fr": {
        "psychological": "consultation psychologique",
        "medical": "rendez-vous médical",
        "legal": "rendez-vous juridique",
        "social": "accompagnement social",
        "group": "groupe de parole",
        "minors_activity": "activité avec des mineurs",
        "other": "séance",
    },
    "nl": {
        "psychological": "psychologische consultatie",
        "medical": "medische afspraak",
        "legal": "juridische afspraak",
        "social": "sociale begeleiding",
        "group": "gespreksgroep",
        "minors_activity": "activiteit met minderjarigen",
        "other": "sessie",
    },
    "en": {
        "psychological": "psychological consultation",
        "medical": "medical appointment",
        "legal": "legal appointment",
        "social": "social support meeting",
        "group": "discussion group",
        "minors_activity": "activity with minors",
        "other": "session",
    },
}

MODALITIES: dict[str, dict[str, str]] = {
    "fr": {"onsite": "sur place", "phone": "par téléphone", "video": "en visioconférence"},
    "nl": {"onsite": "ter plaatse", "phone": "telefonisch", "video": "via video"},
    "en": {"onsite": "on site", "phone": "by phone", "video": "by video"},
}

CALENDAR_SUMMARY: dict[str, str] = {
    "fr": "Truchement : {kind} ({language})",
    "nl": "Truchement: {kind} ({language})",
    "en": "Truchement: {kind} ({language})",
}


def label(table: dict[str, dict[str, str]], locale: str, code: str | None) -> str:
    """The word for ``code`` in ``locale``, then in English, then the code itself."""
    if code is None:
        return ""
    return table.get(locale, {}).get(code) or table["en"].get(code) or code
