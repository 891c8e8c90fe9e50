"""English messages get the intent `english`, Dutch ones never: the function-word test of
bot/conversation/language.py decides, not the classifier. Text in no language at all (code, SQL,
emoji, random letters) gets nlu_fallback, so the fallback shows its menu instead of a topic answer
the classifier guessed from a word like "select".

The tf-idf classifier alone reads an English question about subsidies as a Dutch topic question (the
topic words are the same) and a Dutch question with "startup" or "funding" in it might lean English.
This component runs last: an English message gets `english` with confidence 1.0 (the classifier's
ranking follows it, so actions can still see the topic); a Dutch message that the classifier called
`english` gets the next intent of the ranking, or nlu_fallback when that one is too unsure.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.conversation.language import is_english, is_nonsense

ENGLISH = "english"
FALLBACK = "nlu_fallback"


def decide(text: str, intent: dict | None, ranking: list[dict], threshold: float) -> tuple[dict, list[dict]]:
    """The (intent, ranking) after the language test; plain dicts, so it is testable without Rasa."""
    ranking = [r for r in ranking or [] if r.get(INTENT_NAME_KEY) != ENGLISH]
    if is_nonsense(text) and not text.startswith("/"):
        top = {INTENT_NAME_KEY: FALLBACK, PREDICTED_CONFIDENCE_KEY: threshold}
        return top, [top, *(r for r in ranking if r.get(INTENT_NAME_KEY) != FALLBACK)]
    if is_english(text):
        top = {INTENT_NAME_KEY: ENGLISH, PREDICTED_CONFIDENCE_KEY: 1.0}
        return top, [top, *ranking]
    if (intent or {}).get(INTENT_NAME_KEY) != ENGLISH:
        return intent or {}, ranking if ranking else []
    useful = [r for r in ranking if r.get(INTENT_NAME_KEY) != FALLBACK]
    if not useful or float(useful[0].get(PREDICTED_CONFIDENCE_KEY) or 0.0) < threshold:
        top = {INTENT_NAME_KEY: FALLBACK, PREDICTED_CONFIDENCE_KEY: threshold}
        return top, [top, *useful]
    return useful[0], useful


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class EnglishDetector(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"threshold": 0.45}  # the FallbackClassifier's threshold (config.yml)

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = {**self.get_default_config(), **config}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> EnglishDetector:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not text.strip():
                continue
            intent, ranking = decide(text, message.get(INTENT), message.get(INTENT_RANKING_KEY) or [],
                                     float(self.config["threshold"]))
            if intent:
                message.set(INTENT, intent, add_to_output=True)
                message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
