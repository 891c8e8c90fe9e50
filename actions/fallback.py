"""A message the classifier was unsure about (nlu_fallback): answer, suggest, or show the menu.

The decision is bot.conversation.fallback.plan (from the ranking only); a follow-up question on the
previous answer is answered from that answer. Suggestions are readable titles, never intent names, and
only above the relevance floor; below it (or for emoji, code, random letters) the bot shows a short
menu of what it can do. Every unanswered message is recorded for the coordination team's review.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import (
    KNOWLEDGE_ACTIONS,
    KNOWLEDGE_SLOT,
    TEAM_CONTEXT_ACTIONS,
    answer_followup,
    previous_action,
)
from actions.knelpunt import answer_complaint, candidate_from, offer_message
from actions.unanswered import record_unanswered
from bot.conversation import fallback as fb
from bot.conversation.intent_titles import intent_title
from bot.conversation.language import is_nonsense

MENU = ("Sorry, dat begrijp ik niet. Ik help u met vragen over:\n"
        "- regelingen en subsidies\n- werken met mensen met een arbeidsbeperking\n"
        "- geld lenen en investeerders\n- inkoop en opdrachten van de gemeente\n"
        "- een knelpunt melden\n- contact met het makelaarsteam van uw gemeente\n"
        "Stel uw vraag in een korte zin, bijvoorbeeld: 'Welke subsidie is er voor energie besparen?'")
MENU_BUTTONS = [{"title": "Welke subsidies zijn er?", "payload": "/ask_subsidies_general"},
                {"title": "Een knelpunt melden", "payload": "/report_knelpunt"},
                {"title": "Praat met een mens", "payload": "/request_human"}]
FOLLOWUP_MAX_WORDS = 12
# Words that point back at the previous answer ("geldt dat ook...", "hoe lang duurt die?").
POINTERS = frozenset({"dat", "die", "dit", "deze", "daar", "daarvoor", "daarmee", "daarvan", "hiervoor",
                      "hiermee", "ervoor", "erbij", "het", "hij", "ze", "zij", "ook"})


def suggestion_buttons(intents: list[str]) -> list[dict[str, str]]:
    buttons = [{"title": intent_title(name), "payload": f"/{name}"} for name in intents]
    buttons.append({"title": "Iets anders", "payload": "/out_of_scope"})
    return buttons


def leans_on_previous(text: str) -> bool:
    words = text.lower().replace("?", " ").split()
    return 0 < len(words) <= FOLLOWUP_MAX_WORDS and (words[0] == "en" or any(w in POINTERS for w in words))


class ActionHandleFallback(Action):
    def name(self) -> str:
        return "action_handle_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        message = tracker.latest_message or {}
        text = (message.get("text") or "").strip()
        ranking = message.get("intent_ranking") or []
        offered: list[EventType] = [SlotSet("knelpunt_offered", None)]
        before = previous_action(tracker)
        context = ("team" if before in TEAM_CONTEXT_ACTIONS and tracker.get_slot("gemeente") else
                   "knowledge" if before in KNOWLEDGE_ACTIONS and tracker.get_slot(KNOWLEDGE_SLOT) else None)
        if context and not is_nonsense(text) and leans_on_previous(text):
            return offered + await answer_followup(dispatcher, tracker, domain)
        plan = fb.plan(text, ranking, context)
        if plan.kind == "followup":
            return offered + await answer_followup(dispatcher, tracker, domain)
        if plan.kind == "complaint":
            events = await answer_complaint(dispatcher, tracker, domain, plan.intents[0])
            offer_message(dispatcher, answered=True)
            return [*events, SlotSet("knelpunt_candidate", candidate_from(tracker)),
                    SlotSet("knelpunt_offered", True)]
        if plan.kind == "answer":
            from actions.knowledge import LAST_QUERY_SLOT, _answer  # a clear topic: just answer it

            dispatcher.utter_message(text=f"Ik denk dat uw vraag hierover gaat: "
                                          f"{intent_title(plan.intents[0]).lower()}.")
            query = await _answer(dispatcher, tracker, plan.intents[0])
            return [*offered, SlotSet(LAST_QUERY_SLOT, query)]
        await record_unanswered(tracker, text, message.get("intent") or {})
        if plan.kind == "suggest":
            dispatcher.utter_message(text="Ik weet niet zeker wat u bedoelt. Bedoelt u een van deze "
                                          "onderwerpen?", buttons=suggestion_buttons(plan.intents))
            return offered
        dispatcher.utter_message(text=MENU, buttons=MENU_BUTTONS)
        return offered


class ActionDefaultAskAffirmation(Action):
    """Rasa's two-stage fallback question, kept for the default action it replaces: the same
    suggestions as above, above the same floor."""

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        known = {i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents", [])}
        suggestions = [name for name, _ in fb.suggestable(ranking) if name in known][:fb.MAX_SUGGESTIONS]
        text = ("Ik weet niet zeker wat u bedoelt. Bedoelt u een van deze onderwerpen?"
                if suggestions else "Ik weet niet zeker wat u bedoelt.")
        dispatcher.utter_message(text=text, buttons=suggestion_buttons(suggestions))
        return []
