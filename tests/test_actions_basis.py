from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.basis import ActionDealGemeenten
from actions.fallback import ActionDefaultAskAffirmation


def _tracker(text="", intent="ask_deal_gemeenten", entities=(), ranking=()):
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9},
              "entities": list(entities), "intent_ranking": list(ranking)}
    return Tracker("s1", {}, latest, [], False, None, {}, "action_listen")


async def test_deal_gemeenten_answer_is_read_from_the_database(loaded):
    dispatcher = CollectingDispatcher()
    await ActionDealGemeenten().run(dispatcher, _tracker("welke gemeenten doen mee"), {})
    text = dispatcher.messages[0]["text"]
    # The fixture database has exactly three deal gemeenten; the answer lists those, not a fixed text.
    assert "Deze 3 gemeenten" in text
    assert "Den Haag, Utrecht, Zwolle" in text
    assert "Tilburg" not in text


async def test_deal_gemeenten_answers_for_the_named_gemeente(loaded):
    dispatcher = CollectingDispatcher()
    tracker = _tracker("doet tilburg mee", entities=[{"entity": "gemeente", "value": "Tilburg"}])
    await ActionDealGemeenten().run(dispatcher, tracker, {})
    assert dispatcher.messages[0]["text"].startswith("Tilburg doet (nog) niet mee")

    dispatcher = CollectingDispatcher()
    tracker = _tracker("doet s-gravenhage mee", entities=[{"entity": "gemeente", "value": "'s-Gravenhage"}])
    await ActionDealGemeenten().run(dispatcher, tracker, {})
    assert dispatcher.messages[0]["text"].startswith("Ja, Den Haag doet mee")


async def test_fallback_suggests_readable_titles_not_intent_names():
    ranking = [{"name": "nlu_fallback", "confidence": 0.5},
               {"name": "ask_deal_gemeenten", "confidence": 0.3},
               {"name": "bot_challenge", "confidence": 0.2},
               {"name": "greet", "confidence": 0.1}]
    dispatcher = CollectingDispatcher()
    domain = {"intents": ["ask_deal_gemeenten", "bot_challenge", "greet", {"out_of_scope": {}}]}
    await ActionDefaultAskAffirmation().run(dispatcher, _tracker("hmm", "nlu_fallback", ranking=ranking), domain)
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["title"] for b in buttons] == [
        "Welke gemeenten hebben een makelaarsteam?", "Ben ik met een mens in gesprek?", "Iets anders"]
    assert [b["payload"] for b in buttons] == ["/ask_deal_gemeenten", "/bot_challenge", "/out_of_scope"]
