"""FAQ answers: the calibrated tf-idf SVM picks the sub-intent of `faq` (faq/city_deal, ...).

It replaced Rasa's ResponseSelector, a DIET-sized network that stored hundreds of megabytes for five
answers. It writes the message's `response_selector` in Rasa's own format, so `utter_faq` and the
forms' interruption handling (actions/forms.py) read it unchanged. Messages whose intent is not the
retrieval intent are skipped.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
)
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RESPONSE_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.tfidf_model import DEFAULTS, CalibratedTfidf
from bot.rasa_ext.nlp.tfidf_intent import read_stored

logger = logging.getLogger(__name__)

# Rasa's recipe validator looks for its own ResponseSelector class and would warn that the FAQ
# examples are not used; they are, here.
warnings.filterwarnings("ignore", message="You have defined training data with examples for training a "
                                          "response selector")


def utter_action(intent_response_key: str) -> str:
    return f"utter_{intent_response_key}"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TfidfResponseSelector(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DEFAULTS, "retrieval_intent": "faq", "ranking_length": 10}

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "skops"]

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 tfidf: CalibratedTfidf | None = None, responses: dict | None = None,
                 retrieval_intents: list[str] | None = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.tfidf = tfidf
        self.responses = responses or {}
        self.retrieval_intents = retrieval_intents or []

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> TfidfResponseSelector:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        intent = self.config["retrieval_intent"]
        examples = [e for e in training_data.intent_examples if e.get(INTENT) == intent and e.get(TEXT)]
        labels = [e.get_full_intent() for e in examples]
        if len(set(labels)) < 2:
            logger.warning("TfidfResponseSelector needs two %s answers; not trained", intent)
            return self._resource
        self.tfidf = CalibratedTfidf(self.config).fit([e.get(TEXT) for e in examples], labels)
        self.responses = {k: v for k, v in training_data.responses.items()
                          if k.startswith(utter_action(f"{intent}/"))}
        self.retrieval_intents = sorted(training_data.retrieval_intents)
        with self._model_storage.write_to(self._resource) as model_dir:
            self.tfidf.save(model_dir, {"responses": self.responses,
                                        "retrieval_intents": self.retrieval_intents})
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        intent = self.config["retrieval_intent"]
        wanted = [m for m in messages if self.tfidf is not None and m.get(TEXT)
                  and (m.get(INTENT) or {}).get(INTENT_NAME_KEY) == intent]
        if not wanted:
            return messages
        classes = self.tfidf.classes
        for message, row in zip(wanted, self.tfidf.probabilities([m.get(TEXT) for m in wanted]),
                                strict=True):
            order = np.argsort(-row)
            ranking = [{INTENT_RESPONSE_KEY: classes[i], PREDICTED_CONFIDENCE_KEY: float(row[i])}
                       for i in order][: self.config["ranking_length"] or None]
            best = classes[order[0]]
            selector = message.get(RESPONSE_SELECTOR_PROPERTY_NAME, {})
            selector[RESPONSE_SELECTOR_RETRIEVAL_INTENTS] = self.retrieval_intents
            selector[intent] = {
                RESPONSE_SELECTOR_PREDICTION_KEY: {
                    RESPONSE_SELECTOR_RESPONSES_KEY: self.responses.get(utter_action(best), []),
                    PREDICTED_CONFIDENCE_KEY: float(row[order[0]]),
                    INTENT_RESPONSE_KEY: best,
                    RESPONSE_SELECTOR_UTTER_ACTION_KEY: utter_action(best),
                },
                RESPONSE_SELECTOR_RANKING_KEY: ranking,
            }
            message.set(RESPONSE_SELECTOR_PROPERTY_NAME, selector, add_to_output=True)
        return messages

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> TfidfResponseSelector:
        stored = read_stored(model_storage, resource, config, cls.__name__)
        if stored is None:
            return cls.create(config, model_storage, resource, execution_context)
        tfidf, meta = stored
        return cls(config, model_storage, resource, tfidf, meta["responses"], meta["retrieval_intents"])
