"""Custom Rasa pipeline components: Dutch spaCy, and a ResponseSelector that runs only for FAQ messages."""

from bot.nlp.component import DutchSpacyNLP
from bot.nlp.faq_selector import FaqResponseSelector

__all__ = ["DutchSpacyNLP", "FaqResponseSelector"]
