"""Load Dutch spaCy: the trained nl_core_news_sm when installed, else a blank pipeline with lookup lemmas.

Kept free of Rasa imports so the choice can be tested and reused (e.g. by knowledge search).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "nl_core_news_sm"
BLANK_NAME = "blank:nl+lookup-lemmas"


@dataclass(frozen=True)
class LoadedPipeline:
    nlp: object  # spacy.language.Language
    name: str  # also the fingerprint: a different pipeline retrains what depends on it
    is_fallback: bool


def load_dutch(model_name: str = DEFAULT_MODEL) -> LoadedPipeline:
    import spacy

    try:
        # The parser and NER are not used by the featurizers; leaving them out saves time per message.
        nlp = spacy.load(model_name, disable=["parser", "ner"])
    except (OSError, ImportError):
        nlp = None
    if nlp is not None:
        version = nlp.meta.get("version", "?")
        wanted = nlp.meta.get("spacy_version", "")
        if wanted and not spacy.util.is_compatible_version(spacy.about.__version__, wanted):
            logger.warning(
                "spaCy model %s %s wants spaCy %s, this is %s; using the blank Dutch pipeline",
                model_name, version, wanted, spacy.about.__version__,
            )
        else:
            logger.info("Dutch NLP: using spaCy model %s %s", model_name, version)
            return LoadedPipeline(nlp=nlp, name=f"{model_name}-{version}", is_fallback=False)
    return LoadedPipeline(nlp=_blank_dutch(), name=BLANK_NAME, is_fallback=True)


def _blank_dutch():
    import spacy

    nlp = spacy.blank("nl")
    try:
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()  # reads the lookup table from spacy-lookups-data
        logger.info(
            "Dutch NLP: spaCy model nl_core_news_sm not installed; using a blank Dutch pipeline "
            "with lookup lemmas (spacy-lookups-data)"
        )
    except (ValueError, OSError, ImportError) as exc:
        nlp = spacy.blank("nl")
        logger.warning("Dutch NLP: blank Dutch pipeline without lemmas (%s)", exc)
    return nlp


@lru_cache(maxsize=2)
def shared_dutch(model_name: str = DEFAULT_MODEL) -> LoadedPipeline:
    """One pipeline per process for code outside Rasa (knowledge search)."""
    return load_dutch(model_name)
