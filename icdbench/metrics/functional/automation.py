"""Selective automation (Gan et al., recommendation 5): automate only the documents the model is most sure
of, and see how exact match and code accuracy change with the share automated.

A document's confidence is minus its *expected number of wrong codes* if the scores were calibrated
probabilities: ``sum(p) over codes not predicted + sum(1 - p) over predicted codes``. It needs only one sum
per document, works for any decision rule (global, per-code or top-k thresholds) and ranks first the
documents whose decisions are all far from doubt. Callers may pass their own confidence instead.

Documents with equal confidence are automated together: points inside a tied group take the group's mean,
so the curve does not depend on document order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from icdbench.metrics.functional._kernels import row_chunks, row_sums
from icdbench.metrics.functional.sets import CodeSets

EMR_TARGET = 0.9


@dataclass(frozen=True)
class AutomationCurve:
    """Point ``k - 1`` describes automating the ``k`` most confident documents: ``coverage`` = k / N, and the
    ``emr`` and ``jaccard`` of those documents (``[N]`` float64 each, coverage ascending)."""

    coverage: Tensor
    emr: Tensor
    jaccard: Tensor

    def at(self, share: float) -> tuple[float, float]:
        """(EMR, Jaccard) when automating ``ceil(share * N)`` documents (at least one)."""
        k = max(1, math.ceil(share * len(self.coverage) - 1e-9))
        return float(self.emr[k - 1]), float(self.jaccard[k - 1])

    def max_coverage(self, emr_target: float = EMR_TARGET) -> float:
        """Largest share automatable with EMR >= ``emr_target`` (0 if even the most confident fails)."""
        reach = self.emr >= emr_target - 1e-12
        return float(self.coverage[reach].max()) if bool(reach.any()) else 0.0


def expected_errors_confidence(scores: Tensor, pred: CodeSets) -> Tensor:
    """``[N]`` float64 minus the expected number of wrong codes per document (see module docstring)."""
    n_docs, n_codes = scores.shape
    total = torch.empty(n_docs, dtype=torch.float64)
    for start, stop in row_chunks(n_docs, n_codes):
        total[start:stop] = row_sums(scores[start:stop])
    predicted = pred.score.double() if pred.score is not None else scores[pred.doc, pred.code].double()
    correction = torch.zeros(n_docs, dtype=torch.float64).index_add_(0, pred.doc, 1 - 2 * predicted)
    return -(total + correction)


def automation_curve(confidence: Tensor, exact: Tensor, jaccard: Tensor) -> AutomationCurve:
    """The curve from per-document ``confidence``, ``exact`` (bool: predicted set == gold set) and ``jaccard``,
    all ``[N]``."""
    n = confidence.numel()
    order = torch.argsort(confidence.double(), descending=True, stable=True)
    tied_value = confidence.double()[order]
    new_group = torch.ones(n, dtype=torch.bool)
    new_group[1:] = tied_value[1:] != tied_value[:-1]
    group = torch.cumsum(new_group.long(), 0) - 1
    sizes = torch.bincount(group).double()
    start = (torch.cumsum(sizes, 0) - sizes)[group]  # documents before the element's tied group
    k = torch.arange(1, n + 1, dtype=torch.float64)
    curves = []
    for per_doc in (exact.double(), jaccard.double()):
        values = per_doc[order]
        group_mean = torch.zeros(len(sizes), dtype=torch.float64).index_add_(0, group, values) / sizes
        prefix = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(values, 0)])
        curves.append((prefix[start.long()] + (k - start) * group_mean[group]) / k)
    return AutomationCurve(k / n, curves[0], curves[1])


def automation_metrics(curve: AutomationCurve) -> dict[str, float]:
    emr, jaccard = curve.at(0.5)
    return {"emr_at_50pct": emr, "jaccard_at_50pct": jaccard, "coverage_at_emr90": curve.max_coverage()}
