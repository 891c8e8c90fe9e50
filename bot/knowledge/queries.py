"""Plain lookups in the loaded knowledge (the ranked search lives in search.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import models


def deal_gemeenten(session: Session) -> list[tuple[models.Gemeente, models.Makelaarsteam | None]]:
    """The City Deal gemeenten with their makelaarsteam (if one is configured), by name."""
    gemeenten = session.execute(
        select(models.Gemeente).where(models.Gemeente.deal.is_(True)).order_by(models.Gemeente.name)
    ).scalars()
    teams = session.execute(select(models.Makelaarsteam)).scalars().all()
    by_gemeente = {gid: t for t in teams for gid in t.gemeenten}
    return [(g, by_gemeente.get(g.id)) for g in gemeenten]


def gemeente_by_id(session: Session, gemeente_id: str) -> models.Gemeente | None:
    return session.get(models.Gemeente, gemeente_id)


def regeling_by_id(session: Session, regeling_id: str) -> models.Regeling | None:
    return session.get(models.Regeling, regeling_id) if regeling_id else None


def loket_by_id(session: Session, loket_id: str) -> models.Loket | None:
    return session.get(models.Loket, loket_id) if loket_id else None


def _plain(value: str) -> str:
    from bot.knowledge.search import normalize

    return " ".join(normalize(value).replace("-", " ").replace("'", " ").split())


def resolve_gemeente(session: Session, value: str | None) -> models.Gemeente | None:
    """A gemeente from an id ("zwolle"), a name ("Den Haag"), an alias ("'s-Gravenhage") or, for the
    deal gemeenten, a woonplaats ("Geleen"). None when nothing matches."""
    if not value or not value.strip():
        return None
    found = session.get(models.Gemeente, value.strip().lower())
    if found is not None:
        return found
    wanted = _plain(value)
    gemeenten = session.execute(select(models.Gemeente)).scalars().all()
    for field in ("id", "name", "aliases", "woonplaatsen"):
        for g in gemeenten:
            values = getattr(g, field)
            candidates = values if isinstance(values, list) else [values]
            if any(_plain(c) == wanted for c in candidates):
                return g
    return None
