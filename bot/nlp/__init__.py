"""The Dutch spaCy component for the Rasa pipeline (the one part of bot/ that imports Rasa)."""

from bot.nlp.component import DutchSpacyNLP

__all__ = ["DutchSpacyNLP"]
