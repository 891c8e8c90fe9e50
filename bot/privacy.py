"""Personal data: retention (purge), "delete my conversation" (forget), and redaction of log lines.

What is personal data here, and when it goes (periods from bot/settings.py):

- Rasa's tracker (table `events` in settings.tracker_db_url): a conversation whose last event is older
  than conversation_retention_days is deleted completely.
- handoffs: the transcript and the sender id after conversation_retention_days; the contact details
  (name, e-mail, phone) when the handoff has been closed for longer than contact_retention_days. The row
  stays for the team's records; contact_purged_at says when the contact details went. Known contact
  values and e-mail addresses / phone numbers are also redacted from the description, the outcome, the
  notes and delivery errors.
- knelpunten: contact details and sender id after contact_retention_days (counted from the report),
  redacted the same way in description, consequence and history.
- unanswered_questions: sender id, question text and the bot's answer after
  conversation_retention_days.

forget() does all of that at once for one sender id. Nothing here imports Rasa: the tracker table is
read with SQLAlchemy Core.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import phonenumbers
from sqlalchemy import JSON, String, Text, delete, func, inspect, select, update
from sqlalchemy import Table as CoreTable
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from bot import models
from bot.db import make_engine, session_scope
from bot.settings import Settings, get_settings

log = logging.getLogger(__name__)

REMOVED = "[verwijderd]"
EMAIL_REMOVED = "[e-mail verwijderd]"
PHONE_REMOVED = "[telefoon verwijderd]"
# Same rule as the channel and the feedback route: widget ids are hex, other channels similar.
SENDER_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_MANY_DIGITS = re.compile(r"(?:\d\D{0,3}){8,}")  # cheap pre-check before the phone matcher
BATCH = 500


# --- redaction ------------------------------------------------------------------------------


def redact(text: str | None, known: Iterable[str | None] = ()) -> str | None:
    """Replace known personal values, e-mail addresses and (Dutch or international) phone numbers."""
    if not text:
        return text
    for value in sorted({v.strip() for v in known if v and len(v.strip()) >= 3}, key=len,
                        reverse=True):
        text = re.sub(re.escape(value), REMOVED, text, flags=re.IGNORECASE)
    text = _EMAIL_RE.sub(EMAIL_REMOVED, text)
    if _MANY_DIGITS.search(text):
        matches = list(phonenumbers.PhoneNumberMatcher(text, "NL",
                                                       leniency=phonenumbers.Leniency.VALID))
        for match in reversed(matches):  # from the end, so earlier offsets stay valid
            text = text[:match.start] + PHONE_REMOVED + text[match.end:]
    return text


def contains_contact_data(text: str) -> bool:
    return redact(text) != text


class _RedactingRecordFactory:
    """Wraps the log record factory: every record leaves with e-mail addresses and phone numbers
    removed, whatever handler or formatter prints it (Rasa's structlog goes through stdlib too)."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, *args, **kwargs) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
        return record


def install_log_redaction() -> None:
    """Idempotent; call once per process (web app, Rasa channel, CLI, action server)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingRecordFactory):
        logging.setLogRecordFactory(_RedactingRecordFactory(current))


# --- the tracker store ------------------------------------------------------------------------


def _tracker_engine(tracker_db_url: str) -> Engine | None:
    """An engine for Rasa's tracker database, or None when it does not exist (yet)."""
    url = make_url(tracker_db_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:" or not Path(url.database).exists():
            return None
    engine = make_engine(tracker_db_url)
    if not inspect(engine).has_table("events"):
        engine.dispose()
        return None
    return engine


def _events_table(engine: Engine) -> CoreTable:
    from sqlalchemy import MetaData

    return CoreTable("events", MetaData(), autoload_with=engine)


def _unix(moment: datetime) -> float:
    return moment.replace(tzinfo=timezone.utc).timestamp()


def purge_tracker(tracker_db_url: str, cutoff: datetime) -> tuple[int, int]:
    """Delete conversations whose last event is older than `cutoff`. Returns (senders, events)."""
    engine = _tracker_engine(tracker_db_url)
    if engine is None:
        return 0, 0
    try:
        events = _events_table(engine)
        old = (select(events.c.sender_id).group_by(events.c.sender_id)
               .having(func.max(events.c.timestamp) < _unix(cutoff)))
        senders = events_deleted = 0
        with engine.begin() as conn:
            stale = [row[0] for row in conn.execute(old)]
            for i in range(0, len(stale), BATCH):
                chunk = stale[i:i + BATCH]
                result = conn.execute(delete(events).where(events.c.sender_id.in_(chunk)))
                events_deleted += result.rowcount or 0
                senders += len(chunk)
        return senders, events_deleted
    finally:
        engine.dispose()


def forget_tracker(tracker_db_url: str, sender_id: str) -> int:
    engine = _tracker_engine(tracker_db_url)
    if engine is None:
        return 0
    try:
        events = _events_table(engine)
        with engine.begin() as conn:
            return conn.execute(delete(events).where(events.c.sender_id == sender_id)).rowcount or 0
    finally:
        engine.dispose()


# --- application tables -----------------------------------------------------------------------


@dataclass
class PrivacyReport:
    conversations: int = 0
    tracker_events: int = 0
    handoff_transcripts: int = 0
    handoff_contacts: int = 0
    knelpunt_contacts: int = 0
    unanswered: int = 0
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("details")
        return data

    def summary_nl(self) -> str:
        return (f"{self.conversations} gesprek(ken) ({self.tracker_events} gebeurtenissen), "
                f"{self.handoff_transcripts} gespreksverslag(en) en {self.handoff_contacts} "
                f"contactgegeven(s) van overdrachten, {self.knelpunt_contacts} contactgegeven(s) "
                f"van knelpunten en {self.unanswered} onbeantwoorde vraag/vragen")


def _handoff_known(h: models.Handoff) -> list[str | None]:
    return [h.contact_name, h.contact_email, h.contact_phone]


def _strip_handoff_contact(session: Session, h: models.Handoff, now: datetime) -> None:
    known = _handoff_known(h)
    h.description = redact(h.description, known) or ""
    h.outcome = redact(h.outcome, known)
    for note in h.notes:
        note.text = redact(note.text, known) or ""
    for message in session.execute(
        select(models.OutboxMessage).where(models.OutboxMessage.handoff_id == h.id)
    ).scalars():
        message.last_error = redact(message.last_error, known)
        for attempt in session.execute(
            select(models.DeliveryAttempt).where(models.DeliveryAttempt.outbox_id == message.id)
        ).scalars():
            attempt.detail = redact(attempt.detail, known) or ""
    h.contact_name = h.contact_email = h.contact_phone = None
    h.contact_purged_at = now


def _strip_handoff_conversation(h: models.Handoff) -> None:
    h.transcript = []
    h.sender_id = ""


def _strip_knelpunt_contact(session: Session, k: models.Knelpunt, now: datetime) -> None:
    known = [k.contact_name, k.contact_email, k.contact_phone]
    k.description = redact(k.description, known) or ""
    k.consequence = redact(k.consequence, known) or ""
    for entry in session.execute(
        select(models.KnelpuntHistory).where(models.KnelpuntHistory.knelpunt_id == k.id)
    ).scalars():
        entry.old_value = redact(entry.old_value, known)
        entry.new_value = redact(entry.new_value, known)
    k.contact_name = k.contact_email = k.contact_phone = None
    k.sender_id = None
    k.contact_purged_at = now


def purge_app(session: Session, now: datetime, conversation_days: int,
              contact_days: int) -> PrivacyReport:
    report = PrivacyReport()
    conv_cutoff = now - timedelta(days=conversation_days)
    contact_cutoff = now - timedelta(days=contact_days)
    H, K, U = models.Handoff, models.Knelpunt, models.UnansweredQuestion

    for h in session.execute(select(H).where(H.created_at < conv_cutoff, H.sender_id != "")).scalars():
        _strip_handoff_conversation(h)
        report.handoff_transcripts += 1
    closed_long_ago = select(H).where(H.status == "afgesloten", H.closed_at.is_not(None),
                                      H.closed_at < contact_cutoff, H.contact_purged_at.is_(None))
    for h in session.execute(closed_long_ago).scalars():
        _strip_handoff_contact(session, h, now)
        _strip_handoff_conversation(h)
        report.handoff_contacts += 1
    old_knelpunten = select(K).where(K.created_at < contact_cutoff, K.contact_purged_at.is_(None))
    for k in session.execute(old_knelpunten).scalars():
        _strip_knelpunt_contact(session, k, now)
        report.knelpunt_contacts += 1
    # bot_answer too: an answer can repeat what the user typed (rows purged before kept it).
    result = session.execute(
        update(U).where(U.created_at < conv_cutoff, (U.sender_id.is_not(None)) | (U.text != REMOVED)
                        | U.bot_answer.is_not(None))
        .values(sender_id=None, text=REMOVED, bot_answer=None)
        .execution_options(synchronize_session=False)
    )
    report.unanswered = result.rowcount or 0
    return report


def purge(engine: Engine, tracker_db_url: str | None = None, now: datetime | None = None,
          settings: Settings | None = None) -> PrivacyReport:
    """Remove personal data older than the retention periods. Safe to run at any time, repeatedly.

    `now` is naive UTC (like every timestamp in models); tests pass a simulated clock.
    """
    settings = settings or get_settings()
    now = now or models.utcnow()
    tracker_db_url = tracker_db_url or settings.tracker_db_url
    with session_scope(engine) as session:
        report = purge_app(session, now, settings.conversation_retention_days,
                           settings.contact_retention_days)
    cutoff = now - timedelta(days=settings.conversation_retention_days)
    report.conversations, report.tracker_events = purge_tracker(tracker_db_url, cutoff)
    log.info("privacy purge: %s", report.as_dict())
    return report


def forget(engine: Engine, tracker_db_url: str | None, sender_id: str,
           now: datetime | None = None) -> PrivacyReport:
    """Delete one sender's conversation and personal data ("verwijder mijn gesprek")."""
    if not isinstance(sender_id, str) or not SENDER_RE.match(sender_id):
        raise ValueError("ongeldige gespreks-id")
    now = now or models.utcnow()
    tracker_db_url = tracker_db_url or get_settings().tracker_db_url
    report = PrivacyReport()
    H, K, U = models.Handoff, models.Knelpunt, models.UnansweredQuestion
    with session_scope(engine) as session:
        for h in session.execute(select(H).where(H.sender_id == sender_id)).scalars():
            _strip_handoff_contact(session, h, now)
            _strip_handoff_conversation(h)
            report.handoff_contacts += 1
            report.handoff_transcripts += 1
        for k in session.execute(select(K).where(K.sender_id == sender_id)).scalars():
            _strip_knelpunt_contact(session, k, now)
            report.knelpunt_contacts += 1
        result = session.execute(delete(U).where(U.sender_id == sender_id)
                                 .execution_options(synchronize_session=False))
        report.unanswered = result.rowcount or 0
    report.tracker_events = forget_tracker(tracker_db_url, sender_id)
    report.conversations = 1 if report.tracker_events else 0
    log.info("privacy forget: %s", report.as_dict())  # counts only, never the sender id
    return report


# --- audit ------------------------------------------------------------------------------------


def _searchable(value: object) -> str:
    """Lower-case text of a value; JSON text (Rasa stores events as JSON) also decoded, so escaped
    non-ASCII characters are found too."""
    text = str(value)
    if isinstance(value, str) and "\\u" in text:
        try:
            text += " " + str(json.loads(text))
        except ValueError:
            pass
    return text.lower()


def find_values(engine: Engine, needles: Iterable[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a needle occurs in a text or JSON column of any table.

    For audits and tests: proves that purged values are really gone, tracker included.
    """
    needles = [n.lower() for n in needles if n]
    hits: list[tuple[str, str, str]] = []
    from sqlalchemy import MetaData

    meta = MetaData()
    meta.reflect(bind=engine)
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            cols = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))
                    or c.type.__class__.__name__ in {"VARCHAR", "TEXT", "JSON", "CLOB"}]
            if not cols:
                continue
            for row in conn.execute(select(*cols)):
                for col, value in zip(cols, row, strict=True):
                    if value is None:
                        continue
                    text = _searchable(value)
                    hits.extend((table.name, col.name, n) for n in needles if n in text)
    return hits
