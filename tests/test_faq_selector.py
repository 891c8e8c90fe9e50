"""The FAQ answer chooser (tf-idf SVM) as a Rasa component, in Rasa's response_selector format."""

from __future__ import annotations

from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa_ext.nlp.faq_selector import TfidfResponseSelector

CTX = ExecutionContext(graph_schema=None, model_id="t")
FAQ = {
    "city_deal": ["wat is de city deal", "wat hield de city deal impact ondernemen in",
                  "welke afspraken staan in de city deal", "wie deden mee aan de city deal",
                  "wanneer liep de city deal"],
    "makelaarsteam": ["wat doet een makelaarsteam", "wat is een makelaar voor ondernemers",
                      "wie zitten er in het makelaarsteam", "wat kan de makelaar voor mij doen",
                      "is de makelaar een huizenmakelaar"],
}
RESPONSES = {f"utter_faq/{k}": [{"text": f"Antwoord over {k}."}] for k in FAQ}


def data() -> TrainingData:
    examples = [Message.build(text, "faq", intent_response_key=f"faq/{key}")
                for key, texts in FAQ.items() for text in texts]
    examples += [Message.build("hallo", "greet"), Message.build("goedemiddag", "greet")]
    return TrainingData(examples, responses=RESPONSES)


def selected(component, text: str, intent: str = "faq") -> dict | None:
    message = Message.build(text)
    message.set("intent", {"name": intent, "confidence": 0.9})
    component.process([message])
    return (message.get("response_selector") or {}).get("faq")


def test_an_faq_question_gets_the_answer_of_its_sub_intent_in_rasas_format(tmp_path):
    storage = LocalModelStorage(tmp_path)
    component = TfidfResponseSelector.create({}, storage, Resource("faq"), CTX)
    component.train(data())
    again = TfidfResponseSelector.load({}, storage, Resource("faq"), CTX)
    for chooser in (component, again):
        choice = selected(chooser, "wat doet zo'n makelaar eigenlijk")
        response = choice["response"]
        assert response["intent_response_key"] == "faq/makelaarsteam"
        assert response["utter_action"] == "utter_faq/makelaarsteam"
        assert response["responses"] == [{"text": "Antwoord over makelaarsteam."}]
        ranking = choice["ranking"]
        assert [r["intent_response_key"] for r in ranking] == ["faq/makelaarsteam", "faq/city_deal"]
        assert ranking[0]["confidence"] == response["confidence"] > 0.5
        assert selected(chooser, "wanneer liep de city deal")["response"]["utter_action"] == "utter_faq/city_deal"


def test_other_intents_get_no_selection_and_an_untrained_chooser_does_nothing(tmp_path):
    storage = LocalModelStorage(tmp_path)
    component = TfidfResponseSelector.create({}, storage, Resource("faq"), CTX)
    assert selected(component, "wat is de city deal") is None
    component.train(data())
    assert selected(component, "hallo", intent="greet") is None
