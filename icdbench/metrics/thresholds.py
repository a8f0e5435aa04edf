"""Decision rules tuned on validation scores: which codes a document gets.

* ``global``: one threshold for every code, the exact maximiser of validation micro-F1. Only a positive's
  score can be an optimal cut (lowering the cut further adds only false positives until the next positive),
  so every positive score is tried, with counts read from one pooled pass (:func:`ranks.pooled_ranks`).
* ``per_code``: each code's own F1-maximising threshold, found the same way within its column; codes with
  fewer than ``min_positives`` validation positives use the global threshold instead.
* ``top_k``: each document gets its ``k`` top-scored codes (plus any tied with the k-th); ``k`` is given or
  chosen to maximise validation micro-F1.
* ``fixed``: :data:`FIXED_THRESHOLD` (0.5) for every code, nothing tuned: the rule behind the published micro-F1
  of CAML's and MultiResCNN's releases and of Edin et al.'s MIMIC-III full/50 replications.

A tuned threshold sits halfway between the chosen positive score and the next lower validation score, so
``score >= threshold`` reproduces the validation decisions exactly and generalises symmetrically. Ties
between equally good cuts go to the higher threshold (fewer codes predicted).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from icdbench.metrics.functional.ranks import (
    code_ranks,
    doc_ranks,
    gold_scores,
    largest_below,
    pooled_ranks,
    within_group_ties,
)
from icdbench.metrics.functional.sets import CodeSets
from icdbench.metrics.validation import as_scores, as_targets

RULES = ("global", "per_code", "top_k", "fixed")
FIXED_THRESHOLD = 0.5
MAX_TUNED_K = 50


@dataclass(frozen=True)
class TopK:
    """The top-k decision rule; ``evaluate(threshold=TopK(8))`` predicts each document's 8 best codes."""

    k: int

    def __post_init__(self) -> None:
        if int(self.k) != self.k or self.k < 1:
            raise ValueError(f"top-k needs a positive whole k, got {self.k!r}")

    def per_document(self, scores: Tensor) -> Tensor:
        """``[N, 1]`` thresholds: each document's k-th largest score (k capped at the number of codes)."""
        k = min(int(self.k), scores.shape[1])
        return torch.topk(scores, k, dim=1).values[:, -1:]


def tune_threshold(
    scores, targets, rule: str = "global", *, k: int | None = None, min_positives: int = 10
) -> float | Tensor | TopK:
    """Tune a decision rule on validation ``scores`` ``[N, C]`` and ``targets`` ``[N, C]``.

    Returns a float (``global``, ``fixed``), a ``[C]`` float64 tensor (``per_code``) or a :class:`TopK`
    (``top_k``); each is accepted as ``threshold`` by :func:`icdbench.metrics.evaluate`. ``k`` is only read by
    ``top_k``; ``fixed`` reads neither scores nor targets.
    """
    if rule not in RULES:
        raise ValueError(f"threshold rule must be one of {RULES}, got {rule!r}")
    if rule == "fixed":
        return FIXED_THRESHOLD
    scores = as_scores(scores)
    gold = CodeSets.from_mask(as_targets(targets, tuple(scores.shape)))
    if len(gold) == 0:
        raise ValueError("cannot tune a threshold: the validation targets have no positive")
    if rule == "top_k":
        return TopK(int(k)) if k is not None else TopK(_best_k(scores, gold))
    best_global = _global(scores, gold)
    if rule == "global":
        return best_global
    return _per_code(scores, gold, best_global, min_positives)


def _cut(value: Tensor, below: Tensor) -> Tensor:
    """Halfway between each chosen score and the next lower one (the score itself when nothing is lower or
    the two are adjacent floats)."""
    value, below = value.double(), below.double()
    middle = (value + below) / 2
    return torch.where(torch.isfinite(below) & (middle > below), middle, value)


def _global(scores: Tensor, gold: CodeSets) -> float:
    values = gold_scores(scores, gold)
    ranks = pooled_ranks(scores, gold)
    pos_lt, _ = within_group_ties(torch.zeros(len(gold), dtype=torch.long), values)
    tp = (len(gold) - pos_lt).double()
    predicted = (ranks.size - ranks.n_lt).double()
    f1 = 2 * tp / (len(gold) + predicted)
    best = f1 == f1.max()
    choice = int(torch.argmax(torch.where(best, values.double(), float("-inf"))))
    below = torch.tensor([largest_below(scores, float(values[choice]))], dtype=torch.float64)
    return float(_cut(values[choice : choice + 1], below)[0])


def _per_code(scores: Tensor, gold: CodeSets, fallback: float, min_positives: int) -> Tensor:
    n_codes = gold.n_codes
    values = gold_scores(scores, gold)
    ranks = code_ranks(scores, gold)
    positives = gold.per_code()
    pos_lt, _ = within_group_ties(gold.code, values)
    tp = (positives[gold.code] - pos_lt).double()
    f1 = 2 * tp / (positives[gold.code] + ranks.size - ranks.n_lt).double()
    best_f1 = torch.full((n_codes,), -1.0, dtype=torch.float64).scatter_reduce(0, gold.code, f1, "amax")
    candidate = torch.where(f1 == best_f1[gold.code], values.double(), float("-inf"))
    best_value = torch.full((n_codes,), float("-inf"), dtype=torch.float64)
    best_value = best_value.scatter_reduce(0, gold.code, candidate, "amax")
    chosen = candidate == best_value[gold.code]
    cut = torch.full((n_codes,), fallback, dtype=torch.float64)
    cut[gold.code[chosen]] = _cut(values[chosen], ranks.below[chosen])
    cut[positives < max(min_positives, 1)] = fallback
    return cut


def _best_k(scores: Tensor, gold: CodeSets) -> int:
    """The k in ``1..min(C, MAX_TUNED_K)`` with the best validation micro-F1 under the top-k rule."""
    n_docs, n_codes = scores.shape
    depths = torch.arange(1, min(n_codes, MAX_TUNED_K) + 1)
    _, kth = doc_ranks(scores, gold, depths.expand(n_docs, -1))
    values = gold_scores(scores, gold)
    best_k, best_f1 = 1, -1.0
    for j, k in enumerate(depths.tolist()):
        tp = int((values >= kth.value[gold.doc, j]).sum())
        predicted = int((kth.n_gt[:, j] + kth.n_eq[:, j]).sum())
        f1 = 2 * tp / (len(gold) + predicted)
        if f1 > best_f1:
            best_k, best_f1 = k, f1
    return best_k
