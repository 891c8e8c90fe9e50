"""The knelpunt taxonomy: categories and the City Deal track each belongs to, statuses and the workflow
between them, answers that mean "I don't know"."""

from __future__ import annotations

REFERENCE_PREFIX = "KNP"

# Stored key -> label shown to people (chat buttons, dashboard, export).
CATEGORIES: dict[str, str] = {
    "wet_regelgeving": "wet- en regelgeving",
    "uitvoering_loket": "uitvoering/loket",
    "financiering": "financiering",
    "inkoop_aanbesteding": "inkoop/aanbesteding",
    "vastgoed_ruimte": "vastgoed/ruimte",
    "anders": "anders",
}

TRACK_BY_CATEGORY: dict[str, int] = {
    "wet_regelgeving": 1,
    "inkoop_aanbesteding": 1,
    "vastgoed_ruimte": 1,
    "uitvoering_loket": 2,
    "anders": 2,
    "financiering": 3,
}

TRACKS: dict[int, str] = {
    1: "1 – overheidsorganisatie (licence to break)",
    2: "2 – loket en netwerk",
    3: "3 – financieel",
}

STATUSES: dict[str, str] = {
    "nieuw": "nieuw",
    "in_behandeling": "in behandeling",
    "doorgezet": "doorgezet",
    "opgelost": "opgelost",
    "niet_oplosbaar": "niet oplosbaar",
}

# The workflow: nieuw -> in behandeling -> doorgezet naar [organisatie] -> opgelost / niet oplosbaar.
# Closed ones can be reopened, and a forwarded one can come back when the organisation returns it.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "nieuw": ("in_behandeling", "niet_oplosbaar"),
    "in_behandeling": ("doorgezet", "opgelost", "niet_oplosbaar"),
    "doorgezet": ("opgelost", "niet_oplosbaar", "in_behandeling"),
    "opgelost": ("in_behandeling",),
    "niet_oplosbaar": ("in_behandeling",),
}

UNKNOWN_ANSWERS = {
    "weet ik niet", "ik weet het niet", "weet niet", "geen idee", "onbekend", "geen", "niemand",
    "zeg ik liever niet", "liever niet", "dat weet ik niet", "weet ik het niet", "nvt", "n.v.t.",
    "-", "?",
}

_CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "wet_regelgeving": ("wet", "wetten", "wetgeving", "regel", "regels", "regelgeving", "wettelijk",
                        "wettelijke", "rechtsvorm", "belasting", "fiscaal", "vergunning", "verordening",
                        "wetten en regels"),
    "uitvoering_loket": ("uitvoering", "loket", "kastje", "muur", "afdeling", "ambtenaar", "ambtenaren",
                         "aanspreekpunt", "procedure", "wachttijd", "bureaucratie", "formulier", "balie",
                         "doorgestuurd", "behandeling"),
    "financiering": ("financiering", "geld", "subsidie", "subsidies", "lening", "leningen", "bank",
                     "krediet", "fonds", "investering", "investeerder", "investeerders", "financier",
                     "financieren", "gefinancierd", "kapitaal"),
    "inkoop_aanbesteding": ("inkoop", "aanbesteding", "aanbestedingen", "aanbesteden", "tender",
                            "opdracht", "opdrachten", "inschrijving", "referenties", "social return",
                            "inkoper", "bestek", "gunning"),
    "vastgoed_ruimte": ("vastgoed", "ruimte", "pand", "panden", "huisvesting", "bedrijfsruimte",
                        "locatie", "gebouw", "huur", "werkplaats", "kavel"),
    "anders": ("anders", "iets anders", "overig", "overige"),
}

MAX_TEXT = 4000
MAX_ORGANISATIONS = 10


class KnelpuntError(ValueError):
    """A request the workflow does not allow; the message is Dutch and shown to the user."""


def category_label(key: str | None) -> str:
    return CATEGORIES.get(key or "", key or "")


def track_for(category: str) -> int:
    """The City Deal track of a category (see the table at the top of this module)."""
    try:
        return TRACK_BY_CATEGORY[category]
    except KeyError:
        raise KnelpuntError(f"Onbekende categorie: {category!r}.") from None


def status_label(status: str, forwarded_to: str | None = None) -> str:
    if status == "doorgezet":
        return f"doorgezet naar {forwarded_to}" if forwarded_to else "doorgezet"
    return STATUSES.get(status, status)
