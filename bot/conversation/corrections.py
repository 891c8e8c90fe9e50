"""Corrections of an earlier answer inside a form ("nee sorry, ik bedoelde Amersfoort", "oeps, het moet
naam@example.nl zijn", "schrijf mijn naam als ..."), read without Rasa.

`detect` gets the message and what the form already knows, and says which earlier answer the user
corrects and to what. The gemeente is looked up through a callback (the database lives elsewhere).
A correction needs a signal: a correction phrase, a "niet X maar Y", or for contact details a new
e-mail address or phone number after they were given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.conversation.contact import find_email, find_phone
from bot.knelpunten.chat import normalise_category
from bot.text import normalize

# Phrases that say "what I said before was wrong".
CORRECTION_PHRASES = (
    "ik bedoel", "ik bedoelde", "bedoel ik", "ik zei", "ik had", "moet zijn", "het moet", "moest zijn",
    "typfout", "tikfout", "typo", "foutje", "fout", "verkeerd", "vergissing", "vergist", "oeps", "oops",
    "sorry", "pardon", "wacht", "eigenlijk", "toch", "corrigeer", "correctie", "verbeter", "aanpassen",
    "pas aan", "verander", "wijzig", "in plaats van", "i.p.v", "ipv", "niet goed",
)
# "ik zit in X": a statement about where the business is; with a "nee" in front it corrects.
LOCATION_PHRASES = ("zit in", "zitten in", "zit op", "zitten op", "gevestigd", "woon in", "wonen in",
                    "mijn zaak", "ons bedrijf", "mijn bedrijf", "postcode")
_NOT_BUT = re.compile(r"\bniet\b.+\bmaar\b", re.IGNORECASE)
_NEGATED = re.compile(r"\b(?:niet|geen)\s+(?:in\s+|bij\s+|over\s+)?[\w'-]+(?:\s+[\w'-]+)?", re.IGNORECASE)
_NAME_AFTER = re.compile(
    r"(?:mijn naam is|ik heet|naam moet zijn|schrijf (?:mijn naam )?(?:als|:)|noteer (?:mijn naam )?als|"
    r"mijn naam als|het moet zijn|moet zijn|het is|is het)\s*:?\s*(.+)$", re.IGNORECASE)
_NAME_BETWEEN = re.compile(r"(?:het|dat|naam) moet\s+(.+?)\s+(?:zijn|worden)\s*[.!]?$", re.IGNORECASE)
NAME_SIMILARITY = 60.0  # a corrected name looks like the old one ("Jeroen de Vris" -> "Jeroen de Vries")

KINDS = ("contact", "name", "category", "gemeente")


@dataclass
class Correction:
    kind: str  # contact | name | category | gemeente
    value: str | None = None  # name, category key or gemeente id
    email: str | None = None
    phone: str | None = None


def _folded(text: str) -> str:
    return f" {normalize(text, keep='@.+-')} "


def has_correction_phrase(text: str) -> bool:
    folded = _folded(text)
    if _NOT_BUT.search(text or ""):
        return True
    return any(f" {normalize(p)} " in folded for p in CORRECTION_PHRASES)


def starts_with_no(text: str) -> bool:
    words = normalize(text or "").split()
    return bool(words) and words[0] in ("nee", "neen", "nope")


def is_location_statement(text: str) -> bool:
    folded = _folded(text)
    return any(f" {normalize(p)} " in folded for p in LOCATION_PHRASES)


def without_negated(text: str) -> str:
    """"het is eigenlijk financiering, niet regels" -> "het is eigenlijk financiering,"."""
    return _NEGATED.sub(" ", text or "")


def without_labels(text: str, labels: Iterable[str]) -> str:
    """The text with every label (the old gemeente's name and aliases) taken out, folded."""
    folded = f" {normalize(text or '')} "
    for label in sorted({normalize(lb) for lb in labels if lb}, key=len, reverse=True):
        if label:
            folded = folded.replace(f" {label} ", " ")
    return " ".join(folded.split())


def corrected_name(text: str, old_name: str | None) -> str | None:
    """The new name in "schrijf mijn naam als X" / "het is X" (X close to the old name)."""
    text = " ".join((text or "").split())
    match = _NAME_BETWEEN.search(text) or _NAME_AFTER.search(text)
    if not match:
        return None
    name = match.group(1).strip(" .!,'\"")
    name = re.sub(r"\s+(?:zijn|graag|aub|alstublieft)$", "", name, flags=re.IGNORECASE).strip(" .!,")
    if not name or len(name) > 100 or "@" in name or any(ch.isdigit() for ch in name):
        return None
    if len(name.split()) > 5:
        return None
    explicit = "naam" in normalize(text) or "heet" in normalize(text)
    if explicit:
        return name
    if old_name and fuzz.ratio(normalize(name), normalize(old_name)) >= NAME_SIMILARITY:
        return name
    return None


def detect(text: str, *, step: str | None, known: dict[str, str | None],
           gemeente_labels: Iterable[str] = (),
           resolve_gemeente: Callable[[str], str | None] | None = None,
           kinds: Iterable[str] = KINDS) -> Correction | None:
    """The correction in `text`, if any.

    step: the form's current question ("name", "contact", "category", "gemeente", or another);
    known: what the form has: name, email, phone, category (key), gemeente (id);
    gemeente_labels: the known gemeente's names, taken out before a new one is looked for;
    resolve_gemeente: text -> gemeente id when exactly one gemeente is named, else None.
    """
    text = " ".join((text or "").split())
    if not text:
        return None
    kinds = set(kinds)
    phrase = has_correction_phrase(text)

    # A new e-mail address or phone number after contact details were given.
    if "contact" in kinds and step != "contact" and (known.get("email") or known.get("phone")):
        email, phone = find_email(text), find_phone(text)
        if (email and email != known.get("email")) or (phone and phone != known.get("phone")):
            return Correction("contact", email=email, phone=phone)

    if "name" in kinds and step != "name" and known.get("name"):
        name = corrected_name(text, known.get("name"))
        if name and name != known.get("name") and (phrase or "naam" in normalize(text)):
            return Correction("name", value=name)

    if "category" in kinds and step != "category" and known.get("category") and phrase:
        category = normalise_category(without_negated(text))
        if category == "anders" and not any(w in normalize(text) for w in ("onderwerp", "categorie")):
            category = None  # "het gaat over iets anders" is no choice of the category "anders"
        if category and category != known.get("category"):
            return Correction("category", value=category)

    if ("gemeente" in kinds and step != "gemeente" and known.get("gemeente") and resolve_gemeente
            and (phrase or (starts_with_no(text) and is_location_statement(text)))):
        rest = without_labels(without_negated_place(text), gemeente_labels)
        found = resolve_gemeente(rest) if rest else None
        if found and found != known.get("gemeente"):
            return Correction("gemeente", value=found)
    return None


def without_negated_place(text: str) -> str:
    """"ik zit niet in Rotterdam maar in Den Haag" -> the part after "maar"."""
    match = re.search(r"\bniet\b(.+?)\bmaar\b(.+)$", text or "", re.IGNORECASE)
    return match.group(2) if match else text
