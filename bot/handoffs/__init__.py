"""Handoffs to a makelaarsteam: create (with the outbox row, one transaction), list, claim, note, close.

The package also holds the outbox (delivery with retries), the reference numbers and the webhook guard.

Every function takes the caller's session, so the caller decides the transaction. Portal functions take
`team_id` and filter on it in the query itself: a handoff of another team is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from bot import models
from bot.conversation.routing import route
from bot.handoffs.references import next_reference

STATUSES = ("nieuw", "opgepakt", "afgesloten")
MAX_DESCRIPTION = 1000
MAX_NOTE = 2000
TRANSCRIPT_TURNS = 10
TRANSCRIPT_CHARS = 500
DEDUPE_WINDOW = timedelta(minutes=10)
FORM_NAME = "handoff_form"

# Intents whose message is a question worth handing over (the rest is chit-chat or form control).
QUESTION_INTENT_PREFIXES = ("ask_",)
QUESTION_INTENTS = {"faq", "nlu_fallback", "describe_knelpunt", "private_life"}
NOT_A_TOPIC = {"ask_deal_gemeenten", "ask_privacy", "ask_maatschappelijke_bv"}


class HandoffError(ValueError):
    """A handoff cannot be created or changed; the message is Dutch and safe to show."""


class NotFound(HandoffError):
    pass


# --- reading the conversation (plain Rasa event dicts; no Rasa import) ----------------------


def _intent(event: dict) -> str:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""


def events_before_form(events: list[dict], form: str = FORM_NAME) -> list[dict]:
    """The conversation up to the latest start of `form` (its own questions hold personal data)."""
    for i in range(len(events) - 1, -1, -1):
        e = events[i]
        if e.get("event") == "active_loop" and e.get("name") == form:
            return events[:i]
    return list(events)


def is_question(event: dict) -> bool:
    if event.get("event") != "user":
        return False
    text = (event.get("text") or "").strip()
    if not text or text.startswith("/"):
        return False
    intent = _intent(event)
    return intent.startswith(QUESTION_INTENT_PREFIXES) or intent in QUESTION_INTENTS


def last_question(events: list[dict]) -> str | None:
    """The user's latest real question before the handoff form, to pre-fill the description."""
    for e in reversed(events_before_form(events)):
        if is_question(e):
            return e["text"].strip()[:MAX_DESCRIPTION]
    return None


def topic_from_events(events: list[dict]) -> str | None:
    """The knowledge theme of the latest topic question ("ask_jobcoach" -> "jobcoach")."""
    from bot.knowledge.schema import THEMES

    for e in reversed(events_before_form(events)):
        intent = _intent(e) if e.get("event") == "user" else ""
        if intent.startswith("ask_") and intent not in NOT_A_TOPIC and intent[4:] in THEMES:
            return intent[4:]
    return None


def transcript_from_events(events: list[dict], turns: int = TRANSCRIPT_TURNS) -> list[dict]:
    """The last user/bot turns before the form: enough context for the team, no form answers."""
    lines: list[dict] = []
    for e in events_before_form(events):
        kind = e.get("event")
        text = (e.get("text") or "").strip()
        if kind not in ("user", "bot") or not text or (kind == "user" and text.startswith("/")):
            continue
        when = e.get("timestamp")
        lines.append({  # speaker is shown to people (portal, e-mail), so it is Dutch
            "speaker": "ondernemer" if kind == "user" else "assistent",
            "text": text[:TRANSCRIPT_CHARS],
            "at": datetime.utcfromtimestamp(when).isoformat(timespec="seconds") if when else None,
        })
    return lines[-turns:]


# --- creating a handoff ---------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    reference: str
    team_id: str
    team_name: str
    response_days: int
    new: bool  # False when an identical request from the same sender was already stored


def delivery_key(reference: str, team_id: str) -> str:
    return f"handoff-{reference}-{team_id}"


def create_handoff(
    session: Session,
    *,
    sender_id: str,
    gemeente_id: str,
    description: str,
    contact_name: str | None,
    contact_email: str | None,
    contact_phone: str | None,
    consent: bool,
    topic: str | None = None,
    transcript: list[dict] | None = None,
    now: datetime | None = None,
) -> Created:
    """Store the handoff and its outbox row together. Call inside one transaction (session_scope)."""
    if consent is not True:
        raise HandoffError("Zonder toestemming slaan we niets op.")
    description = (description or "").strip()[:MAX_DESCRIPTION]
    if not description:
        raise HandoffError("Er is geen vraag om door te zetten.")
    if not (contact_email or contact_phone):
        raise HandoffError("Er is geen e-mailadres of telefoonnummer.")
    r = route(session, gemeente_id, topic)
    if r is None:
        raise HandoffError("Deze gemeente ken ik niet.")
    if r.team is None:
        raise HandoffError(f"De gemeente {r.gemeente.name} heeft (nog) geen makelaarsteam.")
    team = r.team
    now = now or models.utcnow()

    # The same request twice (a double click, a retried action call) is stored once.
    existing = session.execute(
        select(models.Handoff).where(
            models.Handoff.sender_id == sender_id,
            models.Handoff.team_id == team.id,
            models.Handoff.description == description,
            models.Handoff.created_at >= now - DEDUPE_WINDOW,
        ).order_by(models.Handoff.id.desc())
    ).scalars().first()
    if existing is not None:
        return Created(existing.reference, team.id, team.name, team.response_days, new=False)

    reference = next_reference(session, "LKT", now)
    handoff = models.Handoff(
        reference=reference, sender_id=sender_id, team_id=team.id, gemeente_id=r.gemeente.id,
        topic=topic, description=description, contact_name=(contact_name or "").strip() or None,
        contact_email=contact_email or None, contact_phone=contact_phone or None,
        consent_at=now, transcript=transcript or [], status="nieuw", created_at=now,
    )
    session.add(handoff)
    session.flush()
    target = team.email if team.channel == "email" else team.webhook_url
    if not target:
        raise HandoffError(f"Team {team.id} heeft geen adres om naar te sturen.")
    session.add(models.OutboxMessage(
        handoff_id=handoff.id, delivery_key=delivery_key(reference, team.id), channel=team.channel,
        target=target, status="pending", attempts=0, next_attempt_at=now, created_at=now,
    ))
    session.flush()
    return Created(reference, team.id, team.name, team.response_days, new=True)


# --- the portal: always scoped to one team ----------------------------------------------------


def _scoped(stmt, team_id: str | None):
    # team_id None only for an admin without a team: they see every team.
    return stmt if team_id is None else stmt.where(models.Handoff.team_id == team_id)


@dataclass
class Row:
    handoff: models.Handoff
    delivery: str  # bezorgd | wacht | mislukt
    claimed_by_name: str | None


def delivery_state(outbox: list[models.OutboxMessage]) -> str:
    if outbox and all(o.status == "delivered" for o in outbox):
        return "bezorgd"
    if any(o.status == "failed" for o in outbox):
        return "mislukt"
    return "wacht"


def list_handoffs(session: Session, team_id: str | None, status: str | None = None,
                  q: str | None = None, limit: int = 200) -> list[Row]:
    stmt = _scoped(select(models.Handoff), team_id)
    if status in STATUSES:
        stmt = stmt.where(models.Handoff.status == status)
    if q and q.strip():
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(models.Handoff.reference).like(like),
                              func.lower(models.Handoff.description).like(like)))
    handoffs = session.execute(stmt.order_by(models.Handoff.created_at.desc(),
                                             models.Handoff.id.desc()).limit(limit)).scalars().all()
    names = _user_names(session, {h.claimed_by for h in handoffs if h.claimed_by})
    return [Row(h, delivery_state(h.deliveries), names.get(h.claimed_by)) for h in handoffs]


def counts(session: Session, team_id: str | None) -> dict[str, int]:
    stmt = _scoped(select(models.Handoff.status, func.count()), team_id).group_by(models.Handoff.status)
    found = dict(session.execute(stmt).all())
    return {s: int(found.get(s, 0)) for s in STATUSES}


def _user_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(models.User.id, models.User.display_name, models.User.username)
                           .where(models.User.id.in_(ids))).all()
    return {uid: (display or username) for uid, display, username in rows}


def get_handoff(session: Session, reference: str, team_id: str | None) -> models.Handoff:
    handoff = session.execute(
        _scoped(select(models.Handoff).where(models.Handoff.reference == reference), team_id)
    ).scalar_one_or_none()
    if handoff is None:
        raise NotFound("Deze overdracht bestaat niet of hoort niet bij uw team.")
    return handoff


@dataclass
class Detail:
    handoff: models.Handoff
    team: models.Makelaarsteam | None
    gemeente: models.Gemeente | None
    delivery: str
    outbox: list[models.OutboxMessage]
    attempts: list[models.DeliveryAttempt]
    notes: list[tuple[models.HandoffNote, str]]
    claimed_by_name: str | None


def detail(session: Session, reference: str, team_id: str | None) -> Detail:
    h = get_handoff(session, reference, team_id)
    outbox = list(h.deliveries)
    attempts = session.execute(
        select(models.DeliveryAttempt)
        .where(models.DeliveryAttempt.outbox_id.in_([o.id for o in outbox] or [-1]))
        .order_by(models.DeliveryAttempt.id)
    ).scalars().all()
    notes = list(h.notes)
    names = _user_names(session, {n.user_id for n in notes} | ({h.claimed_by} if h.claimed_by else set()))
    return Detail(
        handoff=h, team=session.get(models.Makelaarsteam, h.team_id),
        gemeente=session.get(models.Gemeente, h.gemeente_id) if h.gemeente_id else None,
        delivery=delivery_state(outbox), outbox=outbox, attempts=list(attempts),
        notes=[(n, names.get(n.user_id, "?")) for n in notes],
        claimed_by_name=names.get(h.claimed_by) if h.claimed_by else None,
    )


def claim(session: Session, reference: str, team_id: str | None, user: models.User) -> models.Handoff:
    h = get_handoff(session, reference, team_id)
    if h.status == "afgesloten":
        raise HandoffError("Deze vraag is al afgesloten.")
    if h.status == "opgepakt" and h.claimed_by != user.id:
        raise HandoffError("Een collega heeft deze vraag al opgepakt.")
    # Conditional update: two makelaars clicking at once cannot both claim it.
    result = session.execute(
        update(models.Handoff)
        .where(models.Handoff.id == h.id,
               or_(models.Handoff.status == "nieuw", models.Handoff.claimed_by == user.id))
        .values(status="opgepakt", claimed_by=user.id,
                claimed_at=func.coalesce(models.Handoff.claimed_at, models.utcnow()))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise HandoffError("Een collega heeft deze vraag al opgepakt.")
    session.refresh(h)
    return h


def add_note(session: Session, reference: str, team_id: str | None, user: models.User,
             text: str) -> models.HandoffNote:
    text = (text or "").strip()
    if not text:
        raise HandoffError("Een notitie mag niet leeg zijn.")
    if len(text) > MAX_NOTE:
        raise HandoffError(f"Een notitie mag hoogstens {MAX_NOTE} tekens hebben.")
    h = get_handoff(session, reference, team_id)
    note = models.HandoffNote(handoff_id=h.id, user_id=user.id, text=text)
    session.add(note)
    session.flush()
    return note


def close(session: Session, reference: str, team_id: str | None, user: models.User,
          outcome: str) -> models.Handoff:
    outcome = (outcome or "").strip()
    if not outcome:
        raise HandoffError("Schrijf kort op hoe de vraag is afgehandeld.")
    if len(outcome) > MAX_NOTE:
        raise HandoffError(f"De uitkomst mag hoogstens {MAX_NOTE} tekens hebben.")
    h = get_handoff(session, reference, team_id)
    if h.status == "afgesloten":
        raise HandoffError("Deze vraag is al afgesloten.")
    now = models.utcnow()
    if h.claimed_by is None:  # closing without claiming first: the closer took it on
        h.claimed_by, h.claimed_at = user.id, now
    h.status, h.outcome, h.closed_at = "afgesloten", outcome, now
    session.flush()
    return h


def as_dict(h: models.Handoff, delivery: str | None = None, full: bool = False) -> dict:
    """JSON shape for the API; `full` adds contact details, transcript and notes."""
    data = {
        "reference": h.reference, "status": h.status, "team": h.team_id, "gemeente": h.gemeente_id,
        "topic": h.topic, "description": h.description,
        "created_at": h.created_at.isoformat(timespec="seconds") if h.created_at else None,
        "claimed_at": h.claimed_at.isoformat(timespec="seconds") if h.claimed_at else None,
        "closed_at": h.closed_at.isoformat(timespec="seconds") if h.closed_at else None,
        "outcome": h.outcome,
        "delivery": delivery if delivery is not None else delivery_state(h.deliveries),
    }
    if full:
        data["contact"] = {"name": h.contact_name, "email": h.contact_email, "phone": h.contact_phone}
        data["transcript"] = h.transcript or []
        data["notes"] = [{"text": n.text, "created_at": n.created_at.isoformat(timespec="seconds")}
                         for n in h.notes]
    return data
