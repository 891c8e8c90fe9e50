"""A linear SVM on word and character n-gram tf-idf, with calibrated probabilities (no Rasa here).

Used for intents and for the FAQ answers. A linear SVM gives scores, not probabilities; the fallback
and the "did you mean" buttons need probabilities, so the scores pass through a softmax whose
temperature is fitted on out-of-fold scores (temperature scaling): a confidence of 0.45 then means
roughly a 45 % chance of being right. Temperature does not change the ranking.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

MODEL_FILE = "tfidf_svm.skops"
META_FILE = "meta.json"
# skops refuses to load types it does not know; these are the only families the model is built from
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")

DEFAULTS: dict[str, Any] = {"C": 1.0, "max_word_ngram": 2, "min_char_ngram": 2, "max_char_ngram": 5,
                            "char_min_df": 1, "calibration_folds": 5, "random_seed": 2026}


def build_model(config: dict[str, Any]):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.svm import LinearSVC

    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, config["max_word_ngram"]), sublinear_tf=True),
        # char n-grams carry compounds and typos: "loonkostensubsidie" ~ "loonkosten subsidie"
        TfidfVectorizer(analyzer="char_wb", ngram_range=(config["min_char_ngram"], config["max_char_ngram"]),
                        min_df=config["char_min_df"], sublinear_tf=True),
    )
    return make_pipeline(features, LinearSVC(C=config["C"]))


def compact(model) -> None:
    """Drop what prediction does not use: the n-grams cut by min_df (sklearn keeps them for
    introspection only) and half the bytes of the weights."""
    union, svc = model.steps[0][1], model.steps[-1][1]
    for _, vectorizer in union.transformer_list:
        if hasattr(vectorizer, "stop_words_"):
            del vectorizer.stop_words_
    svc.coef_ = svc.coef_.astype(np.float32)


def score_columns(scores: np.ndarray) -> np.ndarray:
    """One column per class; with two classes sklearn gives one column, the second class's score."""
    return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, truth_idx: np.ndarray) -> float:
    """The softmax temperature that minimises the log-loss of out-of-fold scores."""
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(truth_idx))

    def nll(log_t: float) -> float:
        p = softmax(scores, math.exp(log_t))[rows, truth_idx]
        return float(-np.log(np.clip(p, 1e-12, None)).mean())

    best = minimize_scalar(nll, bounds=(math.log(0.01), math.log(10.0)), method="bounded")
    return math.exp(best.x)


class FastScores:
    """The fitted model's decision scores for one text at a time, without sklearn's per-call overhead.

    sklearn's FeatureUnion and TfidfVectorizer spend ~2 ms per call on validation and sparse-matrix
    plumbing for a sentence of a few hundred n-grams; this computes the same numbers (each block:
    sublinear tf times idf, l2-normalised; then the linear model) straight from the fitted vocabularies,
    in ~0.2 ms. tests/test_tfidf_intent.py checks it against sklearn's own decision_function.
    """

    def __init__(self, model) -> None:
        union, svc = model.steps[0][1], model.steps[-1][1]
        self.blocks = []
        offset = 0
        for _, vectorizer in union.transformer_list:
            size = len(vectorizer.vocabulary_)
            self.blocks.append((vectorizer.build_analyzer(), vectorizer.vocabulary_,
                                np.asarray(vectorizer.idf_, dtype=np.float64), offset))
            offset += size
        # as compact() stored it (float32): the few columns a text touches are widened per call, so a
        # float64 copy of the whole matrix would only cost memory
        self.coef = np.asarray(svc.coef_)
        self.intercept = np.asarray(svc.intercept_, dtype=np.float64)

    def __call__(self, text: str) -> np.ndarray:
        scores = self.intercept.copy()
        for analyze, vocabulary, idf, offset in self.blocks:
            counts = Counter(i for i in map(vocabulary.get, analyze(text)) if i is not None)
            if not counts:
                continue
            index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts))))
            values *= idf[index]
            values /= np.sqrt(values @ values)
            scores += self.coef[:, offset + index] @ values
        return scores


class CalibratedTfidf:
    def __init__(self, config: dict[str, Any] | None = None, model=None, temperature: float = 1.0) -> None:
        self.config = {**DEFAULTS, **(config or {})}
        self.model = model
        self.temperature = temperature
        self._fast = FastScores(model) if model is not None else None

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.model.classes_] if self.model is not None else []

    def fit(self, texts: list[str], labels: list[str]) -> CalibratedTfidf:
        self.temperature = self._calibrate(texts, labels)
        self.model = build_model(self.config).fit(texts, labels)
        compact(self.model)
        self._fast = FastScores(self.model)
        return self

    def _calibrate(self, texts: list[str], labels: list[str]) -> float:
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        folds = min(self.config["calibration_folds"], min(Counter(labels).values()))
        if folds < 2:
            return 1.0
        splitter = StratifiedKFold(folds, shuffle=True, random_state=self.config["random_seed"])
        scores = score_columns(cross_val_predict(build_model(self.config), texts, labels, cv=splitter,
                                                 method="decision_function"))
        classes = sorted(set(labels))  # the column order sklearn uses
        truth = np.array([classes.index(label) for label in labels])
        temperature = fit_temperature(scores, truth)
        logger.info("tf-idf SVM: softmax temperature %.3f from %d-fold scores", temperature, folds)
        return temperature

    def scores(self, texts: list[str]) -> np.ndarray:
        """Decision scores, one row per text, one column per class (in `classes` order)."""
        rows = np.array([self._fast(text) for text in texts])
        return score_columns(rows[:, 0]) if rows.shape[1] == 1 else rows

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """One row per text, one column per class (in `classes` order)."""
        return softmax(self.scores(texts), self.temperature)

    def save(self, directory: Path, extra: dict | None = None) -> None:
        import skops.io as sio

        sio.dump(self.model, directory / MODEL_FILE)
        meta = {"temperature": self.temperature, **(extra or {})}
        (directory / META_FILE).write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any] | None = None) -> tuple[CalibratedTfidf, dict]:
        """The model and its stored extras; ValueError for a file with types we will not load."""
        import skops.io as sio

        path = directory / MODEL_FILE
        types = sio.get_untrusted_types(file=path)
        strange = [t for t in types if not t.startswith(TRUSTED_PREFIXES)]
        if strange:
            raise ValueError(f"unexpected types in {path.name}: {strange}")
        model = sio.load(path, trusted=types)
        meta = json.loads((directory / META_FILE).read_text())
        return cls(config, model=model, temperature=meta.pop("temperature")), meta
