"""Why a plan failed, as a code with a sentence per locale for the dispatcher who reads it.

The stored ``plan.error`` keeps the technical text (the matcher's or the
database's words, in English) for whoever debugs; ``plan.error_code`` says
which of these cases it was, so the board and the API tell it in the
reader's language.
"""

from __future__ import annotations

from enum import StrEnum

from booking.reasons import choose_plurals


class PlanFailure(StrEnum):
    UNSOLVABLE = "unsolvable"
    """The matcher refused the problem: committed work that cannot be kept together."""
    INTERRUPTED = "interrupted"
    """A booking changed while the plan was computed, each time it was tried."""
    REJECTED = "rejected"
    """Another rule of the service refused the plan's result."""
    STOPPED_BEFORE_RUN = "stopped_before_run"
    STOPPED_UNSTORED = "stopped_unstored"
    """Stopped while running, and its solver ended before storing a plan."""
    GIVEN_UP = "given_up"
    """Its solvers stopped (lease ran out) every time, as many times as allowed."""
    DATABASE = "database"
    CRASHED = "crashed"


_SENTENCES: dict[str, dict[PlanFailure, str]] = {
    "en": {
        PlanFailure.UNSOLVABLE: (
            "Work already accepted or confirmed in this period cannot all be kept together, so "
            "no plan can be made. Open the bookings named below and withdraw or move one of them."
        ),
        PlanFailure.INTERRUPTED: (
            "A booking changed while the plan was computed, each time it was tried. Run the "
            "plan again."
        ),
        PlanFailure.REJECTED: "The result of the plan broke a rule of the service.",
        PlanFailure.STOPPED_BEFORE_RUN: "Stopped by a dispatcher before it ran.",
        PlanFailure.STOPPED_UNSTORED: (
            "Stopped by a dispatcher before a first plan could be stored. Run it again with more "
            "time."
        ),
        PlanFailure.GIVEN_UP: (
            "Given up after {attempts} {attempts|attempt|attempts}: the computing stopped each "
            "time before the plan was stored. Tell whoever runs the service."
        ),
        PlanFailure.DATABASE: (
            "The database failed during the computing. Run the plan again; if it fails again, "
            "tell whoever runs the service."
        ),
        PlanFailure.CRASHED: (
            "The computing broke. Run the plan again; if it fails again, tell whoever runs the "
            "service."
        ),
    },
    "fr": {
        PlanFailure.UNSOLVABLE: (
            "Du travail déjà accepté ou confirmé sur cette période ne peut pas être gardé tel "
            "quel\u202f: aucun plan n’est possible. Ouvrez les réservations citées ci-dessous et "
            "retirez ou déplacez l’une d’elles."
        ),
        PlanFailure.INTERRUPTED: (
            "Une réservation a changé pendant le calcul, à chaque essai. Relancez la planification."
        ),
        PlanFailure.REJECTED: "Le résultat du plan enfreint une règle du service.",
        PlanFailure.STOPPED_BEFORE_RUN: (
            "Arrêté à la demande du service de répartition avant d’avoir commencé."
        ),
        PlanFailure.STOPPED_UNSTORED: (
            "Arrêté à la demande du service de répartition avant qu’un premier plan soit "
            "enregistré. Relancez-le avec plus de temps."
        ),
        PlanFailure.GIVEN_UP: (
            "Abandonné après {attempts} {attempts|essai|essais}\u202f: le calcul s’est arrêté "
            "chaque fois avant d’enregistrer le plan. Prévenez la personne qui gère le service."
        ),
        PlanFailure.DATABASE: (
            "La base de données a fait défaut pendant le calcul. Relancez la planification\u202f; "
            "si l’échec se répète, prévenez la personne qui gère le service."
        ),
        PlanFailure.CRASHED: (
            "Le calcul a échoué. Relancez la planification\u202f; si l’échec se répète, prévenez "
            "la personne qui gère le service."
        ),
    },
    "nl": {
        PlanFailure.UNSOLVABLE: (
            "Werk dat in deze periode al aanvaard of bevestigd is, kan niet allemaal behouden "
            "blijven: geen planning is mogelijk. Open de boekingen hieronder en trek er een in "
            "of verplaats er een."
        ),
        PlanFailure.INTERRUPTED: (
            "Een boeking is tijdens het rekenen gewijzigd, bij elke poging. Maak de planning "
            "opnieuw."
        ),
        PlanFailure.REJECTED: "Het resultaat van de planning breekt een regel van de dienst.",
        PlanFailure.STOPPED_BEFORE_RUN: (
            "Gestopt op vraag van de planningsdienst voordat het rekenen begon."
        ),
        PlanFailure.STOPPED_UNSTORED: (
            "Gestopt op vraag van de planningsdienst voordat een eerste planning bewaard was. "
            "Start ze opnieuw met meer tijd."
        ),
        PlanFailure.GIVEN_UP: (
            "Opgegeven na {attempts} {attempts|poging|pogingen}: het rekenen stopte telkens "
            "voordat de planning bewaard was. Verwittig wie de dienst beheert."
        ),
        PlanFailure.DATABASE: (
            "De databank faalde tijdens het rekenen. Maak de planning opnieuw; lukt het weer "
            "niet, verwittig dan wie de dienst beheert."
        ),
        PlanFailure.CRASHED: (
            "Het rekenen is mislukt. Maak de planning opnieuw; lukt het weer niet, verwittig "
            "dan wie de dienst beheert."
        ),
    },
}


def failure_text(code: str | None, locale: str, *, attempts: int = 0) -> str | None:
    """The sentence of a failure ``code`` in ``locale`` (English if unknown); None without one."""
    if code is None:
        return None
    try:
        failure = PlanFailure(code)
    except ValueError:
        return None
    sentences = _SENTENCES.get(locale, _SENTENCES["en"])
    template = choose_plurals(sentences[failure], locale, {"attempts": attempts})
    return template.format(attempts=attempts)
