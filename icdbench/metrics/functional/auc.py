"""Threshold-free metrics: AUC-ROC and AUC-PR (average precision), per code and pooled (micro).

Both follow from where each positive falls among the compared scores (:mod:`ranks`):
* AUC-ROC = sum over positives of (negatives scoring lower + half the tied negatives) / (P x negatives),
  the Mann-Whitney statistic, identical to scikit-learn's trapezoidal ``roc_auc_score``.
* AP = mean over positives of precision at the positive's score, where precision at threshold t counts every
  cell scoring >= t — scikit-learn's ``average_precision_score`` (step function, no interpolation).

A code's AUC-ROC is undefined (NaN) without a positive or without a negative; its AP is undefined without a
positive. Macro averages skip undefined codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from icdbench.metrics.functional.ranks import Ranks, code_ranks, pooled_ranks, within_group_ties
from icdbench.metrics.functional.sets import CodeSets


@dataclass(frozen=True)
class Placements:
    """Where each positive stands in its group (code, or all cells pooled). Per group ``[G]`` float64:
    ``positives``, ``negatives``. Per positive ``[M]`` float64: ``neg_below`` (negatives scoring lower plus
    half the tied ones), ``pos_ge`` (positives scoring at least as high, itself included), ``cells_ge``
    (cells scoring at least as high)."""

    positives: Tensor
    negatives: Tensor
    neg_below: Tensor
    pos_ge: Tensor
    cells_ge: Tensor

    @staticmethod
    def of(group: Tensor, n_groups: int, values: Tensor, ranks: Ranks) -> Placements:
        """``group`` ``[M]`` of each positive, ``values`` ``[M]`` its score, ``ranks`` its position among the
        ``ranks.size`` cells of its group."""
        positives = torch.bincount(group, minlength=n_groups).double()
        pos_lt, pos_eq = within_group_ties(group, values)
        neg_lt = (ranks.n_lt - pos_lt).double()
        neg_eq = (ranks.n_le - ranks.n_lt - pos_eq).double()
        return Placements(
            positives=positives,
            negatives=ranks.size - positives,
            neg_below=neg_lt + 0.5 * neg_eq,
            pos_ge=positives[group] - pos_lt,
            cells_ge=(ranks.size - ranks.n_lt).double(),
        )


def auc_from_ranks(group: Tensor, n_groups: int, values: Tensor, ranks: Ranks) -> tuple[Tensor, Tensor]:
    """Per-group AUC-ROC and AP (``[n_groups]`` float64, NaN where undefined); arguments as
    :meth:`Placements.of`."""
    p = Placements.of(group, n_groups, values, ranks)
    wins = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, group, p.neg_below)
    auc_roc = wins / (p.positives * p.negatives)
    auc_roc[(p.positives == 0) | (p.negatives == 0)] = float("nan")
    precision_sum = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, group, p.pos_ge / p.cells_ge)
    ap = precision_sum / p.positives
    ap[p.positives == 0] = float("nan")
    return auc_roc, ap


def per_code_auc(scores: Tensor, gold: CodeSets, ranks: Ranks | None = None) -> tuple[Tensor, Tensor]:
    """Per-code AUC-ROC and AP, ``[C]`` float64 each, from ``scores`` ``[N, C]`` and gold sets."""
    ranks = ranks if ranks is not None else code_ranks(scores, gold)
    return auc_from_ranks(gold.code, gold.n_codes, scores[gold.doc, gold.code], ranks)


def micro_auc(scores: Tensor, gold: CodeSets, ranks: Ranks | None = None) -> tuple[float, float]:
    """AUC-ROC and AP over all ``N x C`` cells pooled."""
    ranks = ranks if ranks is not None else pooled_ranks(scores, gold)
    group = torch.zeros(len(gold), dtype=torch.long)
    auc_roc, ap = auc_from_ranks(group, 1, scores[gold.doc, gold.code], ranks)
    return float(auc_roc[0]), float(ap[0])


def nanmean(values: Tensor) -> float:
    """Mean of the defined entries (NaN if none)."""
    defined = values[~torch.isnan(values)]
    return float(defined.mean()) if defined.numel() else float("nan")
