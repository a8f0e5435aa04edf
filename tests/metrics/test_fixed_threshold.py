"""The ``fixed`` decision rule (0.5, nothing tuned): CAML's and MultiResCNN's published micro-F1."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_cases import make_case
from sklearn.metrics import f1_score

from icdbench.config import resolve_config
from icdbench.metrics import evaluate, tune_threshold
from icdbench.metrics.thresholds import FIXED_THRESHOLD
from icdbench.models.registry import get_model
from icdbench.training.evaluation import threshold_summary
from icdbench.training.predict import decisions


def test_fixed_rule_is_one_half_whatever_the_validation_scores():
    scores, targets = make_case(21, n_docs=40, n_codes=12, ties=True)
    assert tune_threshold(scores, targets, "fixed") == FIXED_THRESHOLD == 0.5
    assert tune_threshold(scores * 0.1, ~targets, "fixed", k=3) == 0.5  # validation is not read
    assert tune_threshold(scores, np.zeros_like(targets), "fixed") == 0.5  # no positive needed either
    tuned = tune_threshold(scores, targets, "global")
    assert tuned != 0.5  # the case is one where the rules differ, so the test can tell them apart


def test_fixed_rule_decides_score_at_least_one_half_everywhere_it_is_applied():
    scores, targets = make_case(22, n_docs=60, n_codes=9, ties=False)
    threshold = tune_threshold(scores, targets, "fixed")
    report = evaluate(scores, targets, threshold=threshold, keys=["micro_f1"])
    expected = f1_score(targets, scores >= 0.5, average="micro", zero_division=0)
    assert report["micro_f1"] == pytest.approx(expected)
    saved = threshold_summary("fixed", threshold)
    assert saved == {"rule": "fixed", "value": 0.5, "top_k": None}
    assert np.array_equal(decisions(np.asarray(scores, dtype=np.float32), saved), np.asarray(scores) >= 0.5)


def test_fixed_is_a_train_threshold_choice():
    cfg = resolve_config(get_model("caml"), split="synth-tiny", profile="ci", overrides=["train.threshold=fixed"]).cfg
    assert cfg.train.threshold == "fixed"
