"""The filters of the dashboard list, its export and the API, and the paged list itself."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from bot import models
from bot.knelpunten.taxonomy import CATEGORIES, STATUSES, TRACKS


def _parse_date(raw: str) -> date:
    return date.fromisoformat(raw.strip())


def _like(term: str) -> str:
    """A LIKE pattern that matches `term` literally ('!' is the escape character)."""
    escaped = term.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


@dataclass
class KnelpuntFilter:
    """The filters of the dashboard list, its export and the API (same query parameters)."""

    category: str | None = None
    track: int | None = None
    gemeente: str | None = None
    organisation: str | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    include_merged: bool = False

    PARAMS = ("categorie", "spoor", "gemeente", "organisatie", "status", "van", "tot", "zoek",
              "samengevoegd")

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> tuple[KnelpuntFilter, list[str]]:
        """Parse query parameters; unusable values are dropped and reported (in Dutch)."""
        f, errors = cls(), []

        def text(name: str, limit: int = 200) -> str | None:
            value = (query.get(name) or "").strip()
            return value[:limit] or None

        if (cat := text("categorie")) is not None:
            if cat in CATEGORIES:
                f.category = cat
            else:
                errors.append(f"Onbekende categorie: {cat}.")
        if (track := text("spoor")) is not None:
            if track.isdigit() and int(track) in TRACKS:
                f.track = int(track)
            else:
                errors.append(f"Onbekend spoor: {track}.")
        f.gemeente = text("gemeente", 80)
        f.organisation = text("organisatie", 120)
        if (status := text("status")) is not None:
            if status in STATUSES:
                f.status = status
            else:
                errors.append(f"Onbekende status: {status}.")
        for name, attr in (("van", "date_from"), ("tot", "date_to")):
            if (raw := text(name, 20)) is not None:
                try:
                    setattr(f, attr, _parse_date(raw))
                except ValueError:
                    errors.append(f"De datum '{raw}' klopt niet. Gebruik jjjj-mm-dd.")
        f.q = text("zoek", 200)
        f.include_merged = (query.get("samengevoegd") or "") in ("1", "on", "ja", "true")
        return f, errors

    def to_query(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in (("categorie", self.category), ("spoor", self.track),
                            ("gemeente", self.gemeente), ("organisatie", self.organisation),
                            ("status", self.status), ("van", self.date_from), ("tot", self.date_to),
                            ("zoek", self.q)):
            if value not in (None, ""):
                out[name] = value.isoformat() if isinstance(value, date) else str(value)
        if self.include_merged:
            out["samengevoegd"] = "1"
        return out

    def conditions(self) -> list[Any]:
        k = models.Knelpunt
        conds: list[Any] = []
        if not self.include_merged:
            conds.append(k.duplicate_of.is_(None))
        if self.category:
            conds.append(k.category == self.category)
        if self.track:
            conds.append(k.track == self.track)
        if self.gemeente:
            conds.append(k.gemeente_id == self.gemeente)
        if self.status:
            conds.append(k.status == self.status)
        if self.organisation:
            orgs = cast(k.organisations, String)
            # JSON text escapes non-ASCII characters, so match both spellings.
            escaped = _json_escaped(self.organisation)
            conds.append(or_(orgs.ilike(_like(self.organisation), escape="!"),
                             orgs.ilike(_like(escaped), escape="!"),
                             k.forwarded_to.ilike(_like(self.organisation), escape="!")))
        if self.date_from:
            conds.append(k.created_at >= datetime.combine(self.date_from, datetime.min.time()))
        if self.date_to:
            conds.append(k.created_at < datetime.combine(self.date_to + timedelta(days=1),
                                                         datetime.min.time()))
        if self.q:
            for word in self.q.split()[:8]:  # every word must occur somewhere
                pattern = _like(word)
                conds.append(or_(k.description.ilike(pattern, escape="!"),
                                 k.consequence.ilike(pattern, escape="!"),
                                 k.reference.ilike(pattern, escape="!")))
        return conds


def _json_escaped(text: str) -> str:
    import json

    return json.dumps(text)[1:-1]


@dataclass
class Page:
    items: list[models.Knelpunt]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _ordered(f: KnelpuntFilter):
    return (select(models.Knelpunt).where(and_(*f.conditions()))
            .order_by(models.Knelpunt.created_at.desc(), models.Knelpunt.id.desc()))


def list_knelpunten(session: Session, f: KnelpuntFilter, page: int = 1, per_page: int = 50) -> Page:
    per_page = max(1, min(per_page, 1000))
    total = session.execute(
        select(func.count()).select_from(models.Knelpunt).where(and_(*f.conditions()))
    ).scalar_one()
    pages = max(1, -(-total // per_page))
    page = max(1, min(page, pages))
    items = session.execute(_ordered(f).limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return Page(list(items), total, page, per_page)


def iter_knelpunten(session: Session, f: KnelpuntFilter) -> Iterator[models.Knelpunt]:
    """Every knelpunt of the filter in the list's order (for export)."""
    yield from session.execute(_ordered(f).execution_options(yield_per=500)).scalars()
