"""Follow-up questions that lean on the previous answer ("en hoe vraag ik dat aan?", "geldt dat ook voor
een stichting?"): which of the regelingen just shown the user most likely means.

The words of the question are compared with the text of each shown item by their first letters, so
"aftrekken" finds "Energie-investeringsaftrek" and "belasting" finds "belastingvoordeel". Without any
overlap the first item shown, the best search result, is the one meant.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.text import normalize

STEM = 6  # letters compared: Dutch compounds put the informative part anywhere in the word
MIN_WORD = 4
# Words of the question that say nothing about which item is meant.
STOPWORDS = frozenset("""
dat die dit deze het een de en ook als dan wel niet nog maar voor van met mijn onze ons wij we ik
kan kun kunt mag moet moeten geldt gelden hoe wat wie waar wanneer welke welk hoeveel lang duurt
duur kost kosten krijgen krijg zijn is was wordt worden daar daarvoor daarmee hiervoor ervoor
eigenlijk meestal precies ongeveer zoiets bedrag procent aanvragen aanvraag vraag vragen weten
""".split())


def content_words(text: str | None) -> list[str]:
    return [w for w in normalize(text or "").split() if len(w) >= MIN_WORD and w not in STOPWORDS]


def overlap(question: str, text: str) -> int:
    """How many content words of the question appear (by their stem) in the text."""
    haystack = normalize(text or "")
    return sum(1 for word in content_words(question) if word[:STEM] in haystack)


def best_match(question: str, candidates: Sequence[tuple[str, str]]) -> str | None:
    """The key of the candidate (key, text) the question is most likely about; ties go to the first."""
    if not candidates:
        return None
    best_key, best_score = candidates[0][0], 0
    for key, text in candidates:
        score = overlap(question, text)
        if score > best_score:
            best_key, best_score = key, score
    return best_key
