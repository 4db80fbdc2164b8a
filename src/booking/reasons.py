"""The matcher's reasons (`matching.why.Why`) in the words of a dispatcher, in fr, nl or en.

The matcher says why as codes and parameters; this module writes them out
for one locale: ids become names (providers, booking references), language
and country codes become their names (the project's language catalogue,
else CLDR through Babel), minutes become durations and instants times in
the locale's format, and each count picks its word by the locale's plural
rule (CLDR, through Babel), never "session(s)".

A template holds `{name}` for a parameter and `{name|one|other}` for the
word that agrees with the count `name`. French puts a narrow no-break space
before ";", ":", "?" and "!" (written `\u202f` below).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from babel.units import format_unit

from matching.why import (
    ALL_CODES,
    CAUSED_CODES,
    ID_PARAMS,
    REASON_CODES,
    Why,
    fill,
    plural_slots,
)

LOCALES: tuple[str, ...] = ("fr", "nl", "en")
NNBSP = "\u202f"

MINUTE_PARAMS = frozenset({"minutes", "limit", "home_minutes"})
"""Parameters that are durations in minutes."""

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "pins_dropped": "{pairs}, held work that cannot all be kept",
        # one provider for one session
        "language": "{provider} does not speak {language}",
        "certification": "{provider} is not certified in {language}",
        "kind": "{provider} is not the kind of provider asked for ({wanted}, not {kind})",
        "gender": "{provider} is not of the gender asked for ({gender})",
        "skills": "{provider} lacks the {count|skill|skills} asked for ({skills})",
        "excluded": "{provider} is excluded for this beneficiary",
        "modality": "{provider} does not work {modality}",
        "country": "{provider} may not work in this country ({country})",
        "travel_range": "{provider} lives {minutes} away, beyond their limit of {limit}",
        "availability": "{provider} is not available at that time",
        "round_trip_minutes": (
            "{provider} would work {minutes} with the round trip, over their limit of {limit}"
        ),
        "overlap": "{provider} already has {session} from {start} to {end}",
        "daily_minutes": (
            "{provider} would work {minutes} that day with travel, over their limit of {limit}"
        ),
        "weekly_minutes": (
            "{provider} would work {minutes} that week with travel, over their limit of {limit}"
        ),
        "drive": "{provider} has no free time for the {minutes} drive from {from} to {to}",
        "drive_elsewhere": (
            "{provider} would leave no free time for the {minutes} drive from {from} to {to}"
        ),
        "fixed": "{provider} cannot take it: the session is held by {pinned_to}",
        "can_take": "{provider} can take it at {start}: {driving}",
        # the detail of an unassigned session
        "nobody_speaks": "nobody speaks {language}",
        "group_blocked": "the group needs all its places, and place {place} cannot be filled",
        "none_fits": "someone speaks {language}, but nobody fits the request",
        "all_too_far": (
            "{count} {count|provider fits the request, but lives|providers fit the request, "
            "but all live} too far"
        ),
        "none_free_then": (
            "{count} {count|provider fits the request and could get there, but is not|providers "
            "fit the request and could get there, but none is} free at that time"
        ),
        "none_has_minutes": (
            "{count} {count|provider fits the request, but has not|providers fit the request, "
            "but none has} enough working time left"
        ),
        "no_room": (
            "{count} {count|provider fits the request, but has|providers fit the request, but "
            "none has} room for it without a clash, a drive they cannot make or too long a day"
        ),
        "all_taken": (
            "{count} {count|provider fits and is|providers fit and are} free ({providers}), "
            "but {count|they have|each has} other sessions then, no time to drive there, a "
            "daily or weekly limit reached, or a more urgent session that would have to go"
        ),
        "time_ran_out": "the time limit ran out before this part of the plan was worked out",
        "text": "{text}",
        # an unassigned session's reason
        "no_provider_speaks_language": "Nobody in the pool speaks {language}.",
        "no_eligible_provider": (
            "Someone speaks {language}, but nobody meets the request (kind, gender, "
            "certification, skills, modality, country or exclusions)."
        ),
        "out_of_travel_range": "Everyone who fits the request lives too far from the place.",
        "no_availability": "Nobody who fits the request is available at that time.",
        "capacity": (
            "People who fit are available, but their days are full: taking it would break a "
            "travel or working-time limit, or push out a more urgent session."
        ),
        "not_solved": "The planner ran out of time before it considered this session.",
        "missing": "The plan neither staffs this session nor says why it is left out.",
        # the parts of an assignment's explanation
        "takes": "{provider} ({kind}, speaks {language}) takes {session} on {when}",
        "takes_pinned": (
            "{provider} ({kind}, speaks {language}) takes {session} on {when} "
            "(work already confirmed)"
        ),
        "remote": "{modality}, no travel",
        "drive_from_home": "a {minutes} drive from home",
        "drive_from_previous": (
            "a {minutes} drive from their previous session {previous} "
            "(from home it would be {home_minutes})"
        ),
        "preferred": "a preferred provider for this session",
        "continuity": "the same person as for this beneficiary's other sessions",
        "day_load": (
            "their day: {sessions} {sessions|session|sessions}, {minutes} of {limit} with travel"
        ),
        "nobody_else": "nobody else could have taken it",
        "others_could": "{count} other {count|provider|providers} could have taken it",
        # words the templates are filled with
        "word.home": "home",
        "word.ends": "{session} (ends {time})",
        "word.starts": "{session} (starts {time})",
        "word.certified": "{language}, certified",
        "word.more_driving": "{minutes} more driving",
        "word.no_extra_driving": "no extra driving",
        "word.preferred": "{driving}, a preferred provider",
        "word.and_more": "{list} and {more} more",
        "word.when": "{date} at {time}",
        "word.example": "{text}, e.g. {example}",
        "word.because": "{text}: {example}",
        "word.detail": "{text} ({detail})",
        "word.parts": "; ",
        "word.end": ".",
        "word.unknown_country": "unknown",
        "kind.interpreter": "interpreter",
        "kind.ambassador": "integration ambassador",
        "kind.mediator": "mediator",
        "kind.any": "any kind",
        "modality.onsite": "on site",
        "modality.phone": "by phone",
        "modality.video": "by video",
        "gender.f": "a woman",
        "gender.m": "a man",
        "gender.x": "a non-binary person",
    },
    "fr": {
        "pins_dropped": "{pairs}, du travail déjà attribué qui ne peut pas être gardé tel quel",
        "language": "{provider} ne parle pas la langue demandée ({language})",
        "certification": "{provider} n’a pas de certification en {language}",
        "kind": "{provider} n’a pas le profil demandé ({wanted} et non {kind})",
        "gender": "{provider} ne correspond pas au genre demandé ({gender})",
        "skills": (
            "{provider} n’a pas {count|la compétence demandée|les compétences demandées} ({skills})"
        ),
        "excluded": "{provider} ne peut pas intervenir auprès de ce ou cette bénéficiaire",
        "modality": "{provider} ne travaille pas {modality}",
        "country": "{provider} ne peut pas intervenir dans ce pays ({country})",
        "travel_range": "{provider} habite à {minutes} de route, au-delà de sa limite de {limit}",
        "availability": "{provider} n’est pas disponible à ce moment-là",
        "round_trip_minutes": (
            "{provider} travaillerait {minutes} avec l’aller-retour, au-delà de sa limite "
            "de {limit}"
        ),
        "overlap": "{provider} a déjà {session} de {start} à {end}",
        "daily_minutes": (
            "{provider} travaillerait {minutes} ce jour-là, trajets compris, au-delà de sa "
            "limite de {limit}"
        ),
        "weekly_minutes": (
            "{provider} travaillerait {minutes} cette semaine-là, trajets compris, au-delà de "
            "sa limite de {limit}"
        ),
        "drive": "{provider} n’a pas le temps de faire les {minutes} de route de {from} à {to}",
        "drive_elsewhere": (
            "{provider} n’aurait plus le temps de faire les {minutes} de route de {from} à {to}"
        ),
        "fixed": (
            "{provider} ne peut pas la prendre\u202f: la séance est déjà attribuée à {pinned_to}"
        ),
        "can_take": "{provider} peut la prendre à {start}\u202f: {driving}",
        "nobody_speaks": "personne ne parle {language}",
        "group_blocked": (
            "le groupe a besoin de toutes ses places, et la place {place} ne peut pas être pourvue"
        ),
        "none_fits": "quelqu’un parle {language}, mais personne ne répond à la demande",
        "all_too_far": (
            "{count} {count|personne convient à la demande, mais habite|personnes conviennent "
            "à la demande, mais toutes habitent} trop loin"
        ),
        "none_free_then": (
            "{count} {count|personne convient à la demande et pourrait s’y rendre, mais n’est "
            "pas libre|personnes conviennent à la demande et pourraient s’y rendre, mais aucune "
            "n’est libre} à ce moment-là"
        ),
        "none_has_minutes": (
            "{count} {count|personne convient à la demande, mais n’a plus|personnes conviennent "
            "à la demande, mais aucune n’a plus} assez de temps de travail"
        ),
        "no_room": (
            "{count} {count|personne convient à la demande, mais n’a|personnes conviennent à "
            "la demande, mais aucune n’a} de place pour elle sans chevauchement, trajet "
            "impossible ou journée trop longue"
        ),
        "all_taken": (
            "{count} {count|personne convient et est libre|personnes conviennent et sont "
            "libres} ({providers}), mais {count|elle a|chacune a} d’autres séances à ce "
            "moment-là, pas le temps de s’y rendre, une limite de la journée ou de la semaine "
            "atteinte, ou une séance plus urgente qu’il faudrait laisser"
        ),
        "time_ran_out": (
            "le temps de calcul a manqué avant que cette partie du planning soit traitée"
        ),
        "text": "{text}",
        "no_provider_speaks_language": "Personne dans le vivier ne parle {language}.",
        "no_eligible_provider": (
            "Quelqu’un parle {language}, mais personne ne répond à la demande (type, genre, "
            "certification, compétences, modalité, pays ou exclusions)."
        ),
        "out_of_travel_range": "Toutes les personnes qui conviennent habitent trop loin du lieu.",
        "no_availability": "Aucune personne qui convient n’est disponible à ce moment-là.",
        "capacity": (
            "Des personnes qui conviennent sont disponibles, mais leurs journées sont "
            "pleines\u202f: la prendre dépasserait une limite de route ou de temps de travail, "
            "ou évincerait une séance plus urgente."
        ),
        "not_solved": "Le planificateur a manqué de temps avant d’examiner cette séance.",
        "missing": "Le planning n’attribue pas cette séance et ne dit pas pourquoi.",
        "takes": "{provider} ({kind}, parle {language}) prend {session} le {when}",
        "takes_pinned": (
            "{provider} ({kind}, parle {language}) prend {session} le {when} "
            "(travail déjà confirmé)"
        ),
        "remote": "{modality}, sans trajet",
        "drive_from_home": "{minutes} de route depuis son domicile",
        "drive_from_previous": (
            "{minutes} de route depuis sa séance précédente {previous} (depuis son "
            "domicile\u202f: {home_minutes})"
        ),
        "preferred": "parmi les intervenants souhaités pour cette séance",
        "continuity": "la même personne que pour les autres séances de ce ou cette bénéficiaire",
        "day_load": (
            "sa journée\u202f: {sessions} {sessions|séance|séances}, {minutes} sur {limit}, "
            "trajets compris"
        ),
        "nobody_else": "personne d’autre ne pouvait la prendre",
        "others_could": (
            "{count} {count|autre personne aurait pu|autres personnes auraient pu} la prendre"
        ),
        "word.home": "son domicile",
        "word.ends": "{session} (fin à {time})",
        "word.starts": "{session} (début à {time})",
        "word.certified": "{language}, avec certification",
        "word.more_driving": "{minutes} de route en plus",
        "word.no_extra_driving": "pas de route en plus",
        "word.preferred": "{driving}, parmi les intervenants souhaités",
        "word.and_more": "{list} et {more} autres",
        "word.when": "{date} à {time}",
        "word.example": "{text}, par exemple {example}",
        "word.because": "{text}\u202f: {example}",
        "word.detail": "{text} ({detail})",
        "word.parts": "\u202f; ",
        "word.end": ".",
        "word.unknown_country": "inconnu",
        "kind.interpreter": "interprète",
        "kind.ambassador": "ambassadeur ou ambassadrice d’intégration",
        "kind.mediator": "médiateur ou médiatrice",
        "kind.any": "tout profil",
        "modality.onsite": "sur place",
        "modality.phone": "par téléphone",
        "modality.video": "en visioconférence",
        "gender.f": "une femme",
        "gender.m": "un homme",
        "gender.x": "une personne non binaire",
    },
    "nl": {
        "pins_dropped": "{pairs}, toegewezen werk dat niet allemaal behouden kan blijven",
        "language": "{provider} spreekt geen {language}",
        "certification": "{provider} is niet beëdigd voor {language}",
        "kind": "{provider} heeft niet het gevraagde profiel ({wanted}, niet {kind})",
        "gender": "{provider} heeft niet het gevraagde gender ({gender})",
        "skills": (
            "{provider} mist {count|de gevraagde vaardigheid|de gevraagde vaardigheden} ({skills})"
        ),
        "excluded": "{provider} is uitgesloten voor deze cliënt",
        "modality": "{provider} werkt niet {modality}",
        "country": "{provider} mag niet werken in dit land ({country})",
        "travel_range": "{provider} woont op {minutes} rijden, meer dan de limiet van {limit}",
        "availability": "{provider} is op dat moment niet beschikbaar",
        "round_trip_minutes": (
            "{provider} zou met de heen- en terugrit {minutes} werken, meer dan de limiet "
            "van {limit}"
        ),
        "overlap": "{provider} heeft al {session} van {start} tot {end}",
        "daily_minutes": (
            "{provider} zou die dag {minutes} werken, reistijd inbegrepen, meer dan de limiet "
            "van {limit}"
        ),
        "weekly_minutes": (
            "{provider} zou die week {minutes} werken, reistijd inbegrepen, meer dan de limiet "
            "van {limit}"
        ),
        "drive": "{provider} heeft geen tijd voor de rit van {minutes} van {from} naar {to}",
        "drive_elsewhere": (
            "{provider} zou geen tijd meer hebben voor de rit van {minutes} van {from} naar {to}"
        ),
        "fixed": "{provider} kan ze niet nemen: de sessie is al toegewezen aan {pinned_to}",
        "can_take": "{provider} kan ze om {start} nemen: {driving}",
        "nobody_speaks": "niemand spreekt {language}",
        "group_blocked": "de groep heeft alle plaatsen nodig, en plaats {place} blijft leeg",
        "none_fits": "iemand spreekt {language}, maar niemand voldoet aan de aanvraag",
        "all_too_far": (
            "{count} {count|persoon past bij de aanvraag, maar woont|personen passen bij de "
            "aanvraag, maar wonen allemaal} te ver"
        ),
        "none_free_then": (
            "{count} {count|persoon past bij de aanvraag en kan er geraken, maar is op dat "
            "moment niet vrij|personen passen bij de aanvraag en kunnen er geraken, maar "
            "niemand is op dat moment vrij}"
        ),
        "none_has_minutes": (
            "{count} {count|persoon past bij de aanvraag, maar heeft niet|personen passen bij "
            "de aanvraag, maar niemand heeft} genoeg werktijd over"
        ),
        "no_room": (
            "{count} {count|persoon past bij de aanvraag, maar heeft er geen plaats|personen "
            "passen bij de aanvraag, maar niemand heeft er plaats} voor zonder overlapping, "
            "onmogelijke rit of te lange dag"
        ),
        "all_taken": (
            "{count} {count|persoon past en is|personen passen en zijn} vrij ({providers}), "
            "maar {count|heeft|elk heeft} op dat moment andere sessies, geen tijd om er te "
            "geraken, een dag- of weeklimiet bereikt, of een dringendere sessie die zou moeten "
            "wijken"
        ),
        "time_ran_out": "de rekentijd was op voordat dit deel van de planning aan bod kwam",
        "text": "{text}",
        "no_provider_speaks_language": "Niemand in de pool spreekt {language}.",
        "no_eligible_provider": (
            "Iemand spreekt {language}, maar niemand voldoet aan de aanvraag (soort, gender, "
            "beëdiging, vaardigheden, modaliteit, land of uitsluitingen)."
        ),
        "out_of_travel_range": "Iedereen die geschikt is, woont te ver van de plaats.",
        "no_availability": "Niemand die geschikt is, is op dat moment beschikbaar.",
        "capacity": (
            "Wie geschikt is, is beschikbaar, maar hun dagen zitten vol: de sessie nemen zou "
            "een limiet van reistijd of werktijd overschrijden, of een dringendere sessie "
            "verdringen."
        ),
        "not_solved": "De planner had geen tijd meer om deze sessie te bekijken.",
        "missing": "De planning wijst deze sessie niet toe en zegt niet waarom.",
        "takes": "{provider} ({kind}, spreekt {language}) neemt {session} op {when}",
        "takes_pinned": (
            "{provider} ({kind}, spreekt {language}) neemt {session} op {when} (al bevestigd werk)"
        ),
        "remote": "{modality}, zonder verplaatsing",
        "drive_from_home": "{minutes} rijden van thuis",
        "drive_from_previous": (
            "{minutes} rijden van de vorige sessie {previous} (van thuis zou het "
            "{home_minutes} zijn)"
        ),
        "preferred": "een gewenste tolk voor deze sessie",
        "continuity": "dezelfde persoon als voor de andere sessies van deze cliënt",
        "day_load": (
            "de dag: {sessions} {sessions|sessie|sessies}, {minutes} van {limit}, "
            "reistijd inbegrepen"
        ),
        "nobody_else": "niemand anders kon ze nemen",
        "others_could": (
            "{count} {count|andere persoon had|andere personen hadden} ze kunnen nemen"
        ),
        "word.home": "thuis",
        "word.ends": "{session} (einde om {time})",
        "word.starts": "{session} (begin om {time})",
        "word.certified": "{language}, beëdigd",
        "word.more_driving": "{minutes} extra rijden",
        "word.no_extra_driving": "geen extra rijtijd",
        "word.preferred": "{driving}, een gewenste tolk",
        "word.and_more": "{list} en nog {more}",
        "word.when": "{date} om {time}",
        "word.example": "{text}, bijvoorbeeld {example}",
        "word.because": "{text}: {example}",
        "word.detail": "{text} ({detail})",
        "word.parts": "; ",
        "word.end": ".",
        "word.unknown_country": "onbekend",
        "kind.interpreter": "tolk",
        "kind.ambassador": "integratieambassadeur",
        "kind.mediator": "bemiddelaar",
        "kind.any": "elk profiel",
        "modality.onsite": "ter plaatse",
        "modality.phone": "telefonisch",
        "modality.video": "via video",
        "gender.f": "een vrouw",
        "gender.m": "een man",
        "gender.x": "een non-binair persoon",
    },
}
"""Every code of `matching.why.ALL_CODES` and the words they are filled with, per locale."""


def choose_plurals(template: str, locale: str, params: Mapping[str, object]) -> str:
    """Each `{count|one|other}` of a template replaced by the form CLDR picks for `count`.

    Other `{name}` placeholders stay for the caller's formatter; a slot whose
    count is not given takes its last (plural) form.
    """
    if "|" not in template:
        return template
    rules = Locale.parse(locale if locale in LOCALES else "en")
    chosen: dict[str, int] = {}
    for _, name, _ in plural_slots(template):
        value = params.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            chosen[name] = 0 if rules.plural_form(value) == "one" else 1
    return fill(template, {}, chosen)


class Reasons:
    """The matcher's reasons written out for one locale, one time zone and one set of names."""

    def __init__(
        self,
        locale: str,
        *,
        timezone: str = "Europe/Brussels",
        names: Mapping[str, str] | None = None,
        languages: Mapping[str, str] | None = None,
    ) -> None:
        self.locale = locale if locale in LOCALES else "en"
        self.babel = Locale.parse(self.locale)
        self.zone = ZoneInfo(timezone)
        self.names = names or {}
        """Display names by the matcher's ids (`p-3`, `b-12`)."""
        self.languages = languages or {}
        """Language names in this locale by code, from the project's catalogue."""

    # --- words -------------------------------------------------------------------------

    def word(self, key: str, **values: str) -> str:
        template = CATALOGUE[self.locale].get(key) or CATALOGUE["en"].get(key, key)
        return fill(template, values, {})

    def name(self, key: str) -> str:
        return self.names.get(key, key)

    def language(self, code: str) -> str:
        """The language's name: the project's catalogue, else CLDR, else the code."""
        if code in self.languages:
            return self.languages[code]
        found = self.babel.languages.get(code)
        return str(found) if found else code

    def country(self, code: str) -> str:
        if not code:
            return self.word("word.unknown_country")
        found = self.babel.territories.get(code.upper())
        return str(found) if found else code

    def duration(self, minutes: int) -> str:
        """`37 min`, `2 h 14 min` (`2 u 14 min` in Dutch), as CLDR writes units."""
        hours, rest = divmod(int(minutes), 60)
        parts = []
        if hours:
            parts.append(format_unit(hours, "duration-hour", length="short", locale=self.locale))
        if rest or not hours:
            parts.append(format_unit(rest, "duration-minute", length="short", locale=self.locale))
        return " ".join(str(p) for p in parts)

    def time(self, iso: str) -> str:
        at = dt.datetime.fromisoformat(iso).astimezone(self.zone)
        return str(format_time(at, format="HH:mm", locale=self.locale))

    def when(self, iso: str) -> str:
        at = dt.datetime.fromisoformat(iso).astimezone(self.zone)
        date = str(format_date(at.date(), format="EEEE d MMMM", locale=self.locale))
        return self.word("word.when", date=date, time=self.time(iso))

    def plural(self, count: int) -> int:
        """0 for the CLDR category `one`, 1 for every other (the templates give two forms)."""
        return 0 if self.babel.plural_form(count) == "one" else 1

    # --- reasons -----------------------------------------------------------------------

    def values(self, why: Why) -> dict[str, str]:
        params = why.params
        values: dict[str, str] = {}
        for key, value in params.items():
            if isinstance(value, bool):
                continue
            if key in ID_PARAMS:
                values[key] = self.name(str(value)) if value != "" else self.word("word.home")
            elif key == "pairs":
                values[key] = ", ".join(
                    f"{self.name(session)} → {self.name(provider)}"
                    for session, _, provider in (p.partition(">") for p in str(value).split(","))
                )
            elif key == "providers":
                values[key] = ", ".join(self.name(p) for p in str(value).split(",") if p)
            elif key == "language":
                values[key] = self.language(str(value))
            elif key == "country":
                values[key] = self.country(str(value))
            elif key in ("kind", "wanted"):
                values[key] = self.word(f"kind.{value}")
            elif key == "modality":
                values[key] = self.word(f"modality.{value}")
            elif key == "gender":
                values[key] = self.word(f"gender.{value}")
            elif key in MINUTE_PARAMS and isinstance(value, int):
                values[key] = self.duration(value)
            elif key == "when":
                values[key] = self.when(str(value))
            elif key in ("start", "end"):
                values[key] = self.time(str(value))
            elif key in ("from_end", "to_start"):
                continue
            else:
                values[key] = str(value)
        if why.code in ("takes", "takes_pinned") and params.get("certified"):
            values["language"] = self.word("word.certified", language=values["language"])
        if why.code in ("drive", "drive_elsewhere"):
            for end, at, key in (
                ("from", "from_end", "word.ends"),
                ("to", "to_start", "word.starts"),
            ):
                if params.get(end):
                    values[end] = self.word(
                        key, session=values[end], time=self.time(str(params[at]))
                    )
        if why.code == "can_take":
            minutes = int(params.get("minutes", 0))
            driving = (
                self.word("word.more_driving", minutes=self.duration(minutes))
                if minutes
                else self.word("word.no_extra_driving")
            )
            if params.get("preferred"):
                driving = self.word("word.preferred", driving=driving)
            values["driving"] = driving
        if why.code == "all_taken" and int(params.get("more", 0)):
            values["providers"] = self.word(
                "word.and_more", list=values["providers"], more=str(params["more"])
            )
        return values

    def why(self, why: Why) -> str:
        """One reason in this locale's words."""
        template = CATALOGUE[self.locale].get(why.code) or CATALOGUE["en"].get(why.code)
        if template is None:
            return why.code
        plural = {
            name: self.plural(int(value))
            for _, name, _ in plural_slots(template)
            if isinstance(value := why.params.get(name, 0), int | float)
        }
        text = fill(template, self.values(why), plural)
        if why.because is not None:
            # A warning's `because` is the cause itself; a reason's is one example of it.
            key = "word.because" if why.code in CAUSED_CODES else "word.example"
            text = self.word(key, text=text, example=self.why(why.because))
        return text

    def explanation(self, parts: Sequence[Why]) -> str:
        """A whole explanation: the reason and its detail, or the parts of an assignment."""
        if not parts:
            return ""
        first = parts[0]
        if first.code in REASON_CODES:
            text = self.why(first)
            if len(parts) > 1 and parts[1].code != "nobody_speaks":
                text = self.word("word.detail", text=text, detail=self.why(parts[1]))
            return text
        return self.word("word.parts").join(self.why(p) for p in parts) + self.word("word.end")


def mentioned(whys: Iterable[Why], name_of: Callable[[str], str]) -> dict[str, str]:
    """The display name of every provider and session the reasons mention, by its id."""
    names: dict[str, str] = {}
    pending = list(whys)
    while pending:
        why = pending.pop()
        for key, value in why.params.items():
            if key in ID_PARAMS or key in ("providers", "pairs"):
                for item in str(value).replace(">", ",").split(","):
                    if item and item not in names:
                        names[item] = name_of(item)
        if why.because is not None:
            pending.append(why.because)
    return names


def stored_explanation(
    data: Mapping[str, Any] | None,
    locale: str,
    *,
    timezone: str = "Europe/Brussels",
    languages: Mapping[str, str] | None = None,
) -> str:
    """An assignment's stored explanation (``why`` and ``names``) in ``locale``'s words.

    Rows made before reasons were data have only their English ``sentence``.
    """
    if not data:
        return ""
    names = data.get("names") if isinstance(data.get("names"), dict) else {}
    reasons = Reasons(locale, timezone=timezone, names=names, languages=languages)
    why = data.get("why")
    if isinstance(why, list) and why:
        return reasons.explanation(parts_from_json(why))
    if isinstance(why, dict):
        return reasons.why(Why.from_json(why))
    return str(data.get("sentence") or "")


def parts_to_json(parts: Sequence[Why]) -> list[dict[str, object]]:
    return [p.to_json() for p in parts]


def parts_from_json(data: object) -> tuple[Why, ...]:
    if not isinstance(data, list):
        return ()
    return tuple(Why.from_json(item) for item in data if isinstance(item, dict))


def every_code() -> list[str]:
    """The codes the catalogue must write in every locale (the tests walk them)."""
    return list(ALL_CODES)
