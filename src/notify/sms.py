"""SMS length rules: one segment, GSM-7 when possible.

A single SMS holds 160 characters of the GSM 03.38 alphabet (the extension
characters ``^{}\\[~]|€`` count twice) or 70 UTF-16 code units otherwise. French
accents outside the alphabet (``ê``, ``ç``, ``û``...) would switch the whole
message to UCS-2 and cut its room by more than half, so they are reduced to
their base letter first.
"""

from __future__ import annotations

import unicodedata

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM7_SEGMENT = 160
UCS2_SEGMENT = 70
ELLIPSIS = "..."

_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "«": '"',
    "»": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "œ": "oe",
    "Œ": "OE",
}


def gsm7_length(text: str) -> int | None:
    """Septets ``text`` takes in GSM-7, or ``None`` if it has a character outside the alphabet."""
    length = 0
    for char in text:
        if char in GSM7_BASIC:
            length += 1
        elif char in GSM7_EXTENSION:
            length += 2
        else:
            return None
    return length


def ucs2_length(text: str) -> int:
    """UTF-16 code units ``text`` takes in UCS-2 (an emoji takes two)."""
    return len(text.encode("utf-16-le")) // 2


def fits_one_segment(text: str) -> bool:
    """Whether ``text`` goes out as a single SMS."""
    septets = gsm7_length(text)
    if septets is not None:
        return septets <= GSM7_SEGMENT
    return ucs2_length(text) <= UCS2_SEGMENT


def to_gsm7(text: str) -> str:
    """``text`` with typographic signs and foreign accents reduced to the GSM-7 alphabet where
    a close equivalent exists; characters without one (Arabic script...) are kept."""
    out: list[str] = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            out.append(char)
        elif char in _REPLACEMENTS:
            out.append(_REPLACEMENTS[char])
        elif unicodedata.category(char) == "Zs" or char == "\t":
            out.append(" ")
        else:
            base = unicodedata.normalize("NFD", char)[0]
            out.append(base if base in GSM7_BASIC else char)
    return "".join(out)


def fit_sms(text: str) -> tuple[str, bool]:
    """One segment of ``text`` (collapsed whitespace, GSM-7 when possible) and whether it was cut.

    Templates are written to fit (a test renders each with long values); the
    cut is the last guard, so a long address never costs a second segment.
    A link that ends the message is kept whole and the words before it are
    cut instead: half a link (a provider's signed page) opens nothing.
    """
    text = " ".join(to_gsm7(text).split())
    if fits_one_segment(text):
        return text, False
    head, _, last = text.rpartition(" ")
    if head and last.startswith(("https://", "http://")):
        kept = " " + last
        if fits_one_segment(ELLIPSIS + kept):
            return _cut(head, ELLIPSIS + kept), True
    return _cut(text, ELLIPSIS), True


def _cut(text: str, tail: str) -> str:
    """``text`` shortened until ``text + tail`` fits one segment, then ``tail`` added."""
    if gsm7_length(text + tail) is not None:
        units, limit = _septets, GSM7_SEGMENT
    else:
        units, limit = ucs2_length, UCS2_SEGMENT
    whole = text
    while text and units(text + tail) > limit:
        text = text[:-1]
    # A link cut in half opens nothing: it goes whole, or not at all.
    if len(text) < len(whole) and whole[len(text)] != " ":
        start = text.rfind(" ") + 1
        if whole[start:].startswith(("https://", "http://")):
            text = text[:start]
    return text.rstrip() + tail


def _septets(text: str) -> int:
    """The septets of a text in the GSM-7 alphabet (cutting a text keeps it there)."""
    septets = gsm7_length(text)
    assert septets is not None
    return septets
