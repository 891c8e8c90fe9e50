"""Conversation context kept for the whole conversation: the slot `gemeente` holds a gemeente id.

`action_extract_gemeente` is the custom slot mapping of `gemeente` (domain/core.yml). Rasa runs it after
every user message. It reads the entities gemeente / woonplaats / postcode, the typed answer while a
form asks for the gemeente, and the widget's metadata {"gemeente": "utrecht"} while the slot is empty.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.conversation.context import (
    ENTITIES,
    IGNORE_ENTITIES_FOR,
    SLOT,
    metadata_gemeente,
    needs_gemeente_extraction,
)
from bot.conversation.gemeenten import Resolution, first_found, resolve_gemeente
from bot.conversation.routing import Route, route
from bot.db import run_in_session


def latest_intent(tracker: Tracker) -> str:
    return (tracker.latest_message.get("intent") or {}).get("name") or ""


def message_metadata(tracker: Tracker) -> dict:
    meta = tracker.latest_message.get("metadata")
    if not isinstance(meta, dict):
        meta = next((e.get("metadata") for e in reversed(tracker.events) if e.get("event") == "user"),
                    None)
    return meta if isinstance(meta, dict) else {}


def entity_values(tracker: Tracker) -> list[str]:
    found: list[str] = []
    entities = tracker.latest_message.get("entities") or []
    for name in ENTITIES:
        for ent in entities:
            if ent.get("entity") == name and isinstance(ent.get("value"), str | int):
                found.append(str(ent["value"]))
    return found


async def resolve(texts: list[str]) -> Resolution | None:
    """The first text that names exactly one gemeente."""
    if not texts:
        return None

    return await run_in_session(lambda session: first_found(session, texts))


async def route_for(gemeente_id: str | None, topic: str | None = None) -> Route | None:
    """The gemeente's makelaarsteam (and loketten for the topic); None without a gemeente."""
    if not gemeente_id:
        return None
    return await run_in_session(lambda s: route(s, gemeente_id, topic))


class ActionExtractGemeente(Action):
    def name(self) -> str:
        return "action_extract_gemeente"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        current = tracker.get_slot(SLOT)
        requested = tracker.get_slot("requested_slot")
        active_form = tracker.active_loop.get("name")
        intent = latest_intent(tracker)
        metadata = message_metadata(tracker)
        entities = [e.get("entity") for e in tracker.latest_message.get("entities") or []]
        if not needs_gemeente_extraction(intent=intent, entity_names=entities,
                                         active_form=active_form, requested_slot=requested,
                                         current=current, metadata=metadata):
            return []

        texts = [] if intent in IGNORE_ENTITIES_FOR else entity_values(tracker)
        if active_form and requested == SLOT:
            texts.append(tracker.latest_message.get("text") or "")
        res = await resolve(texts)
        if res is None and current is None:
            meta_value = metadata_gemeente(metadata)
            if meta_value is not None:
                res = await resolve([meta_value])
        # Only a change is an event: a repeated SlotSet would count as an answer in a form.
        if res is not None and res.gemeente_id != current:
            return [SlotSet(SLOT, res.gemeente_id)]
        return []


def _noted_text(res: Resolution, has_team: bool | None, team_name: str | None) -> str:
    if res.status == "found":
        name = res.gemeente.name
        if has_team:
            return (f"Dank u. Uw bedrijf zit in de gemeente {name}. Daar helpt het {team_name} "
                    "impact ondernemers verder. Wat is uw vraag? Wilt u direct met een makelaar "
                    "praten? Typ dan 'praat met een mens'.")
        return (f"Dank u. Uw bedrijf zit in de gemeente {name}. Die gemeente heeft (nog) geen "
                "makelaarsteam, maar ik help u graag met regelingen en loketten. Wat is uw vraag?")
    if res.status == "ambiguous":
        names = [g.name for g in res.candidates]
        listed = ", ".join(names[:-1]) + " en " + names[-1] if len(names) > 1 else names[0]
        return (f"Er zijn meer gemeenten met die naam: {listed}. Typ uw postcode, dan weet ik welke "
                "gemeente u bedoelt.")
    if res.postcode:
        # Postcode ranges are only loaded for the deal gemeenten: do not call the postcode wrong.
        return (f"Bij postcode {res.postcode} kan ik de gemeente niet vinden. Typ de naam van uw "
                "gemeente of woonplaats.")
    return ("Die plaats ken ik niet als gemeente in Nederland. Typ de naam van uw gemeente, uw "
            "woonplaats of uw postcode (bijvoorbeeld 8011 AB).")


class ActionGemeenteNoted(Action):
    """The user says where the business is, outside a form: confirm the gemeente that the slot
    mapping resolved, or say why it could not (several gemeenten, unknown place or postcode)."""

    def name(self) -> str:
        return "action_gemeente_noted"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        texts = entity_values(tracker) or [tracker.latest_message.get("text") or ""]

        def work(session):
            res = Resolution("unknown")
            for text in texts:
                res = resolve_gemeente(session, text)
                if res.status != "unknown":
                    break
            return res, (route(session, res.gemeente_id) if res.status == "found" else None)

        res, r = await run_in_session(work)
        from actions.conversation import previous_action, utter_route_details

        if res.status == "found" and previous_action(tracker) == "action_team_details":
            # The answer to "which gemeente?" after a question about the team (or "en in Helmond?"):
            # the team's details for that gemeente.
            utter_route_details(dispatcher, r)
        else:
            dispatcher.utter_message(text=_noted_text(res, bool(r and r.has_team), r.team.name if r and r.team else None))
        # Usually the slot mapping set it already; a place typed without a recognised entity is
        # resolved here.
        if res.status == "found" and res.gemeente_id != tracker.get_slot(SLOT):
            return [SlotSet(SLOT, res.gemeente_id)]
        return []
