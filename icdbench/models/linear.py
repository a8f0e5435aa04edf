"""``lr`` and ``svm``: binary relevance over TF-IDF uni- to tri-grams, the linear baselines of the
hierarchical sentence-tagger paper (LR / SVM Binary Relevance Models, §4.5) and, in unigram form, of CAML.

One independent binary classifier per code (scikit-learn ``LogisticRegression`` or ``LinearSVC``,
liblinear solver, L2 penalty, fixed ``random_state``) over ``TfidfVectorizer`` features (n-grams 1–3,
sublinear tf, at most ``max_features`` terms seen in at least ``min_df`` training documents). The papers
give no vectoriser or regularisation settings; these defaults are ours.

Scores in [0, 1]: ``lr`` returns the logistic probability; ``svm`` returns the logistic function of the SVM
margin (not a fitted Platt calibration: it keeps each code's ranking and puts the SVM's decision boundary at
0.5, which is all the threshold tuning needs, without the cross-validated refits Platt scaling costs). A code
with no positive training document scores 0 everywhere, one positive in every training document scores 1.

Codes are fitted in a plain loop rather than ``OneVsRestClassifier``, which treats a single-column target
as a binary problem and gives constant codes a 0.5 margin score under the logistic map.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from icdbench.errors import UserError
from icdbench.models.registry import register_model


@dataclass
class LinearConfig:
    classifier: str = "lr"  # "lr" (logistic regression) or "svm" (linear SVM)
    ngram_range: list[int] = field(default_factory=lambda: [1, 3])
    max_features: int = 200_000
    min_df: int = 2
    sublinear_tf: bool = True
    C: float = 1.0  # inverse regularisation strength
    max_iter: int = 1000


class BinaryRelevance:
    """``fit(texts, Y [N, C] bool)`` then ``predict_scores(texts) -> float32 [N, C]`` in [0, 1]."""

    def __init__(self, config: LinearConfig):
        low, high = config.ngram_range
        self.classifier = config.classifier
        self.vectorizer = TfidfVectorizer(
            ngram_range=(low, high),
            max_features=config.max_features,
            min_df=config.min_df,
            sublinear_tf=config.sublinear_tf,
            dtype=np.float32,
        )
        if config.classifier == "lr":
            self.estimator = LogisticRegression(
                C=config.C, solver="liblinear", max_iter=config.max_iter, random_state=0
            )
        else:
            self.estimator = LinearSVC(C=config.C, max_iter=config.max_iter, random_state=0)
        self.models: dict[int, object] = {}
        self.constant: np.ndarray | None = None  # [C] score of codes without both classes in train

    def fit(self, texts: list[str], Y: np.ndarray) -> BinaryRelevance:
        Y = np.asarray(Y).astype(bool)
        if Y.ndim != 2 or Y.shape[0] != len(texts):
            raise UserError(f"targets must be [n_texts, n_codes]; got {Y.shape} for {len(texts)} texts")
        try:
            X = self.vectorizer.fit_transform(texts)
        except ValueError as error:  # e.g. no term reaches min_df
            raise UserError(f"cannot build TF-IDF features from the training text: {error}") from error
        positives = Y.sum(axis=0)
        self.constant = (positives == len(texts)).astype(np.float32)
        self.models = {}
        estimator = clone(self.estimator)
        if isinstance(estimator, LogisticRegression):
            # The dual problem is the faster one when terms outnumber documents (LinearSVC decides alone).
            estimator.set_params(dual=X.shape[0] < X.shape[1])
        # Sequential on purpose: liblinear draws from one process-wide random state, so fitting codes in
        # threads would make the weights depend on scheduling.
        for code in np.flatnonzero((positives > 0) & (positives < len(texts))):
            self.models[int(code)] = clone(estimator).fit(X, Y[:, code])
        return self

    def predict_scores(self, texts: list[str]) -> np.ndarray:
        if self.constant is None:
            raise UserError("this linear model has not been fitted yet")
        X = self.vectorizer.transform(texts)
        scores = np.tile(self.constant, (X.shape[0], 1))
        for code, model in self.models.items():
            if self.classifier == "lr":
                scores[:, code] = model.predict_proba(X)[:, 1]
            else:
                scores[:, code] = expit(model.decision_function(X))
        return scores


def _build(config: LinearConfig, ctx=None) -> BinaryRelevance:
    if config.classifier not in ("lr", "svm"):
        raise UserError(f"classifier must be 'lr' or 'svm', got {config.classifier!r}")
    if len(config.ngram_range) != 2 or not 1 <= config.ngram_range[0] <= config.ngram_range[1]:
        raise UserError(f"ngram_range must be [low, high] with 1 <= low <= high, got {config.ngram_range!r}")
    if config.C <= 0 or config.max_features <= 0 or config.min_df < 1 or config.max_iter <= 0:
        raise UserError("C, max_features and max_iter must be positive and min_df at least 1")
    return BinaryRelevance(config)


_PAPER = "binary relevance baseline (sentence-tagger paper §4.5; Mullenbach et al. 2018)"

register_model("lr", family="linear", paper=_PAPER, inputs="text", config=LinearConfig, trainer="sklearn")(
    _build
)
register_model(
    "svm",
    family="linear",
    paper=_PAPER,
    inputs="text",
    config=LinearConfig,
    config_defaults={"classifier": "svm"},
    trainer="sklearn",
)(_build)
