"""Database tables. One metadata; Alembic migrations in migrations/ follow it (a test checks for drift)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING))


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --- knowledge (loaded from knowledge/*.yml; content is data) ---------------------------------


class Gemeente(Base):
    __tablename__ = "gemeenten"
    id = Column(String(80), primary_key=True)  # slug, e.g. "sittard-geleen"
    name = Column(String(120), nullable=False)
    provincie = Column(String(60), nullable=False)
    aliases = Column(JSON, nullable=False, default=list)
    deal = Column(Boolean, nullable=False, default=False)
    woonplaatsen = Column(JSON, nullable=False, default=list)
    postcodes = Column(JSON, nullable=False, default=list)  # ["6130-6139", ...]


class Regeling(Base):
    __tablename__ = "regelingen"
    id = Column(String(80), primary_key=True)
    name = Column(String(200), nullable=False)
    provider = Column(String(120), nullable=False)
    audience = Column(Text, nullable=False)
    benefit = Column(Text, nullable=False)
    summary = Column(String(300), nullable=False)
    conditions = Column(JSON, nullable=False, default=list)
    themes = Column(JSON, nullable=False, default=list)
    keywords = Column(JSON, nullable=False, default=list)
    region_level = Column(String(20), nullable=False, default="national")
    region_provincie = Column(String(60))
    region_gemeenten = Column(JSON, nullable=False, default=list)
    source_url = Column(String(500), nullable=False)
    source_file = Column(String(200), nullable=False, default="")
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Loket(Base):
    __tablename__ = "loketten"
    id = Column(String(80), primary_key=True)
    name = Column(String(200), nullable=False)
    kind = Column(String(20), nullable=False)  # loket | netwerk | financier | kennis
    description = Column(Text, nullable=False)
    themes = Column(JSON, nullable=False, default=list)
    keywords = Column(JSON, nullable=False, default=list)
    region_level = Column(String(20), nullable=False, default="national")
    region_provincie = Column(String(60))
    region_gemeenten = Column(JSON, nullable=False, default=list)
    url = Column(String(500), nullable=False)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Makelaarsteam(Base):
    __tablename__ = "makelaarsteams"
    id = Column(String(80), primary_key=True)
    name = Column(String(200), nullable=False)
    gemeenten = Column(JSON, nullable=False, default=list)
    topics = Column(JSON, nullable=False, default=list)
    channel = Column(String(20), nullable=False)  # email | webhook
    email = Column(String(200))
    webhook_url = Column(String(500))
    webhook_secret_env = Column(String(100))
    opening_hours = Column(String(200), nullable=False, default="")
    response_days = Column(Integer, nullable=False, default=2)
    demo = Column(Boolean, nullable=False, default=False)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class KnowledgeVersion(Base):
    """Bumped on every load, so running processes can notice new content cheaply."""

    __tablename__ = "knowledge_versions"
    id = Column(Integer, primary_key=True)
    loaded_at = Column(DateTime, nullable=False, default=utcnow)
    content_hash = Column(String(64), nullable=False)
    counts = Column(JSON, nullable=False, default=dict)


class KnowledgeSearch(Base):
    """One searchable regeling or loket, rebuilt by every knowledge load (bot.knowledge.search).

    words_* hold normalised words (lower case, no accents, compound parts added). SQLite indexes their
    stems in the FTS5 table knowledge_fts; PostgreSQL has a GIN index on their 'dutch' tsvector.
    """

    __tablename__ = "knowledge_search"
    id = Column(Integer, primary_key=True)  # also the FTS5 rowid
    kind = Column(String(10), nullable=False)  # regeling | loket
    item_id = Column(String(80), nullable=False)
    name = Column(String(200), nullable=False)
    provider = Column(String(120), nullable=False, default="")
    summary = Column(Text, nullable=False)
    source_url = Column(String(500), nullable=False)
    content_hash = Column(String(64), nullable=False, default="", server_default="")  # bot.knowledge.review
    themes = Column(Text, nullable=False, default="")  # "|innovation|energy|" for LIKE filters
    region_level = Column(String(20), nullable=False)
    region_provincie = Column(String(60))
    region_gemeenten = Column(Text, nullable=False, default="")  # "|zwolle|kampen|"
    words_name = Column(Text, nullable=False, default="")
    words_keywords = Column(Text, nullable=False, default="")
    words_provider = Column(Text, nullable=False, default="")
    words_body = Column(Text, nullable=False, default="")

    __table_args__ = (UniqueConstraint("kind", "item_id"),)


# The SQLite FTS5 table is created with raw SQL by the migration (Alembic cannot model virtual tables).
# These names are not in the metadata on purpose; autogenerate (and the drift test) must leave them be.
FTS_TABLES = frozenset(
    ["knowledge_fts"] + [f"knowledge_fts_{s}" for s in ("data", "idx", "content", "docsize", "config")]
)


def _alembic_ignores_fts_tables() -> None:
    """Register an autogenerate comparison hook (Alembic's documented extension point)."""
    import logging

    # Alembic logs "setup plugin ..." and "Running upgrade ..." at INFO: noise on every `loket`
    # command. Warnings and errors still show; an explicit level set by the operator wins.
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET:
        alembic_log.setLevel(logging.WARNING)
    try:
        from alembic.autogenerate import comparators
        from alembic.operations import ops
    except ImportError:  # alembic is only needed for migrations
        return
    kwargs: dict = {}
    try:
        from alembic.util import DispatchPriority

        kwargs["priority"] = DispatchPriority.LAST  # after Alembic's own table comparison
    except ImportError:
        pass

    def _drop_fts_ops(autogen_context, upgrade_ops, schemas) -> None:
        upgrade_ops.ops[:] = [
            op for op in upgrade_ops.ops
            if not (isinstance(op, ops.DropTableOp) and op.table_name in FTS_TABLES)
        ]

    comparators.dispatch_for("schema", **kwargs)(_drop_fts_ops)


_alembic_ignores_fts_tables()


class ReviewStamp(Base):
    """A person checked an entry's user-facing text against its source (bot.knowledge.review).

    Keyed by kind + item_id and the hash of the text they read, not by a foreign key: content tables
    are rebuilt by every knowledge load, stamps must survive that. One row per check (history);
    the newest counts.
    """

    __tablename__ = "review_stamps"
    id = Column(Integer, primary_key=True)
    kind = Column(String(10), nullable=False)  # regeling | loket
    item_id = Column(String(80), nullable=False)
    content_hash = Column(String(64), nullable=False)
    source_url = Column(String(500), nullable=False)
    user_id = Column(Integer, ForeignKey("users.id"))
    reviewer = Column(String(120), nullable=False)  # name at the time, kept if the account goes
    reviewed_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_review_stamps_item", "kind", "item_id", "reviewed_at"),)


# --- people who log in ----------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    username = Column(String(120), nullable=False, unique=True)
    password_hash = Column(String(300), nullable=False)
    role = Column(String(20), nullable=False)  # makelaar | coordinatie | admin
    team_id = Column(String(80), ForeignKey("makelaarsteams.id"), nullable=True)
    display_name = Column(String(120), nullable=False, default="")
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    last_login_at = Column(DateTime)
    # In every session cookie; raising it (logout, password change, disable) ends all sessions.
    session_version = Column(Integer, nullable=False, default=0, server_default="0")


# --- reference numbers ------------------------------------------------------------------------


class ReferenceCounter(Base):
    """Per prefix and year, e.g. ("LKT", 2026) -> 123 gives LKT-2026-000123."""

    __tablename__ = "reference_counters"
    prefix = Column(String(10), primary_key=True)
    year = Column(Integer, primary_key=True)
    value = Column(Integer, nullable=False, default=0)


# --- handoffs to a makelaarsteam ------------------------------------------------------------


class Handoff(Base):
    __tablename__ = "handoffs"
    id = Column(Integer, primary_key=True)
    reference = Column(String(30), nullable=False, unique=True)
    sender_id = Column(String(200), nullable=False, index=True)
    team_id = Column(String(80), ForeignKey("makelaarsteams.id"), nullable=False, index=True)
    gemeente_id = Column(String(80), nullable=True)
    topic = Column(String(80))
    description = Column(Text, nullable=False)
    contact_name = Column(String(200))
    contact_email = Column(String(200))
    contact_phone = Column(String(50))
    consent_at = Column(DateTime, nullable=False)
    transcript = Column(JSON, nullable=False, default=list)
    status = Column(String(20), nullable=False, default="nieuw")  # nieuw | opgepakt | afgesloten
    claimed_by = Column(Integer, ForeignKey("users.id"))
    claimed_at = Column(DateTime)
    outcome = Column(Text)
    closed_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    contact_purged_at = Column(DateTime)

    notes = relationship("HandoffNote", order_by="HandoffNote.id", cascade="all, delete-orphan")
    deliveries = relationship("OutboxMessage", order_by="OutboxMessage.id")


class HandoffNote(Base):
    __tablename__ = "handoff_notes"
    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False)
    user_id = Column(Integer, ForeignKey("users.id"), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class OutboxMessage(Base):
    """Written in the same transaction as the handoff; a worker delivers it with retries."""

    __tablename__ = "outbox"
    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"), nullable=False, index=True)
    delivery_key = Column(String(80), nullable=False, unique=True)
    channel = Column(String(20), nullable=False)  # email | webhook
    target = Column(String(500), nullable=False)
    # pending | sending (leased by a worker) | delivered | failed (after many tries; still retried hourly)
    status = Column(String(20), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, default=utcnow)
    last_error = Column(Text)
    delivered_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    id = Column(Integer, primary_key=True)
    outbox_id = Column(Integer, ForeignKey("outbox.id"), nullable=False, index=True)
    attempted_at = Column(DateTime, nullable=False, default=utcnow)
    ok = Column(Boolean, nullable=False)
    detail = Column(Text, nullable=False, default="")


# --- knelpunten -------------------------------------------------------------------------------


class Knelpunt(Base):
    __tablename__ = "knelpunten"
    id = Column(Integer, primary_key=True)
    reference = Column(String(30), nullable=False, unique=True)
    description = Column(Text, nullable=False)
    category = Column(String(40), nullable=False, index=True)
    track = Column(Integer, nullable=False, index=True)  # City Deal track 1, 2 or 3
    organisations = Column(JSON, nullable=False, default=list)
    gemeente_id = Column(String(80), index=True)
    consequence = Column(Text, nullable=False, default="")
    status = Column(String(40), nullable=False, default="nieuw", index=True)
    forwarded_to = Column(String(120))
    duplicate_of = Column(Integer, ForeignKey("knelpunten.id"))
    duplicate_count = Column(Integer, nullable=False, default=1)
    contact_consent = Column(Boolean, nullable=False, default=False)
    contact_name = Column(String(200))
    contact_email = Column(String(200))
    contact_phone = Column(String(50))
    sender_id = Column(String(200))  # only kept with contact consent
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    contact_purged_at = Column(DateTime)


class KnelpuntHistory(Base):
    __tablename__ = "knelpunt_history"
    id = Column(Integer, primary_key=True)
    knelpunt_id = Column(Integer, ForeignKey("knelpunten.id"), nullable=False, index=True)
    user_id = Column(Integer, ForeignKey("users.id"))
    field = Column(String(40), nullable=False)
    old_value = Column(Text)
    new_value = Column(Text)
    changed_at = Column(DateTime, nullable=False, default=utcnow)


# --- what the bot could not answer ---------------------------------------------------------


class UnansweredQuestion(Base):
    """Messages that hit the fallback or were rated unhelpful, for the weekly content review."""

    __tablename__ = "unanswered_questions"
    id = Column(Integer, primary_key=True)
    sender_id = Column(String(200), index=True)
    text = Column(Text, nullable=False)
    reason = Column(String(20), nullable=False)  # fallback | thumbs_down | unhelpful
    intent = Column(String(80))
    confidence = Column(Integer)  # percent
    bot_answer = Column(Text)
    gemeente_id = Column(String(80))
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    reviewed = Column(Boolean, nullable=False, default=False)

    __table_args__ = (UniqueConstraint("sender_id", "text", "reason", "created_at"),)


# --- results of the chat (anonymous counts; bot/conversation/stats.py) ------------------------


class ConversationStat(Base):
    """Per day and gemeente: how conversations went. Counts only, no sender id or text, so they stay
    after the retention purge deletes the conversations they were counted from."""

    __tablename__ = "conversation_stats"
    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False)
    gemeente_id = Column(String(80), nullable=False, default="")  # "" = not known
    conversations = Column(Integer, nullable=False, default=0)
    questions = Column(Integer, nullable=False, default=0)  # conversations with a question
    answered_direct = Column(Integer, nullable=False, default=0)
    answered_after_followup = Column(Integer, nullable=False, default=0)
    unanswered = Column(Integer, nullable=False, default=0)
    handed_off = Column(Integer, nullable=False, default=0)
    knelpunten = Column(Integer, nullable=False, default=0)
    fallback_messages = Column(Integer, nullable=False, default=0)
    thumbs_up = Column(Integer, nullable=False, default=0)
    thumbs_down = Column(Integer, nullable=False, default=0)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("day", "gemeente_id"),)
