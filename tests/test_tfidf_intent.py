"""The tf-idf + linear SVM intent classifier as a Rasa graph component."""

import math

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.tfidf_model import fit_temperature, softmax
from bot.rasa_ext.nlp.entities import KnowledgeEntityExtractor
from bot.rasa_ext.nlp.tfidf_intent import TfidfIntentClassifier

EXAMPLES = {
    "ask_loonkostensubsidie": [
        "wat is loonkostensubsidie", "kan ik loonkostensubsidie krijgen", "hoe vraag ik loonkostensubsidie aan",
        "loonkostensubsidie voor een nieuwe medewerker", "krijg ik subsidie op de loonkosten",
        "wie betaalt de loonkostensubsidie", "voorwaarden loonkostensubsidie gemeente",
    ],
    "ask_kvk_registration": [
        "hoe schrijf ik me in bij de kvk", "inschrijven handelsregister", "kvk inschrijving kosten",
        "moet ik mijn bedrijf bij de kamer van koophandel inschrijven", "waar regel ik een kvk nummer",
        "inschrijving kvk voor een stichting", "hoe lang duurt de inschrijving bij de kvk",
    ],
    "out_of_scope": [
        "wat voor weer wordt het morgen", "bestel een pizza voor me", "wie won de wedstrijd gisteren",
        "vertel een mop", "hoe laat gaat de trein naar utrecht", "wat is het recept voor pannenkoeken",
        "welke film draait er vanavond",
    ],
}


INFORM = ["Amsterdam", "ik zit in Utrecht", "gemeente Zwolle", "wij zijn gevestigd in Tilburg", "Almere",
          "mijn postcode is 3511 AB", "1012 AB"]


def training_data() -> TrainingData:
    examples = {**EXAMPLES, "inform": INFORM}
    return TrainingData([Message.build(text, intent) for intent, texts in examples.items() for text in texts],
                        regex_features=[{"name": "postcode", "pattern": r"\b[1-9][0-9]{3} ?[A-Za-z]{2}\b"}])


@pytest.fixture
def storage(tmp_path, monkeypatch):
    # places from the project's knowledge/gemeenten.yml (no loaded database here)
    monkeypatch.setenv("LOKET_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    from bot import settings

    settings.get_settings.cache_clear()
    yield LocalModelStorage(tmp_path)
    settings.get_settings.cache_clear()


CTX = ExecutionContext(graph_schema=None, model_id="t")


def trained(storage, data: TrainingData | None = None, **config) -> TfidfIntentClassifier:
    component = TfidfIntentClassifier.create(config, storage, Resource("tfidf"), CTX)
    component.train(data or training_data())
    return component


def load(storage, **config) -> TfidfIntentClassifier:
    return TfidfIntentClassifier.load(config, storage, Resource("tfidf"), CTX)


def classify(component, text: str) -> Message:
    message = Message.build(text)
    component.process([message])
    return message


def test_unseen_phrasings_get_the_right_intent(storage):
    component = trained(storage)
    # split compound and a typo: the char n-grams still match "loonkostensubsidie"
    assert classify(component, "Loonkosten subsidie, hoe werkt dat?").get("intent")["name"] == "ask_loonkostensubsidie"
    assert classify(component, "inschryven bij de KvK graag").get("intent")["name"] == "ask_kvk_registration"
    assert classify(component, "wordt het morgen mooi weer?").get("intent")["name"] == "out_of_scope"


def test_ranking_is_a_sorted_probability_distribution_led_by_the_intent(storage):
    message = classify(trained(storage, ranking_length=0), "kan ik loonkostensubsidie krijgen voor mijn werknemer")
    ranking = message.get("intent_ranking")
    confidences = [r["confidence"] for r in ranking]
    assert {r["name"] for r in ranking} == {*EXAMPLES, "inform"}
    assert confidences == sorted(confidences, reverse=True)
    assert math.isclose(sum(confidences), 1.0, rel_tol=1e-6)
    assert message.get("intent") == ranking[0]
    assert ranking[0]["confidence"] > 0.5


def test_a_place_or_postcode_no_example_named_reads_as_inform(storage):
    """The places and postcode the entity extractor finds add a marker word to the text."""
    data = training_data()
    extractor = KnowledgeEntityExtractor.create({}, storage, Resource("entities"), CTX)
    extractor.train(data)
    component = trained(storage, data)

    def intent(text: str) -> str:
        message = Message.build(text)
        extractor.process([message])
        component.process([message])
        return message.get("intent")["name"]

    assert intent("Dinkelland") == "inform"
    assert intent("7001 XY") == "inform"
    assert intent("we zitten in dinkelland") == "inform"
    # without the marker the same word is not read as a place
    assert classify(component, "Dinkelland").get("intent")["name"] != "inform"


def test_ranking_length_cuts_the_ranking(storage):
    assert len(classify(trained(storage, ranking_length=2), "kvk").get("intent_ranking")) == 2


def test_a_persisted_model_loads_and_answers_the_same(storage):
    first = classify(trained(storage), "hoe schrijf ik een stichting in").get("intent_ranking")
    again = classify(load(storage), "hoe schrijf ik een stichting in").get("intent_ranking")
    assert [r["name"] for r in again] == [r["name"] for r in first]
    assert np.allclose([r["confidence"] for r in again], [r["confidence"] for r in first])


def test_empty_text_keeps_the_intent_an_earlier_component_set(storage):
    component = trained(storage)
    message = Message.build("   ")
    message.set("intent", {"name": "greet", "confidence": 0.9})
    component.process([message])
    assert message.get("intent") == {"name": "greet", "confidence": 0.9}


def test_without_a_trained_model_the_component_leaves_messages_alone(storage):
    component = load(storage)  # nothing was persisted under this resource
    message = Message.build("kvk inschrijving")
    message.set("intent", {"name": "ask_kvk_registration", "confidence": 0.7})
    component.process([message])
    assert message.get("intent")["confidence"] == 0.7


def test_temperature_fit_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(2026)
    scores = rng.normal(size=(4000, 6))
    probabilities = softmax(scores, 0.5)
    labels = np.array([rng.choice(6, p=p) for p in probabilities])
    assert fit_temperature(scores, labels) == pytest.approx(0.5, rel=0.1)


def test_two_intents_give_a_two_way_ranking(storage):
    """sklearn gives a single score column for two classes; the ranking still names both."""
    two = {k: EXAMPLES[k] for k in ("ask_kvk_registration", "out_of_scope")}
    data = TrainingData([Message.build(t, intent) for intent, texts in two.items() for t in texts])
    component = trained(storage, data, ranking_length=0)
    ranking = classify(component, "kvk inschrijving voor mijn stichting").get("intent_ranking")
    assert [r["name"] for r in ranking][0] == "ask_kvk_registration"
    assert {r["name"] for r in ranking} == set(two)
    assert math.isclose(sum(r["confidence"] for r in ranking), 1.0, rel_tol=1e-6)


def test_the_fast_scores_equal_sklearns_decision_function(storage):
    component = trained(storage)
    texts = ["Loonkosten subsidie, hoe werkt dat?", "inschryven bij de KvK graag", "Dinkelland", "?",
             "wat voor weer wordt het morgen in Zwolle", "ik wil loonkostensubsidie voor mijn stichting"]
    fast = component.tfidf.scores(texts)
    assert fast.shape == (len(texts), len(component.tfidf.classes))
    assert np.allclose(fast, component.tfidf.model.decision_function(texts), atol=1e-5)
