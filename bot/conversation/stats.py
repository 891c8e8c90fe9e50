"""Anonymous results of the chat, per day and gemeente: what the coordination team sees on
/coordinatie/resultaten, in the terms VNG's Gem reports (answered directly, after a follow-up, not).

`aggregate` reads Rasa's tracker store (the `events` table, with SQLAlchemy Core as bot/privacy.py does)
and writes counts into models.ConversationStat: no sender id, no text, only numbers per day and
gemeente. The maintenance job runs it before the retention purge deletes old conversations; a day
is recounted only while all its conversations are still in the tracker store (the retention period),
so the figures of older days stay as they were last counted.

How a conversation counts (every conversation is attributed to the day of its first message):
- a question turn is a user message that asks something (not a greeting, thanks, yes/no, a place or
  an answer inside a form);
- a turn is a miss when the bot said it did not understand or found nothing, an answer when an
  answering action ran (topic, FAQ, follow-up, team details, a stored handoff or knelpunt, ...);
- answered directly: answers and no miss before the first answer; after a follow-up: a miss (the bot
  asked again or suggested topics) and an answer after it; not answered: misses and no answer.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from itertools import groupby
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import models, privacy
from bot.db import session_scope
from bot.handoffs.references import REFERENCE_RE

log = logging.getLogger(__name__)

ANSWER_ACTIONS = frozenset({
    "action_answer_topic", "action_more_info", "action_other_results", "utter_faq",
    "action_deal_gemeenten", "action_team_details", "action_answer_followup", "action_answer_english",
    "action_offer_knelpunt", "utter_privacy", "utter_delete_conversation", "utter_private_life",
    "utter_what_can_you_do", "utter_iamabot", "utter_out_of_scope", "action_submit_handoff",
    "action_submit_knelpunt", "action_handle_fallback",
})
# What the bot says when it did not understand or found nothing (actions/fallback.py,
# actions/knowledge.py, domain/core.yml utter_default and utter_ask_rephrase).
MISS_MARKERS = ("weet niet zeker wat u bedoelt", "dat begrijp ik niet", "kan u hier niet goed mee helpen",
                "begrijp uw vraag niet goed", "geen regeling of loket voor gevonden")
NOT_QUESTIONS = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "inform", "stop",
                           "feedback_unhelpful", "delete_conversation"})
SUBMIT_HANDOFF, SUBMIT_KNELPUNT = "action_submit_handoff", "action_submit_knelpunt"
FALLBACK_INTENT = "nlu_fallback"

COUNTS = ("conversations", "questions", "answered_direct", "answered_after_followup", "unanswered",
          "handed_off", "knelpunten", "fallback_messages", "thumbs_up", "thumbs_down")
UNKNOWN_GEMEENTE = ""  # stored instead of NULL, so (day, gemeente) is a real key


@dataclass
class Outcome:
    """One conversation, reduced to what the results page counts."""

    day: date
    gemeente: str = UNKNOWN_GEMEENTE
    questions: int = 0
    result: str = "no_question"  # direct | after_followup | unanswered | no_question
    handed_off: bool = False
    knelpunt: bool = False
    fallback_messages: int = 0


@dataclass
class _Turn:
    intent: str = ""
    text: str = ""
    in_form: bool = False
    actions: list[str] = field(default_factory=list)
    bot_texts: list[str] = field(default_factory=list)

    @property
    def is_question(self) -> bool:
        if self.in_form or self.intent in NOT_QUESTIONS:
            return False
        return bool(self.text) and not self.text.startswith("/") or self.intent.startswith("ask_")

    @property
    def missed(self) -> bool:
        said = " ".join(self.bot_texts).lower()
        return any(marker in said for marker in MISS_MARKERS) or "action_default_fallback" in self.actions

    @property
    def answered(self) -> bool:
        return not self.missed and any(a in ANSWER_ACTIONS for a in self.actions)


def _day(timestamp: float) -> date:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).date()


def classify(events: list[dict[str, Any]]) -> Outcome | None:
    """One conversation's events (as Rasa stores them, oldest first) -> its Outcome; None without any
    user message."""
    turns: list[_Turn] = []
    gemeente = UNKNOWN_GEMEENTE
    first: float | None = None
    active_loop: str | None = None
    last_action = ""
    outcome_flags = {"handoff": False, "knelpunt": False}
    for event in events:
        kind = event.get("event")
        if kind == "user":
            if first is None:
                first = float(event.get("timestamp") or 0.0)
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
            turns.append(_Turn(intent, (event.get("text") or "").strip(), in_form=bool(active_loop)))
        elif kind == "active_loop":
            active_loop = event.get("name")
        elif kind == "slot" and event.get("name") == "gemeente" and isinstance(event.get("value"), str):
            gemeente = event["value"][:80]
        elif kind == "action" and turns:
            name = event.get("name") or ""
            if name != "action_listen":
                turns[-1].actions.append(name)
                last_action = name
        elif kind == "bot" and turns:
            text = event.get("text") or ""
            turns[-1].bot_texts.append(text)
            if REFERENCE_RE.search(text) and last_action == SUBMIT_HANDOFF:
                outcome_flags["handoff"] = True
            if REFERENCE_RE.search(text) and last_action == SUBMIT_KNELPUNT:
                outcome_flags["knelpunt"] = True
    if first is None:
        return None
    outcome = Outcome(_day(first), gemeente, handed_off=outcome_flags["handoff"],
                      knelpunt=outcome_flags["knelpunt"])
    outcome.fallback_messages = sum(1 for t in turns if t.intent == FALLBACK_INTENT)
    asked = [t for t in turns if t.is_question or t.missed]
    outcome.questions = sum(1 for t in asked if t.is_question)
    if not asked:
        return outcome
    missed_before_answer = False
    answered_at: int | None = None
    for i, turn in enumerate(asked):
        if turn.answered:
            answered_at = i
            break
        if turn.missed:
            missed_before_answer = True
    if answered_at is None:
        outcome.result = "unanswered" if any(t.missed for t in asked) else "no_question"
        if outcome.result == "no_question" and (outcome.handed_off or outcome.knelpunt):
            outcome.result = "direct"
    else:
        outcome.result = "after_followup" if missed_before_answer else "direct"
    return outcome


# --- reading the tracker store ----------------------------------------------------------------


def tracker_conversations(tracker_db_url: str, since: datetime) -> Iterable[list[dict[str, Any]]]:
    """The events of every conversation that has a user message on or after `since` (naive UTC)."""
    engine = privacy._tracker_engine(tracker_db_url)  # one way to reach the tracker
    if engine is None:
        return []
    try:
        events = privacy._events_table(engine)
        recent = (select(events.c.sender_id).where(events.c.type_name == "user",
                                                   events.c.timestamp >= privacy._unix(since))
                  .group_by(events.c.sender_id))
        # one query for all of them, in conversation order
        with engine.connect() as conn:
            rows = conn.execute(select(events.c.sender_id, events.c.data)
                                .where(events.c.sender_id.in_(recent))
                                .order_by(events.c.sender_id, events.c.id)).all()
        out = []
        for _, group in groupby(rows, key=lambda row: row[0]):
            parsed = []
            for _, data in group:
                try:
                    parsed.append(json.loads(data))
                except (TypeError, ValueError):
                    continue
            out.append(parsed)
        return out
    finally:
        engine.dispose()


# --- the statistics table ---------------------------------------------------------------------


def count(outcomes: Iterable[Outcome]) -> dict[tuple[date, str], dict[str, int]]:
    rows: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for o in outcomes:
        row = rows[(o.day, o.gemeente)]
        row["conversations"] += 1
        row["questions"] += 1 if o.result != "no_question" else 0
        row["answered_direct"] += o.result == "direct"
        row["answered_after_followup"] += o.result == "after_followup"
        row["unanswered"] += o.result == "unanswered"
        row["handed_off"] += o.handed_off
        row["knelpunten"] += o.knelpunt
        row["fallback_messages"] += o.fallback_messages
    return rows


def _votes(session: Session, first_day: date) -> dict[tuple[date, str], dict[str, int]]:
    """Thumbs up/down per day and gemeente (models.UnansweredQuestion keeps the reason after purge)."""
    rows: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    start = datetime.combine(first_day, datetime.min.time())
    U = models.UnansweredQuestion
    for reason, created, gemeente in session.execute(
            select(U.reason, U.created_at, U.gemeente_id).where(
                U.reason.in_(("thumbs_up", "thumbs_down")), U.created_at >= start)):
        rows[(created.date(), (gemeente or UNKNOWN_GEMEENTE)[:80])][reason] += 1
    return rows


def first_countable_day(now: datetime, retention_days: int) -> date:
    """The oldest day whose conversations are all still in the tracker store."""
    return (now - timedelta(days=retention_days)).date() + timedelta(days=1)


def aggregate(engine: Engine, tracker_db_url: str, now: datetime, retention_days: int) -> int:
    """Recount every day still complete in the tracker store; returns the number of rows written.

    Idempotent: the rows of those days are replaced, older days are left as they were.
    """
    first_day = first_countable_day(now, retention_days)
    since = datetime.combine(first_day, datetime.min.time())
    outcomes = [o for o in (classify(events) for events in tracker_conversations(tracker_db_url, since))
                if o is not None and o.day >= first_day]
    rows = count(outcomes)
    with session_scope(engine) as session:
        for key, votes in _votes(session, first_day).items():
            row = rows.setdefault(key, dict.fromkeys(COUNTS, 0))
            row["thumbs_up"] += votes["thumbs_up"]
            row["thumbs_down"] += votes["thumbs_down"]
        session.execute(delete(models.ConversationStat).where(models.ConversationStat.day >= first_day))
        for (day, gemeente), values in sorted(rows.items()):
            session.add(models.ConversationStat(day=day, gemeente_id=gemeente, **values))
    return len(rows)


# --- reading the figures for the page ---------------------------------------------------------


@dataclass
class Period:
    key: str  # "2026-W49" or "2026-12"
    counts: dict[str, int]

    def rate(self, name: str) -> float | None:
        """Share of conversations with a question, in percent (None when there were none)."""
        asked = self.counts["questions"]
        return round(100.0 * self.counts[name] / asked, 1) if asked else None


def period_key(day: date, period: str) -> str:
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def periods(session: Session, period: str = "week", gemeente: str | None = None) -> list[Period]:
    """The counts per week or month (oldest first), for all gemeenten or one ("" = unknown)."""
    stmt = select(models.ConversationStat)
    if gemeente is not None:
        stmt = stmt.where(models.ConversationStat.gemeente_id == gemeente)
    buckets: dict[str, dict[str, int]] = {}
    for row in session.execute(stmt).scalars():
        bucket = buckets.setdefault(period_key(row.day, period), dict.fromkeys(COUNTS, 0))
        for name in COUNTS:
            bucket[name] += getattr(row, name) or 0
    return [Period(key, buckets[key]) for key in sorted(buckets)]


def by_gemeente(session: Session) -> list[tuple[str, dict[str, int]]]:
    """Totals per gemeente id ("" = unknown), most conversations first, the unknown ones last."""
    totals: dict[str, dict[str, int]] = {}
    for row in session.execute(select(models.ConversationStat)).scalars():
        bucket = totals.setdefault(row.gemeente_id or UNKNOWN_GEMEENTE, dict.fromkeys(COUNTS, 0))
        for name in COUNTS:
            bucket[name] += getattr(row, name) or 0
    return sorted(totals.items(), key=lambda item: (item[0] == UNKNOWN_GEMEENTE, -item[1]["conversations"],
                                                    item[0]))


def total(rows: Iterable[Period]) -> Period:
    counts = dict.fromkeys(COUNTS, 0)
    for p in rows:
        for name in COUNTS:
            counts[name] += p.counts[name]
    return Period("totaal", counts)


def count_then_purge(engine: Engine, settings, now=None) -> privacy.PrivacyReport:
    """Count the results of the conversations first (anonymous, models.ConversationStat), then purge:
    the figures outlive the conversations they were counted from."""
    now = now or models.utcnow()
    try:
        aggregate(engine, settings.tracker_db_url, now, settings.conversation_retention_days)
    except Exception:  # the purge must run anyway: personal data has a deadline, figures do not
        log.exception("counting the conversation results failed")
    return privacy.purge(engine, settings.tracker_db_url, now, settings)
