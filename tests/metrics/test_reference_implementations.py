"""Keys without a scikit-learn counterpart against straightforward reference implementations written here:
P@k by enumerating every order of tied codes, hierarchy with Python sets and Counters, sequence metrics with
scipy's Kendall tau and a textbook edit distance, automation and frequency buckets by hand."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from metrics_cases import make_case
from scipy.stats import kendalltau

from icdbench.metrics import evaluate
from icdbench.metrics.functional.automation import automation_curve
from icdbench.metrics.report import automation_curve_of


def _expected_top_k_hits(scores_row: np.ndarray, gold_row: np.ndarray, k: int) -> float:
    """Average over every order of the codes of the gold count in the top k, ties broken by that order."""
    n = len(scores_row)
    total, count = 0, 0
    for perm in itertools.permutations(range(n)):
        ranked = sorted(range(n), key=lambda c: (-scores_row[c], perm.index(c)))
        total += int(gold_row[ranked[:k]].sum())
        count += 1
    return total / count


def test_precision_at_k_averages_over_tie_orders():
    rng = np.random.default_rng(0)
    scores = rng.choice([0.1, 0.5, 0.9], size=(6, 6)).astype(np.float32)
    targets = rng.random((6, 6)) < 0.4
    targets[0, 0] = True
    report = evaluate(scores, targets)
    ranked = [d for d in range(6) if targets[d].any()]
    for k, key in ((5, "p@5"), (8, "p@8")):
        kk = min(k, 6)
        expected = np.mean([_expected_top_k_hits(scores[d], targets[d], kk) / k for d in ranked])
        assert report[key] == pytest.approx(expected), key
    expected_r = np.mean([_expected_top_k_hits(scores[d], targets[d], targets[d].sum()) / targets[d].sum()
                          for d in ranked])  # fmt: skip
    assert report["r_precision"] == pytest.approx(expected_r)


def test_precision_at_k_without_ties_is_plain_top_k():
    scores, targets = make_case(4, n_docs=30, n_codes=40)
    report = evaluate(scores, targets)
    ranked = targets.sum(1) > 0
    top8 = np.argsort(-scores, axis=1)[:, :8]
    hits = np.take_along_axis(targets, top8, axis=1).sum(1)
    assert report["p@8"] == pytest.approx((hits / 8)[ranked].mean())
    assert report["r@8"] == pytest.approx((hits / targets.sum(1).clip(1))[ranked].mean())


CODES = ["I50.21", "I50.22", "I50.9", "I10", "E11.9", "E11.65", "0DTJ4ZZ", "0DTJ0ZZ", "428.0", "4019"]


def _rollup(code: str, n: int) -> str:
    return code.replace(".", "")[:n]


def _sets(mask: np.ndarray) -> list[set[int]]:
    return [set(np.flatnonzero(row).tolist()) for row in mask]


def test_jaccard_at_3_and_4_characters():
    rng = np.random.default_rng(1)
    scores = rng.random((25, len(CODES))).astype(np.float32)
    targets = rng.random((25, len(CODES))) < 0.3
    report = evaluate(scores, targets, codes=CODES)
    for n, key in ((3, "jaccard_3char"), (4, "jaccard_4char")):
        values = []
        for pred, gold in zip(_sets(scores >= 0.5), _sets(targets)):
            p, g = {_rollup(CODES[c], n) for c in pred}, {_rollup(CODES[c], n) for c in gold}
            values.append(len(p & g) / len(p | g) if p | g else 1.0)
        assert report[key] == pytest.approx(np.mean(values)), key
    assert _rollup("I50.21", 4) == "I502" and _rollup("0DTJ4ZZ", 3) == "0DT"


def test_count_preserving_hierarchical_scores():
    rng = np.random.default_rng(2)
    scores = rng.random((25, len(CODES))).astype(np.float32)
    targets = rng.random((25, len(CODES))) < 0.3
    ancestors = {code: [_rollup(code, 4), _rollup(code, 3), code[0]] for code in CODES}
    report = evaluate(scores, targets, codes=CODES, ancestors=ancestors)
    tp = n_pred = n_gold = 0
    for pred, gold in zip(_sets(scores >= 0.5), _sets(targets)):

        def nodes(codes):
            return Counter(n for c in codes for n in dict.fromkeys([CODES[c], *ancestors[CODES[c]]]))

        p, g = nodes(pred), nodes(gold)
        tp += sum(min(p[n], g[n]) for n in p)
        n_pred, n_gold = n_pred + sum(p.values()), n_gold + sum(g.values())
    assert report["hier_precision"] == pytest.approx(tp / n_pred)
    assert report["hier_recall"] == pytest.approx(tp / n_gold)
    assert report["hier_f1"] == pytest.approx(2 * tp / (n_pred + n_gold))
    # a callable gives the same
    by_callable = evaluate(scores, targets, codes=CODES, ancestors=lambda code: ancestors[code])
    assert by_callable["hier_f1"] == report["hier_f1"]


def _levenshtein(a: list, b: list) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


@pytest.mark.parametrize("ties", [False, True])
def test_sequence_metrics(ties):
    scores, targets = make_case(6, n_docs=40, n_codes=12, ties=ties)
    codes = [f"C{i:02d}" for i in range(12)]
    rng = np.random.default_rng(3)
    sequences = [[codes[c] for c in rng.permutation(np.flatnonzero(row))] for row in targets]
    report = evaluate(scores, targets, codes=codes, gold_sequences=sequences, threshold=0.4)
    taus, sims, top1, top3 = [], [], [], []
    for d, sequence in enumerate(sequences):
        idx = [codes.index(c) for c in sequence]
        predicted = [c for c in range(12) if scores[d, c] >= 0.4]
        order = sorted(predicted, key=lambda c: (-scores[d, c], codes[c]))
        longer = max(len(idx), len(order))
        sims.append(1 - _levenshtein(idx, order) / longer if longer else 1.0)
        correct = [c for c in idx if c in predicted]
        if len(correct) >= 2:
            tau = kendalltau(range(len(correct)), -scores[d, correct]).statistic
            if not math.isnan(tau):
                taus.append(tau)
        if idx:
            s = scores[d, idx[0]]
            above, tied = (scores[d] > s).sum(), (scores[d] == s).sum()
            top1.append(min(max((1 - above) / tied, 0), 1))
            top3.append(min(max((3 - above) / tied, 0), 1))
    assert report["seq_edit_sim"] == pytest.approx(np.mean(sims))
    assert report["seq_kendall_tau"] == pytest.approx(np.mean(taus))
    assert report["primary_acc"] == pytest.approx(np.mean(top1))
    assert report["primary_in_top3"] == pytest.approx(np.mean(top3))


def test_frequency_buckets():
    scores, targets = make_case(9, n_docs=50, n_codes=12)
    train_counts = np.array([0, 5, 10, 11, 50, 51, 100, 101, 5000, 3, 30, 70])
    report = evaluate(scores, targets, train_counts=train_counts)
    pred = scores >= 0.5
    f1 = 2 * (pred & targets).sum(0) / (pred.sum(0) + targets.sum(0)).clip(1)
    evaluated = targets.sum(0) > 0
    for key, low, high in (("[1-10]", 1, 10), ("[11-50]", 11, 50), ("[51-100]", 51, 100), ("[101+]", 101, 10**9)):
        member = evaluated & (train_counts >= low) & (train_counts <= high)
        assert report[f"macro_f1@{key}"] == pytest.approx(f1[member].mean()), key


def test_automation_curve_and_keys():
    scores, targets = make_case(10, n_docs=60, n_codes=8, density=0.1)
    report = evaluate(scores, targets, threshold=0.6)
    pred = scores >= 0.6
    errors = np.where(pred, 1 - scores, scores).sum(1)
    exact = (pred == targets).all(1)
    inter, union = (pred & targets).sum(1), (pred | targets).sum(1)
    jaccard = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    order = np.argsort(errors, kind="stable")  # no ties in continuous scores
    half = math.ceil(60 / 2)
    assert report["emr_at_50pct"] == pytest.approx(exact[order[:half]].mean())
    assert report["jaccard_at_50pct"] == pytest.approx(jaccard[order[:half]].mean())
    running = np.cumsum(exact[order]) / np.arange(1, 61)
    reach = np.flatnonzero(running >= 0.9)
    assert report["coverage_at_emr90"] == pytest.approx((reach.max() + 1) / 60 if len(reach) else 0.0)
    curve = automation_curve_of(scores, targets, threshold=0.6)
    assert curve.emr.numpy() == pytest.approx(running)
    assert curve.coverage[-1] == 1.0


def test_automation_curve_averages_tied_confidence():
    import torch

    confidence = torch.tensor([1.0, 1.0, 0.0, 0.0])
    exact = torch.tensor([True, False, True, True])
    curve = automation_curve(confidence, exact, exact.double())
    # the first two documents tie: each of the first points sees them on average
    assert curve.emr.tolist() == pytest.approx([0.5, 0.5, 2 / 3, 3 / 4])
    assert curve.max_coverage(0.6) == pytest.approx(1.0)
