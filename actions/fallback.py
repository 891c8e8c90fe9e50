"""Two-stage fallback: "bedoelt u...?" with readable titles instead of intent names."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.conversation.intent_titles import intent_title

# Intents that make no sense as a suggestion.
_NOT_SUGGESTED = {"nlu_fallback", "out_of_scope", "affirm", "deny", "stop", "inform", "greet",
                  "goodbye", "thank"}


class ActionDefaultAskAffirmation(Action):
    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        known = {i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents", [])}
        suggestions = [
            r["name"] for r in ranking
            if r.get("name") not in _NOT_SUGGESTED and r.get("name") in known
        ][:3]
        buttons = [{"title": intent_title(name), "payload": f"/{name}"} for name in suggestions]
        buttons.append({"title": "Iets anders", "payload": "/out_of_scope"})
        text = ("Ik weet niet zeker wat u bedoelt. Bedoelt u een van deze onderwerpen?"
                if suggestions else "Ik weet niet zeker wat u bedoelt.")
        dispatcher.utter_message(text=text, buttons=buttons)
        return []
