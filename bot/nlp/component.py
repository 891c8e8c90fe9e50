"""Rasa 3 graph component: provides the Dutch spaCy pipeline to SpacyTokenizer and friends."""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP

from bot.nlp.loader import DEFAULT_MODEL, load_dutch

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(
    [
        DefaultV1Recipe.ComponentType.MODEL_LOADER,
        DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER,
    ],
    is_trainable=False,
    model_from="DutchSpacyNLP",  # matched against the provider node's class name
)
class DutchSpacyNLP(SpacyNLP):
    """SpacyNLP that falls back to a blank Dutch pipeline when nl_core_news_sm is not installed."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"model": DEFAULT_MODEL, "case_sensitive": False}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> DutchSpacyNLP:
        merged = {**cls.get_default_config(), **config}
        loaded = load_dutch(merged["model"])
        # Logged at training and at start-up, because both create the component.
        logger.info("DutchSpacyNLP uses %s", loaded.name)
        return cls(SpacyModel(model=loaded.nlp, model_name=loaded.name), merged)
