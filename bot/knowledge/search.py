"""Ranked search over regelingen and loketten.

The database ranks: SQLite FTS5 (bm25) by default, PostgreSQL full-text search with the 'dutch'
configuration when the engine is PostgreSQL. This module only prepares the words:

- normalise (lower case, no accents, "R&D" -> "rd") and drop Dutch stop words;
- split compounds into words that occur in the content ("arbeidsbeperking" -> "arbeid", "beperking"),
  at index time and for the query, and join split query words ("loon kosten" -> "loonkosten");
- correct typos against the indexed words (rapidfuzz, OSA edit distance, 1-2 edits);
- stem with the Snowball Dutch stemmer for FTS5 (PostgreSQL's 'dutch' config stems by itself).

The only addition to the engine's rank is a boost for items whose theme matches the question's topic.
On a large corpus, very common query words only rank the items that rarer words found (Lucene's
common-terms idea), so a word like "subsidie" does not make the engine rank half the corpus.
`rebuild_index()` runs inside the knowledge load's transaction, so a running bot sees new content at
once; the word list used for typo correction is cached per knowledge_versions row.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import snowballstemmer
from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import case, column, delete, func, insert, literal_column, or_, select, table
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from bot import models
from bot.knowledge import review
from bot.knowledge.cache import PerKnowledgeLoad
from bot.text import normalize

THEME_BOOST = 2.0
# FTS5 bm25 column weights: name, keywords, provider, body, themes (the order of the virtual table).
# The themes column only selects items for the question's topic; it adds nothing to the rank.
BM25_WEIGHTS = (10.0, 6.0, 3.0, 1.0, 0.0)
# Must stay identical to the expression of ix_knowledge_search_fts in the migration.
PG_VECTOR = (
    "setweight(to_tsvector('dutch'::regconfig, words_name), 'A') || "
    "setweight(to_tsvector('dutch'::regconfig, words_keywords), 'B') || "
    "setweight(to_tsvector('dutch'::regconfig, words_provider), 'C') || "
    "setweight(to_tsvector('dutch'::regconfig, words_body), 'D')"
)
LOKET_KINDS = {"loket": "loket", "netwerk": "netwerk", "financier": "financier",
               "kennis": "kennisorganisatie"}

# Function words and chat filler; content words are left to the engine's IDF weighting.
STOP_WORDS = frozenset("""
aan al alle alles als altijd ander andere anders ben bent bij dan dat de den der des deze die dit doe
doen doet door dus een eens en er even geen graag had heb hebben hebt heeft het hier hij hoe hun
ik in is ja je jij jou jouw jullie kan kun kunnen kunt maar me mee meer men met mij mijn mn moet moeten
na naar niet nog nou nu of om onder ons onze ook op over te tot toch u uit uw van veel voor waar
waarom wanneer was wat we weet weten wel welk welke wie wij wil willen word worden wordt zal ze zei
zich zij zijn zit zitten zo zou zouden zullen hallo hoi hey beste goedemiddag goedemorgen bedankt
dank vraag vragen vraagje eigenlijk gewoon echt precies iets iemand misschien soort bijvoorbeeld
daar dus zoiets ermee erover hierover daarover daarvoor waarvoor welke mogelijk mogelijkheden
krijgen krijg kan kunnen zeggen vertel vertellen uitleg uitleggen info the and for of to is
""".split())

_WORD = re.compile(r"[a-z0-9]+")
_AMPERSAND = re.compile(r"(?<=[a-z0-9])\s*&\s*(?=[a-z0-9])")
MIN_SPLIT_PART = 3
MIN_SPLIT_WORD = 7
# A query word in more documents than both of these only adds to the rank; the rarer words select
# what gets ranked. Below a few hundred matches ranking everything is cheap, so small corpora
# (like the shipped one) get plain bm25.
COMMON_FRACTION = 0.05
COMMON_MIN_DOCS = 500


# --- words --------------------------------------------------------------------------------------


def words(value: str) -> list[str]:
    """The folded words (bot/text.py) of `value`; "R&D" and "S & O" become "rd" and "so"."""
    return [w for w in _WORD.findall(normalize(_AMPERSAND.sub("", value.lower()))) if len(w) > 1]


_stemmer = snowballstemmer.stemmer("dutch")
_stem_lock = threading.Lock()
_stem_cache: dict[str, str] = {}


def stem(word: str) -> str:
    """Snowball Dutch stem (the stemmer object keeps state, so calls are serialised and cached)."""
    cached = _stem_cache.get(word)
    if cached is None:
        with _stem_lock:
            cached = _stemmer.stemWord(word)
            if len(_stem_cache) < 200_000:
                _stem_cache[word] = cached
    return cached


def _known_head(head: str, vocabulary: dict[str, int] | set[str], min_len: int) -> str | None:
    for h in (head, head[:-1] if head.endswith("s") else None):  # linking -s-: "bedrijfs|ruimte"
        if h and len(h) >= min_len and h in vocabulary and h not in STOP_WORDS:
            return h
    return None


def split_compound(word: str, vocabulary: dict[str, int] | set[str], depth: int = 2,
                   loose: bool = False) -> list[str]:
    """Parts of a Dutch compound that occur as words themselves, longest head first; [] if none.

    loose (used when indexing): a known head may also split off an unknown tail of 5+ letters, so
    "energiebesparing" also indexes "besparing" even if the content never uses it alone.
    """
    if depth == 0 or len(word) < MIN_SPLIT_WORD:
        return []
    positions = range(len(word) - MIN_SPLIT_PART, MIN_SPLIT_PART - 1, -1)
    for i in positions:
        head, tail = word[:i], word[i:]
        if tail not in vocabulary or tail in STOP_WORDS:
            continue
        h = _known_head(head, vocabulary, MIN_SPLIT_PART)
        if h:
            return (split_compound(h, vocabulary, depth - 1) or [h]) + (
                split_compound(tail, vocabulary, depth - 1) or [tail])
    if loose:
        for i in positions:
            head, tail = word[:i], word[i:]
            h = _known_head(head, vocabulary, 4)
            if h and len(tail) >= 5 and tail not in STOP_WORDS:
                return [h, tail]
    return []


def _max_edits(word: str) -> int:
    if len(word) < 4 or word.isdigit():
        return 0
    return 1 if len(word) < 6 else 2


# --- the indexed word list, for typo correction and compounds -----------------------------------


@dataclass
class Vocabulary:
    frequency: dict[str, int] = field(default_factory=dict)  # word -> number of documents
    stem_frequency: dict[str, int] = field(default_factory=dict)  # stem -> number of documents
    documents: int = 0
    by_initial: dict[str, list[str]] = field(default_factory=dict)

    @property
    def stems(self) -> set[str]:
        return set(self.stem_frequency)

    @property
    def choices(self) -> list[str]:
        return sorted(self.frequency)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Vocabulary:
        counts: Counter[str] = Counter()
        stem_frequency: Counter[str] = Counter()
        documents = 0
        for value in texts:
            documents += 1
            unique = {w for w in value.split() if w not in STOP_WORDS}
            counts.update(unique)
            stem_frequency.update({stem(w) for w in unique})
        frequency = dict(counts)
        by_initial: dict[str, list[str]] = {}
        for w in sorted(frequency):
            by_initial.setdefault(w[0], []).append(w)
        return cls(frequency=frequency, stem_frequency=dict(stem_frequency), documents=documents,
                   by_initial=by_initial)

    def knows(self, word: str) -> bool:
        return word in self.frequency or stem(word) in self.stem_frequency

    def is_common(self, term: str) -> bool:
        """Common words rank, but do not select (see COMMON_FRACTION)."""
        limit = max(COMMON_FRACTION * self.documents, COMMON_MIN_DOCS)
        return self.stem_frequency.get(stem(term), 0) > limit

    def correct(self, word: str) -> str | None:
        """The closest indexed word within a few edits; the more common word wins a tie.

        Candidates share the first letter (typos there are rare), which keeps this fast on a large
        word list."""
        edits = _max_edits(word)
        candidates = self.by_initial.get(word[:1], [])
        if not edits or not candidates:
            return None
        found = process.extract(word, candidates, scorer=OSA.distance, score_cutoff=edits, limit=8)
        if not found:
            return None
        best = min(found, key=lambda hit: (hit[1], -self.frequency.get(hit[0], 0), hit[0]))
        return best[0]


def analyze_query(value: str, vocabulary: Vocabulary) -> list[str]:
    """Normalised query words, with compounds joined or split and typos corrected."""
    content = [w for w in words(value) if w not in STOP_WORDS]
    out: list[str] = []

    def add(word: str) -> None:
        if word not in out and word not in STOP_WORDS:
            out.append(word)

    # "loon kosten subsidie" -> "loonkostensubsidie" when the content has the joined word.
    for size in (3, 2):
        for i in range(len(content) - size + 1):
            parts = content[i:i + size]
            for joined in ("".join(parts), "s".join(parts)):
                if joined in vocabulary.frequency:
                    add(joined)
    for word in content:
        if vocabulary.knows(word):
            add(word)
            continue
        parts = split_compound(word, vocabulary.frequency)
        if parts:
            add(word)
            for part in parts:
                add(part)
            continue
        add(vocabulary.correct(word) or word)
    return out


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    kind: str  # regeling | loket
    id: str
    name: str
    summary: str
    source_url: str
    provider: str
    content_hash: str  # of the entry's user-facing text, matched with review stamps
    themes: tuple[str, ...] = ()
    score: float = 0.0


# --- the index ----------------------------------------------------------------------------------

_FTS = table("knowledge_fts", column("rowid"))
KS = models.KnowledgeSearch


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _bar(value: Sequence[str]) -> str:
    return "|" + "|".join(value) + "|" if value else ""


def _documents(session: Session) -> list[dict]:
    docs: list[dict] = []
    for r in session.execute(select(models.Regeling).order_by(models.Regeling.id)).scalars():
        docs.append({
            "kind": "regeling", "item_id": r.id, "name": r.name, "provider": r.provider,
            "summary": r.summary, "source_url": r.source_url, "content_hash": review.regeling_hash(r),
            "themes": _bar(r.themes or []), "region_level": r.region_level,
            "region_provincie": r.region_provincie, "region_gemeenten": _bar(r.region_gemeenten or []),
            "_text": {
                "name": r.name + " " + r.id.replace("-", " "),
                "keywords": " ".join(r.keywords or []),
                "provider": r.provider,
                "body": " ".join([r.summary, r.audience, r.benefit, *(r.conditions or [])]),
            },
        })
    for lk in session.execute(select(models.Loket).order_by(models.Loket.id)).scalars():
        label = LOKET_KINDS.get(lk.kind, lk.kind)
        docs.append({
            "kind": "loket", "item_id": lk.id, "name": lk.name, "provider": label,
            "summary": lk.description, "source_url": lk.url, "content_hash": review.loket_hash(lk),
            "themes": _bar(lk.themes or []), "region_level": lk.region_level,
            "region_provincie": lk.region_provincie, "region_gemeenten": _bar(lk.region_gemeenten or []),
            "_text": {
                "name": lk.name + " " + lk.id.replace("-", " "),
                "keywords": " ".join(lk.keywords or []),
                "provider": label,
                "body": lk.description,
            },
        })
    return docs


def _progress(items: list, enabled: bool, desc: str):
    if not enabled:
        return items
    import sys

    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="item", file=sys.stderr)


def rebuild_index(session: Session, progress: bool = False) -> int:
    """Rebuild knowledge_search (and knowledge_fts on SQLite) from the loaded tables, in `session`'s
    transaction. Returns the number of indexed items."""
    session.flush()
    docs = _documents(session)
    per_doc = [{k: words(v) for k, v in d.pop("_text").items()} for d in docs]
    counts: Counter[str] = Counter()
    for cols in per_doc:
        counts.update({w for ws in cols.values() for w in ws})
    vocabulary = {w: n for w, n in counts.items() if len(w) >= MIN_SPLIT_PART}

    rows, fts_rows = [], []
    splits: dict[str, list[str]] = {}
    for number, (doc, cols) in enumerate(
            _progress(list(zip(docs, per_doc, strict=True)), progress and len(docs) > 200, "zoekindex bouwen"),
            start=1):
        expanded: dict[str, list[str]] = {}
        for col, ws in cols.items():
            extra = []
            for w in ws:
                if w not in splits:
                    splits[w] = split_compound(w, vocabulary, loose=True)
                extra += splits[w]
            expanded[col] = ws + extra
        rows.append({**doc, "id": number,
                     **{f"words_{col}": " ".join(ws) for col, ws in expanded.items()}})
        fts_rows.append({"rowid": number,
                         **{col: " ".join(stem(w) for w in ws) for col, ws in expanded.items()},
                         "themes": " ".join(theme_token(t) for t in doc["themes"].split("|") if t)})

    session.execute(delete(KS))
    sqlite = _is_sqlite(session)
    if sqlite:
        session.execute(sql_text("INSERT INTO knowledge_fts(knowledge_fts) VALUES ('delete-all')"))
    if rows:
        session.execute(insert(KS), rows)
        if sqlite:
            session.execute(
                sql_text("INSERT INTO knowledge_fts(rowid, name, keywords, provider, body, themes) "
                         "VALUES (:rowid, :name, :keywords, :provider, :body, :themes)"),
                fts_rows,
            )
    _vocabularies.clear()
    return len(rows)


# --- vocabulary cache, keyed on the latest knowledge load ----------------------------------------


def _build_vocabulary(session: Session) -> Vocabulary:
    texts = session.execute(
        select(KS.words_name, KS.words_keywords, KS.words_provider, KS.words_body)).all()
    return Vocabulary.from_texts(" ".join(row) for row in texts)


_vocabularies: PerKnowledgeLoad[Vocabulary] = PerKnowledgeLoad(_build_vocabulary)


def vocabulary(session: Session) -> Vocabulary:
    """The indexed words, cached per database and knowledge load (one cheap query per call)."""
    return _vocabularies.get(session)


# --- search -------------------------------------------------------------------------------------


def _region_filter(session: Session, gemeente_id: str | None):
    conditions = [KS.region_level == "national"]
    gemeente = session.get(models.Gemeente, gemeente_id) if gemeente_id else None
    if gemeente is not None:
        conditions.append((KS.region_level == "provincie") & (KS.region_provincie == gemeente.provincie))
        conditions.append((KS.region_level == "gemeente")
                          & KS.region_gemeenten.contains(f"|{gemeente.id}|", autoescape=True))
    return or_(*conditions)


def _theme_match(themes: Sequence[str]):
    return or_(*[KS.themes.contains(f"|{t}|", autoescape=True) for t in themes])


def _result(row, score: float) -> SearchResult:
    return SearchResult(
        kind=row.kind, id=row.item_id, name=row.name, summary=row.summary,
        source_url=row.source_url, provider=row.provider, content_hash=row.content_hash,
        themes=tuple(t for t in row.themes.split("|") if t), score=float(score),
    )


_COLUMNS = (KS.kind, KS.item_id, KS.name, KS.summary, KS.source_url, KS.provider, KS.content_hash,
            KS.themes)


def theme_token(theme: str) -> str:
    """How a theme id is indexed in the FTS5 'themes' column ("no_riskpolis" -> "themenoriskpolis")."""
    return "theme" + theme.replace("_", "")


@dataclass(frozen=True)
class _Selection:
    """Which items get ranked: those with any of `any_terms`, or with all of `all_terms`; or, when
    `with_topic`, items of the question's topic with any query word. All query words rank."""

    any_terms: tuple[str, ...] = ()
    all_terms: tuple[str, ...] = ()
    with_topic: bool = False


def _selections(terms: list[str], vocab: Vocabulary, themes: Sequence[str]) -> list[_Selection]:
    """Cheapest first; the next one only runs when the previous found too few items.

    Common words (like "subsidie") are in a large part of the corpus. As in Lucene's common-terms
    query they only add to the rank of items that rarer words (or all words together) found, so we
    do not rank half the corpus. Small corpora have no common words: one plain query.
    """
    rare = tuple(t for t in terms if not vocab.is_common(t))
    topic = bool(themes)
    if len(rare) == len(terms):
        return [_Selection(any_terms=rare)]
    steps = []
    if rare:
        steps.append(_Selection(any_terms=rare, with_topic=topic))
    elif len(terms) > 1:
        steps.append(_Selection(all_terms=tuple(terms), with_topic=topic))
    elif topic:
        steps.append(_Selection(with_topic=True))
    steps.append(_Selection(any_terms=tuple(terms)))
    return steps


def _fts_match(selection: _Selection, terms: list[str], themes: Sequence[str]) -> str:
    def quoted(term: str) -> str:
        return f'"{stem(term)}"'  # stems are [a-z0-9]+, safe inside quotes

    def any_of(group: Iterable[str]) -> str:
        return "(" + " OR ".join(dict.fromkeys(quoted(t) for t in group)) + ")"

    every = any_of(terms)
    parts = []
    if selection.any_terms:
        parts.append(any_of(selection.any_terms))
    if selection.all_terms:
        parts.append("(" + " AND ".join(dict.fromkeys(quoted(t) for t in selection.all_terms)) + ")")
    if selection.with_topic:
        topic = " OR ".join(f'"{theme_token(t)}"' for t in themes)
        parts.append(f"(themes : ({topic}) AND {every})")
    selecting = parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    # AND with every query word, so that bm25 ranks on all of them.
    return selecting if selecting == every else f"{selecting} AND {every}"


def _pg_where(selection: _Selection, terms: list[str], themes: Sequence[str], vector, every):
    regconfig = literal_column("'dutch'::regconfig")
    parts = []
    if selection.any_terms:
        parts.append(vector.op("@@")(func.to_tsquery(regconfig, " | ".join(selection.any_terms))))
    if selection.all_terms:
        parts.append(vector.op("@@")(func.to_tsquery(regconfig, " & ".join(selection.all_terms))))
    if selection.with_topic:
        parts.append(_theme_match(themes))
    return or_(*parts) & vector.op("@@")(every)


def _text_matches(session: Session, terms: list[str], selection: _Selection,
                  themes: Sequence[str], region, n: int) -> list[SearchResult]:
    boost = case((_theme_match(themes), THEME_BOOST), else_=1.0) if themes else literal_column("1.0")
    if _is_sqlite(session):
        match = _fts_match(selection, terms, themes)
        rank = -func.bm25(literal_column("knowledge_fts"), *BM25_WEIGHTS)
        stmt = (select(*_COLUMNS, (rank * boost).label("score"))
                .select_from(_FTS.join(KS, KS.id == _FTS.c.rowid))
                .where(sql_text("knowledge_fts MATCH :match").bindparams(match=match)))
    else:
        vector = literal_column(f"({PG_VECTOR})")
        every = func.to_tsquery(literal_column("'dutch'::regconfig"), " | ".join(terms))
        stmt = (select(*_COLUMNS, (func.ts_rank(vector, every) * boost).label("score"))
                .where(_pg_where(selection, terms, themes, vector, every)))
    stmt = stmt.where(region).order_by(literal_column("score").desc(), KS.id).limit(n)
    return [_result(row, row.score) for row in session.execute(stmt)]


def _topic_items(session: Session, themes: Sequence[str], region, n: int) -> list[SearchResult]:
    """Items of the topic without a word match: main (first) theme first, regelingen first."""
    primary = or_(*[KS.themes.startswith(f"|{t}|", autoescape=True) for t in themes])
    stmt = select(*_COLUMNS)
    if _is_sqlite(session):  # the FTS themes column finds them without scanning the table
        topic = " OR ".join(f'"{theme_token(t)}"' for t in themes)
        stmt = (stmt.select_from(_FTS.join(KS, KS.id == _FTS.c.rowid))
                .where(sql_text("knowledge_fts MATCH :topic").bindparams(topic=f"themes : ({topic})")))
    stmt = (stmt.where(region).where(_theme_match(themes))
            .order_by(case((primary, 0), else_=1), KS.kind.desc(), KS.name).limit(n))
    return [_result(row, 0.0) for row in session.execute(stmt)]


def search(
    session: Session,
    text: str,
    *,
    themes: Sequence[str] | None = None,
    gemeente_id: str | None = None,
    organisatie: str | None = None,
    limit: int = 3,
    offset: int = 0,
) -> list[SearchResult]:
    """Regelingen and loketten for the user's text, best first.

    themes: the topic(s) of the question (boosts matching items, and fills up when the words find
    too little); gemeente_id: shows gemeente- and provincie-bound items for that gemeente only;
    organisatie: a name the user mentioned ("UWV"), searched along with the text;
    offset: skip this many results (for "Andere regelingen").
    """
    themes = [t for t in (themes or []) if t]
    vocab = vocabulary(session)
    terms = analyze_query(" ".join(filter(None, [text, organisatie])), vocab)
    region = _region_filter(session, gemeente_id)
    wanted = offset + limit
    results: list[SearchResult] = []
    for selection in (_selections(terms, vocab, themes) if terms else []):
        results = _text_matches(session, terms, selection, themes, region, wanted)
        if len(results) >= wanted:
            break
    if len(results) < wanted and themes:
        seen = {(r.kind, r.id) for r in results}
        for item in _topic_items(session, themes, region, wanted + len(seen)):
            if (item.kind, item.id) not in seen and len(results) < wanted:
                results.append(item)
    return results[offset:wanted]
