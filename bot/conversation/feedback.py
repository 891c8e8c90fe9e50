"""Thumbs up/down on bot answers, stored for the review of unanswered questions.

A vote becomes one models.UnansweredQuestion row (reason "thumbs_up" or "thumbs_down") with the
user's question, the bot's answer and the anonymous sender id. The web route validates with
parse_feedback() and stores with record_feedback(); neither needs Rasa.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot import models
from bot.conversation.personal_prompts import repeats_personal_data
from bot.privacy import redact

VOTES = {"up": "thumbs_up", "down": "thumbs_down"}
MAX_SENDER_CHARS = 200  # models.UnansweredQuestion.sender_id
MAX_ANSWER_CHARS = 4000  # a bot answer with a few paragraphs; longer is not a real answer
MAX_QUESTION_CHARS = 1000  # settings.max_message_chars default; the widget refuses longer input
# Sender ids come from the widget (hex uuid) or another channel; no spaces, quotes or markup.
_SENDER_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_GEMEENTE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


class FeedbackError(ValueError):
    """Invalid feedback; the message is Dutch and safe to show to the user."""


@dataclass(frozen=True)
class Feedback:
    sender_id: str
    vote: str  # "up" | "down"
    message_text: str  # the bot answer that was rated
    question: str  # the user's message before that answer ("" when there was none)
    gemeente_id: str | None = None

    @property
    def reason(self) -> str:
        return VOTES[self.vote]


def _text(payload: dict[str, Any], key: str, limit: int, required: bool) -> str:
    value = payload.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise FeedbackError(f"Het veld '{key}' moet tekst zijn.")
    value = value.strip()
    if required and not value:
        raise FeedbackError(f"Het veld '{key}' is leeg.")
    if len(value) > limit:
        raise FeedbackError(f"Het veld '{key}' is te lang (meer dan {limit} tekens).")
    return value


def parse_feedback(payload: Any, max_question_chars: int = MAX_QUESTION_CHARS) -> Feedback:
    """Check a JSON body from the widget; raises FeedbackError with a Dutch message."""
    if not isinstance(payload, dict):
        raise FeedbackError("Stuur de reactie als JSON-object.")
    vote = payload.get("vote")
    if vote not in VOTES:
        raise FeedbackError("Het veld 'vote' moet 'up' of 'down' zijn.")
    sender_id = _text(payload, "sender_id", MAX_SENDER_CHARS, required=True)
    if not _SENDER_RE.match(sender_id):
        raise FeedbackError("Het veld 'sender_id' heeft een ongeldige vorm.")
    message_text = _text(payload, "message_text", MAX_ANSWER_CHARS, required=True)
    question = _text(payload, "question", max_question_chars, required=False)
    gemeente = _text(payload, "gemeente", 80, required=False).lower()
    if gemeente and not _GEMEENTE_RE.match(gemeente):
        raise FeedbackError("Het veld 'gemeente' heeft een ongeldige vorm.")
    return Feedback(sender_id=sender_id, vote=vote, message_text=message_text, question=question,
                    gemeente_id=gemeente or None)


def record_feedback(session: Session, feedback: Feedback) -> models.UnansweredQuestion | None:
    """Store one vote as a row for the review page; None when it must not be stored.

    A vote on a message around contact details (bot.conversation.personal_prompts) is dropped: its question or answer
    holds a name, e-mail address or phone number. Other votes are stored with e-mail addresses and
    phone numbers removed, in case someone typed them into an ordinary question.
    """
    if repeats_personal_data(feedback.message_text):
        return None
    row = models.UnansweredQuestion(
        sender_id=feedback.sender_id,
        text=redact(feedback.question) or "",
        reason=feedback.reason,
        bot_answer=redact(feedback.message_text),
        gemeente_id=feedback.gemeente_id,
    )
    session.add(row)
    session.flush()
    return row
