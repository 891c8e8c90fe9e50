"""Custom Rasa pipeline components: entities from the knowledge, tf-idf intents and FAQ answers."""

from bot.nlp.entities import KnowledgeEntityExtractor
from bot.nlp.faq_selector import TfidfResponseSelector
from bot.nlp.tfidf_intent import TfidfIntentClassifier

__all__ = ["KnowledgeEntityExtractor", "TfidfIntentClassifier", "TfidfResponseSelector"]
