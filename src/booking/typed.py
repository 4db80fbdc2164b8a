"""What a person types, read generously: neither case nor accents count."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower case without accents or surrounding blanks: ``"  Liège"`` reads as ``"liege"``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()
