"""Rasa pipeline components: entities from the knowledge, tf-idf intents and FAQ answers (bot.nlu inside)."""

from bot.rasa_ext.nlp.entities import KnowledgeEntityExtractor
from bot.rasa_ext.nlp.faq_selector import TfidfResponseSelector
from bot.rasa_ext.nlp.language import EnglishDetector
from bot.rasa_ext.nlp.tfidf_intent import TfidfIntentClassifier

__all__ = ["EnglishDetector", "KnowledgeEntityExtractor", "TfidfIntentClassifier", "TfidfResponseSelector"]
