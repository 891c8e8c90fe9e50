"""Place names for entity finding, read from the loaded knowledge at run time (no Rasa here).

The Rasa server asks `PlaceTable.get()` for every message. It re-reads the gemeenten only when a
`loket knowledge load` wrote a new knowledge version, and checks for one at most every few seconds,
so a new gemeente, alias or woonplaats is recognised without retraining or a restart.
Without a loaded database (training, offline evaluation) the names come from knowledge/gemeenten.yml.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from bot.conversation.gemeenten import SENTENCE_STOPWORDS
from bot.nlu.gazetteer import Gazetteer

logger = logging.getLogger(__name__)

RECHECK_S = 2.0
PLACE_TYPES = ("gemeente", "woonplaats")
# Place names that are also everyday Dutch words ("wij kampen met", "dat kan leiden tot"): inside a
# sentence only a place with a capital or after "in", "uit", "gemeente", ...
EVERYDAY = SENTENCE_STOPWORDS | {"assen", "bergen", "glimmen", "haren", "hoorn", "houten", "huizen", "kampen",
                                 "leiden", "lieren", "mill", "son"}
_PROVINCE_SUFFIX = re.compile(r"\s*\([^)]*\)\s*$")  # "Bergen (NH.)" -> "Bergen"


def place_entries(gemeenten: Iterable[dict]) -> list[tuple[str, str]]:
    """(entity type, phrase): a gemeente's name is a gemeente, a woonplaats a woonplaats (also when
    it is an alias too, like Geleen), and other aliases ("Den Bosch") a gemeente."""
    names: list[tuple[str, str]] = []
    places: list[tuple[str, str]] = []
    aliases: list[tuple[str, str]] = []
    for g in gemeenten:
        names += [("gemeente", g["name"]), ("gemeente", _PROVINCE_SUFFIX.sub("", g["name"]))]
        places += [("woonplaats", p) for p in g.get("woonplaatsen") or []]
        aliases += [("gemeente", a) for a in g.get("aliases") or []]
    return names + places + aliases  # the first entry of a phrase wins


def places_from_yaml(knowledge_dir: Path) -> list[dict]:
    import yaml

    path = knowledge_dir / "gemeenten.yml"
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["gemeenten"])


def places_from_db(url: str) -> tuple[tuple, list[dict]] | None:
    """(knowledge version, gemeenten) from the application database, or None when it has none."""
    from sqlalchemy import select

    from bot import models
    from bot.db import get_engine, session_scope

    with session_scope(get_engine(url)) as session:
        version = session.execute(
            select(models.KnowledgeVersion.id, models.KnowledgeVersion.content_hash)
            .order_by(models.KnowledgeVersion.id.desc()).limit(1)).first()
        if version is None:
            return None
        rows = session.execute(select(models.Gemeente.name, models.Gemeente.aliases,
                                      models.Gemeente.woonplaatsen)).all()
    gemeenten = [{"name": n, "aliases": a, "woonplaatsen": w} for n, a, w in rows]
    return (tuple(version), gemeenten) if gemeenten else None


def build(gemeenten: Iterable[dict], common_words: Iterable[str] = ()) -> Gazetteer:
    return Gazetteer.build(place_entries(gemeenten), fuzzy_types=PLACE_TYPES, common_words=common_words,
                           everyday=EVERYDAY)


class PlaceTable:
    """The place gazetteer of the configured database, rebuilt after each knowledge load."""

    def __init__(self, database_url: str | None = None, knowledge_dir: Path | None = None,
                 common_words: Iterable[str] = (), recheck_s: float = RECHECK_S) -> None:
        self._url = database_url
        self._common = frozenset(common_words)
        self._knowledge_dir = knowledge_dir
        self._recheck_s = recheck_s
        self._version: tuple | None = None
        self._table: Gazetteer | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, common_words: Iterable[str] = ()) -> PlaceTable:
        from bot.settings import get_settings

        s = get_settings()
        return cls(s.database_url, s.knowledge_dir, common_words)

    def get(self) -> Gazetteer:
        now = time.monotonic()
        with self._lock:
            if self._table is not None and now - self._checked < self._recheck_s:
                return self._table
            self._checked = now
            self._refresh()
            return self._table

    def _refresh(self) -> None:
        found = None
        if self._url:
            try:
                found = places_from_db(self._url)
            except Exception as exc:  # noqa: BLE001 - no database is a normal state at training
                logger.debug("place names: database not readable (%s)", exc)
        if found is not None:
            version, gemeenten = found
            if version != self._version or self._table is None:
                self._table, self._version = build(gemeenten, self._common), version
                logger.info("place names: %d read from the database", len(self._table.phrases))
            return
        if self._table is None and self._knowledge_dir is not None:
            self._table = build(places_from_yaml(self._knowledge_dir), self._common)
            logger.info("place names: %d read from %s (no loaded database)", len(self._table.phrases),
                        self._knowledge_dir)
        if self._table is None:
            self._table = Gazetteer()
