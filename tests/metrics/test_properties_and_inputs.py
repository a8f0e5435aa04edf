"""Invariants (hypothesis) and input checking of ``evaluate`` / ``evaluate_settings``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metrics_cases import make_case

from icdbench.metrics import TopK, evaluate, evaluate_settings, top_codes

CODES = [f"A{i:02d}.{i % 4}" for i in range(9)]


@st.composite
def matrices(draw):
    n_docs = draw(st.integers(1, 12))
    n_codes = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    levels = draw(st.sampled_from([3, 11, 0]))  # few distinct values (ties) or continuous
    raw = rng.random((n_docs, n_codes))
    scores = (np.round(raw * (levels - 1)) / (levels - 1) if levels else raw).astype(np.float32)
    targets = rng.random((n_docs, n_codes)) < draw(st.floats(0.0, 0.8))
    return scores, targets, rng


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if math.isnan(a[key]):
            assert math.isnan(b[key]), key
        else:
            assert a[key] == pytest.approx(b[key], abs=1e-9), key


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matrices())
def test_permuting_documents_and_codes_changes_nothing(data):
    scores, targets, rng = data
    n_docs, n_codes = scores.shape
    codes = CODES[:n_codes]
    sequences = [[codes[c] for c in rng.permutation(np.flatnonzero(row))] for row in targets]
    kwargs = {"threshold": 0.5, "ancestors": {c: [c[:3]] for c in codes}, "train_counts": rng.integers(0, 150, n_codes)}
    base = evaluate(scores, targets, codes=codes, gold_sequences=sequences, **kwargs)
    docs, cols = rng.permutation(n_docs), rng.permutation(n_codes)
    permuted = evaluate(
        scores[docs][:, cols], targets[docs][:, cols], codes=[codes[c] for c in cols],
        gold_sequences=[sequences[d] for d in docs], threshold=0.5, ancestors=kwargs["ancestors"],
        train_counts=kwargs["train_counts"][cols],
    )  # fmt: skip
    _same(base, permuted)


@settings(max_examples=25, deadline=None)
@given(matrices())
def test_perfect_prediction(data):
    _, targets, _ = data
    report = evaluate(targets.astype(np.float32), targets)
    assert report["emr"] == 1.0 and report["hamming_loss"] == 0.0 and report["jaccard_samples"] == 1.0
    if targets.any():
        assert report["micro_f1"] == 1.0 and report["macro_f1"] == 1.0 and report["map_doc"] == 1.0


def test_bad_inputs_are_named():
    scores, targets = make_case(0)
    cases = [
        (dict(scores=np.where(scores > 0.9, np.nan, scores)), "NaN"),
        (dict(scores=np.where(scores > 0.9, np.inf, scores)), "inf"),
        (dict(scores=scores * 3 - 1), "probabilities in \\[0, 1\\]"),
        (dict(scores=scores[:, :-1]), "targets have shape"),
        (dict(scores=scores[0]), r"\[documents, codes\] matrix"),
        (dict(scores=scores.astype(np.int64)), "floating-point"),
        (dict(targets=targets * 2), "boolean or 0/1"),
        (dict(threshold=np.full(5, 0.5)), "per-code"),
        (dict(threshold=float("nan")), "finite"),
        (dict(codes=["a"] * scores.shape[1]), "unique"),
        (dict(codes=["a", "b"]), "codes has 2 entries"),
        (dict(gold_sequences=[["Z99"]] * len(scores), codes=[f"c{i}" for i in range(12)]), "not in codes"),
        (dict(gold_sequences=[["c0"]] * len(scores), codes=[f"c{i}" for i in range(12)]), "does not mark as gold"),
        (dict(gold_sequences=[[]]), "needs codes|need codes"),
        (dict(train_counts=[-1] * 12), "non-negative"),
        (dict(setting="top10"), "setting must be"),
        (dict(setting="top50"), "needs train_counts"),
        (dict(ancestors={}, codes=[f"c{i}" for i in range(12)]), "no entry for code"),
    ]
    for override, message in cases:
        kwargs = {"scores": scores, "targets": targets, **override}
        with pytest.raises(ValueError, match=message):
            evaluate(kwargs.pop("scores"), kwargs.pop("targets"), **kwargs)


def test_inputs_are_not_modified_and_tensors_work():
    scores, targets = make_case(1, ties=True)
    copy = scores.copy()
    as_numpy = evaluate(scores, targets, threshold=np.full(scores.shape[1], 0.4))
    assert np.array_equal(scores, copy)
    as_torch = evaluate(torch.from_numpy(scores), torch.from_numpy(targets), threshold=torch.full((12,), 0.4))
    _same(as_numpy, as_torch)


def test_threshold_forms():
    scores, targets = make_case(2)
    scalar = evaluate(scores, targets, threshold=0.3)
    _same(evaluate(scores, targets, threshold=np.full(12, 0.3)), scalar)
    _same(evaluate(scores, targets, threshold=np.full((len(scores), 1), 0.3)), scalar)
    top = evaluate(scores, targets, threshold=TopK(3))
    pred = scores >= np.sort(scores, axis=1)[:, -3:-2]
    assert top["micro_precision"] == pytest.approx((pred & targets).sum() / pred.sum())
    # float32 scores against a float64 threshold between two float32 values: exact comparison
    just_above = np.nextafter(np.float32(0.5), np.float32(1))
    edge = np.array([[0.5, just_above]], dtype=np.float32)
    report = evaluate(edge, np.array([[False, True]]), threshold=0.5 + 1e-9)
    assert report["emr"] == 1.0


def test_evaluate_settings_top50():
    rng = np.random.default_rng(4)
    n_docs, n_codes = 80, 70
    codes = [f"K{i:03d}" for i in range(n_codes)]
    train_counts = rng.integers(0, 1000, n_codes)
    scores = rng.random((n_docs, n_codes)).astype(np.float32)
    targets = rng.random((n_docs, n_codes)) < 0.03
    top = top_codes(train_counts, codes)
    assert len(top) == 50 and top[0] == codes[int(np.argmax(train_counts))]
    sequences = [[codes[c] for c in np.flatnonzero(row)] for row in targets]
    both = evaluate_settings(scores, targets, codes=codes, top50_codes=top, threshold=0.9, gold_sequences=sequences,
                             train_counts=train_counts)  # fmt: skip
    columns = [codes.index(c) for c in top]
    keep = targets[:, columns].any(1)
    expected = evaluate(scores[keep][:, columns], targets[keep][:, columns], codes=top, threshold=0.9,
                        gold_sequences=[[c for c in s if c in top] for s, k in zip(sequences, keep) if k],
                        train_counts=train_counts[columns])  # fmt: skip
    _same(both["top50"], expected)
    _same(both["full"], evaluate(scores, targets, codes=codes, threshold=0.9, gold_sequences=sequences,
                                 train_counts=train_counts))  # fmt: skip
    all_docs = evaluate_settings(scores, targets, codes=codes, top50_codes=top, top50_docs="all")
    assert all_docs["top50"]["n_docs"] == n_docs > both["top50"]["n_docs"]
    by_setting = evaluate(scores, targets, codes=codes, train_counts=train_counts, setting="top50")
    assert by_setting["n_codes"] == 50
    with pytest.raises(ValueError, match="not in codes"):
        evaluate_settings(scores, targets, codes=codes, top50_codes=["nope"])


def test_keys_restrict_the_report():
    scores, targets = make_case(5)
    codes = [f"c{i}" for i in range(12)]
    full = evaluate(scores, targets, codes=codes)
    wanted = ["map_doc", "p@8", "micro_f1", "macro_auc_pr", "jaccard_3char"]
    assert evaluate(scores, targets, codes=codes, keys=wanted) == {k: full[k] for k in full if k in wanted}
    with pytest.raises(ValueError, match="unknown metric keys"):
        evaluate(scores, targets, keys=["p@9"])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), spread=st.sampled_from([1e-7, 1e-3, 1.0]))
def test_pooled_ranks_match_a_full_sort(seed, spread):
    """Bin counts give the same ranks as sorting every cell: ties, signed zeros, 1.0 and neighbours one float
    apart (in one bin or on a bin edge) included."""
    from icdbench.metrics.functional.ranks import largest_below, pooled_ranks
    from icdbench.metrics.functional.sets import CodeSets

    rng = np.random.default_rng(seed)
    base = rng.choice(np.float32([0.0, -0.0, 1.0, 0.5, 1e-30, 0.25]), size=(7, 13))
    nudged = np.nextafter(base, np.float32(2), dtype=np.float32)  # the next float up: same bin or the next
    scores = np.where(rng.random(base.shape) < 0.5, base, nudged)
    scores = np.where(rng.random(base.shape) < 0.5, scores, np.float32(spread) * rng.random(base.shape))
    scores = np.clip(scores, 0, 1).astype(np.float32)
    targets = rng.random(base.shape) < 0.3
    targets[0, 0] = True
    gold = CodeSets.from_mask(torch.from_numpy(targets))
    ranks = pooled_ranks(torch.from_numpy(scores), gold)
    everything = np.sort(scores.ravel())
    values = scores[gold.doc.numpy(), gold.code.numpy()]
    assert np.array_equal(ranks.n_lt.numpy(), np.searchsorted(everything, values, side="left"))
    assert np.array_equal(ranks.n_le.numpy(), np.searchsorted(everything, values, side="right"))
    lower = everything[everything < values[0]]
    assert largest_below(torch.from_numpy(scores), float(values[0])) == (lower.max() if lower.size else -np.inf)
