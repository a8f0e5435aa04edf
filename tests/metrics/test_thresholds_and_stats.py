"""Threshold tuning against brute force; bootstrap, paired test and seed aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from metrics_cases import make_case
from scipy import stats as scipy_stats
from sklearn.metrics import f1_score

from icdbench.metrics import TopK, evaluate, tune_threshold
from icdbench.metrics.report import Inputs
from icdbench.metrics.stats import SUPPORTED, Pieces, aggregate_seeds, bootstrap_ci, paired_test


def _micro_f1(scores, targets, threshold) -> float:
    pred = scores >= threshold
    return 2 * (pred & targets).sum() / (pred.sum() + targets.sum())


@pytest.mark.parametrize("ties", [False, True])
def test_global_threshold_is_the_exact_maximiser(ties):
    scores, targets = make_case(11, n_docs=50, n_codes=10, ties=ties)
    best = tune_threshold(scores, targets, "global", k=8)  # k is ignored by the global rule
    candidates = np.unique(scores)
    brute = max(_micro_f1(scores, targets, t) for t in candidates)
    assert _micro_f1(scores, targets, best) == pytest.approx(brute)
    below = candidates[candidates < best]
    assert not np.any((scores > (below.max() if len(below) else -1)) & (scores < best))  # halfway between scores


def test_per_code_threshold_and_fallback():
    scores, targets = make_case(12, n_docs=60, n_codes=8, ties=True)
    targets[:, 2] = False
    targets[:3, 2] = True  # a code with 3 positives: too rare to tune with min_positives=5
    global_cut = tune_threshold(scores, targets, "global")
    cuts = tune_threshold(scores, targets, "per_code", min_positives=5)
    assert cuts.shape == (8,)
    for c in range(8):
        positives = targets[:, c].sum()
        if positives < 5:
            assert float(cuts[c]) == pytest.approx(global_cut)
            continue
        best = max(f1_score(targets[:, c], scores[:, c] >= t, zero_division=0) for t in np.unique(scores[:, c]))
        assert f1_score(targets[:, c], scores[:, c] >= float(cuts[c]), zero_division=0) == pytest.approx(best)


def test_top_k_rule():
    scores, targets = make_case(13, n_docs=50, n_codes=12)
    assert tune_threshold(scores, targets, "top_k", k=3) == TopK(3)
    tuned = tune_threshold(scores, targets, "top_k")
    f1 = {k: evaluate(scores, targets, threshold=TopK(k))["micro_f1"] for k in range(1, 13)}
    assert f1[tuned.k] == pytest.approx(max(f1.values()))
    with pytest.raises(ValueError, match="no positive"):
        tune_threshold(scores, np.zeros_like(targets), "global")
    with pytest.raises(ValueError, match="rule must be"):
        tune_threshold(scores, targets, "best")


def test_bootstrap_pieces_equal_evaluating_the_resample():
    """For every key but the AUCs, a resample's value is exactly that of evaluating the resampled documents."""
    scores, targets = make_case(14, n_docs=50, n_codes=10, ties=True)
    pieces = Pieces.of(Inputs.check(scores, targets, None, 0.4, None, None, None))
    rows = np.random.default_rng(0).integers(0, 50, 50)
    weights = torch.bincount(torch.from_numpy(rows), minlength=50).double()[None]
    replicate = pieces.replicate(weights, SUPPORTED)
    expected = evaluate(scores[rows], targets[rows], threshold=0.4)
    for key in SUPPORTED:
        if key in ("macro_auc_roc", "macro_auc_pr"):
            continue
        assert float(replicate[key][0]) == pytest.approx(expected[key], abs=1e-9), key
    original = pieces.replicate(torch.ones(1, 50, dtype=torch.float64), SUPPORTED)
    full = evaluate(scores, targets, threshold=0.4)
    for key in SUPPORTED:  # with unit weights the AUC pieces agree too (AP sums run in float32)
        assert float(original[key][0]) == pytest.approx(full[key], abs=1e-6), key


def test_auc_bootstrap_approximation_tracks_exact_resampling():
    scores, targets = make_case(15, n_docs=400, n_codes=8, density=0.03)
    pieces = Pieces.of(Inputs.check(scores, targets, None, 0.5, None, None, None))
    generator = torch.Generator().manual_seed(0)
    approx, exact = [], []
    for _ in range(40):
        rows = torch.randint(400, (400,), generator=generator)
        weights = torch.bincount(rows, minlength=400).double()[None]
        approx.append(float(pieces.replicate(weights, ["macro_auc_pr"])["macro_auc_pr"][0]))
        exact.append(evaluate(scores[rows.numpy()], targets[rows.numpy()])["macro_auc_pr"])
    assert np.corrcoef(approx, exact)[0, 1] > 0.8
    assert 0.75 < np.std(approx) / np.std(exact) < 1.25


def test_bootstrap_ci_is_seeded_and_covers_the_estimate():
    scores, targets = make_case(16, n_docs=80, n_codes=10)
    codes = [f"c{i}" for i in range(10)]
    first = bootstrap_ci(scores, targets, codes=codes, n_boot=200, seed=3)
    assert first == bootstrap_ci(scores, targets, codes=codes, n_boot=200, seed=3)
    assert first != bootstrap_ci(scores, targets, codes=codes, n_boot=200, seed=4)
    report = evaluate(scores, targets)
    for key, ci in first.items():
        assert ci["estimate"] == pytest.approx(report[key], abs=1e-9)
        assert ci["low"] <= ci["estimate"] <= ci["high"] or key == "emr"
    both = bootstrap_ci(scores, targets, ["micro_f1"], codes=codes, top50_codes=codes[:3], n_boot=50)
    assert set(both) == {"full", "top50"}
    with pytest.raises(ValueError, match="no bootstrap"):
        bootstrap_ci(scores, targets, ["coverage_error"])


def test_paired_test():
    scores, targets = make_case(17, n_docs=120, n_codes=10)
    same = paired_test(scores, scores, targets, ["micro_f1", "p@8"], n_boot=200)
    assert same["micro_f1"]["delta"] == 0 and same["micro_f1"]["p_value"] == 1.0
    better = np.where(targets, np.maximum(scores, 0.8), np.minimum(scores, 0.45)).astype(np.float32)
    result = paired_test(scores, better, targets, ["micro_f1", "macro_auc_roc"], n_boot=200)
    assert result["micro_f1"]["delta"] > 0 and result["micro_f1"]["p_value"] < 0.01
    assert result["micro_f1"]["low"] > 0


def test_aggregate_seeds():
    reports = [{"micro_f1": v, "macro_f1": w} for v, w in ((0.5, 0.2), (0.6, float("nan")), (0.55, 0.3))]
    out = aggregate_seeds(reports)
    values = np.array([0.5, 0.6, 0.55])
    half = scipy_stats.t.ppf(0.975, 2) * values.std(ddof=1) / math.sqrt(3)
    assert out["micro_f1"]["mean"] == pytest.approx(values.mean())
    assert out["micro_f1"]["std"] == pytest.approx(values.std(ddof=1))
    assert out["micro_f1"]["low"] == pytest.approx(values.mean() - half)
    assert out["macro_f1"]["n"] == 2
    nested = aggregate_seeds([{"full": r} for r in reports])
    assert nested["full"]["micro_f1"] == out["micro_f1"]
    assert math.isnan(aggregate_seeds(reports[:1])["micro_f1"]["std"])
