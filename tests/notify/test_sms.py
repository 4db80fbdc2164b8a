"""One SMS segment: 160 GSM-7 septets, or 70 UCS-2 units."""

from __future__ import annotations

from notify.sms import fit_sms, fits_one_segment, gsm7_length, to_gsm7, ucs2_length


def test_plain_text_and_french_accents_of_the_alphabet_count_one_septet_each() -> None:
    assert gsm7_length("Rendez-vous à 10:00, séance confirmée") == 37


def test_extension_characters_count_two_septets() -> None:
    assert gsm7_length("10 €") == 5
    assert gsm7_length("[x]") == 5


def test_a_character_outside_the_alphabet_makes_the_text_ucs2() -> None:
    assert gsm7_length("août") is None
    assert ucs2_length("août") == 4
    assert ucs2_length("🙂") == 2


def test_accents_outside_the_alphabet_are_reduced_to_their_letter() -> None:
    assert to_gsm7("août, fête, leçon, Noël, naïf") == "aout, fete, lecon, Noel, naif"
    assert to_gsm7("l’heure – «oui»…") == 'l\'heure - "oui"...'


def test_letters_without_a_gsm_equivalent_are_kept() -> None:
    assert to_gsm7("ትግርኛ") == "ትግርኛ"


def test_exactly_160_septets_is_one_segment_and_161_is_not() -> None:
    assert fits_one_segment("a" * 160)
    assert not fits_one_segment("a" * 161)
    assert fits_one_segment("ት" * 70)
    assert not fits_one_segment("ት" * 71)


def test_a_short_message_is_kept_whole() -> None:
    text, cut = fit_sms("Truchement: rappel tigrigna mar. 11 août 10:00")
    assert (text, cut) == ("Truchement: rappel tigrigna mar. 11 aout 10:00", False)


def test_a_long_gsm_message_is_cut_to_160_with_an_ellipsis() -> None:
    text, cut = fit_sms("word " * 60)
    assert cut
    assert gsm7_length(text) == 160
    assert text.endswith("...")


def test_a_long_ucs2_message_is_cut_to_70_units() -> None:
    text, cut = fit_sms("ት" * 100)
    assert cut
    assert ucs2_length(text) <= 70
    assert fits_one_segment(text)


def test_a_cut_keeps_a_closing_link_whole() -> None:
    """A signed link is the provider's only way in: the words before it are cut, not the link."""
    link = "https://truchement.example.org/l/123456789.o.1vbppc0." + "V" * 43
    text = "Truchement: proposition kurde sorani " + "Boulogne-sur-Mer " * 6 + "Repondre: " + link
    body, cut = fit_sms(text)
    assert cut and body.endswith("... " + link)
    assert fits_one_segment(body)


def test_a_link_too_long_for_any_sms_is_cut_like_any_text() -> None:
    body, cut = fit_sms("Truchement: see https://example.org/" + "x" * 200)
    assert cut and body.endswith("...") and fits_one_segment(body)
