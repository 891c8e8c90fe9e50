"""Entity extractor without TensorFlow: known phrases with typo tolerance, and the data's regexes.

- Places (gemeente, woonplaats) come from the loaded knowledge at run time (bot/nlu/places.py), so
  adding a gemeente, alias or woonplaats needs `loket knowledge load`, not training.
- Topics, organisations and legal forms are the phrases annotated in the training data, with the
  entity synonyms; training stores them (a few kilobytes) with the model.
- The training data's regexes (the postcode) are applied as written; a regex's name is its type.

It replaced DIET for entities: on the held-out set it matched or beat DIET per entity type at a
fraction of the cost (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.gazetteer import Gazetteer, Match, find_regex, ordinary_words, phrase_key
from bot.nlu.places import PLACE_TYPES, PlaceTable

logger = logging.getLogger(__name__)

FILE = "knowledge_entities.json"


def learned_entries(training_data: TrainingData, skip: set[str]) -> list[tuple[str, str]]:
    """(entity type, phrase) for every annotated phrase, and for every synonym in a group of synonyms
    (phrases with one value) of which one phrase or the value was annotated; a phrase annotated with
    two types comes first with the type it has most often."""
    entries: list[tuple[str, str]] = []
    for example in training_data.intent_examples:
        text = example.get(TEXT) or ""
        for ent in example.get(ENTITIES) or []:
            kind = ent[ENTITY_ATTRIBUTE_TYPE]
            if kind not in skip:
                entries.append((kind, text[ent[ENTITY_ATTRIBUTE_START]:ent[ENTITY_ATTRIBUTE_END]]))
                entries.append((kind, str(ent.get(ENTITY_ATTRIBUTE_VALUE))))
    type_of = {phrase_key(phrase): kind for kind, phrase in reversed(entries)}
    groups: dict[str, list[str]] = {}
    for phrase, value in training_data.entity_synonyms.items():
        groups.setdefault(str(value), [str(value)]).append(phrase)
    for phrases in groups.values():
        kind = next((type_of[k] for k in map(phrase_key, phrases) if k in type_of), None)
        if kind:
            entries += [(kind, phrase) for phrase in phrases]
    counts = Counter((kind, phrase_key(phrase)) for kind, phrase in entries)
    return sorted(dict.fromkeys(entries), key=lambda e: -counts[(e[0], phrase_key(e[1]))])


def without_overlaps(matches: list[Match]) -> list[Match]:
    """Longest first where two matches overlap; then in text order."""
    chosen: list[Match] = []
    for m in sorted(matches, key=lambda m: (-(m.end - m.start), m.start)):
        if all(m.end <= c.start or m.start >= c.end for c in chosen):
            chosen.append(m)
    return sorted(chosen, key=lambda m: m.start)


def names_before_places_dropped(text: str, matches: list[Match]) -> list[Match]:
    """"gemeente Zwolle" names a place, not the organisation gemeente: the training data annotates
    the word as organisatie, except right before a place name."""
    out = []
    for i, match in enumerate(matches):
        following = matches[i + 1] if i + 1 < len(matches) else None
        if (following is not None and following.entity in PLACE_TYPES and match.entity not in PLACE_TYPES
                and not text[match.end:following.start].strip()):
            continue
        out.append(match)
    return out


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class KnowledgeEntityExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"places": True}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 learned: Gazetteer | None = None, regexes: list[dict] | None = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.learned = learned or Gazetteer()
        self._set_regexes(regexes or [])
        self.places = (PlaceTable.from_settings(self.learned.common_words) if self.config["places"]
                       else None)

    def _set_regexes(self, regexes: list[dict]) -> None:
        self.regexes = regexes
        self._compiled = [(r["name"], re.compile(r["pattern"], re.IGNORECASE)) for r in regexes]

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> KnowledgeEntityExtractor:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(TEXT)]
        spans = [(e.get(TEXT), ent[ENTITY_ATTRIBUTE_START], ent[ENTITY_ATTRIBUTE_END])
                 for e in examples for ent in e.get(ENTITIES) or []]
        self._set_regexes(list(training_data.regex_features))  # a regex's name is its entity type
        # places come from the knowledge and regex types from their regex, not from the examples
        entries = learned_entries(training_data, skip={*PLACE_TYPES, *(r["name"] for r in self.regexes)})
        common = ordinary_words([e.get(TEXT) for e in examples], spans)
        self.learned = Gazetteer.build(entries, fuzzy_types={kind for kind, _ in entries},
                                       common_words=common)
        with self._model_storage.write_to(self._resource) as model_dir:
            (model_dir / FILE).write_text(json.dumps({
                "entries": entries, "fuzzy_types": sorted(self.learned.fuzzy_types),
                "common_words": sorted(common), "regexes": self.regexes}, ensure_ascii=False))
        return self._resource

    def extract(self, text: str) -> list[Match]:
        matches = self.learned.find(text) + find_regex(text, self._compiled)
        if self.places is not None:
            matches += self.places.get().find(text)
        return names_before_places_dropped(text, without_overlaps(matches))

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            found = [{ENTITY_ATTRIBUTE_TYPE: m.entity, ENTITY_ATTRIBUTE_START: m.start,
                      ENTITY_ATTRIBUTE_END: m.end, ENTITY_ATTRIBUTE_VALUE: m.value}
                     for m in self.extract(text)] if text.strip() else []
            message.set(ENTITIES, message.get(ENTITIES, []) + self.add_extractor_name(found),
                        add_to_output=True)
        return messages

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> KnowledgeEntityExtractor:
        try:
            with model_storage.read_from(resource) as model_dir:
                stored = json.loads((model_dir / FILE).read_text())
        except ValueError:  # never trained: places and nothing else
            return cls.create(config, model_storage, resource, execution_context)
        learned = Gazetteer.build([tuple(e) for e in stored["entries"]], stored["fuzzy_types"],
                                  stored["common_words"])
        return cls(config, model_storage, resource, learned, stored["regexes"])
