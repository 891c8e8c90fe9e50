"""Reading what people type in the knelpunt form: a category in their own words, organisations, "weet ik niet"."""

from __future__ import annotations

import re
from collections import Counter

from rapidfuzz import fuzz, process

from bot.knelpunten.taxonomy import (
    _CATEGORY_KEYWORDS,
    CATEGORIES,
    MAX_ORGANISATIONS,
    UNKNOWN_ANSWERS,
)
from bot.text import normalize


def _fold(text: str) -> str:
    # e-mail addresses and "+" stay readable in the answers compared here
    return normalize(text, keep="@.+-")


def is_unknown_answer(text: str | None) -> bool:
    return _fold(text or "").strip(" .!") in {_fold(a) for a in UNKNOWN_ANSWERS}


MIN_COMPOUND_PART = 4  # "wet" inside a longer word is too often something else
# Everyday words one letter away from a keyword: "weten" is not a typo of "wetten".
NOT_TYPOS = frozenset({"weten"})


def _in_compound(keyword: str, word: str) -> bool:
    """The keyword is a part of a Dutch compound: its start or its end."""
    return (len(keyword) >= MIN_COMPOUND_PART and len(word) > len(keyword)
            and (word.endswith(keyword) or word.startswith(keyword)))


def normalise_category(text: str | None) -> str | None:
    """Map a button payload or a typed answer ("inkoop", "regels", "financiring") to a category key."""
    folded = _fold(text or "")
    if not folded:
        return None
    for key, label in CATEGORIES.items():
        if folded in (_fold(key.replace("_", " ")), _fold(label), key):
            return key
    if folded.isdigit() and 1 <= int(folded) <= len(CATEGORIES):  # "3" for the third button
        return list(CATEGORIES)[int(folded) - 1]
    words = set(folded.split())
    hits = [key for key, keywords in _CATEGORY_KEYWORDS.items()
            if any((kw in folded) if " " in kw else (kw in words) for kw in keywords)]
    if len(hits) == 1:
        return hits[0]
    if not hits:  # compounds: "bedrijfspand" ends in "pand", "aanbestedingsregels" names two
        hits = [key for key, keywords in _CATEGORY_KEYWORDS.items()
                if any(_in_compound(kw, word) for kw in keywords if " " not in kw for word in words)]
        if len(hits) == 1:
            return hits[0]
    if not hits:  # typos: compare word by word with the keywords
        vocabulary = {kw: key for key, kws in _CATEGORY_KEYWORDS.items() for kw in kws if len(kw) > 4}
        scores: Counter[str] = Counter()
        for word in words:
            if len(word) < 5 or word in NOT_TYPOS:
                continue
            match = process.extractOne(word, list(vocabulary), scorer=fuzz.ratio, score_cutoff=85)
            if match:
                scores[vocabulary[match[0]]] += 1
        if len(scores) == 1:
            return next(iter(scores))
    return None


def parse_organisations(text: str | None) -> list[str]:
    """"de gemeente en het UWV" -> ["gemeente", "UWV"]; "weet ik niet" -> []."""
    if not text or is_unknown_answer(text):
        return []
    parts = re.split(r"\s*(?:[,;/\n]|\ben\b|\boch\b|&|\+)\s*", text.strip())
    result: list[str] = []
    seen: set[str] = set()
    for part in parts:
        part = re.sub(r"^(?:de|het|een|bij|van|door)\s+", "", part.strip(" .!"), flags=re.I).strip()
        if not part or is_unknown_answer(part):
            continue
        key = part.lower()
        if key not in seen:
            seen.add(key)
            result.append(part[:120])
    return result[:MAX_ORGANISATIONS]
