"""The ``prior`` baseline (each code at its training prevalence) and the linear baselines' choice of C on
validation (one curve point per C, the best kept, ties to the smaller C, the chosen C in the record)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from icdbench.errors import UserError
from icdbench.models.linear import FittedLinear
from icdbench.models.registry import get_model
from icdbench.training import runners, sklearn_runner
from icdbench.training.monitor import monitor_metrics
from icdbench.training.run import RunRequest, train
from icdbench.training.selection import LabelPrior

TEXTS = ["kidney injury", "pneumonia and fever", "fever only", "kidney disease and fever", "cough"]
# codes: 0 kidney (2 of 5), 1 fever (3 of 5), 2 never coded, 3 on every document
Y = np.array([["kidney" in t, "fever" in t, False, True] for t in TEXTS])


def _prior(**changes):
    spec = get_model("prior")
    return spec.build(dataclasses.replace(spec.default_config(), **changes), None).fit(TEXTS, Y)


def test_prior_scores_every_document_at_the_smoothed_training_prevalence():
    scores = _prior().predict_scores(["anything at all", "", "kidney kidney kidney"])
    expected = (np.array([2, 3, 0, 5]) + 0.5) / (5 + 1)
    assert scores.dtype == np.float32 and scores.shape == (3, 4)
    np.testing.assert_allclose(scores, np.tile(expected, (3, 1)), rtol=1e-6)  # the text changes nothing


def test_prior_without_smoothing_is_the_raw_prevalence_and_bad_settings_are_clear_errors():
    np.testing.assert_allclose(_prior(smoothing=0.0).predict_scores(["x"])[0], [0.4, 0.6, 0.0, 1.0], rtol=1e-6)
    spec = get_model("prior")
    with pytest.raises(UserError, match="smoothing"):
        spec.build(dataclasses.replace(spec.default_config(), smoothing=-1.0), None)
    with pytest.raises(UserError, match="not been fitted"):
        spec.build(spec.default_config(), None).predict_scores(TEXTS)


def _linear(**changes):
    spec = get_model("lr")
    return spec.build(dataclasses.replace(spec.default_config(), min_df=1, **changes), None)


def test_the_grid_fits_the_vectoriser_once_and_each_c_as_a_plain_fit_would():
    model = _linear(C_grid=[10.0, 0.1, 1.0, 10.0])
    assert model.grid == [{"C": 0.1}, {"C": 1.0}, {"C": 10.0}]  # increasing C, duplicates dropped
    calls = []
    fit_transform = model.vectorizer.fit_transform
    model.vectorizer.fit_transform = lambda texts: calls.append(len(texts)) or fit_transform(texts)
    fitted = list(model.fit_grid(TEXTS, Y))
    assert calls == [len(TEXTS)] and [setting for setting, _ in fitted] == model.grid
    for setting, scorer in fitted:
        plain = _linear(C=setting["C"], C_grid=[]).fit(TEXTS, Y)
        np.testing.assert_array_equal(scorer.predict_scores(TEXTS), plain.predict_scores(TEXTS))
    assert not np.array_equal(fitted[0][1].predict_scores(TEXTS), fitted[-1][1].predict_scores(TEXTS))
    assert _linear(C=3.0, C_grid=[]).grid == [{"C": 3.0}]  # an empty grid searches C alone
    with pytest.raises(UserError, match="C_grid"):
        _linear(C_grid=[1.0, 0.0])


def _spy_runs(monkeypatch):
    """Captures the ScoredRun the scikit-learn runner returns, and (C, rows) of every linear scoring call."""
    runs, scored = [], []
    fit_sklearn, predict = sklearn_runner.fit_sklearn, FittedLinear.predict_scores

    def capture(job):
        runs.append(fit_sklearn(job))
        return runs[-1]

    def spy(self, texts):
        scored.append((self.C, len(texts)))
        return predict(self, texts)

    monkeypatch.setattr(runners, "fit_sklearn", capture)  # the runner the registry maps trainer="sklearn" to
    monkeypatch.setattr(FittedLinear, "predict_scores", spy)
    return runs, scored


def _fake_monitor(monkeypatch, values):
    """The validation monitor of the k-th grid value is ``values[k]`` (one call per grid value)."""
    given = iter(values)
    monkeypatch.setattr(sklearn_runner, "monitor_metrics", lambda scores, targets: {"map_doc": next(given)})


def _train(model, *overrides):
    return train(RunRequest(model=model, split="synth-tiny", profile="ci", seed=0,
                            overrides=["data.max_train_docs=64", "train.monitor=val/map_doc", *overrides]))  # fmt: skip


def test_the_runner_keeps_the_c_with_the_best_validation_monitor_and_scores_test_with_it(run_env, monkeypatch):
    runs, scored = _spy_runs(monkeypatch)
    _fake_monitor(monkeypatch, [0.2, 0.9, 0.5])
    record = _train("lr", "model.C_grid=[0.5,2.0,8.0]").record
    (run,) = runs
    assert run.curve == [{"C": 0.5, "monitor": 0.2}, {"C": 2.0, "monitor": 0.9}, {"C": 8.0, "monitor": 0.5}]
    assert run.selected == 1 and run.best_monitor == 0.9 and run.stop_reason == "converged"
    assert run.selection == "fitted" and run.extra == {"chosen": {"C": 2.0}}
    n_val, n_test = len(run.val.doc_index), len(run.test.doc_index)
    assert scored == [(0.5, n_val), (2.0, n_val), (8.0, n_val), (2.0, n_test)]  # test: the chosen C only
    assert record.extra["chosen"] == {"C": 2.0} and record.best_monitor.value == 0.9


def test_a_tie_on_the_monitor_keeps_the_smaller_c(run_env, monkeypatch):
    runs, _ = _spy_runs(monkeypatch)
    _fake_monitor(monkeypatch, [0.7, 0.7 + 1e-6])  # within the tie tolerance
    _train("svm", "model.C_grid=[2.0,0.5]")
    assert [point["C"] for point in runs[0].curve] == [0.5, 2.0]
    assert runs[0].selected == 0 and runs[0].extra == {"chosen": {"C": 0.5}}


def test_a_monitor_fitted_models_cannot_compute_is_one_clear_error(run_env):
    with pytest.raises(UserError, match="val/loss is not computed for fitted models"):
        _train("lr", "train.monitor=val/loss")


def test_the_prior_runs_like_every_model_with_no_curve(run_env, monkeypatch):
    runs, _ = _spy_runs(monkeypatch)
    result = _train("prior")
    (run,) = runs
    assert run.curve == [] and run.selected is None and run.stop_reason == "converged" and run.extra == {}
    assert np.ptp(run.test.scores, axis=0).max() == 0.0  # every test document gets the same row
    assert run.test.scores[0] == pytest.approx(run.val.scores[0])
    assert 0.0 <= result.record.metrics.full["micro_f1"] <= 1.0


def test_the_prior_a_run_is_checked_against_is_the_prior_of_its_own_training_documents(run_env, monkeypatch):
    """With a profile that trains on the first N notes, the record's prior is that of those N notes: the prior
    baseline's own validation scores (smoothed prevalences of the same N notes, so the same order of codes) with
    their ties broken as the yardstick breaks them rank the validation codes exactly as the record's prior."""
    runs, _ = _spy_runs(monkeypatch)
    record = train(RunRequest("prior", "synth-tiny", "ci", seed=0, overrides=["data.max_train_docs=40"])).record
    (run,) = runs
    block, targets = record.convergence, run.val.targets
    untied = LabelPrior(run.val.scores[0], n_train=40).scores(len(targets))
    assert record.n_train_docs == 40
    assert block.prior_val_map_doc == pytest.approx(monitor_metrics(untied, targets)["map_doc"])
    assert block.val_map_doc < block.prior_val_map_doc  # the baseline keeps its ties, which cost it mAP
