"""Every key with a scikit-learn counterpart agrees with it to 1e-6, on random matrices and the edge cases of
``conftest.make_case`` (ties, a code without positives, a code without negatives, documents without gold)."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_cases import make_case
from sklearn import metrics as skm

from icdbench.metrics import evaluate

TOL = 1e-6


def _reference(scores: np.ndarray, targets: np.ndarray, threshold: float) -> dict[str, float]:
    pred = scores >= threshold
    evaluated = np.flatnonzero(targets.sum(0) > 0)
    roc_codes = np.flatnonzero((targets.sum(0) > 0) & (targets.sum(0) < len(targets)))
    has_gold = targets.sum(1) > 0
    macro = {"labels": evaluated, "average": "macro", "zero_division": 0}
    return {
        "micro_precision": skm.precision_score(targets, pred, average="micro", zero_division=0),
        "micro_recall": skm.recall_score(targets, pred, average="micro", zero_division=0),
        "micro_f1": skm.f1_score(targets, pred, average="micro", zero_division=0),
        "macro_precision": skm.precision_score(targets, pred, **macro),
        "macro_recall": skm.recall_score(targets, pred, **macro),
        "macro_f1": skm.f1_score(targets, pred, **macro),
        "hamming_loss": skm.hamming_loss(targets, pred),
        "emr": skm.accuracy_score(targets, pred),
        "jaccard_samples": skm.jaccard_score(targets, pred, average="samples", zero_division=1),
        "jaccard_micro": skm.jaccard_score(targets, pred, average="micro", zero_division=0),
        "jaccard_macro": skm.jaccard_score(targets, pred, **macro),
        "samples_f1": skm.f1_score(targets, pred, average="samples", zero_division=1),
        "coverage_error": skm.coverage_error(targets, scores),
        "lrap": skm.label_ranking_average_precision_score(targets, scores),
        "map_doc": np.mean([skm.average_precision_score(targets[d], scores[d]) for d in np.flatnonzero(has_gold)]),
        "micro_auc_roc": skm.roc_auc_score(targets.ravel(), scores.ravel()),
        "micro_auc_pr": skm.average_precision_score(targets.ravel(), scores.ravel()),
        "macro_auc_roc": np.mean([skm.roc_auc_score(targets[:, c], scores[:, c]) for c in roc_codes]),
        "macro_auc_pr": np.mean([skm.average_precision_score(targets[:, c], scores[:, c]) for c in evaluated]),
    }


@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_keys_match_sklearn(case, threshold):
    scores, targets = case
    report = evaluate(scores, targets, threshold=threshold)
    for key, expected in _reference(scores, targets, threshold).items():
        assert report[key] == pytest.approx(expected, abs=TOL), key
    assert report["n_codes_evaluated"] == targets.shape[1] - 1
    assert report["n_docs_without_gold"] == 2
    macro_p, macro_r = report["macro_precision"], report["macro_recall"]
    assert report["macro_f1_caml"] == pytest.approx(2 * macro_p * macro_r / (macro_p + macro_r), abs=TOL)


def test_float64_scores_and_int_targets_are_accepted():
    scores, targets = make_case(5, ties=True)
    as64 = evaluate(scores.astype(np.float64), targets.astype(np.int64))
    as32 = evaluate(scores, targets)
    assert as64 == pytest.approx(as32, abs=1e-12)


def test_single_document():
    scores = np.array([[0.9, 0.2, 0.6, 0.6]], dtype=np.float32)
    targets = np.array([[True, False, True, False]])
    report = evaluate(scores, targets)
    assert report["n_docs"] == 1
    assert report["micro_f1"] == pytest.approx(skm.f1_score(targets, scores >= 0.5, average="micro"))
    assert report["lrap"] == pytest.approx(skm.label_ranking_average_precision_score(targets, scores))
    assert report["coverage_error"] == pytest.approx(skm.coverage_error(targets, scores))
    assert np.isnan(report["macro_auc_roc"])  # every code has only positives or only negatives
    assert report["micro_auc_roc"] == pytest.approx(skm.roc_auc_score(targets.ravel(), scores.ravel()))


def test_perfect_and_inverted_scores():
    _, targets = make_case(7)
    perfect = targets.astype(np.float32)
    report = evaluate(perfect, targets)
    for key in ("micro_f1", "emr", "jaccard_samples", "map_doc", "lrap", "micro_auc_roc", "micro_auc_pr",
                "macro_auc_pr", "r_precision", "samples_f1"):  # fmt: skip
        assert report[key] == pytest.approx(1.0), key
    assert report["macro_auc_roc"] == pytest.approx(1.0)
    assert report["hamming_loss"] == 0.0
    inverted = evaluate(1 - perfect, targets)
    assert inverted["micro_auc_roc"] == pytest.approx(0.0)
    assert inverted["macro_auc_roc"] == pytest.approx(0.0)
    assert inverted["micro_f1"] == pytest.approx(skm.f1_score(targets, (1 - perfect) >= 0.5, average="micro"))


def test_all_scores_tied():
    _, targets = make_case(8)
    scores = np.full(targets.shape, 0.5, dtype=np.float32)
    report = evaluate(scores, targets, threshold=0.5)
    reference = _reference(scores, targets, 0.5)
    for key in ("micro_auc_roc", "macro_auc_roc", "micro_auc_pr", "macro_auc_pr", "lrap", "coverage_error"):
        assert report[key] == pytest.approx(reference[key], abs=TOL), key
    # every code tied: P@k is the document's share of gold codes by expectation
    share = targets.sum(1)[targets.sum(1) > 0] / targets.shape[1]
    assert report["p@5"] == pytest.approx(share.mean())
