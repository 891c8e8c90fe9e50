"""Entity finding without a neural model: known phrases, typo tolerance and regexes (no Rasa here).

Places come from the knowledge (gemeente names, aliases, woonplaatsen), read at run time, so a new
alias works after `loket knowledge load` without retraining. Topics, organisations and legal forms
come from the phrases annotated in the training data (and their synonyms), stored with the model.

Matching works on tokens folded with the one text-folding function (`normalize`): the longest known
phrase wins, left to right. A word that is not an exact match may still match a known phrase with a
small typo, unless it is an ordinary word of the training data ("subsidie" never becomes a place).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from bot.conversation.gemeenten import STOPWORDS
from bot.text import normalize

TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
MAX_PHRASE_TOKENS = 6
FUZZY_MIN_CHARS = 5  # shorter words match too much by chance
FUZZY_CUTOFF = 88.0  # rapidfuzz ratio (0-100)
FUZZY_MAX_TOKENS = 2  # a typo'd place or topic is one or two words
# Words before a place name that make an everyday word ("Leiden", "Kampen") a place.
PLACE_CUES = frozenset({"in", "uit", "vanuit", "gemeente", "bij", "te", "naar", "rond", "regio",
                        "omgeving", "buurt", "woonplaats", "plaats", "dorp", "stad"})


@dataclass(frozen=True)
class Match:
    entity: str
    start: int
    end: int
    text: str
    value: str  # the text as typed; for a typo, the phrase it was matched to
    fuzzy: bool = False


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    key: str  # folded


def tokens(text: str) -> list[Token]:
    out = []
    for m in TOKEN.finditer(text):
        key = normalize(m.group())
        if key:
            # folding never splits a token (it only drops accents and case), so one key per token
            out.append(Token(m.start(), m.end(), key.replace(" ", "")))
    return out


def phrase_key(phrase: str) -> str:
    return " ".join(t.key for t in tokens(phrase))


@dataclass
class Gazetteer:
    """Known phrases: folded key -> (entity type, canonical phrase)."""

    phrases: dict[str, tuple[str, str]] = field(default_factory=dict)
    fuzzy_types: frozenset[str] = frozenset()
    # folded words of ordinary text (training examples outside entities): never typo-matched
    common_words: frozenset[str] = frozenset()
    # one-word phrases that are also everyday words ("kampen", "best"): a match only when typed on
    # their own, written with a capital inside the sentence, or after a place cue ("in Leiden")
    everyday: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # a typo keeps the number of words: a window is compared with phrases of its own width
        self._fuzzy_keys: dict[int, list[str]] = {}
        for k, (entity, _) in self.phrases.items():
            if entity in self.fuzzy_types and len(k) >= FUZZY_MIN_CHARS:
                self._fuzzy_keys.setdefault(k.count(" ") + 1, []).append(k)
        self._max_tokens = min(MAX_PHRASE_TOKENS, max((k.count(" ") + 1 for k in self.phrases), default=1))

    @classmethod
    def build(cls, entries: Iterable[tuple[str, str]], fuzzy_types: Iterable[str] = (),
              common_words: Iterable[str] = (), everyday: Iterable[str] = ()) -> Gazetteer:
        """entries: (entity type, phrase); the first entry for a phrase wins."""
        phrases: dict[str, tuple[str, str]] = {}
        for entity, phrase in entries:
            key = phrase_key(phrase)
            if key:
                phrases.setdefault(key, (entity, phrase))
        return cls(phrases, frozenset(fuzzy_types), frozenset(common_words), frozenset(everyday))

    def _plain_word(self, key: str) -> bool:
        return key in self.common_words or key in STOPWORDS or key in self.everyday

    def _meant_as_place(self, text: str, toks: list[Token], i: int) -> bool:
        """An everyday word at toks[i] is a place name here (see `everyday`)."""
        if len(toks) == 1:
            return True
        capital = text[toks[i].start].isupper() and i > 0
        return capital or (i > 0 and toks[i - 1].key in PLACE_CUES)

    def find(self, text: str) -> list[Match]:
        toks = tokens(text)
        if not toks:
            return []
        out: list[Match] = []
        covered: set[int] = set()
        # exact phrases first, then typos among the words left over
        for step in (self._exact_at, self._fuzzy_at):
            i = 0
            while i < len(toks):
                found = None if i in covered else step(text, toks, i, covered)
                if found is None:
                    i += 1
                    continue
                match, width = found
                out.append(match)
                covered.update(range(i, i + width))
                i += width
        return sorted(out, key=lambda m: m.start)

    def _exact_at(self, text: str, toks: list[Token], i: int, covered: set[int]) -> tuple[Match, int] | None:
        for width in range(min(self._max_tokens, len(toks) - i), 0, -1):
            key = " ".join(t.key for t in toks[i:i + width])
            hit = self.phrases.get(key)
            if hit is None:
                continue
            entity, _ = hit
            if width == 1 and key in self.everyday and not self._meant_as_place(text, toks, i):
                continue
            start, end = _widen(text, toks[i].start, toks[i + width - 1].end)
            return Match(entity, start, end, text[start:end], text[start:end]), width
        return None

    def _fuzzy_at(self, text: str, toks: list[Token], i: int, covered: set[int]) -> tuple[Match, int] | None:
        for width in range(min(FUZZY_MAX_TOKENS, len(toks) - i), 0, -1):
            window = toks[i:i + width]
            choices = self._fuzzy_keys.get(width)
            if not choices or any(i + j in covered for j in range(width)):
                continue
            if any(self._plain_word(t.key) or t.key.isdigit() for t in window):
                continue
            key = " ".join(t.key for t in window)
            if len(key) < FUZZY_MIN_CHARS:
                continue
            best = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
            if best is None:
                continue
            entity, canonical = self.phrases[best[0]]
            start, end = _widen(text, window[0].start, window[-1].end)
            return Match(entity, start, end, text[start:end], canonical, fuzzy=True), width
        return None


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """Take in the characters tokens leave out but names carry: "'s-Hertogenbosch", "esf+", "sde++"."""
    if start > 0 and text[start - 1] in "'’" and text[start:end].lower()[:2] in ("s-", "s ", "t "):
        start -= 1
    while end < len(text) and text[end] == "+":
        end += 1
    return start, end


def ordinary_words(texts: Iterable[str], spans: Iterable[tuple[str, int, int]] = ()) -> set[str]:
    """Folded words of `texts` outside the given (text, start, end) entity spans."""
    inside: dict[str, list[tuple[int, int]]] = {}
    for text, start, end in spans:
        inside.setdefault(text, []).append((start, end))
    words: set[str] = set()
    for text in texts:
        skip = inside.get(text, [])
        for t in tokens(text):
            if not any(s <= t.start < e for s, e in skip):
                words.add(t.key)
    return words


def find_regex(text: str, patterns: Iterable[tuple[str, re.Pattern]]) -> list[Match]:
    return [Match(entity, m.start(), m.end(), m.group(), m.group())
            for entity, pattern in patterns for m in pattern.finditer(text)]
