"""The one gemeente resolver: what a user typed (a name, an alias, a woonplaats, a postcode, with small
typos) to one gemeente, a short list to choose from, or nothing. Used by the chat's routing, knowledge
search and knelpunten. It reads the loaded knowledge; nothing here knows about Rasa.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import models
from bot.knowledge.cache import PerKnowledgeLoad
from bot.text import normalize

Status = Literal["found", "ambiguous", "unknown"]

POSTCODE = re.compile(r"\b([1-9][0-9]{3})\s?([a-z]{2})?\b", re.IGNORECASE)
POSTCODE_ONLY = re.compile(r"^\s*([1-9][0-9]{3})\s?([a-z]{2})?\s*$", re.IGNORECASE)
# Letter pairs PostNL never uses; a "postcode" with them is more likely a typo than a place.
_NO_POSTCODE_LETTERS = {"SA", "SD", "SS"}

# Words around a place name that carry no place information ("ik zit in gemeente Zwolle").
STOPWORDS = {
    "de", "het", "een", "in", "ik", "wij", "we", "zit", "zitten", "woon", "wonen", "gemeente",
    "mijn", "onze", "ons", "bedrijf", "is", "van", "bij", "uit", "te", "op", "postcode", "pc",
    "woonplaats", "plaats", "stad", "dorp", "gevestigd", "vestiging", "kom", "ben", "zijn", "en",
    "dat", "die", "regio", "omgeving", "buurt", "in de", "graag", "hoi", "hallo", "ja", "nee",
    "dan", "wel", "niet", "nog", "daar", "hier", "at", "the", "weet", "geen", "idee", "niks",
    "hoor", "maakt", "thuis", "online", "overal", "heel", "maar", "werk", "werken", "nederland",
}

# Gemeente names that are also everyday words; inside a sentence they are not read as a place
# (typed on their own they still are).
SENTENCE_STOPWORDS = {"best", "beek", "putten", "buren", "duiven", "sluis", "hulst", "born"}

FUZZY_CUTOFF = 85.0  # rapidfuzz ratio (0-100) for a typo to count as a match
FUZZY_TIE = 3.0  # candidates this close to the best score are offered as a choice
MIN_FUZZY_LEN = 4  # shorter words match too much by chance


@dataclass
class Resolution:
    status: Status
    gemeente: models.Gemeente | None = None
    candidates: list[models.Gemeente] = field(default_factory=list)
    via: str = ""  # name | alias | woonplaats | postcode | fuzzy | id
    postcode: str | None = None  # set when the input was a postcode we could not place

    @property
    def gemeente_id(self) -> str | None:
        return self.gemeente.id if self.gemeente else None


@dataclass
class _Index:
    """Plain data, no ORM objects: it is cached across sessions and threads."""

    gemeenten: dict[str, tuple[bool, str]]  # id -> (deal, name), for the order of choices
    names: dict[str, set[str]]  # normalized name or alias -> gemeente ids
    places: dict[str, set[str]]  # normalized woonplaats -> gemeente ids
    ranges: list[tuple[int, int, str]]  # (low, high, gemeente id)


@dataclass
class _Hit:
    ids: set[str]
    via: str


def _base_name(name: str) -> str:
    # "Bergen (L.)" -> "Bergen": people type the plain name and we ask which one.
    return re.sub(r"\s*\(.*?\)\s*", " ", name).strip()


def _build_index(session: Session) -> _Index:
    gemeenten: dict[str, tuple[bool, str]] = {}
    names: dict[str, set[str]] = {}
    places: dict[str, set[str]] = {}
    ranges: list[tuple[int, int, str]] = []
    for g in session.execute(select(models.Gemeente)).scalars():
        gemeenten[g.id] = (bool(g.deal), g.name)
        for label in {g.name, _base_name(g.name), g.id.replace("-", " "), *(g.aliases or [])}:
            key = normalize(label)
            if key:
                names.setdefault(key, set()).add(g.id)
        for place in g.woonplaatsen or []:
            key = normalize(place)
            if key:
                places.setdefault(key, set()).add(g.id)
        for rng in g.postcodes or []:
            low, _, high = rng.partition("-")
            ranges.append((int(low), int(high or low), g.id))
    return _Index(gemeenten, names, places, ranges)


# Built once per knowledge load: reading all gemeenten for every message was most of the action
# server's database time (docs/BENCHMARKS.md).
_index = PerKnowledgeLoad(_build_index).get


def _resolution(session: Session, index: _Index, hit: _Hit) -> Resolution:
    if len(hit.ids) == 1:
        return Resolution("found", session.get(models.Gemeente, next(iter(hit.ids))), via=hit.via)
    # Deal gemeenten first: they are the ones with a makelaarsteam to hand over to.
    order = sorted(hit.ids, key=lambda i: (not index.gemeenten[i][0], index.gemeenten[i][1]))
    return Resolution("ambiguous", candidates=[session.get(models.Gemeente, i) for i in order],
                      via=hit.via)


def _by_postcode(index: _Index, digits: int) -> set[str]:
    return {gid for low, high, gid in index.ranges if low <= digits <= high}


def _exact(index: _Index, key: str) -> _Hit | None:
    if key in index.names:
        return _Hit(set(index.names[key]), "name")
    if key in index.places:
        return _Hit(set(index.places[key]), "woonplaats")
    return None


def _windows(words: list[str], max_len: int = 3) -> list[str]:
    return [" ".join(words[start:start + size])
            for size in range(min(max_len, len(words)), 0, -1)
            for start in range(len(words) - size + 1)]


def _contained(index: _Index, key: str) -> _Hit | None:
    """Known names inside a sentence ("we zitten in nieuw amsterdam"); longer matches hide the
    shorter ones inside them, and two different places give a choice."""
    words = key.split()
    matches: list[tuple[int, int, set[str], str]] = []
    for size in range(min(4, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            window = " ".join(words[start:start + size])
            if window in STOPWORDS or window in SENTENCE_STOPWORDS:
                continue
            ids, via = index.names.get(window), "name"
            if not ids:
                ids, via = index.places.get(window), "woonplaats"
            if not ids or any(s <= start and start + size <= e for s, e, _, _ in matches):
                continue
            matches.append((start, start + size, ids, via))
    if not matches:
        return None
    return _Hit(set().union(*(m[2] for m in matches)), matches[0][3])


def _fuzzy(index: _Index, key: str) -> _Hit | None:
    words = [w for w in key.split() if w not in STOPWORDS and w not in SENTENCE_STOPWORDS]
    if not words or len(words) > 4:  # a long sentence is not an answer to "which gemeente"
        return None
    probes = {w for w in _windows(words, max_len=3) if len(w) >= MIN_FUZZY_LEN}
    if not probes:
        return None
    scores: dict[str, float] = {}
    for table in (index.names, index.places):
        for label, ids in table.items():
            if len(label) < MIN_FUZZY_LEN or label in SENTENCE_STOPWORDS:
                continue
            best = max(fuzz.ratio(probe, label) for probe in probes)
            for gid in ids:
                scores[gid] = max(scores.get(gid, 0.0), best)
    if not scores:
        return None
    top = max(scores.values())
    if top < FUZZY_CUTOFF:
        return None
    close = {gid for gid, s in scores.items() if s >= top - FUZZY_TIE}
    return _Hit(set(close), "fuzzy")


def resolve_gemeente(session: Session, text: str | None) -> Resolution:
    """Find the gemeente meant by a name, alias, woonplaats or postcode (with small typos)."""
    if not text or not text.strip():
        return Resolution("unknown")
    raw = text.strip()
    index = _index(session)

    if raw in index.gemeenten:  # already an id, e.g. from the widget's data-gemeente
        return Resolution("found", session.get(models.Gemeente, raw), via="id")

    # A postcode: the whole input ("8011", "8011 AB", "8011ab"), or a full one inside a sentence.
    m = POSTCODE_ONLY.match(raw)
    if m is None:
        m = next((c for c in POSTCODE.finditer(raw) if c.group(2)), None)
    if m is not None and not (m.group(2) and m.group(2).upper() in _NO_POSTCODE_LETTERS):
        ids = _by_postcode(index, int(m.group(1)))
        if ids:
            return _resolution(session, index, _Hit(ids, "postcode"))
        return Resolution("unknown", via="postcode",
                          postcode=f"{m.group(1)} {m.group(2).upper()}" if m.group(2) else m.group(1))

    key = normalize(raw)
    if not key:
        return Resolution("unknown")
    for step in (_exact, _contained, _fuzzy):
        hit = step(index, key)
        if hit is not None:
            return _resolution(session, index, hit)
    return Resolution("unknown")


def first_found(session: Session, texts: Iterable[str | None]) -> Resolution | None:
    """The resolution of the first text that names exactly one gemeente."""
    for text in texts:
        res = resolve_gemeente(session, text)
        if res.status == "found":
            return res
    return None


def gemeente_by_id(session: Session, gemeente_id: str | None) -> models.Gemeente | None:
    return session.get(models.Gemeente, gemeente_id) if gemeente_id else None


def gemeente_labels(session: Session, gemeente_id: str | None) -> list[str]:
    """Every way to name this gemeente (name, plain name, id, aliases, woonplaatsen)."""
    g = gemeente_by_id(session, gemeente_id)
    if g is None:
        return []
    return [g.name, _base_name(g.name), g.id.replace("-", " "), *(g.aliases or []), *(g.woonplaatsen or [])]


def choose_gemeente(session: Session, names: Iterable[str], text: str | None) -> str | None:
    """The one of `names` (offered as a choice) that the typed answer points at: its own name or
    alias ("Bergen NH"), or its provincie ("die in Noord-Holland"); None when not exactly one."""
    folded = f" {normalize(text or '')} "
    if not folded.strip():
        return None
    wanted = {normalize(n) for n in names}
    hits = []
    for g in session.execute(select(models.Gemeente)).scalars():
        if normalize(g.name) not in wanted:
            continue
        labels = {normalize(g.name), normalize(g.provincie), *(normalize(a) for a in g.aliases or [])}
        if any(label and f" {label} " in folded for label in labels):
            hits.append(g.name)
    return hits[0] if len(hits) == 1 else None


def gemeente_names(session: Session, ids: Iterable[str | None] | None = None) -> dict[str, str]:
    stmt = select(models.Gemeente.id, models.Gemeente.name)
    wanted = {i for i in ids or () if i}
    if ids is not None:
        if not wanted:
            return {}
        stmt = stmt.where(models.Gemeente.id.in_(wanted))
    return dict(session.execute(stmt).all())
