"""Custom Rasa pipeline components: Dutch spaCy, the intent classifier, a ResponseSelector only for FAQ messages."""

from bot.nlp.component import DutchSpacyNLP
from bot.nlp.faq_selector import FaqResponseSelector
from bot.nlp.tfidf_intent import TfidfIntentClassifier

__all__ = ["DutchSpacyNLP", "FaqResponseSelector", "TfidfIntentClassifier"]
