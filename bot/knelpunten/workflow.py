"""One knelpunt: create it from the chat, read it, move it along the workflow, merge duplicates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import models
from bot.conversation.gemeenten import resolve_gemeente
from bot.handoffs.references import next_reference
from bot.knelpunten.chat import is_unknown_answer
from bot.knelpunten.taxonomy import (
    CATEGORIES,
    MAX_ORGANISATIONS,
    MAX_TEXT,
    REFERENCE_PREFIX,
    STATUSES,
    TRANSITIONS,
    KnelpuntError,
    status_label,
    track_for,
)


@dataclass
class KnelpuntInput:
    description: str
    category: str
    organisations: list[str] = field(default_factory=list)
    gemeente: str | None = None  # id, name or woonplaats; resolved on create
    consequence: str = ""
    contact_consent: bool = False
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    sender_id: str | None = None


def create_knelpunt(session: Session, data: KnelpuntInput, now: datetime | None = None) -> models.Knelpunt:
    """Store one knelpunt with a new reference, inside the caller's transaction."""
    description = (data.description or "").strip()
    if not description:
        raise KnelpuntError("Een knelpunt heeft een beschrijving nodig.")
    if data.category not in CATEGORIES:
        raise KnelpuntError(f"Onbekende categorie: {data.category!r}.")
    now = now or models.utcnow()
    gemeente_id = resolve_gemeente(session, data.gemeente).gemeente_id if data.gemeente else None
    if data.gemeente and gemeente_id is None and not is_unknown_answer(data.gemeente):
        gemeente_id = data.gemeente.strip()[:80]  # keep what the bot knew, even if not in the list
    consent = bool(data.contact_consent)

    def personal(value: str | None, limit: int) -> str | None:
        # Without consent nothing that identifies the person is kept, not even the chat's sender id.
        return ((value or "").strip()[:limit] or None) if consent else None

    knelpunt = models.Knelpunt(
        reference=next_reference(session, REFERENCE_PREFIX, now),
        description=description[:MAX_TEXT],
        category=data.category,
        track=track_for(data.category),
        organisations=[o for o in (data.organisations or []) if o][:MAX_ORGANISATIONS],
        gemeente_id=gemeente_id,
        consequence=(data.consequence or "").strip()[:MAX_TEXT],
        status="nieuw",
        duplicate_count=1,
        contact_consent=consent,
        contact_name=personal(data.contact_name, 200),
        contact_email=personal(data.contact_email, 200),
        contact_phone=personal(data.contact_phone, 50),
        sender_id=personal(data.sender_id, 200),
        created_at=now,
    )
    session.add(knelpunt)
    session.flush()
    session.add(models.KnelpuntHistory(knelpunt_id=knelpunt.id, user_id=None, field="status",
                                       old_value=None, new_value="nieuw", changed_at=now))
    return knelpunt




def get_knelpunt(session: Session, key: int | str) -> models.Knelpunt | None:
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        return session.get(models.Knelpunt, int(key))
    return session.execute(
        select(models.Knelpunt).where(models.Knelpunt.reference == key.strip().upper())
    ).scalar_one_or_none()


@dataclass
class HistoryEntry:
    changed_at: datetime
    who: str
    field: str
    old_value: str | None
    new_value: str | None


FIELD_LABELS = {"status": "Status", "forwarded_to": "Doorgezet naar", "duplicate_of": "Samengevoegd met",
                "duplicate_count": "Aantal meldingen", "merged": "Samengevoegd"}


def history(session: Session, knelpunt_id: int) -> list[HistoryEntry]:
    h, u = models.KnelpuntHistory, models.User
    rows = session.execute(
        select(h, u.display_name, u.username).outerjoin(u, u.id == h.user_id)
        .where(h.knelpunt_id == knelpunt_id).order_by(h.changed_at, h.id)
    ).all()
    return [HistoryEntry(row.changed_at, (display or username) if row.user_id else "chat (melder)",
                         row.field, row.old_value, row.new_value)
            for row, display, username in rows]


def duplicates_of(session: Session, knelpunt_id: int) -> list[models.Knelpunt]:
    return list(session.execute(
        select(models.Knelpunt).where(models.Knelpunt.duplicate_of == knelpunt_id)
        .order_by(models.Knelpunt.id)).scalars())


def allowed_statuses(current: str) -> tuple[str, ...]:
    return TRANSITIONS.get(current, ())


def change_status(session: Session, knelpunt_id: int, new_status: str, user_id: int | None,
                  forwarded_to: str | None = None, now: datetime | None = None) -> models.Knelpunt:
    """Move a knelpunt along the workflow; every change is written to its history."""
    knelpunt = session.get(models.Knelpunt, knelpunt_id, with_for_update=True)
    if knelpunt is None:
        raise KnelpuntError("Dit knelpunt bestaat niet.")
    if knelpunt.duplicate_of is not None:
        raise KnelpuntError("Dit knelpunt is samengevoegd met een ander knelpunt. "
                            "Wijzig de status van dat knelpunt.")
    if new_status not in STATUSES:
        raise KnelpuntError(f"Onbekende status: {new_status}.")
    forwarded_to = (forwarded_to or "").strip()[:120] or None
    if new_status not in allowed_statuses(knelpunt.status):
        raise KnelpuntError(
            f"Van '{status_label(knelpunt.status)}' kan de status niet naar "
            f"'{status_label(new_status)}'.")
    if new_status == "doorgezet" and not forwarded_to:
        raise KnelpuntError("Vul in naar welke organisatie het knelpunt is doorgezet.")
    now = now or models.utcnow()

    def log(field_name: str, old: str | None, new: str | None) -> None:
        session.add(models.KnelpuntHistory(knelpunt_id=knelpunt.id, user_id=user_id, field=field_name,
                                           old_value=old, new_value=new, changed_at=now))

    log("status", knelpunt.status, new_status)
    knelpunt.status = new_status
    if new_status == "doorgezet" and forwarded_to != knelpunt.forwarded_to:
        log("forwarded_to", knelpunt.forwarded_to, forwarded_to)
        knelpunt.forwarded_to = forwarded_to
    session.flush()
    return knelpunt


def merge(session: Session, target_key: int | str, duplicate_keys: Iterable[int | str],
          user_id: int | None, now: datetime | None = None) -> models.Knelpunt:
    """Merge duplicates into one knelpunt: they point to it and its count adds theirs up.

    Knelpunten that were merged into a duplicate move along to the target, so there are no chains.
    """
    target = get_knelpunt(session, target_key)
    if target is None:
        raise KnelpuntError("Het knelpunt om in samen te voegen bestaat niet.")
    if target.duplicate_of is not None:
        raise KnelpuntError(f"{target.reference} is zelf al samengevoegd; kies het hoofdknelpunt.")
    duplicates: list[models.Knelpunt] = []
    for key in duplicate_keys:
        dup = get_knelpunt(session, key)
        if dup is None:
            raise KnelpuntError(f"Knelpunt {key} bestaat niet.")
        if dup.id == target.id:
            raise KnelpuntError("Een knelpunt kan niet met zichzelf worden samengevoegd.")
        if dup.duplicate_of is not None:
            raise KnelpuntError(f"{dup.reference} is al samengevoegd.")
        if dup not in duplicates:
            duplicates.append(dup)
    if not duplicates:
        raise KnelpuntError("Kies minstens één ander knelpunt om samen te voegen.")
    now = now or models.utcnow()
    old_count = target.duplicate_count
    for dup in duplicates:
        for child in duplicates_of(session, dup.id):
            child.duplicate_of = target.id
            session.add(models.KnelpuntHistory(knelpunt_id=child.id, user_id=user_id,
                                               field="duplicate_of", old_value=dup.reference,
                                               new_value=target.reference, changed_at=now))
        dup.duplicate_of = target.id
        target.duplicate_count += dup.duplicate_count
        session.add(models.KnelpuntHistory(knelpunt_id=dup.id, user_id=user_id, field="duplicate_of",
                                           old_value=None, new_value=target.reference, changed_at=now))
        session.add(models.KnelpuntHistory(knelpunt_id=target.id, user_id=user_id, field="merged",
                                           old_value=None, new_value=dup.reference, changed_at=now))
    session.add(models.KnelpuntHistory(knelpunt_id=target.id, user_id=user_id, field="duplicate_count",
                                       old_value=str(old_count), new_value=str(target.duplicate_count),
                                       changed_at=now))
    session.flush()
    return target
