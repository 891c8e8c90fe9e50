"""One mechanism for interruptions of every form.

Each form's validation action inherits InterruptibleFormValidation. When the user asks a question in the
middle of a form (a topic question, "ben je een bot?", "wat kun je?"), the validator answers it, drops
whatever the free-text slot mappings picked up from that message, and the form asks its question again.
So no rule per form and intent is needed; only `stop` has a rule per form (to deactivate it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

# Intents answered without leaving the form. Topic questions are added by prefix.
INTERRUPTING_INTENTS = {"bot_challenge", "what_can_you_do", "ask_privacy", "ask_deal_gemeenten", "faq",
                        "ask_team_details"}
MIN_CONFIDENCE = 0.6
SHORT_ANSWER_WORDS = 3

STATIC_ANSWERS = {
    "bot_challenge": "utter_iamabot",
    "what_can_you_do": "utter_what_can_you_do",
}


def form_active_before_message(tracker: Tracker, form: str) -> bool:
    """Whether `form` was already running when the user sent the latest message.

    On activation the form validates the message that started it ("ik wil een makelaar spreken"):
    that message is no answer to a question of the form, and no reason to say "I'm on it already".
    Activation shows as the form's active_loop event after the latest user message.
    """
    if tracker.active_loop.get("name") != form:
        return False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return True
        if event.get("event") == "active_loop" and event.get("name") == form:
            return False
    return True


def is_interruption(tracker: Tracker) -> str | None:
    """The intent of the latest message when it is a question to answer mid-form, else None."""
    intent = tracker.latest_message.get("intent") or {}
    name, confidence = intent.get("name") or "", intent.get("confidence") or 0.0
    if confidence < MIN_CONFIDENCE:
        return None
    text = (tracker.latest_message.get("text") or "").strip()
    if len(text.split()) <= SHORT_ANSWER_WORDS and "?" not in text:
        # A short answer without a question mark is an answer ("Sam de Vries", "Zwolle"), even when
        # the classifier reads it as a question: otherwise the form would ask the same thing forever.
        return None
    if name in INTERRUPTING_INTENTS or name.startswith("ask_"):
        return name
    return None


async def answer_interruption(dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: dict[str, Any], intent: str) -> None:
    if intent in STATIC_ANSWERS:
        dispatcher.utter_message(response=STATIC_ANSWERS[intent])
        return
    if intent == "ask_team_details":
        from actions.conversation import utter_team_details  # the team's hours, speed and contact

        await utter_team_details(dispatcher, tracker)
        return
    if intent == "faq":
        retrieval = (tracker.latest_message.get("response_selector") or {}).get("faq", {})
        key = (retrieval.get("response") or {}).get("utter_action")
        if key:
            dispatcher.utter_message(response=key)
        return
    from actions.knowledge import answer_question  # topic questions: the knowledge base answers

    await answer_question(dispatcher, tracker, domain, intent)


class InterruptibleFormValidation(FormValidationAction, ABC):
    """Base for every form validator: answers interruptions, then lets the form ask again."""

    @abstractmethod
    def name(self) -> str:
        """Abstract, so the action server does not register this base class as an action."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        intent = is_interruption(tracker)
        if intent and tracker.active_loop.get("name") == self.form_name():
            await answer_interruption(dispatcher, tracker, domain, intent)
            dispatcher.utter_message(response="utter_back_to_form")
            return self.ask_again(tracker, domain)
        return await super().run(dispatcher, tracker, domain)

    def ask_again(self, tracker: Tracker, domain: dict[str, Any],
                  changes: dict[str, Any] | None = None) -> list[EventType]:
        """Events that undo what this message filled in, apply `changes`, and make the form ask the
        same question again (after an interruption or a correction of an earlier answer)."""
        changes = changes or {}
        # Free-text mappings already copied the message into the requested slot (Rasa extracts
        # before the form runs): clear what this message set, so the form asks that slot again.
        form_slots = set(self.domain_slots(domain))
        events = [SlotSet(name, None) for name in tracker.slots_to_validate()
                  if name in form_slots and name not in changes]
        events += [SlotSet(name, value) for name, value in changes.items()]
        requested = tracker.get_slot("requested_slot")
        if requested:
            # At a step without free text (gemeente, consent) nothing was extracted; without a
            # slot event Rasa would reject the form and a rule would answer the question twice.
            # Keeping requested_slot makes the form ask the same question again.
            if requested not in {e["name"] for e in events}:
                events.append(SlotSet(requested, None))
            events.append(SlotSet("requested_slot", requested))
        return events
