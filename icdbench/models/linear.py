"""``lr`` and ``svm``: binary relevance over TF-IDF uni- to tri-grams, the linear baselines of the
hierarchical sentence-tagger paper (LR / SVM Binary Relevance Models, §4.5) and, in unigram form, of CAML.

One independent binary classifier per code (scikit-learn ``LogisticRegression`` or ``LinearSVC``,
liblinear solver, L2 penalty, fixed ``random_state``) over ``TfidfVectorizer`` features (n-grams 1–3,
sublinear tf, at most ``max_features`` terms seen in at least ``min_df`` training documents). The papers
give no vectoriser settings; these defaults are ours.

Regularisation is chosen on validation, as the published baselines do: the scikit-learn runner fits one set
of classifiers per value of ``C_grid`` over the same TF-IDF matrix (the vectoriser is fitted once, see
:meth:`BinaryRelevance.fit_grid`) and evaluates the value with the best validation monitor; ties go to the
smaller C (stronger regularisation). ``C`` is the single value used when ``C_grid`` is empty, and the value
a plain ``fit(texts, Y)`` (no validation data) uses.

Scores in [0, 1]: ``lr`` returns the logistic probability; ``svm`` returns the logistic function of the SVM
margin (not a fitted Platt calibration: it keeps each code's ranking and puts the SVM's decision boundary at
0.5, which is all the threshold tuning needs, without the cross-validated refits Platt scaling costs). A code
with no positive training document scores 0 everywhere, one positive in every training document scores 1.

Codes are fitted in a plain loop rather than ``OneVsRestClassifier``, which treats a single-column target
as a binary problem and gives constant codes a 0.5 margin score under the logistic map.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from icdbench.errors import UserError
from icdbench.models.registry import Departure, Fidelity, register_model


@dataclass
class LinearConfig:
    classifier: str = "lr"  # "lr" (logistic regression) or "svm" (linear SVM)
    ngram_range: list[int] = field(default_factory=lambda: [1, 3])
    max_features: int = 200_000
    min_df: int = 2
    sublinear_tf: bool = True
    # Inverse regularisation strengths searched on validation (the runner keeps the best); empty: use C only
    C_grid: list[float] = field(default_factory=lambda: [0.1, 1.0, 10.0, 100.0])
    C: float = 1.0  # the value when C_grid is empty, and the one a plain fit() uses
    max_iter: int = 1000


class FittedLinear:
    """Per-code classifiers at one C over a fitted vectoriser: ``predict_scores(texts) -> float32 [N, codes]``.
    It shares its model's vectoriser, which the model's next ``fit`` or ``fit_grid`` refits."""

    def __init__(self, vectorizer: TfidfVectorizer, classifier: str, C: float, models: dict, constant: np.ndarray):
        self.vectorizer, self.classifier, self.C = vectorizer, classifier, C
        self.models: dict[int, object] = models  # code index -> classifier, for codes with both classes in train
        self.constant = constant  # [codes] score of the other codes: 1 if in every training document, else 0

    def predict_scores(self, texts: list[str]) -> np.ndarray:
        X = self.vectorizer.transform(texts)
        scores = np.tile(self.constant, (X.shape[0], 1))
        for code, model in self.models.items():
            if self.classifier == "lr":
                scores[:, code] = model.predict_proba(X)[:, 1]
            else:
                scores[:, code] = expit(model.decision_function(X))
        return scores


class BinaryRelevance:
    """``fit(texts, Y [N, C] bool)`` then ``predict_scores(texts) -> float32 [N, C]`` in [0, 1].

    For the runner's validation search: ``grid`` (the settings, ``[{"C": c}, ...]`` in increasing C) and
    ``fit_grid(texts, Y)``, which yields ``(setting, FittedLinear)`` one setting at a time."""

    def __init__(self, config: LinearConfig):
        low, high = config.ngram_range
        self.classifier = config.classifier
        self.C = float(config.C)
        # Increasing C: the search keeps the first of tied settings, i.e. the strongest regularisation
        self.grid = [{"C": c} for c in sorted({float(c) for c in config.C_grid})] or [{"C": self.C}]
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
        self.fitted: FittedLinear | None = None

    @property
    def models(self) -> dict[int, object]:
        """The per-code classifiers of the last ``fit`` (codes with both classes in train only)."""
        return self.fitted.models if self.fitted is not None else {}

    def fit(self, texts: list[str], Y: np.ndarray) -> BinaryRelevance:
        X, Y = self._features(texts, Y)
        self.fitted = self._fit_at(X, Y, self.C)
        return self

    def fit_grid(self, texts: list[str], Y: np.ndarray) -> Iterator[tuple[dict[str, float], FittedLinear]]:
        """Fit the vectoriser once, then the classifiers at each ``grid`` setting on the same matrix. Lazy, so
        the caller holds only the setting being fitted and the one it keeps."""
        X, Y = self._features(texts, Y)
        for setting in self.grid:
            yield setting, self._fit_at(X, Y, setting["C"])

    def predict_scores(self, texts: list[str]) -> np.ndarray:
        if self.fitted is None:
            raise UserError("this linear model has not been fitted yet")
        return self.fitted.predict_scores(texts)

    def _features(self, texts: list[str], Y: np.ndarray):
        Y = np.asarray(Y).astype(bool)
        if Y.ndim != 2 or Y.shape[0] != len(texts):
            raise UserError(f"targets must be [n_texts, n_codes]; got {Y.shape} for {len(texts)} texts")
        try:
            X = self.vectorizer.fit_transform(texts)
        except ValueError as error:  # e.g. no term reaches min_df
            raise UserError(f"cannot build TF-IDF features from the training text: {error}") from error
        return X, Y

    def _fit_at(self, X, Y: np.ndarray, C: float) -> FittedLinear:
        positives = Y.sum(axis=0)
        constant = (positives == Y.shape[0]).astype(np.float32)
        estimator = clone(self.estimator).set_params(C=C)
        if isinstance(estimator, LogisticRegression):
            # The dual problem is the faster one when terms outnumber documents (LinearSVC decides alone).
            estimator.set_params(dual=X.shape[0] < X.shape[1])
        models: dict[int, object] = {}
        # Sequential on purpose: liblinear draws from one process-wide random state, so fitting codes in
        # threads would make the weights depend on scheduling.
        for code in np.flatnonzero((positives > 0) & (positives < Y.shape[0])):
            models[int(code)] = clone(estimator).fit(X, Y[:, code])
        return FittedLinear(self.vectorizer, self.classifier, C, models, constant)


def _build(config: LinearConfig, ctx=None) -> BinaryRelevance:
    if config.classifier not in ("lr", "svm"):
        raise UserError(f"classifier must be 'lr' or 'svm', got {config.classifier!r}")
    if len(config.ngram_range) != 2 or not 1 <= config.ngram_range[0] <= config.ngram_range[1]:
        raise UserError(f"ngram_range must be [low, high] with 1 <= low <= high, got {config.ngram_range!r}")
    if config.C <= 0 or any(c <= 0 for c in config.C_grid):
        raise UserError(f"C and every C_grid value must be positive, got C={config.C}, C_grid={config.C_grid}")
    if config.max_features <= 0 or config.min_df < 1 or config.max_iter <= 0:
        raise UserError("max_features and max_iter must be positive and min_df at least 1")
    return BinaryRelevance(config)


_PAPER = "binary relevance baseline (sentence-tagger paper §4.5; Mullenbach et al. 2018)"

_TFIDF = Departure("deliberate", "the papers give no vectoriser settings: TF-IDF n-grams 1-3, sublinear tf, "
                   "max_features and min_df are ours; C is chosen on validation over C_grid")
LR_FIDELITY = Fidelity(reference="scikit-learn LogisticRegression (liblinear), one per code", departures=(_TFIDF,))
SVM_FIDELITY = Fidelity(
    reference="scikit-learn LinearSVC (liblinear), one per code",
    departures=(_TFIDF, Departure("deliberate", "scores are the logistic function of the margin, not a fitted "
                                  "Platt calibration (same ranking, decision boundary at 0.5)")),
)

register_model(
    "lr", family="linear", paper=_PAPER, inputs="text", config=LinearConfig, trainer="sklearn", fidelity=LR_FIDELITY
)(_build)
register_model(
    "svm",
    family="linear",
    paper=_PAPER,
    inputs="text",
    config=LinearConfig,
    config_defaults={"classifier": "svm"},
    trainer="sklearn",
    fidelity=SVM_FIDELITY,
)(_build)
