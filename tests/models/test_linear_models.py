"""The binary-relevance TF-IDF baselines (``lr``, ``svm``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.special import expit

from icdbench.errors import UserError
from icdbench.models.registry import get_model

TEXTS = [
    "acute kidney injury with fever",
    "chronic kidney disease stage three",
    "community acquired pneumonia right lower lobe",
    "pneumonia with fever and cough",
    "essential hypertension well controlled",
    "hypertension and chronic kidney disease",
    "cough without fever no pneumonia seen",
    "acute kidney injury resolved",
]
# Codes: 0 = kidney, 1 = pneumonia, 2 = never coded, 3 = coded on every document.
Y = np.array([["kidney" in t, "pneumonia" in t and "no pneumonia" not in t, False, True] for t in TEXTS])


def fitted(name: str, **changes):
    spec = get_model(name)
    config = dataclasses.replace(spec.default_config(), min_df=1, **changes)
    return spec.build(config, None).fit(TEXTS, Y)


@pytest.mark.parametrize("name", ["lr", "svm"])
def test_scores_rank_the_evidenced_code_first_and_constant_codes_are_constant(name):
    model = fitted(name, C=10.0)
    scores = model.predict_scores(["kidney injury again", "lobar pneumonia today"])
    assert scores.dtype == np.float32 and scores.shape == (2, 4)
    assert scores[0, 0] > scores[1, 0] and scores[1, 1] > scores[0, 1]
    assert np.all(scores[:, 2] == 0.0) and np.all(scores[:, 3] == 1.0)
    assert sorted(model.models) == [0, 1]  # only codes with both classes get a classifier


def test_svm_scores_are_the_logistic_of_the_margin():
    model = fitted("svm")
    X = model.vectorizer.transform(TEXTS[:3])
    expected = expit(model.models[1].decision_function(X))
    np.testing.assert_allclose(model.predict_scores(TEXTS[:3])[:, 1], expected, rtol=1e-6)


def test_refit_is_deterministic():
    first = fitted("lr").predict_scores(TEXTS)
    np.testing.assert_array_equal(first, fitted("lr").predict_scores(TEXTS))


def test_ngrams_up_to_three():
    model = fitted("lr")
    assert "community acquired pneumonia" in model.vectorizer.vocabulary_


@pytest.mark.parametrize(
    "change", [dict(classifier="knn"), dict(ngram_range=[3, 1]), dict(C=0.0), dict(min_df=0)]
)
def test_bad_config_is_one_clear_error(change):
    spec = get_model("lr")
    with pytest.raises(UserError):
        spec.build(dataclasses.replace(spec.default_config(), **change), None)


def test_bad_inputs_are_clear_errors():
    spec = get_model("lr")
    model = spec.build(spec.default_config(), None)
    with pytest.raises(UserError, match="not been fitted"):
        model.predict_scores(TEXTS)
    with pytest.raises(UserError, match="targets"):
        model.fit(TEXTS, Y[:3])
    with pytest.raises(UserError, match="TF-IDF"):
        model.fit(["a", "b"], np.ones((2, 1), dtype=bool))  # default min_df=2: no term survives
