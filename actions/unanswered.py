"""Questions the bot could not answer: stored for the coordination team's weekly review.

`action_default_fallback` replaces Rasa's default (same behaviour: utter_default and revert the user's
message) and also records the message. `action_feedback_unhelpful` records the previous question and
answer when the user says the answer did not help, apologises and offers a makelaar.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from bot.conversation import unanswered
from bot.db import run_in_session

log = logging.getLogger(__name__)

TEXTS = {
    "sorry": ("Sorry dat mijn antwoord u niet helpt. Ik geef uw vraag door aan het team dat de "
              "antwoorden verbetert. Wilt u met een makelaar van de gemeente praten?"),
}
BUTTONS = [{"title": "Ja, met een makelaar praten", "payload": "/request_human"},
           {"title": "Nee, dank u", "payload": "/deny"}]


def _gemeente(tracker: Tracker) -> str | None:
    value = tracker.get_slot("gemeente")
    return value if isinstance(value, str) and value else None


async def _record(tracker: Tracker, text: str, reason: str, **kw: Any) -> None:
    """Store; a database problem must not break the conversation, so it is only logged."""
    try:
        await run_in_session(lambda s: unanswered.record(
            s, text, reason, sender_id=tracker.sender_id, gemeente_id=_gemeente(tracker), **kw))
    except Exception:
        log.exception("could not record an unanswered question (reason %s)", reason)


async def record_unanswered(tracker: Tracker, text: str, intent: dict[str, Any]) -> None:
    """A message the bot did not understand, for the weekly review (button payloads are not)."""
    if text and not text.startswith("/"):
        await _record(tracker, text, "fallback", intent=intent.get("name"),
                      confidence=intent.get("confidence"))


def previous_exchange(events: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The user's question and the bot's answer before the latest user message."""
    users_seen = 0
    answer_parts: list[str] = []
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            users_seen += 1
            if users_seen == 2:
                text = (event.get("text") or "").strip()
                if text.startswith("/"):  # a button payload has no question text
                    text = ""
                return text or None, "\n".join(reversed(answer_parts)) or None
        elif kind == "bot" and users_seen == 1 and event.get("text"):
            answer_parts.append(event["text"])
    return None, "\n".join(reversed(answer_parts)) or None


class ActionDefaultFallback(Action):
    def name(self) -> str:
        return "action_default_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        message = tracker.latest_message or {}
        text = (message.get("text") or "").strip()
        await record_unanswered(tracker, text, message.get("intent") or {})
        dispatcher.utter_message(response="utter_default")
        # As Rasa's own fallback: forget the message, so it does not steer the next prediction.
        return [UserUtteranceReverted()]


class ActionFeedbackUnhelpful(Action):
    def name(self) -> str:
        return "action_feedback_unhelpful"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        question, answer = previous_exchange(tracker.events)
        if question or answer:
            intent = None
            for event in reversed(tracker.events):  # the intent of that question, for the review
                if event.get("event") == "user" and (event.get("text") or "").strip() == question:
                    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
                    break
            await _record(tracker, question or "", "unhelpful", bot_answer=answer, intent=intent)
        dispatcher.utter_message(text=TEXTS["sorry"], buttons=BUTTONS)
        return []
