"""ResponseSelector that only runs for messages the intent classifier gave the retrieval intent.

Rasa runs every pipeline component on every message, but the selected response is only used when
the intent is the retrieval intent (`faq`): the bot answers with utter_faq, or a form answers the
interruption (actions/forms.py). Skipping the other messages saves a second DIET-sized network
per turn (docs/BENCHMARKS.md, profile).
"""

from __future__ import annotations

import warnings

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY
from rasa.shared.nlu.training_data.message import Message

# Rasa's recipe validator looks for the exact ResponseSelector class, not a subclass, and would warn
# that the FAQ examples are not used; they are.
warnings.filterwarnings("ignore", message="You have defined training data with examples for training a "
                                          "response selector")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FaqResponseSelector(ResponseSelector):
    def process(self, messages: list[Message]) -> list[Message]:
        if not self.retrieval_intent:  # one selector for all retrieval intents: nothing to skip
            return super().process(messages)
        wanted = [m for m in messages
                  if (m.get(INTENT) or {}).get(INTENT_NAME_KEY) == self.retrieval_intent]
        if wanted:
            super().process(wanted)  # adds the selection to these messages in place
        return messages
