"""SDK trackers for the actions' tests."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.support.domain import load_domain

DOMAIN = load_domain()


def tracker(text: str = "", intent: str = "inform", *, slots=None, candidates=None, requested=None,
            history=(), entities=(), confidence: float = 0.95, active: bool = True, metadata=None) -> Tracker:
    """A tracker right after the user's message: extracted slot candidates come last, as in Rasa."""
    user = user_event(text, intent, confidence, entities, metadata)
    candidates = candidates or {}
    events = [*history, user] + [{"event": "slot", "name": k, "value": v} for k, v in candidates.items()]
    all_slots = {name: None for name in DOMAIN["slots"]}
    all_slots.update(slots or {})
    all_slots.update(candidates)
    all_slots["requested_slot"] = requested
    latest = dict(user["parse_data"], metadata=metadata or {})
    return Tracker("sender-1", all_slots, latest, events, False, None,
                   {"name": FORM} if active else {}, "action_listen")


FORM = "handoff_form"


def user_event(text: str, intent: str, confidence: float = 0.95, entities=(), metadata=None) -> dict:
    parse = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": list(entities)}
    return {"event": "user", "text": text, "parse_data": parse, "metadata": metadata or {},
            "timestamp": 1_780_000_000.0}


def slot_events(events) -> dict:
    """The slots an action set, by name."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def run_action(action, t: Tracker) -> tuple[dict, list[str], list[dict]]:
    """(slots set, the texts said, the messages) of one run of an SDK action."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, DOMAIN)
    return slot_events(events), [m.get("text") or m.get("response") or "" for m in dispatcher.messages], \
        dispatcher.messages
