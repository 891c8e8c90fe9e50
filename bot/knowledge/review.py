"""Review state of the content: which regeling or loket a person checked against its source, and whether
that check still holds for the text the bot shows now.

A stamp (models.ReviewStamp) records the hash of the user-facing text a person read. The status of an
entry follows from its newest stamp:

- no stamp: te_controleren
- the text (or source link) changed since: gewijzigd
- older than the configured period (LOKET_REVIEW_MAX_AGE_DAYS): verouderd
- otherwise: gecontroleerd

Only a valid stamp lets the chat say "gecontroleerd op". Stamps live in their own table: a knowledge
load rebuilds the content tables and leaves the stamps alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot import models
from bot.models import utcnow

DEFAULT_MAX_AGE_DAYS = 183

CHECKED = "gecontroleerd"
TO_CHECK = "te_controleren"
CHANGED = "gewijzigd"
STALE = "verouderd"
STATUS_LABELS = {
    CHECKED: "Gecontroleerd",
    TO_CHECK: "Te controleren",
    CHANGED: "Gewijzigd sinds controle",
    STALE: "Verouderd",
}
# Most urgent first: the page and the terminal list sort by this.
STATUS_ORDER = (CHANGED, STALE, TO_CHECK, CHECKED)

KIND_LABELS = {"regeling": "Regeling", "loket": "Loket"}
LOKET_KIND_LABELS = {"loket": "Loket", "netwerk": "Netwerk", "financier": "Financier",
                     "kennis": "Kennisorganisatie"}

THEME_LABELS = {
    "kvk_registration": "KVK-inschrijving", "legal_form": "Rechtsvorm", "btw": "Btw",
    "subsidies_general": "Subsidies algemeen", "innovation": "Innovatie", "energy": "Energie",
    "circular": "Circulair", "eu_funds": "Europese fondsen", "state_aid": "Staatssteun",
    "loonkostensubsidie": "Loonkostensubsidie", "no_riskpolis": "No-riskpolis", "jobcoach": "Jobcoach",
    "proefplaatsing": "Proefplaatsing", "lkv": "Loonkostenvoordeel", "praktijkleren": "Praktijkleren",
    "pso": "PSO", "code_sociale_ondernemingen": "Code Sociale Ondernemingen", "networks": "Netwerken",
    "impact_measurement": "Impact meten", "social_return": "Social return",
    "procurement": "Inkoop en aanbesteden", "voorbehouden_opdrachten": "Voorbehouden opdrachten",
    "assignments": "Opdrachten", "impact_financing": "Impactfinanciering", "microcredit": "Microkrediet",
    "crowdfunding": "Crowdfunding", "resultaatfinanciering": "Resultaatfinanciering",
    "permits": "Vergunningen", "premises": "Bedrijfsruimte",
}


def theme_label(theme: str) -> str:
    return THEME_LABELS.get(theme, theme.replace("_", " ").capitalize())


# --- what a reader sees, and its hash --------------------------------------------------------------


def regeling_text(r: models.Regeling) -> dict:
    """The fields of a regeling the chat shows (search result and "Meer hierover")."""
    return {"name": r.name, "provider": r.provider, "summary": r.summary, "audience": r.audience,
            "benefit": r.benefit, "conditions": list(r.conditions or []), "source_url": r.source_url}


def loket_text(lk: models.Loket) -> dict:
    return {"name": lk.name, "kind": lk.kind, "description": lk.description, "url": lk.url}


def content_hash(text: dict) -> str:
    # Canonical JSON: the same text gives the same hash on every machine and database.
    blob = json.dumps(text, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def regeling_hash(r: models.Regeling) -> str:
    return content_hash(regeling_text(r))


def loket_hash(lk: models.Loket) -> str:
    return content_hash(loket_text(lk))


# --- stamps and status -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stamp:
    reviewer: str
    reviewed_at: datetime
    source_url: str
    content_hash: str


def status_of(current_hash: str, stamp: Stamp | None, now: datetime,
              max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> str:
    if stamp is None:
        return TO_CHECK
    if stamp.content_hash != current_hash:
        return CHANGED  # also when both changed and old: the new text was never checked
    if now - stamp.reviewed_at > timedelta(days=max_age_days):
        return STALE
    return CHECKED


Key = tuple[str, str]  # (kind, item id)


def latest_stamps(session: Session, keys: Iterable[Key] | None = None) -> dict[Key, Stamp]:
    """The newest stamp per entry, in one query; all entries when `keys` is None."""
    query = select(models.ReviewStamp).order_by(models.ReviewStamp.reviewed_at,
                                                models.ReviewStamp.id)
    if keys is not None:
        by_kind: dict[str, set[str]] = {}
        for kind, item_id in keys:
            by_kind.setdefault(kind, set()).add(item_id)
        if not by_kind:
            return {}
        query = query.where(or_(*[
            and_(models.ReviewStamp.kind == kind, models.ReviewStamp.item_id.in_(sorted(ids)))
            for kind, ids in by_kind.items()]))
    out: dict[Key, Stamp] = {}
    for row in session.execute(query).scalars():  # ascending: the newest overwrites
        out[(row.kind, row.item_id)] = Stamp(row.reviewer, row.reviewed_at, row.source_url,
                                             row.content_hash)
    return out


def valid_review_dates(session: Session, items: Iterable[tuple[str, str, str]],
                       max_age_days: int = DEFAULT_MAX_AGE_DAYS,
                       now: datetime | None = None) -> dict[Key, datetime]:
    """For the chat: (kind, id, current hash) -> when a person checked exactly this text, for the
    entries whose stamp is valid. One query for all of them."""
    items = list(items)
    stamps = latest_stamps(session, [(kind, item_id) for kind, item_id, _ in items])
    now = now or utcnow()
    out: dict[Key, datetime] = {}
    for kind, item_id, current in items:
        stamp = stamps.get((kind, item_id))
        if status_of(current, stamp, now, max_age_days) == CHECKED:
            out[(kind, item_id)] = stamp.reviewed_at
    return out


# --- the overview for the content page and the terminal --------------------------------------------


@dataclass(frozen=True)
class Entry:
    kind: str  # regeling | loket
    id: str
    name: str
    organisation: str  # a regeling's provider; a loket's kind label
    themes: tuple[str, ...]
    source_url: str
    text: dict
    content_hash: str
    status: str
    stamp: Stamp | None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def overview(session: Session, max_age_days: int = DEFAULT_MAX_AGE_DAYS,
             now: datetime | None = None) -> list[Entry]:
    """Every regeling and loket with its review status, most urgent first, then by name."""
    now = now or utcnow()
    stamps = latest_stamps(session)
    entries: list[Entry] = []

    def add(kind: str, item_id: str, name: str, organisation: str, themes, url: str, text: dict):
        current = content_hash(text)
        stamp = stamps.get((kind, item_id))
        entries.append(Entry(kind, item_id, name, organisation, tuple(themes or ()), url, text,
                             current, status_of(current, stamp, now, max_age_days), stamp))

    for r in session.execute(select(models.Regeling)).scalars():
        add("regeling", r.id, r.name, r.provider, r.themes, r.source_url, regeling_text(r))
    for lk in session.execute(select(models.Loket)).scalars():
        add("loket", lk.id, lk.name, LOKET_KIND_LABELS.get(lk.kind, lk.kind), lk.themes, lk.url,
            loket_text(lk))
    entries.sort(key=lambda e: (STATUS_ORDER.index(e.status), e.name.lower(), e.kind, e.id))
    return entries


@dataclass(frozen=True)
class EntryFilter:
    status: str = ""
    organisation: str = ""
    theme: str = ""
    kind: str = ""

    def matches(self, e: Entry) -> bool:
        return ((not self.status or e.status == self.status)
                and (not self.organisation or e.organisation == self.organisation)
                and (not self.theme or self.theme in e.themes)
                and (not self.kind or e.kind == self.kind))


def counts(entries: Iterable[Entry]) -> dict[str, int]:
    out = dict.fromkeys(STATUS_ORDER, 0)
    for e in entries:
        out[e.status] += 1
    return out


class ReviewError(Exception):
    """A stamp that cannot be set; the message is for the person who tried (Dutch)."""


def stamp(session: Session, kind: str, item_id: str, user: models.User,
          expected_hash: str | None = None, now: datetime | None = None) -> Stamp:
    """Record that `user` checked the entry's current text against its source.

    `expected_hash` is the hash of the text the person saw: if the content was reloaded in between,
    the stamp would cover a text nobody read, so it is refused.
    """
    if kind == "regeling":
        row = session.get(models.Regeling, item_id)
        text, url = (regeling_text(row), row.source_url) if row else ({}, "")
    elif kind == "loket":
        row = session.get(models.Loket, item_id)
        text, url = (loket_text(row), row.url) if row else ({}, "")
    else:
        raise ReviewError("Onbekende soort inhoud.")
    if row is None:
        raise ReviewError("Deze regeling of dit loket bestaat niet (meer).")
    current = content_hash(text)
    if expected_hash is not None and expected_hash != current:
        raise ReviewError("De tekst is intussen veranderd. Lees de nieuwe tekst en controleer opnieuw.")
    reviewer = (user.display_name or user.username)[:120]
    when = now or utcnow()
    session.add(models.ReviewStamp(kind=kind, item_id=item_id, content_hash=current, source_url=url,
                                   user_id=user.id, reviewer=reviewer, reviewed_at=when))
    session.flush()
    return Stamp(reviewer, when, url, current)
