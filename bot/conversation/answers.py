"""Is this answer what the form asked for? Checks on typed answers that need no Rasa.

A name is not "ja", "ok", a greeting or a question; "nee, ..." in front of a sentence is a no with more
to say; "doei" in the middle of a form means the user leaves.
"""

from __future__ import annotations

from bot.text import normalize

YES_WORDS = frozenset({"ja", "jawel", "jazeker", "jep", "jup", "yes", "ok", "oke", "okay", "oké", "prima",
                       "goed", "klopt", "zeker", "akkoord", "correct", "top", "graag", "sure"})
NO_WORDS = frozenset({"nee", "neen", "nope", "no", "niet", "nooit"})
GREETINGS = frozenset({"hallo", "hoi", "hey", "hee", "hi", "hello", "goedemorgen", "goedemiddag",
                       "goedenavond", "goeiemorgen", "goeiemiddag", "dag", "daag", "hai", "moi",
                       "middag", "morgen", "avond", "welkom"})
THANKS = frozenset({"bedankt", "dank", "dankjewel", "dankuwel", "thanks", "merci", "thx"})
FILLERS = frozenset({"u", "je", "jij", "wel", "hoor", "allemaal", "iedereen", "daar", "eh", "uh",
                     "nou", "even", "maar", "dan", "zo", "en", "heel", "erg", "dus"})
QUESTION_WORDS = frozenset({"wat", "wie", "waar", "wanneer", "hoe", "welke", "welk", "waarom",
                            "waarvoor", "waartoe", "hoezo", "kan", "kun", "kunt", "mag", "moet",
                            "moeten", "is", "zijn", "heeft", "hebben", "wordt", "worden", "gaat",
                            "doet", "doen", "weet", "snap"})
FAREWELLS = ("doei", "doeg", "tot ziens", "tot later", "bye", "houdoe", "ciao", "vaarwel",
             "geen tijd meer", "ik ga ervandoor", "ik haak af", "ik stop ermee")
NAME_MAX_CHARS = 100


def _words(text: str | None) -> list[str]:
    return normalize(text or "").split()


def is_question(text: str | None) -> bool:
    """A question: a question mark, or a question word first ("waarom moet dat")."""
    text = (text or "").strip()
    words = _words(text)
    return text.endswith("?") or bool(words and words[0] in QUESTION_WORDS and len(words) > 1)


def is_yes_no(text: str | None) -> bool:
    """Only yes/no words and fillers: "ja", "nee hoor", "oké prima"."""
    words = _words(text)
    return bool(words) and all(w in YES_WORDS | NO_WORDS | FILLERS | THANKS for w in words) and any(
        w in YES_WORDS | NO_WORDS for w in words)


def is_greeting(text: str | None) -> bool:
    """Only a greeting (and fillers or thanks): "Hallo!", "goedemiddag", "hoi daar"."""
    words = _words(text)
    return bool(words) and all(w in GREETINGS | FILLERS | THANKS for w in words) and any(
        w in GREETINGS for w in words)


def name_problem(text: str | None) -> str | None:
    """Why `text` is not a usable name (a key of NAME_PROBLEMS), or None when it can be one."""
    raw = " ".join((text or "").split())
    if not raw or len(raw) < 2:
        return "empty"
    if is_yes_no(raw):
        return "yes_no"
    if is_greeting(raw) or all(w in THANKS | FILLERS for w in _words(raw)):
        return "greeting"
    if is_question(raw):
        return "question"
    if len(raw) > NAME_MAX_CHARS or "@" in raw or sum(c.isdigit() for c in raw) > 2:
        return "not_a_name"
    if not any(ch.isalpha() for ch in raw) or len(_words(raw)) > 6:
        return "not_a_name"
    return None


# What the bot says for each problem (Dutch, B1); the form asks for the name again after it.
NAME_PROBLEMS = {
    "empty": "Ik heb uw naam nog niet gekregen.",
    "yes_no": "Ik heb uw naam nodig, niet ja of nee.",
    "greeting": "Hallo! Ik heb nog uw naam nodig.",
    "question": ("Het team gebruikt uw naam alleen om u persoonlijk te helpen met deze vraag. "
                 "Wilt u uw naam liever niet geven? Typ dan 'stop'."),
    "not_a_name": "Dat lijkt geen naam.",
}


def leading_yes_no(text: str | None) -> tuple[bool | None, str]:
    """(True/False for a yes or no in front, the rest): "nee, het gaat over X" -> (False, "het gaat
    over X"); "ja graag" -> (True, ""); no yes/no in front -> (None, text)."""
    raw = " ".join((text or "").split())
    words = raw.split()
    if not words:
        return None, ""
    first = normalize(words[0])
    if first in NO_WORDS or first in YES_WORDS:
        rest = " ".join(words[1:]).lstrip(",.;:!- ").strip()
        return first in YES_WORDS, rest
    return None, raw


def is_farewell(text: str | None) -> bool:
    """The user says goodbye or that they have to go ("ik heb geen tijd meer, doei")."""
    folded = " ".join(_words(text))
    padded = f" {folded} "
    return any(f" {phrase} " in padded for phrase in FAREWELLS)
