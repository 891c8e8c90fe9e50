"""Reference numbers like LKT-2026-000123: per prefix and year, gap-free, inside the caller's transaction."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.models import ReferenceCounter, utcnow

# A reference as next_reference writes it, inside a sentence.
REFERENCE_RE = re.compile(r"\b[A-Z]{2,5}-\d{4}-\d{6}\b")


def next_reference(session: Session, prefix: str, now: datetime | None = None) -> str:
    """Reserve the next number. Call inside the transaction that stores the referenced row."""
    year = (now or utcnow()).year
    # UPDATE first: it takes the row lock (PostgreSQL) or the write lock (SQLite) before reading.
    result = session.execute(
        update(ReferenceCounter)
        .where(ReferenceCounter.prefix == prefix, ReferenceCounter.year == year)
        .values(value=ReferenceCounter.value + 1)
    )
    if result.rowcount == 0:
        session.add(ReferenceCounter(prefix=prefix, year=year, value=1))
        session.flush()
        value = 1
    else:
        value = session.execute(
            select(ReferenceCounter.value).where(
                ReferenceCounter.prefix == prefix, ReferenceCounter.year == year)
        ).scalar_one()
    return f"{prefix}-{year}-{value:06d}"
