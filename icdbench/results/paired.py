"""``icdbench compare``: a paired bootstrap test between two runs on the same test documents.

Most headline metrics go through :func:`icdbench.metrics.stats.paired_test` (vectorised, 1,000 resamples).
The others (3-character Jaccard, primary-code accuracy, rare-code macro-F1) have no vectorised form there, so
each resample re-evaluates both runs with :func:`icdbench.metrics.evaluate` on the same resampled documents —
exact, but slower, hence fewer resamples on large test sets. Both use the same p-value: the share of resamples
whose difference lies at least |observed| from the observed one (the bootstrap distribution shifted to the
null), with the +1 correction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from icdbench.errors import UserError
from icdbench.results.leaderboard import HEADLINE_KEYS

N_BOOT = 1000
EVALUATE_BOOT_CELLS = 2_000_000  # above this many (document, code) cells the re-evaluated keys get fewer resamples
EVALUATE_BOOT_LARGE = 200
ALPHA = 0.05


@dataclass(frozen=True)
class RunScores:
    record: dict
    doc_ids: list[str]
    codes: list[str]
    scores: np.ndarray  # [N, C] float32
    threshold: object  # float, [C] array or TopK


def load_run_scores(run_dir: Path, record: dict) -> RunScores:
    import json

    from icdbench.metrics.scores_file import load_scores
    from icdbench.results.curves import threshold_of
    from icdbench.results.record import SCORES_FILE, THRESHOLD_FILE

    run_dir = Path(run_dir)
    doc_ids, codes, scores = load_scores(run_dir / SCORES_FILE)
    path = run_dir / THRESHOLD_FILE
    if not path.is_file():
        raise UserError(f"{run_dir} has no {THRESHOLD_FILE}; re-run it to get a complete run folder")
    try:
        threshold = threshold_of(json.loads(path.read_text()), len(codes))
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path} is corrupt ({exc}); re-run the run") from None
    return RunScores(record, doc_ids, codes, scores.astype(np.float32), threshold)


def align(a: RunScores, b: RunScores) -> RunScores:
    """``b`` with its rows and columns in ``a``'s order; refused when the documents or codes differ."""
    if set(a.doc_ids) != set(b.doc_ids) or len(a.doc_ids) != len(b.doc_ids):
        only_a, only_b = set(a.doc_ids) - set(b.doc_ids), set(b.doc_ids) - set(a.doc_ids)
        raise UserError(
            f"the runs scored different test documents ({len(only_a)} only in A, {len(only_b)} only in B); "
            "a paired test needs the same documents"
        )
    if set(a.codes) != set(b.codes):
        raise UserError(
            f"the runs score different label sets ({len(a.codes)} and {len(b.codes)} codes); compare runs of one split"
        )
    position = {doc: i for i, doc in enumerate(b.doc_ids)}
    rows = [position[doc] for doc in a.doc_ids]
    cols = {code: i for i, code in enumerate(b.codes)}
    order = [cols[c] for c in a.codes]
    threshold = b.threshold
    if isinstance(threshold, np.ndarray) and threshold.ndim == 1:
        threshold = threshold[order]
    return RunScores(b.record, a.doc_ids, a.codes, b.scores[np.ix_(rows, order)], threshold)


def _summary(est_a: float, est_b: float, diffs: np.ndarray) -> dict[str, float]:
    delta = est_b - est_a
    diffs = diffs[~np.isnan(diffs)]
    if diffs.size == 0:
        return {"a": est_a, "b": est_b, "delta": delta, "low": math.nan, "high": math.nan, "p_value": math.nan}
    low, high = np.quantile(diffs, [ALPHA / 2, 1 - ALPHA / 2])
    extreme = int((np.abs(diffs - delta) >= abs(delta) - 1e-12).sum())
    return {"a": est_a, "b": est_b, "delta": delta, "low": float(low), "high": float(high),
            "p_value": (extreme + 1) / (diffs.size + 1)}  # fmt: skip


def _evaluated(a: RunScores, b: RunScores, targets, keys, sequences, train_counts, n_boot: int, seed: int) -> dict:
    from icdbench.metrics import evaluate

    def scored(run: RunScores, rows) -> dict[str, float]:
        report = evaluate(run.scores[rows], targets[rows], codes=run.codes, threshold=_torch_threshold(run.threshold),
                          gold_sequences=[sequences[i] for i in rows], train_counts=train_counts)  # fmt: skip
        return {k: report.get(k, math.nan) for k in keys}

    everything = np.arange(len(a.doc_ids))
    est_a, est_b = scored(a, everything), scored(b, everything)
    generator = np.random.default_rng(seed)
    diffs = {k: np.empty(n_boot) for k in keys}
    for i in range(n_boot):
        rows = generator.integers(len(everything), size=len(everything))
        ra, rb = scored(a, rows), scored(b, rows)
        for k in keys:
            diffs[k][i] = rb[k] - ra[k]
    return {k: _summary(est_a[k], est_b[k], diffs[k]) for k in keys}


def _torch_threshold(threshold):
    import torch

    return torch.as_tensor(threshold) if isinstance(threshold, np.ndarray) else threshold


def compare_runs(a: RunScores, b: RunScores, targets: np.ndarray, sequences: list[list[str]],
                 train_counts: np.ndarray, *, seed: int = 0) -> tuple[dict[str, dict], dict[str, int]]:  # fmt: skip
    """``({key: {"a", "b", "delta", "low", "high", "p_value"}}, {key: resamples})`` for every headline key."""
    from icdbench.metrics.stats import SUPPORTED, paired_test

    fast = [k for k in HEADLINE_KEYS if k in SUPPORTED]
    slow = [k for k in HEADLINE_KEYS if k not in SUPPORTED]
    out = paired_test(a.scores, b.scores, targets, fast, threshold_a=_torch_threshold(a.threshold),
                      threshold_b=_torch_threshold(b.threshold), n_boot=N_BOOT, seed=seed)  # fmt: skip
    resamples = dict.fromkeys(fast, N_BOOT)
    if slow:
        n_slow = N_BOOT if targets.size <= EVALUATE_BOOT_CELLS else EVALUATE_BOOT_LARGE
        out.update(_evaluated(a, b, targets, slow, sequences, train_counts, n_slow, seed))
        resamples.update(dict.fromkeys(slow, n_slow))
    return {k: out[k] for k in HEADLINE_KEYS}, resamples
