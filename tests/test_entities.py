"""Entities without a neural model: the gazetteer, the place table read from the database, and the Rasa
extractor component that combines them with the phrases annotated in the training data."""

from __future__ import annotations

import pytest
import yaml
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.gazetteer import Gazetteer
from bot.nlu.places import PlaceTable, build, places_from_yaml
from bot.rasa_ext.nlp.entities import KnowledgeEntityExtractor
from tests.support import FIXTURE_KNOWLEDGE

GEMEENTEN = [
    {"name": "Sittard-Geleen", "aliases": ["Geleen", "Sittard"], "woonplaatsen": ["Geleen", "Munstergeleen"]},
    {"name": "'s-Hertogenbosch", "aliases": ["Den Bosch"], "woonplaatsen": ["Rosmalen"]},
    {"name": "Kampen", "aliases": [], "woonplaatsen": ["IJsselmuiden"]},
    {"name": "Bergen (NH.)", "aliases": [], "woonplaatsen": ["Egmond aan Zee"]},
]


def found(table: Gazetteer, text: str) -> list[tuple[str, str]]:
    return [(m.entity, m.text) for m in table.find(text)]


def test_places_in_a_sentence_longest_name_first_with_their_type():
    table = build(GEMEENTEN)
    assert found(table, "wij zitten in Egmond aan Zee") == [("woonplaats", "Egmond aan Zee")]
    assert found(table, "vanuit den bosch") == [("gemeente", "den bosch")]
    assert found(table, "Geleen en Munstergeleen") == [("woonplaats", "Geleen"), ("woonplaats", "Munstergeleen")]
    # the apostrophe belongs to the name; the province suffix is not needed
    assert found(table, "wij zijn gevestigd in 's-Hertogenbosch") == [("gemeente", "'s-Hertogenbosch")]
    assert found(table, "ik woon in Bergen") == [("gemeente", "Bergen")]


def test_an_everyday_word_is_a_place_only_alone_with_a_capital_or_after_a_place_cue():
    table = build(GEMEENTEN)
    assert found(table, "wij kampen met lange wachttijden") == []
    assert found(table, "kampen") == [("gemeente", "kampen")]
    assert found(table, "ons bedrijf zit in kampen") == [("gemeente", "kampen")]
    assert found(table, "ons bedrijf in Kampen zoekt personeel") == [("gemeente", "Kampen")]


def test_a_small_typo_finds_the_place_and_gives_its_proper_name():
    match = build(GEMEENTEN).find("we zitten in Ijselmuiden")
    assert [(m.entity, m.text, m.value, m.fuzzy) for m in match] == [
        ("woonplaats", "Ijselmuiden", "IJsselmuiden", True)]


def test_ordinary_words_are_never_typo_matched():
    entries = [("onderwerp", "loonkostensubsidie")]
    table = Gazetteer.build(entries, fuzzy_types={"onderwerp"}, common_words={"loonkosten"})
    assert found(table, "loonkostensubsdie aanvragen") == [("onderwerp", "loonkostensubsdie")]
    assert found(table, "loonkosten omlaag") == []


def test_the_place_table_follows_the_database_after_each_knowledge_load(loaded, tmp_path, db_url):
    from bot.knowledge.loader import load

    table = PlaceTable(db_url, recheck_s=0)
    assert found(table.get(), "we zitten in Peperbus") == []
    copy = tmp_path / "knowledge"
    copy.mkdir()
    for path in FIXTURE_KNOWLEDGE.rglob("*"):
        target = copy / path.relative_to(FIXTURE_KNOWLEDGE)
        if path.is_dir():
            target.mkdir(exist_ok=True)
        else:
            target.write_bytes(path.read_bytes())
    data = yaml.safe_load((copy / "gemeenten.yml").read_text(encoding="utf-8"))
    zwolle = next(g for g in data["gemeenten"] if g["id"] == "zwolle")
    zwolle["aliases"] = [*zwolle.get("aliases", []), "Peperbus"]
    (copy / "gemeenten.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    load(loaded, copy)
    assert found(table.get(), "we zitten in Peperbus") == [("gemeente", "Peperbus")]


def test_without_a_loaded_database_the_place_table_reads_the_yaml(tmp_path):
    table = PlaceTable(f"sqlite:///{tmp_path / 'empty.db'}", FIXTURE_KNOWLEDGE)
    names = [g["name"] for g in places_from_yaml(FIXTURE_KNOWLEDGE)]
    assert names
    assert found(table.get(), f"ik zit in {names[0]}") == [("gemeente", names[0])]


# --- the Rasa component -----------------------------------------------------------------------

CTX = ExecutionContext(graph_schema=None, model_id="t")


def training_data() -> TrainingData:
    def example(text: str, intent: str, entities: list[tuple[str, str]]) -> Message:
        ents = []
        for kind, phrase in entities:
            start = text.index(phrase)
            ents.append({"entity": kind, "start": start, "end": start + len(phrase), "value": phrase})
        return Message.build(text, intent, ents)

    examples = [
        example("wat is loonkostensubsidie", "ask", [("onderwerp", "loonkostensubsidie")]),
        example("hoe werkt de no-riskpolis van het UWV", "ask", [("onderwerp", "no-riskpolis"),
                                                                 ("organisatie", "UWV")]),
        example("inschrijven bij de Kamer van Koophandel", "ask", [("organisatie", "Kamer van Koophandel")]),
        example("ik heb een stichting", "inform", [("rechtsvorm", "stichting")]),
        example("wij zitten in Zwolle", "inform", [("gemeente", "Zwolle")]),
        example("hulp van de gemeente", "ask", [("organisatie", "gemeente")]),
        example("mijn postcode is 8011 AB", "inform", [("postcode", "8011 AB")]),
    ]
    return TrainingData(examples, entity_synonyms={"Kamer van Koophandel": "KVK", "kvk": "KVK"},
                        regex_features=[{"name": "postcode", "pattern": r"\b[1-9][0-9]{3} ?[A-Za-z]{2}\b"}])


@pytest.fixture
def extractor(tmp_path, monkeypatch):
    monkeypatch.setenv("LOKET_KNOWLEDGE_DIR", str(FIXTURE_KNOWLEDGE))
    monkeypatch.setenv("LOKET_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    from bot import settings

    settings.get_settings.cache_clear()
    storage = LocalModelStorage(tmp_path)
    component = KnowledgeEntityExtractor.create({}, storage, Resource("ents"), CTX)
    component.train(training_data())
    yield storage
    settings.get_settings.cache_clear()


def entities(component, text: str) -> list[tuple[str, str, str]]:
    message = Message.build(text)
    component.process([message])
    return [(e["entity"], text[e["start"]:e["end"]], e["value"]) for e in message.get("entities")]


def test_the_trained_extractor_finds_annotated_phrases_synonyms_postcodes_and_places(extractor):
    component = KnowledgeEntityExtractor.load({}, extractor, Resource("ents"), CTX)
    assert entities(component, "mijn stichting wil loonkostensubsidie via het uwv") == [
        ("rechtsvorm", "stichting", "stichting"), ("onderwerp", "loonkostensubsidie", "loonkostensubsidie"),
        ("organisatie", "uwv", "uwv")]
    # a synonym of an annotated value is known too, with the value's type
    assert entities(component, "moet ik naar de kvk") == [("organisatie", "kvk", "kvk")]
    assert entities(component, "postcode 7001 xy") == [("postcode", "7001 xy", "7001 xy")]
    # places come from the knowledge, not from the training data: Tilburg is in no example
    assert entities(component, "wij zitten in Tilburg") == [("gemeente", "Tilburg", "Tilburg")]
    assert entities(component, "   ") == []
    assert entities(component, "hallo daar") == []


def test_the_word_gemeente_before_a_place_name_is_part_of_the_place(extractor):
    component = KnowledgeEntityExtractor.load({}, extractor, Resource("ents"), CTX)
    assert entities(component, "opdrachten van de gemeente Tilburg") == [("gemeente", "Tilburg", "Tilburg")]
    assert entities(component, "subsidie van de gemeente") == [("organisatie", "gemeente", "gemeente")]


def test_a_typo_in_a_topic_gives_the_topic(extractor):
    component = KnowledgeEntityExtractor.load({}, extractor, Resource("ents"), CTX)
    assert entities(component, "loonkostensubsdie") == [("onderwerp", "loonkostensubsdie", "loonkostensubsidie")]
