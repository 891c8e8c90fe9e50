"""Conversation quality (issue 20): the makelaarsteam's own details, follow-up questions on the previous
answer, and English speakers. Thin adapters: the wording and the decisions are in bot/conversation/.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import route_for
from actions.knowledge import HUMAN_BUTTON
from bot.conversation import followup as fu
from bot.conversation.gemeenten import resolve_gemeente
from bot.conversation.language import english_place
from bot.conversation.routing import Route
from bot.conversation.team_details import ASK_GEMEENTE, team_details_english, team_details_text
from bot.db import run_in_session
from bot.knowledge import queries

KNOWLEDGE_SLOT = "kennis_zoekvraag"
# After these actions a vague follow-up ("wanneer hoor ik iets?", "wie kan mij daar helpen?") is about
# the makelaarsteam, not about the regelingen shown earlier.
TEAM_CONTEXT_ACTIONS = frozenset({"action_submit_handoff", "action_team_details", "action_gemeente_noted",
                                  "action_handoff_intro"})
KNOWLEDGE_ACTIONS = frozenset({"action_answer_topic", "action_more_info", "action_other_results",
                               "action_answer_followup", "action_handle_fallback", "action_offer_knelpunt"})

TEXTS = {
    "followup_unclear": ("Waar gaat uw vraag over? Noem het onderwerp of de regeling, bijvoorbeeld: "
                         "'Hoe vraag ik loonkostensubsidie aan?'"),
    "english": ("This assistant works in Dutch. English information for entrepreneurs in the Netherlands "
                "is on business.gov.nl. A makelaar (an adviser of the municipality) can help you in "
                "English."),
    "english_offer": "Shall I pass your question on to the makelaarsteam?",
    "english_declined": ("All right. You can find English information on business.gov.nl, or ask your "
                         "question here in Dutch."),
}
ENGLISH_BUTTONS = [{"title": "Yes, pass my question on", "payload": "/affirm"},
                   {"title": "No, thank you", "payload": "/deny"}]


def previous_action(tracker: Tracker) -> str | None:
    """The last action the bot ran before the user's latest message (listen excluded)."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return None
            seen_user = True
        elif kind == "action" and seen_user and event.get("name") not in (None, "action_listen"):
            return event.get("name")
    return None


async def utter_team_details(dispatcher: CollectingDispatcher, tracker: Tracker,
                             gemeente_id: str | None = None) -> bool:
    """The team's opening hours, response time and contact; False when the gemeente is unknown."""
    return utter_route_details(dispatcher, await route_for(gemeente_id or tracker.get_slot("gemeente")))


def utter_route_details(dispatcher: CollectingDispatcher, r: Route | None) -> bool:
    """utter_team_details for a route already looked up."""
    if r is None:
        dispatcher.utter_message(text=ASK_GEMEENTE)
        return False
    buttons = [HUMAN_BUTTON] if r.has_team else None
    dispatcher.utter_message(text=team_details_text(r), buttons=buttons)
    return True


class ActionTeamDetails(Action):
    """"Wanneer is het makelaarsteam bereikbaar?", "hoe snel reageren ze?", "mag ik ze bellen?"."""

    def name(self) -> str:
        return "action_team_details"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        await utter_team_details(dispatcher, tracker)
        return []


class ActionAnswerFollowup(Action):
    """A question that leans on the previous answer without naming its topic."""

    def name(self) -> str:
        return "action_answer_followup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        return await answer_followup(dispatcher, tracker, domain)


async def answer_followup(dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: dict[str, Any]) -> list[EventType]:
    before = previous_action(tracker)
    if before in TEAM_CONTEXT_ACTIONS and tracker.get_slot("gemeente"):
        await utter_team_details(dispatcher, tracker)
        return []
    query = tracker.get_slot(KNOWLEDGE_SLOT)
    shown = (query or {}).get("shown") if isinstance(query, dict) else None
    if shown:
        await utter_best_detail(dispatcher, tracker, domain, shown)
        return []
    if tracker.get_slot("gemeente"):
        await utter_team_details(dispatcher, tracker)
        return []
    dispatcher.utter_message(text=TEXTS["followup_unclear"], buttons=[HUMAN_BUTTON])
    return []


def _item_text(session, kind: str, item_id: str) -> str:
    if kind == "loket":
        lk = queries.loket_by_id(session, item_id)
        return " ".join([lk.name, lk.description, " ".join(lk.keywords or [])]) if lk else ""
    r = queries.regeling_by_id(session, item_id)
    if r is None:
        return ""
    return " ".join([r.name, r.provider, r.summary, r.audience, r.benefit, *(r.conditions or []),
                     *(r.keywords or [])])


async def utter_best_detail(dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                            shown: list) -> None:
    """The details ("Meer hierover") of the shown item the question is most likely about."""
    question = tracker.latest_message.get("text") or ""
    items = [(str(k), str(i)) for k, i in shown if k in ("regeling", "loket")]

    def work(session):
        return [(f"{kind}:{item_id}", _item_text(session, kind, item_id)) for kind, item_id in items]

    candidates = await run_in_session(work)
    key = fu.best_match(question, [c for c in candidates if c[1]])
    if key is None:
        dispatcher.utter_message(text=TEXTS["followup_unclear"], buttons=[HUMAN_BUTTON])
        return
    kind, item_id = key.split(":", 1)
    from actions.knowledge import (
        ActionMoreInfo,  # the details exactly as "Meer hierover" shows them
    )

    entity = "regeling_id" if kind == "regeling" else "loket_id"
    latest = {**tracker.latest_message, "entities": [{"entity": entity, "value": item_id}]}
    detail_tracker = Tracker(tracker.sender_id, tracker.slots, latest, tracker.events, False, None,
                             tracker.active_loop, tracker.latest_action_name)
    await ActionMoreInfo().run(dispatcher, detail_tracker, domain)


class ActionAnswerEnglish(Action):
    """An English message: a short English answer and the offer of a makelaar who speaks English."""

    def name(self) -> str:
        return "action_answer_english"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        events: list[EventType] = [SlotSet("language", "en")]
        gemeente_id = tracker.get_slot("gemeente")
        place = english_place(text)
        if place:  # "The Hague": the entity extractor only knows the Dutch names
            res = await run_in_session(lambda s: resolve_gemeente(s, place))
            if res.status == "found" and res.gemeente_id != gemeente_id:
                gemeente_id = res.gemeente_id
                events.append(SlotSet("gemeente", gemeente_id))
        lines = [TEXTS["english"]]
        r = await route_for(gemeente_id)
        if r is not None:
            lines.append(team_details_english(r))
        if r is not None and not r.has_team:  # nobody to pass the question on to
            dispatcher.utter_message(text="\n".join(lines))
            return events
        lines.append(TEXTS["english_offer"])
        dispatcher.utter_message(text="\n".join(lines), buttons=ENGLISH_BUTTONS)
        return events


class ActionEnglishDeclined(Action):
    def name(self) -> str:
        return "action_english_declined"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=TEXTS["english_declined"])
        return []
