"""Questions the bot could not answer well, grouped for the coordination team's weekly content review.

Rows come from three places: the fallback action ("fallback"), the user saying an answer did not help
("unhelpful"), and the widget's thumbs ("thumbs_down", "thumbs_up"). Thumbs up is stored for the
statistics but is not a problem, so it stays out of the review.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from rapidfuzz import fuzz, process
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import models
from bot.text import normalize

REASONS = ("fallback", "unhelpful", "thumbs_down", "thumbs_up")
REVIEW_REASONS = ("fallback", "unhelpful", "thumbs_down")
REASON_LABELS = {"fallback": "niet begrepen", "unhelpful": "antwoord hielp niet",
                 "thumbs_down": "duim omlaag", "thumbs_up": "duim omhoog"}
MAX_TEXT = 2000
PURGED_TEXT = "[verwijderd]"  # what bot.privacy leaves after the retention period; nothing to review
# token_set_ratio scores 100 when one question's words are a subset of the other's ("subsidie" and
# "subsidie voor een pand"), so a group also needs similar lengths before two questions join it.
SIMILARITY = 90
MIN_LENGTH_RATIO = 0.6


def record(session: Session, text: str | None, reason: str, *, sender_id: str | None = None,
           intent: str | None = None, confidence: float | None = None,
           bot_answer: str | None = None, gemeente_id: str | None = None,
           now: datetime | None = None) -> models.UnansweredQuestion:
    """Store one message for the review, inside the caller's transaction."""
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}; expected one of {', '.join(REASONS)}")
    percent = None
    if confidence is not None:
        # Rasa gives 0..1; accept a percentage too.
        percent = int(round(confidence * 100 if confidence <= 1 else confidence))
        percent = max(0, min(100, percent))
    row = models.UnansweredQuestion(
        sender_id=(sender_id or None) and sender_id[:200],
        text=(text or "").strip()[:MAX_TEXT],
        reason=reason,
        intent=(intent or None) and intent[:80],
        confidence=percent,
        bot_answer=(bot_answer or "").strip()[:MAX_TEXT] or None,
        gemeente_id=(gemeente_id or None) and gemeente_id[:80],
        created_at=now or models.utcnow(),
        reviewed=False,
    )
    session.add(row)
    session.flush()
    return row


@dataclass
class QuestionGroup:
    text: str  # the most frequent spelling in the group
    ids: list[int] = field(default_factory=list)
    texts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    last_seen: datetime | None = None
    first_seen: datetime | None = None
    bot_answers: Counter[str] = field(default_factory=Counter)
    intents: Counter[str] = field(default_factory=Counter)
    reviewed: bool = True  # False as soon as one member is not reviewed

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def variants(self) -> list[str]:
        """Other spellings, most frequent first (the main text excluded)."""
        return [t for t, _ in self.texts.most_common() if t != self.text]

    def reason_mix(self) -> list[tuple[str, int]]:
        return [(REASON_LABELS.get(r, r), n) for r, n in self.reasons.most_common()]


def _similar(a: str, b: str) -> bool:
    short, long_ = sorted((len(a.split()), len(b.split())))
    if long_ and short / long_ < MIN_LENGTH_RATIO:
        return False
    return fuzz.token_set_ratio(a, b) >= SIMILARITY


def group_rows(rows: Iterable[models.UnansweredQuestion]) -> list[QuestionGroup]:
    """Cluster near-identical questions: same normalised text first, then fuzzy matching."""
    by_norm: dict[str, list[models.UnansweredQuestion]] = {}
    for row in rows:
        by_norm.setdefault(normalize(row.text) or row.text, []).append(row)
    # Bigger exact groups first, so they become the representatives others join.
    keys = sorted(by_norm, key=lambda k: (-len(by_norm[k]), k))
    clusters: list[list[str]] = []
    representatives: list[str] = []
    for key in keys:
        target = None
        if representatives:
            for candidate, _score, index in process.extract(
                    key, representatives, scorer=fuzz.token_set_ratio, score_cutoff=SIMILARITY,
                    limit=5):
                if _similar(key, candidate):
                    target = index
                    break
        if target is None:
            clusters.append([key])
            representatives.append(key)
        else:
            clusters[target].append(key)
    groups = []
    for cluster in clusters:
        group = QuestionGroup(text="")
        for key in cluster:
            for row in by_norm[key]:
                group.ids.append(row.id)
                group.texts[row.text] += 1
                group.reasons[row.reason] += 1
                if row.bot_answer:
                    group.bot_answers[row.bot_answer] += 1
                if row.intent:
                    group.intents[row.intent] += 1
                group.last_seen = max(filter(None, (group.last_seen, row.created_at)))
                group.first_seen = min(filter(None, (group.first_seen, row.created_at)))
                group.reviewed = group.reviewed and row.reviewed
        # The most frequent spelling; on a tie the longer one (usually with capitals and "?").
        group.text = max(group.texts.items(), key=lambda item: (item[1], len(item[0])))[0]
        group.ids.sort()
        groups.append(group)
    groups.sort(key=lambda g: (-g.count, -(g.last_seen or datetime.min).timestamp(), g.text))
    return groups


def grouped(session: Session, *, include_reviewed: bool = False, since: datetime | None = None,
            reasons: Iterable[str] = REVIEW_REASONS, limit: int = 5000) -> list[QuestionGroup]:
    """The review: near-identical questions together, with counts, last seen and the reason mix."""
    q = models.UnansweredQuestion
    stmt = select(q).where(q.reason.in_(tuple(reasons)), q.text != "", q.text != PURGED_TEXT)
    if not include_reviewed:
        stmt = stmt.where(q.reviewed.is_(False))
    if since is not None:
        stmt = stmt.where(q.created_at >= since)
    rows = session.execute(stmt.order_by(q.created_at.desc()).limit(limit)).scalars().all()
    return group_rows(rows)


def mark_reviewed(session: Session, ids: Iterable[int], reviewed: bool = True) -> int:
    """Mark questions as handled (or back to open); returns how many rows changed."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return 0
    q = models.UnansweredQuestion
    result = session.execute(update(q).where(q.id.in_(wanted), q.reviewed.is_not(reviewed))
                             .values(reviewed=reviewed))
    return result.rowcount or 0


def counts(session: Session) -> dict[str, int]:
    """Open (not reviewed) questions per reason, for a summary line."""
    from sqlalchemy import func

    q = models.UnansweredQuestion
    rows = session.execute(select(q.reason, func.count()).where(q.reviewed.is_(False))
                           .group_by(q.reason)).all()
    return {reason: n for reason, n in rows}
