"""Knowledge actions with rasa_sdk's Tracker and CollectingDispatcher against a loaded database."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import answer_interruption
from actions.knowledge import (
    INTENT_THEMES,
    LAST_QUERY_SLOT,
    UNCHECKED_NOTE,
    ActionAnswerTopic,
    ActionMoreInfo,
    ActionOtherResults,
    answer_question,
    dutch_date,
)
from bot.db import session_scope
from bot.knowledge import review
from bot.knowledge.loader import load
from bot.knowledge.schema import THEMES
from bot.models import utcnow
from bot.settings import PROJECT_ROOT, get_settings
from tests.support import FIXTURE_KNOWLEDGE


@pytest.fixture
def shipped_db(engine):
    load(engine, PROJECT_ROOT / "knowledge")
    return engine


def _tracker(text: str, intent: str, entities=(), slots=None) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.95},
              "entities": list(entities), "intent_ranking": []}
    return Tracker("k1", dict(slots or {}), latest, [], False, None, {}, "action_listen")


def _texts(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


def _buttons(dispatcher: CollectingDispatcher) -> list[dict]:
    return [b for m in dispatcher.messages for b in m.get("buttons") or []]


def _payload_ids(dispatcher: CollectingDispatcher) -> list[str]:
    out = []
    for b in _buttons(dispatcher):
        if b["payload"].startswith("/more_info"):
            out += list(json.loads(b["payload"][len("/more_info"):]).values())
    return out


def test_every_topic_intent_maps_to_a_known_theme():
    assert INTENT_THEMES["ask_maatschappelijke_bv"] == "legal_form"
    assert INTENT_THEMES["ask_kvk_registration"] == "kvk_registration"
    assert set(INTENT_THEMES.values()) <= set(THEMES)


async def test_topic_answer_shows_results_with_source_and_buttons(shipped_db):
    dispatcher = CollectingDispatcher()
    tracker = _tracker("ik wil iemand met een beperking aannemen, betaalt de gemeente mee aan het loon?",
                       "ask_loonkostensubsidie")
    events = await ActionAnswerTopic().run(dispatcher, tracker, {})
    text = _texts(dispatcher)
    assert "Loonkostensubsidie (gemeente)" in text
    # Nobody stamped the shipped content: no "gecontroleerd op", and the reader is told it can change.
    assert "Bron: https://" in text and "gecontroleerd" not in text
    assert UNCHECKED_NOTE in text
    titles = [b["title"] for b in _buttons(dispatcher)]
    assert "Meer hierover" in titles and "Andere regelingen" in titles
    assert {"title": "Praat met een makelaar", "payload": "/request_human"} in _buttons(dispatcher)
    assert _payload_ids(dispatcher)[0] == "loonkostensubsidie"
    # The last message says where to go next.
    assert "makelaar" in dispatcher.messages[-1]["text"]
    # The query is kept for "Andere regelingen".
    (slot,) = [e for e in events if e["name"] == LAST_QUERY_SLOT]
    assert slot["value"]["themes"] == ["loonkostensubsidie"]
    assert slot["value"]["offset"] == len(_payload_ids(dispatcher)) == 3


async def test_other_results_pages_through_the_last_query(shipped_db):
    first = CollectingDispatcher()
    events = await ActionAnswerTopic().run(first, _tracker("welke subsidies zijn er voor energie",
                                                           "ask_energy"), {})
    query = events[0]["value"]
    second = CollectingDispatcher()
    events2 = await ActionOtherResults().run(
        second, _tracker("andere regelingen", "other_results", slots={LAST_QUERY_SLOT: query}), {})
    first_ids, second_ids = _payload_ids(first), _payload_ids(second)
    assert second_ids and not set(first_ids) & set(second_ids)
    assert events2[0]["value"]["offset"] == len(first_ids) + len(second_ids)
    # Far beyond the end: an honest answer and the way to a makelaar.
    done = CollectingDispatcher()
    await ActionOtherResults().run(
        done, _tracker("meer", "other_results", slots={LAST_QUERY_SLOT: {**query, "offset": 500}}), {})
    assert "geen andere regelingen meer" in _texts(done)
    assert _buttons(done)[-1]["payload"] == "/request_human"


async def test_other_results_without_an_earlier_question_asks_for_one(shipped_db):
    dispatcher = CollectingDispatcher()
    assert await ActionOtherResults().run(dispatcher, _tracker("andere", "other_results"), {}) == []
    assert "Stel uw vraag" in _texts(dispatcher)


async def test_more_info_shows_audience_benefit_and_conditions(shipped_db):
    dispatcher = CollectingDispatcher()
    tracker = _tracker('/more_info{"regeling_id":"wbso"}', "more_info",
                       [{"entity": "regeling_id", "value": "wbso"}])
    await ActionMoreInfo().run(dispatcher, tracker, {})
    text = _texts(dispatcher)
    assert text.startswith("WBSO (RVO)")
    assert "Voor wie: Ondernemers die zelf onderzoek" in text
    assert "Wat levert het op: U betaalt minder loonheffing" in text
    assert "- U vraagt de WBSO aan voordat u met het werk begint." in text
    assert "Bron: https://www.rvo.nl/subsidies-financiering/wbso" in text
    assert _buttons(dispatcher)[-1]["payload"] == "/request_human"


async def test_more_info_about_a_loket(shipped_db):
    dispatcher = CollectingDispatcher()
    tracker = _tracker('/more_info{"loket_id":"qredits"}', "more_info",
                       [{"entity": "loket_id", "value": "qredits"}])
    await ActionMoreInfo().run(dispatcher, tracker, {})
    assert _texts(dispatcher).startswith("Qredits (financier)")
    assert "Website: https://" in _texts(dispatcher)


async def test_typed_more_info_uses_the_first_result_shown(shipped_db):
    slots = {LAST_QUERY_SLOT: {"text": "x", "themes": [], "offset": 3,
                               "shown": [["regeling", "no-riskpolis"], ["regeling", "wbso"]]}}
    dispatcher = CollectingDispatcher()
    await ActionMoreInfo().run(dispatcher, _tracker("vertel meer", "more_info", slots=slots), {})
    assert _texts(dispatcher).startswith("No-riskpolis (UWV)")


async def test_more_info_with_an_unknown_id_answers_kindly(shipped_db):
    dispatcher = CollectingDispatcher()
    tracker = _tracker('/more_info{"regeling_id":"bestaat-niet"}', "more_info",
                       [{"entity": "regeling_id", "value": "bestaat-niet"}])
    await ActionMoreInfo().run(dispatcher, tracker, {})
    assert "kan ik niet (meer) vinden" in _texts(dispatcher)
    assert _buttons(dispatcher)[-1]["payload"] == "/request_human"


async def test_no_results_gives_an_honest_answer_and_a_makelaar(shipped_db):
    dispatcher = CollectingDispatcher()
    tracker = _tracker("xqzw vlpqk", "ask_unknown_topic")
    events = await ActionAnswerTopic().run(dispatcher, tracker, {})
    assert "geen regeling of loket voor gevonden" in _texts(dispatcher)
    assert _buttons(dispatcher) == [{"title": "Praat met een makelaar", "payload": "/request_human"}]
    assert events[0]["value"]["offset"] == 0


async def test_gemeente_slot_by_name_shows_local_networks(shipped_db):
    text = "zijn er netwerken van impact ondernemers bij mij in de buurt"
    local = CollectingDispatcher()
    await ActionAnswerTopic().run(local, _tracker(text, "ask_networks", slots={"gemeente": "Den Haag"}), {})
    assert "in Den Haag is" in local.messages[0]["text"]
    ids = _payload_ids(local)
    assert {"social-club-den-haag", "impactcity-den-haag"} & set(ids)
    elsewhere = CollectingDispatcher()
    await ActionAnswerTopic().run(elsewhere, _tracker(text, "ask_networks", slots={"gemeente": "zwolle"}), {})
    assert not {"social-club-den-haag", "impactcity-den-haag"} & set(_payload_ids(elsewhere))


async def test_answer_question_is_what_forms_use_for_interruptions(shipped_db):
    dispatcher = CollectingDispatcher()
    await answer_question(dispatcher, _tracker("wbso", "ask_innovation"), {}, "ask_innovation")
    assert _payload_ids(dispatcher)[0] == "wbso"
    via_form = CollectingDispatcher()
    await answer_interruption(via_form, _tracker("wat is de wbso", "ask_innovation"), {}, "ask_innovation")
    assert "WBSO (RVO)" in _texts(via_form)


# --- "gecontroleerd op" only for text a person checked (review stamps; fixture knowledge only) ----------


def _stamp(engine, editor, kind: str, item_id: str, days_ago: int = 3) -> datetime:
    when = utcnow() - timedelta(days=days_ago)
    with session_scope(engine) as s:
        review.stamp(s, kind, item_id, editor, now=when)
    return when


def _message(dispatcher: CollectingDispatcher, start: str) -> str:
    (text,) = [m["text"] for m in dispatcher.messages if (m.get("text") or "").startswith(start)]
    return text


async def test_results_say_gecontroleerd_only_for_the_stamped_entry(loaded, editor):
    when = _stamp(loaded, editor, "regeling", "wbso")
    dispatcher = CollectingDispatcher()
    await ActionAnswerTopic().run(dispatcher, _tracker("inschrijven of wbso", "ask_kvk_registration"), {})
    assert {"wbso", "kvk-inschrijven"} <= set(_payload_ids(dispatcher))
    stamped = _message(dispatcher, "WBSO (RVO)")
    assert f"Bron: https://www.rvo.nl/subsidies-financiering/wbso (gecontroleerd op {dutch_date(when)})" in stamped
    assert UNCHECKED_NOTE not in stamped
    unstamped = _message(dispatcher, "Inschrijven bij de KVK (KVK)")
    assert "Bron: https://www.kvk.nl/inschrijven-en-wijzigen/\n" + UNCHECKED_NOTE in unstamped
    assert "gecontroleerd" not in unstamped


async def test_more_info_says_gecontroleerd_only_for_the_stamped_entry(loaded, editor):
    when = _stamp(loaded, editor, "loket", "kvk")

    async def details(kind: str, item_id: str) -> str:
        dispatcher = CollectingDispatcher()
        entity = "loket_id" if kind == "loket" else "regeling_id"
        await ActionMoreInfo().run(dispatcher, _tracker("meer", "more_info",
                                                        [{"entity": entity, "value": item_id}]), {})
        return dispatcher.messages[0]["text"]

    loket = await details("loket", "kvk")
    assert f"Website: https://www.kvk.nl/ (gecontroleerd op {dutch_date(when)})" in loket
    assert UNCHECKED_NOTE not in loket
    regeling = await details("regeling", "wbso")
    assert regeling.endswith("Bron: https://www.rvo.nl/subsidies-financiering/wbso\n" + UNCHECKED_NOTE)
    _stamp(loaded, editor, "regeling", "wbso")
    assert "(gecontroleerd op " in await details("regeling", "wbso")


async def test_changed_or_stale_text_loses_gecontroleerd(loaded, editor, tmp_path, monkeypatch):
    _stamp(loaded, editor, "regeling", "wbso", days_ago=30)
    _stamp(loaded, editor, "regeling", "kvk-inschrijven", days_ago=30)
    directory = tmp_path / "knowledge"
    shutil.copytree(FIXTURE_KNOWLEDGE, directory)
    path = directory / "regelingen" / "rvo.yml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "U betaalt minder loonheffing over uren voor R&D.", "U betaalt minder loonheffing."), encoding="utf-8")
    load(loaded, directory)

    async def answer() -> CollectingDispatcher:
        dispatcher = CollectingDispatcher()
        await ActionAnswerTopic().run(dispatcher, _tracker("inschrijven of wbso", "ask_kvk_registration"), {})
        return dispatcher

    dispatcher = await answer()
    assert UNCHECKED_NOTE in _message(dispatcher, "WBSO (RVO)")  # benefit changed since the check
    assert "(gecontroleerd op " in _message(dispatcher, "Inschrijven bij de KVK (KVK)")
    monkeypatch.setenv("LOKET_REVIEW_MAX_AGE_DAYS", "20")  # now the 30-day-old check is stale
    get_settings.cache_clear()
    dispatcher = await answer()
    assert UNCHECKED_NOTE in _message(dispatcher, "Inschrijven bij de KVK (KVK)")
    assert "gecontroleerd" not in _texts(dispatcher)
