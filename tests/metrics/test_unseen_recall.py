"""``recall_unseen``: recall on gold codes that have no training document, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metrics_cases import make_case

from icdbench.metrics import evaluate
from icdbench.metrics.keys import METRICS


def test_unseen_recall_counts_gold_pairs_of_codes_without_training_documents():
    scores, targets = make_case(11, n_docs=40, n_codes=10, density=0.3)
    train_counts = np.array([0, 0, 3, 0, 12, 1, 0, 7, 2, 5])
    report = evaluate(scores, targets, threshold=0.5, train_counts=train_counts)
    unseen = train_counts == 0
    gold = targets[:, unseen]
    assert report["n_unseen_gold"] == gold.sum() > 0
    assert report["recall_unseen"] == pytest.approx(((scores[:, unseen] >= 0.5) & gold).sum() / gold.sum())
    assert METRICS["recall_unseen"].higher_is_better and METRICS["n_unseen_gold"].higher_is_better is None


def test_unseen_recall_is_nan_without_unseen_gold_and_absent_without_train_counts():
    scores, targets = make_case(12, n_docs=20, n_codes=6)
    report = evaluate(scores, targets, train_counts=np.ones(6, dtype=np.int64))
    assert math.isnan(report["recall_unseen"]) and report["n_unseen_gold"] == 0
    assert "recall_unseen" not in evaluate(scores, targets)
