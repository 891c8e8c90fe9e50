"""Loket's SQL tracker store reads and writes exactly what Rasa's own SQLTrackerStore does."""

from __future__ import annotations

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_ext.tracker_store import LoketSQLTrackerStore
from bot.settings import PROJECT_ROOT

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain"))


def turns(sender: str, *texts: str) -> DialogueStateTracker:
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
    ]
    for text in texts:
        events += [
            UserUttered(text, {"name": "greet", "confidence": 1.0}),
            SlotSet("gemeente", "zwolle"),
            ActionExecuted("utter_greet"),
            ActionExecuted("action_listen"),
        ]
    return DialogueStateTracker.from_events(sender, events, slots=DOMAIN.slots)


async def test_saved_turns_read_back_the_same_as_with_rasas_store(tmp_path):
    ours = LoketSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "ours.db"))
    rasas = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    first = turns("s1", "hallo")
    second = DialogueStateTracker.from_events(
        "s1",
        [*list(first.events), *list(turns("s1", "nog een vraag").events)[3:]],
        slots=DOMAIN.slots,
    )
    for store in (ours, rasas):
        await store.save(first)
        await store.save(second)  # only the new events are added
    mine, theirs = await ours.retrieve("s1"), await rasas.retrieve("s1")
    assert mine is not None and theirs is not None
    assert [e.as_dict() for e in mine.events] == [e.as_dict() for e in theirs.events]
    assert len(mine.events) == len(second.events) > len(first.events)
    assert mine.get_slot("gemeente") == "zwolle"
    # and the other store reads what ours wrote
    rasa_reading_ours = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "ours.db"))
    assert [e.as_dict() for e in (await rasa_reading_ours.retrieve("s1")).events] == [
        e.as_dict() for e in mine.events
    ]
    assert await ours.retrieve("nobody") is None
