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
