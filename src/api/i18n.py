"""The API's own words in fr, nl and en: problem titles, common details, validation frames.

Field names, codes and the ``type`` URIs never change with the language; only
the sentences a person reads do. The locale comes from ``Accept-Language``
(negotiated with babel) and falls back to English. A key missing from a
locale falls back to English too, but a test keeps the three catalogues in
step so that never happens in practice.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter
from typing import Any

from babel import Locale as BabelLocale

from booking.reasons import choose_plurals

SUPPORTED_LOCALES: tuple[str, ...] = ("en", "fr", "nl")
DEFAULT_LOCALE = "en"
MAX_ACCEPT_LANGUAGE_ITEMS = 20

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "validation.language_code": (
            "Use a language code like `tir` (three lowercase letters), or pick from the list "
            "(GET /api/v1/languages)."
        ),
        "validation.unknown_language": (
            "Not a language the service books: use a language code like `tir`, or pick from "
            "the list (GET /api/v1/languages)."
        ),
        "domain.status_400": "The request cannot be carried out.",
        "domain.status_403": "Your role or organisation does not allow this.",
        "domain.status_404": "Not found, or not yours to see.",
        "domain.status_409": "This clashes with the current state; read it again and retry.",
        "domain.status_412": "It changed since you read it; read it again and retry.",
        "domain.status_422": "Some fields break a rule: see `errors`.",
        "domain.language_exists": "This language is already in the catalogue.",
        "domain.email_taken": "A user with this email already exists.",
        "domain.not_served": ("The provider's service does not serve this booking's organisation."),
        "domain.no_service": (
            "No providing service serves any organisation: there is nothing to plan."
        ),
        "domain.unknown_language": (
            "Unknown language: use a language code like `tir`, or pick from the list "
            "(GET /api/v1/languages)."
        ),
        "title.400": "Bad request",
        "title.401": "Authentication required",
        "title.403": "Not allowed",
        "title.404": "Not found",
        "title.405": "Method not allowed",
        "title.406": "Not acceptable",
        "title.409": "Conflict with the current state",
        "title.412": "The resource changed since you read it",
        "title.413": "Request body too large",
        "title.415": "Unsupported media type",
        "title.422": "Unprocessable request",
        "title.428": "Precondition required",
        "title.429": "Too many requests",
        "title.500": "Internal error",
        "title.503": "Service unavailable",
        "title.error": "Error",
        "detail.unauthenticated": "Send an API token as 'Authorization: Bearer <token>'.",
        "detail.invalid_token": (
            "The token is unknown, revoked or expired, or its user is inactive."
        ),
        "detail.forbidden_role": "This action needs one of the roles: {roles}.",
        "detail.cross_origin": "A request signed in by cookie must come from this site.",
        "detail.not_found": "{entity} {entity_id} not found.",
        "detail.no_route": "Nothing here.",
        "detail.method_not_allowed": "This address does not accept that method.",
        "detail.validation": "Some fields are missing or invalid.",
        "detail.malformed_json": "The body is not valid JSON.",
        "detail.body_too_large": "The request body is larger than {limit} bytes.",
        "detail.rate_limited": (
            "More than {limit} changes a minute; try again in {retry_after} seconds."
        ),
        "detail.internal": "The error was logged.",
        "detail.overloaded": (
            "The service is busy; try again in {retry_after} {retry_after|second|seconds}."
        ),
        "detail.unstorable": (
            "A value cannot be stored (a NUL character, a number out of range...)."
        ),
        "detail.constraint": "The change breaks a rule of the database ({constraint}).",
        "detail.conflict": (
            "Another change to the same data was made at the same moment; read again and retry."
        ),
        "detail.stale_proposals": (
            "{refused} {refused|proposal|proposals} refused as stale, {applied} applied; "
            "read the plan again."
        ),
        "validation.missing": "Field required.",
        "validation.extra_forbidden": "Unknown field.",
        "validation.json_invalid": "Invalid JSON.",
        "validation.string_type": "Must be a string.",
        "validation.string_too_short": "Must have at least {min_length} characters.",
        "validation.string_too_long": "Must have at most {max_length} characters.",
        "validation.string_pattern_mismatch": "Does not have the expected format.",
        "validation.date_out_of_range": "Must lie between {earliest} and {latest}.",
        "validation.local_time": (
            "Must be a local time such as 08:30 or 08:30:00, without offset."
        ),
        "validation.int_type": "Must be an integer.",
        "validation.int_parsing": "Must be an integer.",
        "validation.int_from_float": "Must be a whole number.",
        "validation.float_type": "Must be a number.",
        "validation.float_parsing": "Must be a number.",
        "validation.bool_type": "Must be true or false.",
        "validation.bool_parsing": "Must be true or false.",
        "validation.greater_than": "Must be greater than {gt}.",
        "validation.greater_than_equal": "Must be at least {ge}.",
        "validation.less_than": "Must be less than {lt}.",
        "validation.less_than_equal": "Must be at most {le}.",
        "validation.enum": "Must be one of: {expected}.",
        "validation.literal_error": "Must be one of: {expected}.",
        "validation.list_type": "Must be a list.",
        "validation.too_short": "Must have at least {min_length} items.",
        "validation.too_long": "Must have at most {max_length} items.",
        "validation.model_type": "Must be an object.",
        "validation.model_attributes_type": "Must be an object.",
        "validation.dict_type": "Must be an object.",
        "validation.date_type": "Must be a date (YYYY-MM-DD).",
        "validation.date_parsing": "Must be a date (YYYY-MM-DD).",
        "validation.date_from_datetime_parsing": "Must be a date (YYYY-MM-DD).",
        "validation.datetime_type": "Must be an ISO 8601 date and time with an offset.",
        "validation.datetime_parsing": "Must be an ISO 8601 date and time with an offset.",
        "validation.datetime_from_date_parsing": (
            "Must be an ISO 8601 date and time with an offset."
        ),
        "validation.timezone_aware": "Must carry a UTC offset (e.g. +01:00).",
        "validation.email_invalid": "Not a valid email address.",
        "validation.phone_invalid": "Not a valid phone number.",
        "validation.outside_service_area": (
            "Outside the service area (latitude 48.8 to 51.6, longitude 1.4 to 6.5)."
        ),
        "validation.cursor_invalid": "Unknown or damaged cursor.",
        "validation.string_nul": "Must not contain NUL characters.",
    },
    "fr": {
        "validation.language_code": (
            "Utilisez un code de langue comme `tir` (trois lettres minuscules), ou choisissez "
            "dans la liste (GET /api/v1/languages)."
        ),
        "validation.unknown_language": (
            "Langue que le service ne propose pas : utilisez un code de langue comme `tir`, "
            "ou choisissez dans la liste (GET /api/v1/languages)."
        ),
        "domain.status_400": "La demande ne peut pas être traitée.",
        "domain.status_403": "Votre rôle ou votre organisation ne le permet pas.",
        "domain.status_404": "Introuvable, ou hors de votre périmètre.",
        "domain.status_409": "Cela entre en conflit avec l’état actuel ; relisez puis réessayez.",
        "domain.status_412": "La ressource a changé depuis votre lecture ; relisez puis réessayez.",
        "domain.status_422": "Des champs enfreignent une règle : voir `errors`.",
        "domain.language_exists": "Cette langue figure déjà dans le catalogue.",
        "domain.email_taken": "Un compte existe déjà avec cette adresse e-mail.",
        "domain.not_served": (
            "Le service de l’intervenant ne dessert pas l’organisation de cette réservation."
        ),
        "domain.no_service": (
            "Aucun service prestataire ne dessert d’organisation : il n’y a rien à planifier."
        ),
        "domain.unknown_language": (
            "Langue inconnue : utilisez un code de langue comme `tir`, ou choisissez dans la "
            "liste (GET /api/v1/languages)."
        ),
        "title.400": "Requête incorrecte",
        "title.401": "Authentification requise",
        "title.403": "Action non autorisée",
        "title.404": "Introuvable",
        "title.405": "Méthode non autorisée",
        "title.406": "Format non disponible",
        "title.409": "Conflit avec l’état actuel",
        "title.412": "La ressource a changé depuis votre lecture",
        "title.413": "Corps de requête trop volumineux",
        "title.415": "Type de contenu non pris en charge",
        "title.422": "Requête non valide",
        "title.428": "Précondition requise",
        "title.429": "Trop de requêtes",
        "title.500": "Erreur interne",
        "title.503": "Service indisponible",
        "title.error": "Erreur",
        "detail.unauthenticated": (
            "Envoyez un jeton d’API sous la forme « Authorization: Bearer <jeton> »."
        ),
        "detail.invalid_token": (
            "Le jeton est inconnu, révoqué ou expiré, ou son utilisateur est désactivé."
        ),
        "detail.forbidden_role": "Cette action demande l’un des rôles : {roles}.",
        "detail.cross_origin": "Une requête authentifiée par cookie doit venir de ce site.",
        "detail.not_found": "{entity} {entity_id} introuvable.",
        "detail.no_route": "Rien à cette adresse.",
        "detail.method_not_allowed": "Cette adresse n’accepte pas cette méthode.",
        "detail.validation": "Certains champs sont manquants ou non valides.",
        "detail.malformed_json": "Le corps de la requête n’est pas du JSON valide.",
        "detail.body_too_large": "Le corps de la requête dépasse {limit} octets.",
        "detail.rate_limited": (
            "Plus de {limit} modifications par minute ; réessayez dans {retry_after} secondes."
        ),
        "detail.internal": "L’erreur a été journalisée.",
        "detail.overloaded": (
            "Le service est surchargé ; réessayez dans {retry_after} "
            "{retry_after|seconde|secondes}."
        ),
        "detail.unstorable": (
            "Une valeur ne peut pas être enregistrée (caractère NUL, nombre hors limites...)."
        ),
        "detail.constraint": "La modification enfreint une règle de la base ({constraint}).",
        "detail.conflict": (
            "Une autre modification des mêmes données a eu lieu au même moment ; "
            "relisez puis réessayez."
        ),
        "detail.stale_proposals": (
            "{refused} {refused|proposition refusée car périmée|propositions refusées car "
            "périmées}, {applied} {applied|appliquée|appliquées} ; relisez le plan."
        ),
        "validation.missing": "Champ obligatoire.",
        "validation.extra_forbidden": "Champ inconnu.",
        "validation.json_invalid": "JSON non valide.",
        "validation.string_type": "Doit être une chaîne de caractères.",
        "validation.string_too_short": "Doit comporter au moins {min_length} caractères.",
        "validation.string_too_long": "Doit comporter au plus {max_length} caractères.",
        "validation.string_pattern_mismatch": "N’a pas le format attendu.",
        "validation.date_out_of_range": "Doit être compris entre le {earliest} et le {latest}.",
        "validation.local_time": (
            "Doit être une heure locale comme 08:30 ou 08:30:00, sans décalage horaire."
        ),
        "validation.int_type": "Doit être un nombre entier.",
        "validation.int_parsing": "Doit être un nombre entier.",
        "validation.int_from_float": "Doit être un nombre entier.",
        "validation.float_type": "Doit être un nombre.",
        "validation.float_parsing": "Doit être un nombre.",
        "validation.bool_type": "Doit valoir true ou false.",
        "validation.bool_parsing": "Doit valoir true ou false.",
        "validation.greater_than": "Doit être supérieur à {gt}.",
        "validation.greater_than_equal": "Doit valoir au moins {ge}.",
        "validation.less_than": "Doit être inférieur à {lt}.",
        "validation.less_than_equal": "Doit valoir au plus {le}.",
        "validation.enum": "Doit être l’une des valeurs : {expected}.",
        "validation.literal_error": "Doit être l’une des valeurs : {expected}.",
        "validation.list_type": "Doit être une liste.",
        "validation.too_short": "Doit contenir au moins {min_length} éléments.",
        "validation.too_long": "Doit contenir au plus {max_length} éléments.",
        "validation.model_type": "Doit être un objet.",
        "validation.model_attributes_type": "Doit être un objet.",
        "validation.dict_type": "Doit être un objet.",
        "validation.date_type": "Doit être une date (AAAA-MM-JJ).",
        "validation.date_parsing": "Doit être une date (AAAA-MM-JJ).",
        "validation.date_from_datetime_parsing": "Doit être une date (AAAA-MM-JJ).",
        "validation.datetime_type": "Doit être une date et une heure ISO 8601 avec décalage.",
        "validation.datetime_parsing": "Doit être une date et une heure ISO 8601 avec décalage.",
        "validation.datetime_from_date_parsing": (
            "Doit être une date et une heure ISO 8601 avec décalage."
        ),
        "validation.timezone_aware": "Doit indiquer un décalage UTC (par ex. +01:00).",
        "validation.email_invalid": "Adresse e-mail non valide.",
        "validation.phone_invalid": "Numéro de téléphone non valide.",
        "validation.outside_service_area": (
            "Hors de la zone desservie (latitude 48,8 à 51,6, longitude 1,4 à 6,5)."
        ),
        "validation.cursor_invalid": "Curseur inconnu ou altéré.",
        "validation.string_nul": "Ne doit pas contenir de caractère NUL.",
    },
    "nl": {
        "validation.language_code": (
            "Gebruik een taalcode zoals `tir` (drie kleine letters), of kies uit de lijst "
            "(GET /api/v1/languages)."
        ),
        "validation.unknown_language": (
            "Geen taal die de dienst aanbiedt: gebruik een taalcode zoals `tir`, of kies uit "
            "de lijst (GET /api/v1/languages)."
        ),
        "domain.status_400": "Het verzoek kan niet worden uitgevoerd.",
        "domain.status_403": "Uw rol of organisatie staat dit niet toe.",
        "domain.status_404": "Niet gevonden, of niet voor u zichtbaar.",
        "domain.status_409": "Dit botst met de huidige toestand; lees opnieuw en probeer nog eens.",
        "domain.status_412": "Het is gewijzigd sinds u het las; lees opnieuw en probeer nog eens.",
        "domain.status_422": "Sommige velden breken een regel: zie `errors`.",
        "domain.language_exists": "Deze taal staat al in de catalogus.",
        "domain.email_taken": "Er bestaat al een gebruiker met dit e-mailadres.",
        "domain.not_served": "De dienst van de tolk bedient de organisatie van deze boeking niet.",
        "domain.no_service": (
            "Geen enkele dienst bedient een organisatie: er valt niets te plannen."
        ),
        "domain.unknown_language": (
            "Onbekende taal: gebruik een taalcode zoals `tir`, of kies uit de lijst "
            "(GET /api/v1/languages)."
        ),
        "title.400": "Ongeldig verzoek",
        "title.401": "Authenticatie vereist",
        "title.403": "Niet toegestaan",
        "title.404": "Niet gevonden",
        "title.405": "Methode niet toegestaan",
        "title.406": "Formaat niet beschikbaar",
        "title.409": "Conflict met de huidige toestand",
        "title.412": "De resource is gewijzigd sinds u ze las",
        "title.413": "Inhoud van het verzoek te groot",
        "title.415": "Mediatype niet ondersteund",
        "title.422": "Verzoek niet verwerkbaar",
        "title.428": "Voorwaarde vereist",
        "title.429": "Te veel verzoeken",
        "title.500": "Interne fout",
        "title.503": "Dienst niet beschikbaar",
        "title.error": "Fout",
        "detail.unauthenticated": "Stuur een API-token als 'Authorization: Bearer <token>'.",
        "detail.invalid_token": (
            "Het token is onbekend, ingetrokken of verlopen, of de gebruiker is niet actief."
        ),
        "detail.forbidden_role": "Deze actie vereist een van de rollen: {roles}.",
        "detail.cross_origin": (
            "Een verzoek dat met een cookie is aangemeld, moet van deze site komen."
        ),
        "detail.not_found": "{entity} {entity_id} niet gevonden.",
        "detail.no_route": "Niets op dit adres.",
        "detail.method_not_allowed": "Dit adres aanvaardt die methode niet.",
        "detail.validation": "Sommige velden ontbreken of zijn ongeldig.",
        "detail.malformed_json": "De inhoud is geen geldige JSON.",
        "detail.body_too_large": "De inhoud van het verzoek is groter dan {limit} bytes.",
        "detail.rate_limited": (
            "Meer dan {limit} wijzigingen per minuut; probeer opnieuw over {retry_after} seconden."
        ),
        "detail.internal": "De fout werd gelogd.",
        "detail.overloaded": (
            "De dienst is overbelast; probeer opnieuw over {retry_after} "
            "{retry_after|seconde|seconden}."
        ),
        "detail.unstorable": (
            "Een waarde kan niet worden opgeslagen (NUL-teken, getal buiten bereik...)."
        ),
        "detail.constraint": "De wijziging schendt een regel van de database ({constraint}).",
        "detail.conflict": (
            "Op hetzelfde moment werden dezelfde gegevens anders gewijzigd; "
            "lees opnieuw en probeer nog eens."
        ),
        "detail.stale_proposals": (
            "{refused} {refused|voorstel|voorstellen} geweigerd als verouderd, {applied} "
            "toegepast; "
            "lees het plan opnieuw."
        ),
        "validation.missing": "Verplicht veld.",
        "validation.extra_forbidden": "Onbekend veld.",
        "validation.json_invalid": "Ongeldige JSON.",
        "validation.string_type": "Moet een tekenreeks zijn.",
        "validation.string_too_short": "Moet minstens {min_length} tekens bevatten.",
        "validation.string_too_long": "Mag hoogstens {max_length} tekens bevatten.",
        "validation.string_pattern_mismatch": "Heeft niet het verwachte formaat.",
        "validation.date_out_of_range": "Moet tussen {earliest} en {latest} liggen.",
        "validation.local_time": (
            "Moet een lokale tijd zijn zoals 08:30 of 08:30:00, zonder tijdsverschil."
        ),
        "validation.int_type": "Moet een geheel getal zijn.",
        "validation.int_parsing": "Moet een geheel getal zijn.",
        "validation.int_from_float": "Moet een geheel getal zijn.",
        "validation.float_type": "Moet een getal zijn.",
        "validation.float_parsing": "Moet een getal zijn.",
        "validation.bool_type": "Moet true of false zijn.",
        "validation.bool_parsing": "Moet true of false zijn.",
        "validation.greater_than": "Moet groter zijn dan {gt}.",
        "validation.greater_than_equal": "Moet minstens {ge} zijn.",
        "validation.less_than": "Moet kleiner zijn dan {lt}.",
        "validation.less_than_equal": "Mag hoogstens {le} zijn.",
        "validation.enum": "Moet een van deze waarden zijn: {expected}.",
        "validation.literal_error": "Moet een van deze waarden zijn: {expected}.",
        "validation.list_type": "Moet een lijst zijn.",
        "validation.too_short": "Moet minstens {min_length} elementen bevatten.",
        "validation.too_long": "Mag hoogstens {max_length} elementen bevatten.",
        "validation.model_type": "Moet een object zijn.",
        "validation.model_attributes_type": "Moet een object zijn.",
        "validation.dict_type": "Moet een object zijn.",
        "validation.date_type": "Moet een datum zijn (JJJJ-MM-DD).",
        "validation.date_parsing": "Moet een datum zijn (JJJJ-MM-DD).",
        "validation.date_from_datetime_parsing": "Moet een datum zijn (JJJJ-MM-DD).",
        "validation.datetime_type": "Moet een ISO 8601-datum en -tijd met verschuiving zijn.",
        "validation.datetime_parsing": "Moet een ISO 8601-datum en -tijd met verschuiving zijn.",
        "validation.datetime_from_date_parsing": (
            "Moet een ISO 8601-datum en -tijd met verschuiving zijn."
        ),
        "validation.timezone_aware": "Moet een UTC-verschuiving bevatten (bv. +01:00).",
        "validation.email_invalid": "Geen geldig e-mailadres.",
        "validation.phone_invalid": "Geen geldig telefoonnummer.",
        "validation.outside_service_area": (
            "Buiten het werkgebied (breedtegraad 48,8 tot 51,6, lengtegraad 1,4 tot 6,5)."
        ),
        "validation.cursor_invalid": "Onbekende of beschadigde cursor.",
        "validation.string_nul": "Mag geen NUL-teken bevatten.",
    },
}


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an ``Accept-Language`` header, most wanted first (q=0 dropped).

    Garbage is ignored, never an error: the worst case is English.
    """
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:MAX_ACCEPT_LANGUAGE_ITEMS]):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip().replace("_", "-")
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if 0.0 < quality <= 1.0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate_locale(accept_language: str | None) -> str:
    """The best of fr, nl, en for an ``Accept-Language`` header; English when none fits."""
    preferred = parse_accept_language(accept_language)
    if not preferred:
        return DEFAULT_LOCALE
    try:
        chosen = BabelLocale.negotiate(preferred, list(SUPPORTED_LOCALES), sep="-")
    except (ValueError, TypeError):  # babel rejects some malformed tags
        return DEFAULT_LOCALE
    return str(chosen) if chosen is not None else DEFAULT_LOCALE


class _Lenient(dict[str, Any]):
    """Leaves an unknown ``{name}`` as it is instead of raising ``KeyError``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def has_message(key: str) -> bool:
    return key in CATALOGUE[DEFAULT_LOCALE]


def translate(locale: str, key: str, params: Mapping[str, Any] | None = None) -> str:
    """The sentence ``key`` in ``locale`` (English if missing), with ``{params}`` filled in."""
    template = CATALOGUE.get(locale, {}).get(key) or CATALOGUE[DEFAULT_LOCALE].get(key, key)
    if not params:
        return template
    template = choose_plurals(template, locale, params)
    return Formatter().vformat(template, (), _Lenient(params))


def status_title(locale: str, status: int) -> str:
    """The problem title of an HTTP status in ``locale``."""
    key = f"title.{status}"
    return translate(locale, key if has_message(key) else "title.error")
