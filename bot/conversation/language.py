"""Which language a message is in, and whether it is text at all: light heuristics, no model.

English is recognised by its function words ("the", "you", "where", "I'm"); a Dutch sentence with a few
English loan words ("startup", "funding", "meeting", "deadline") has none of those, so it stays Dutch.
Code, SQL, emoji and keyboard mashing are not a language: the fallback shows its menu for them.
"""

from __future__ import annotations

import re

from bot.text import normalize

# Function words only: loan words Dutch uses every day (startup, funding, tender, meeting, social
# return, business) are left out on purpose.
EN_WORDS = frozenset("""
the a an and or but you your yours i i'm i'd i've me my we we're our us they their it it's its
is are was were be been am do does did don't doesn't can't won't have has had will would could
should shall may might must this that these those there here what where which who whom whose why
how when to of for with from about into at by not any some
there's what's where's how's let's english speak dutch understand
""".split())
NL_WORDS = frozenset("""
de het een en of maar u uw je jij ik wij we mijn onze ons van voor met zijn is was kan kunt wil
wilt niet dat die dit deze wat waar welke wie hoe wanneer er hier bij ook naar om als heeft hebt
heb geen nog dan graag over op aan uit te door zo al moet moeten mag mogen zit zitten ben bent
""".split()) - {"we"}  # "we" is both
MIN_ENGLISH_WORDS = 2  # "yes please" or "hello" alone are not enough: Dutch people type them too

# Dutch gemeenten that English speakers name differently.
ENGLISH_PLACE_NAMES = {"the hague": "Den Haag", "hague": "Den Haag"}

_WORD = re.compile(r"[a-zA-Z]+(?:'[a-zA-Z]+)?")
_CODE = re.compile(r"(?:'\s*;|;\s*--|--\s*$|/\*|\*/|==|\b\w+\s*=\s*\w+\b.*\bwhere\b|<\s*/?\s*script|"
                   r"\bselect\s+[*\w,\s]+\s+from\s+\w+|\b(?:drop|truncate)\s+table\b|"
                   r"\binsert\s+into\b|\bdelete\s+from\b|\bunion\s+select\b|\bwhere\s+\d+\s*=\s*\d+)",
                   re.IGNORECASE)
_VOWELS = set("aeiouy")
MASH_CONSONANTS = 6


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text or "")]


def english_score(text: str) -> tuple[int, int]:
    """(English function words, Dutch function words) in the text."""
    found = words(text)
    return sum(w in EN_WORDS for w in found), sum(w in NL_WORDS for w in found)


def looks_like_code(text: str) -> bool:
    """SQL, markup or other code rather than a question."""
    return bool(_CODE.search(text or ""))


def is_english(text: str) -> bool:
    """True for a message written in English; a Dutch message with English words stays Dutch."""
    if not text or text.startswith("/") or looks_like_code(text):
        return False
    en, nl = english_score(text)
    return en >= MIN_ENGLISH_WORDS and en > 2 * nl


def _mashed(word: str) -> bool:
    """Letters typed at random: six consonants in a row ("asdfghjkl"; Dutch compounds such as
    "rechtsvorm" or "bestemmingsplan" have five at most), or a long word without vowels. Short
    words without vowels are abbreviations (btw, kvk, mkb); words with digits are numbers or codes."""
    if len(word) < 5 or any(ch.isdigit() for ch in word):
        return False
    run = longest = 0
    for ch in word:
        run = 0 if ch in _VOWELS else run + 1
        longest = max(longest, run)
    return longest >= MASH_CONSONANTS or not any(ch in _VOWELS for ch in word)


def is_nonsense(text: str) -> bool:
    """No words to work with: emoji or symbols only, code, or letters typed at random."""
    if not text or not text.strip():
        return True
    if looks_like_code(text):
        return True
    letters = normalize(text)
    tokens = [t for t in letters.split() if not t.isdigit()]
    if not tokens:
        return True
    return all(_mashed(t) for t in tokens)


def english_place(text: str) -> str | None:
    """The Dutch name of a gemeente named in English ("The Hague" -> "Den Haag")."""
    folded = " ".join(words(text))
    for english, dutch in ENGLISH_PLACE_NAMES.items():
        if re.search(rf"\b{english}\b", folded):
            return dutch
    return None
