"""Mean average precision as the CodiEsp track scored it: trec_eval's MAP at depth 1000, computed the way the
official ``codiespD_P_evaluation.py`` does through trectools 0.0.42 (``TrecEval.get_map(trec_eval=False)``).

A submission ranks codes per document (a *query*). The scorer lower-cases codes, drops the codes outside the list
of valid codes and repeats of a code, and keeps the first ``depth`` codes in submission order. Per document,
average precision = Σ over the relevant codes among them of (relevant codes up to there / position), divided by
the number of distinct gold codes of the document — all of them, also gold codes that no submission could rank.
The mean divides by the number of documents in the submission with at least one valid code: a submitted
document without gold counts 0, and a gold document missing from the submission counts nowhere (trectools
averages over the run's queries).

A score matrix becomes a submission by :func:`ranked_columns` (descending score, ties in a fixed code order),
which is also the order ``icdbench export`` writes, so the two agree to the last digit.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

DEPTH = 1000  # trec_eval's default evaluation depth, the scorer's get_map(depth=1000)


def code_order(codes: Sequence[str]) -> Tensor:
    """``[C]`` int64: each code's position in the sorted order of the lower-cased codes (the tie-break)."""
    lowered = [code.lower() for code in codes]
    order = sorted(range(len(codes)), key=lowered.__getitem__)
    ranks = torch.empty(len(codes), dtype=torch.long)
    ranks[torch.tensor(order, dtype=torch.long)] = torch.arange(len(codes))
    return ranks


def ranked_columns(scores: Tensor, tie_order: Tensor, depth: int | None = DEPTH) -> Tensor:
    """``[N, min(depth, C)]`` int64 column indices per document: descending score, ties by ascending
    ``tie_order`` ``[C]`` (e.g. :func:`code_order`)."""
    by_tie = torch.argsort(tie_order)
    order = torch.sort(scores[:, by_tie], dim=1, descending=True, stable=True).indices
    return by_tie[order[:, :depth]]


def trec_map(
    scores: Tensor,
    targets: Tensor,
    *,
    tie_order: Tensor,
    valid: Tensor | None = None,
    gold_outside: Tensor | None = None,
    depth: int = DEPTH,
) -> float:
    """The official CodiEsp MAP (module docstring) of the submission that ranks ``scores`` ``[N, C]``.

    * ``targets`` ``[N, C]`` bool: the gold codes among the columns (a set: repeats already collapsed).
    * ``tie_order`` ``[C]``: the order of tied codes (:func:`code_order` of the columns' codes).
    * ``valid``: the codes submitted, ``[C]`` bool (the columns in the list of valid codes) or ``[N, C]`` bool
      (per document, e.g. a submission file's codes that are valid); default all. A document without a valid
      code is not in the submission.
    * ``gold_outside`` ``[N]`` int: distinct gold codes of each document that are not columns; they count in
      the document's number of relevant codes.
    """
    targets = torch.as_tensor(targets, dtype=torch.bool)
    valid = torch.ones_like(targets) if valid is None else torch.as_tensor(valid, dtype=torch.bool).expand_as(targets)
    submitted = valid.any(dim=1)
    if not bool(submitted.any()):
        return 0.0  # an empty submission: trectools returns 0.0
    gold_per_doc = targets.sum(dim=1).double()
    if gold_outside is not None:
        gold_per_doc = gold_per_doc + torch.as_tensor(gold_outside, dtype=torch.float64)
    # Codes not submitted sort last (float64 keeps every float32/float16 score and tie) and never count.
    masked = scores.double().masked_fill(~valid, float("-inf"))
    ranked = ranked_columns(masked, tie_order, depth)
    hits = (targets.gather(1, ranked) & valid.gather(1, ranked)).double()
    positions = torch.arange(1, ranked.shape[1] + 1, dtype=torch.float64)
    precision_sum = (hits * hits.cumsum(dim=1) / positions).sum(dim=1)
    average_precision = torch.where(gold_per_doc > 0, precision_sum / gold_per_doc.clamp(min=1), 0.0)
    return float(average_precision[submitted].sum() / submitted.sum())
