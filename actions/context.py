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

from bot.context import (
    ENTITIES,
    IGNORE_ENTITIES_FOR,
    SLOT,
    metadata_gemeente,
    needs_gemeente_extraction,
)
from bot.db import run_in_session
from bot.routing import Resolution, resolve_gemeente


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

    def work(session):
        for text in texts:
            res = resolve_gemeente(session, text)
            if res.status == "found":
                return res
        return None

    return await run_in_session(work)


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
