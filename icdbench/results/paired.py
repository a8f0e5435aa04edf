"""``icdbench compare``: a paired bootstrap test between two runs on the same test documents.

Most headline metrics go through :func:`icdbench.metrics.stats.paired_test`. The three it does not resample
(3-character Jaccard, primary-code accuracy, rare-code macro-F1) are split here into per-document and per-code
pieces built with the metrics package's own functions (:class:`ExtraPieces`), so each of the 1,000 resamples
is a weighted sum, exact like the others. Both report the same p-value: the share of resamples whose
difference lies at least |observed| from the observed one (the bootstrap distribution shifted to the null),
with the +1 correction.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from icdbench.errors import UserError
from icdbench.metrics.functional.classification import SetCounts, per_doc_jaccard
from icdbench.metrics.functional.hierarchy import rollup_groups
from icdbench.metrics.functional.ranking import ranking_stats
from icdbench.metrics.functional.sequence import Sequences
from icdbench.metrics.functional.sets import CodeSets
from icdbench.metrics.keys import FREQUENCY_BUCKETS
from icdbench.metrics.report import Inputs, decision_threshold
from icdbench.metrics.scores_file import load_scores
from icdbench.metrics.stats import SUPPORTED, paired_test
from icdbench.results.curves import threshold_of
from icdbench.results.leaderboard import HEADLINE_KEYS
from icdbench.results.record import SCORES_FILE, THRESHOLD_FILE, RunRecord

N_BOOT = 1000
BLOCK = 32  # resamples per vectorised block (bounds memory at BLOCK x codes per key)
ALPHA = 0.05


@dataclass(frozen=True)
class RunScores:
    record: RunRecord
    doc_ids: list[str]
    codes: list[str]
    scores: np.ndarray  # [N, C] float32
    threshold: object  # float, [C] array or TopK


def load_run_scores(run_dir: Path, record: RunRecord) -> RunScores:
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
    """Difference, its percentile interval and the shifted-null p-value, as ``stats.paired_test`` reports them."""
    delta = est_b - est_a
    diffs = diffs[~np.isnan(diffs)]
    if diffs.size == 0:
        return {"a": est_a, "b": est_b, "delta": delta, "low": math.nan, "high": math.nan, "p_value": math.nan}
    low, high = np.quantile(diffs, [ALPHA / 2, 1 - ALPHA / 2])
    extreme = int((np.abs(diffs - delta) >= abs(delta) - 1e-12).sum())
    return {"a": est_a, "b": est_b, "delta": delta, "low": float(low), "high": float(high),
            "p_value": (extreme + 1) / (diffs.size + 1)}  # fmt: skip


@dataclass(frozen=True)
class ExtraPieces:
    """One run's evaluation split into per-document and per-code pieces for the headline keys that
    ``stats.paired_test`` does not resample, built from the metrics package's own functions, so that a resample
    is a weighted sum (exact, like the keys of ``stats``)."""

    jaccard_3char: Tensor  # [N] float64 per-document Jaccard after the 3-character roll-up
    primary: Tensor  # [N] float64 expected top-1 correctness of the gold first code (NaN: no gold sequence)
    tp: CodeSets
    pred: CodeSets
    gold: CodeSets
    rare: Tensor  # [C] bool codes of the rarest frequency bucket
    unseen: Tensor  # [C] bool codes with no training document (recall_unseen)

    @staticmethod
    def of(scores, targets, codes, threshold, sequences, train_counts) -> ExtraPieces:
        inputs = Inputs.check(scores, targets, codes, threshold, sequences, None, train_counts)
        gold = CodeSets.from_mask(inputs.targets)
        pred = CodeSets.from_scores(inputs.scores, decision_threshold(inputs.threshold, inputs.scores))
        group, n_groups = rollup_groups(inputs.codes, 3)
        jaccard = per_doc_jaccard(SetCounts.of(pred.rollup(group, n_groups), gold.rollup(group, n_groups)))
        ordered: Sequences = inputs.sequences
        ranks, _ = ranking_stats(inputs.scores, gold)
        first = ordered.position == 0  # as in functional.sequence.primary_metrics, kept per document
        where = gold.index_of(ordered.doc[first], ordered.code[first])
        n_gt = (ranks.size - ranks.n_le[where]).double()
        n_eq = (ranks.n_le[where] - ranks.n_lt[where]).double()
        primary = torch.full((gold.n_docs,), math.nan, dtype=torch.float64)
        primary[ordered.doc[first]] = ((1 - n_gt) / n_eq).clamp(min=0, max=1)
        hit = pred.contains(gold)
        tp = CodeSets(gold.doc[hit], gold.code[hit], gold.n_docs, gold.n_codes)
        _, low, high = FREQUENCY_BUCKETS[0]
        rare = (inputs.train_counts >= low) & (inputs.train_counts <= high)
        return ExtraPieces(jaccard.double(), primary, tp, pred, gold, rare, inputs.train_counts == 0)

    def replicate(self, weights: Tensor) -> dict[str, Tensor]:
        """``{key: [B]}`` for resample counts ``weights`` ``[B, N]``."""
        has = ~torch.isnan(self.primary)
        per_code = [torch.zeros(weights.shape[0], self.gold.n_codes, dtype=weights.dtype).index_add_(
            1, sets.code, weights[:, sets.doc]) for sets in (self.tp, self.pred, self.gold)]  # fmt: skip
        tp_c, pred_c, gold_c = per_code
        denominator = pred_c + gold_c
        f1 = torch.where(denominator > 0, 2 * tp_c / denominator.clamp(min=1e-300), 0.0)
        member = self.rare & (gold_c > 0)
        count = member.sum(1)
        unseen_gold = gold_c[:, self.unseen].sum(1)  # as functional.frequency.unseen_code_recall, pairs pooled
        return {
            "recall_unseen": torch.where(unseen_gold > 0, tp_c[:, self.unseen].sum(1) / unseen_gold.clamp(min=1e-300),
                                         math.nan),  # fmt: skip
            "jaccard_3char": weights @ self.jaccard_3char / weights.sum(1),
            "primary_acc": weights[:, has] @ self.primary[has] / weights[:, has].sum(1),
            "macro_f1@[1-10]": torch.where(count > 0, torch.where(member, f1, 0.0).sum(1) / count.clamp(min=1),
                                           math.nan),  # fmt: skip
        }


def _resample_weights(n_docs: int, n_boot: int, seed: int):
    """Blocks of resample counts ``[b, N]`` float64 (each row: N documents drawn with replacement)."""
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, n_boot, BLOCK):
        b = min(BLOCK, n_boot - start)
        draws = torch.randint(n_docs, (b, n_docs), generator=generator)
        ones = torch.ones(b, n_docs, dtype=torch.float64)
        yield torch.zeros(b, n_docs, dtype=torch.float64).scatter_add_(1, draws, ones)


def _extra(a: RunScores, b: RunScores, targets, sequences, train_counts, seed: int) -> dict[str, dict]:
    pieces = [ExtraPieces.of(run.scores, targets, run.codes, _torch_threshold(run.threshold), sequences,
                             train_counts) for run in (a, b)]  # fmt: skip
    ones = torch.ones(1, len(a.doc_ids), dtype=torch.float64)
    est = [{k: float(v[0]) for k, v in piece.replicate(ones).items()} for piece in pieces]
    diffs: dict[str, list[Tensor]] = {k: [] for k in est[0]}
    for weights in _resample_weights(len(a.doc_ids), N_BOOT, seed):
        ra, rb = (piece.replicate(weights) for piece in pieces)
        for k in diffs:
            diffs[k].append(rb[k] - ra[k])
    return {k: _summary(est[0][k], est[1][k], torch.cat(v).numpy()) for k, v in diffs.items()}


def _torch_threshold(threshold):
    return torch.as_tensor(threshold) if isinstance(threshold, np.ndarray) else threshold


def compare_runs(a: RunScores, b: RunScores, targets: np.ndarray, sequences: list[list[str]],
                 train_counts, *, seed: int = 0) -> dict[str, dict]:  # fmt: skip
    """``{key: {"a", "b", "delta" (b - a), "low", "high" (95% interval of delta), "p_value"}}`` for every headline
    key, from ``N_BOOT`` paired resamples of the test documents."""
    fast = [k for k in HEADLINE_KEYS if k in SUPPORTED]
    out = paired_test(a.scores, b.scores, targets, fast, threshold_a=_torch_threshold(a.threshold),
                      threshold_b=_torch_threshold(b.threshold), n_boot=N_BOOT, seed=seed)  # fmt: skip
    if any(k not in out for k in HEADLINE_KEYS):
        out = {**_extra(a, b, targets, sequences, train_counts, seed), **out}
    return {k: out[k] for k in HEADLINE_KEYS}
