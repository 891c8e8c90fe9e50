"""Aggregates for the dashboard's charts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from bot import models
from bot.conversation.gemeenten import gemeente_names
from bot.knelpunten.filters import KnelpuntFilter
from bot.knelpunten.taxonomy import CATEGORIES


@dataclass
class Stats:
    by_category: list[tuple[str, int]]
    by_gemeente: list[tuple[str, int]]
    by_month: list[tuple[str, int]]
    total: int


def stats(session: Session, f: KnelpuntFilter, top_gemeenten: int = 10, months: int = 24) -> Stats:
    k = models.Knelpunt
    where = and_(*f.conditions())
    cat_counts = dict(session.execute(
        select(k.category, func.count()).where(where).group_by(k.category)).all())
    by_category = [(label, cat_counts.get(key, 0)) for key, label in CATEGORIES.items()]
    gem_counts = session.execute(
        select(k.gemeente_id, func.count()).where(where).group_by(k.gemeente_id)).all()
    names = gemeente_names(session, (g for g, _ in gem_counts))
    ranked = sorted(((names.get(g or "", g) if g else "onbekend", n) for g, n in gem_counts),
                    key=lambda item: (-item[1], item[0]))
    by_gemeente = ranked[:top_gemeenten]
    if len(ranked) > top_gemeenten:
        by_gemeente.append(("overige gemeenten", sum(n for _, n in ranked[top_gemeenten:])))
    # Months in Python: strftime/to_char differ between SQLite and PostgreSQL.
    month_counts: Counter[str] = Counter(
        created.strftime("%Y-%m")
        for created in session.execute(select(k.created_at).where(where)).scalars())
    by_month = sorted(month_counts.items())[-months:]
    return Stats(by_category, by_gemeente, _fill_months(by_month), sum(cat_counts.values()))


def _fill_months(items: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Add the empty months between the first and the last, so the chart shows gaps honestly."""
    if not items:
        return []
    counts = dict(items)
    year, month = map(int, items[0][0].split("-"))
    last = items[-1][0]
    out = []
    while True:
        key = f"{year:04d}-{month:02d}"
        out.append((key, counts.get(key, 0)))
        if key >= last:
            return out
        month += 1
        if month > 12:
            year, month = year + 1, 1
