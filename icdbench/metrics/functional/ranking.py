"""Ranking metrics per document: P@k, R@k, R-precision, per-document average precision (``map_doc``),
coverage error and label ranking average precision.

Ties: a code tied with others at the k-th position counts by expectation over a random order of the tied
codes, so P@k never depends on the order of the code columns. Average precision, ``lrap`` and coverage use
scikit-learn's convention (a tied group is ranked at its lowest position). Documents without gold codes are
left out of P@k, R@k, R-precision and ``map_doc``; ``coverage_error`` and ``lrap`` keep them exactly as
scikit-learn does (contributing 0 and 1).
"""

from __future__ import annotations

import torch
from torch import Tensor

from icdbench.metrics.functional.ranks import KthLargest, Ranks, doc_ranks, within_group_ties
from icdbench.metrics.functional.sets import CodeSets
from icdbench.metrics.keys import RANK_KS, RECALL_KS

DEPTHS = tuple(sorted(set(RANK_KS) | set(RECALL_KS)))  # fixed depths; R-precision adds a per-document one


def depths(gold: CodeSets) -> Tensor:
    """``[N, len(DEPTHS) + 1]`` int64 ranking depths per document: ``DEPTHS`` then R (the number of gold codes),
    clamped to ``1..C``."""
    fixed = torch.tensor(DEPTHS, dtype=torch.long).expand(gold.n_docs, -1)
    ks = torch.cat([fixed, gold.per_doc()[:, None]], dim=1)
    return ks.clamp(min=1, max=gold.n_codes)


def ranking_stats(scores: Tensor, gold: CodeSets) -> tuple[Ranks, KthLargest]:
    """The per-document sort behind every ranking metric (see :func:`ranks.doc_ranks`)."""
    return doc_ranks(scores, gold, depths(gold))


def expected_hits(gold: CodeSets, values: Tensor, kth: KthLargest, ks: Tensor) -> Tensor:
    """``[N, K]`` float64 expected number of gold codes among each document's top ``ks`` ``[N, K]`` codes.

    ``values`` ``[M]`` are the gold cells' scores. Codes tied with the k-th score share the remaining places.
    """
    n_docs, n_k = ks.shape
    out = torch.zeros(n_docs, n_k, dtype=torch.float64)
    for j in range(n_k):
        boundary = kth.value[gold.doc, j]
        above = torch.bincount(gold.doc[values > boundary], minlength=n_docs).double()
        tied = torch.bincount(gold.doc[values == boundary], minlength=n_docs).double()
        free = (ks[:, j] - kth.n_gt[:, j]).double()
        out[:, j] = above + free * tied / kth.n_eq[:, j].double()
    return out


def per_doc_ranking(gold: CodeSets, values: Tensor, ranks: Ranks, kth: KthLargest) -> dict[str, Tensor]:
    """Per-document ranking values ``[N]`` float64: ``p@k``, ``r@k``, ``r_precision``, ``map_doc`` (average
    precision), ``coverage_error`` and ``lrap``, plus ``ranked`` (1 for documents with gold, the population
    of the first four families). ``values``: the gold cells' scores ``[M]``."""
    n_docs, n_codes = gold.n_docs, gold.n_codes
    n_gold = gold.per_doc()
    has_gold = n_gold > 0
    hits = expected_hits(gold, values, kth, depths(gold))
    out: dict[str, Tensor] = {"ranked": has_gold.double()}
    for j, k in enumerate(DEPTHS):
        if k in RANK_KS:
            out[f"p@{k}"] = hits[:, j] / k
        if k in RECALL_KS:
            out[f"r@{k}"] = hits[:, j] / n_gold.clamp(min=1)
    out["r_precision"] = hits[:, -1] / n_gold.clamp(min=1)
    n_ge = (n_codes - ranks.n_lt).double()  # codes scoring at least as high as the gold code (its rank)
    gold_lt, _ = within_group_ties(gold.doc, values)
    gold_ge = (n_gold[gold.doc] - gold_lt).double()
    precision_sum = torch.zeros(n_docs, dtype=torch.float64).index_add_(0, gold.doc, gold_ge / n_ge)
    out["map_doc"] = precision_sum / n_gold.clamp(min=1)
    out["coverage_error"] = torch.zeros(n_docs, dtype=torch.float64).scatter_reduce_(0, gold.doc, n_ge, "amax")
    out["lrap"] = torch.where(has_gold, out["map_doc"], 1.0)
    return out


ALL_DOCS = ("coverage_error", "lrap")  # scikit-learn's keys average over every document


def ranking_metrics(gold: CodeSets, values: Tensor, ranks: Ranks, kth: KthLargest) -> dict[str, float]:
    """The ranking keys of a report: per-document values averaged over documents with gold (all documents
    for ``coverage_error`` and ``lrap``)."""
    per_doc = per_doc_ranking(gold, values, ranks, kth)
    ranked = per_doc.pop("ranked").bool()
    out = {}
    for key, value in per_doc.items():
        population = value if key in ALL_DOCS else value[ranked]
        out[key] = float(population.mean()) if population.numel() else float("nan")
    return out
