"""Threshold-based metrics from predicted and gold code sets: precision/recall/F1 (micro, macro, legacy
macro), Hamming loss, exact match, Jaccard (samples, micro, macro) and per-document F1.

Policies (the same as scikit-learn's with the arguments named in the tests):
* macro averages run over *evaluated codes* — codes with at least one gold document; a code that is never
  predicted has precision 0. Codes without gold are excluded and counted by ``n_codes_evaluated``.
* corpus-level ratios with a zero denominator are 0; per-document ratios where both sets are empty are 1
  (an empty prediction for a document without gold codes is exactly right).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from icdbench.metrics.functional.sets import CodeSets


@dataclass(frozen=True)
class SetCounts:
    """Per-document (``[N]``) and per-code (``[C]``) int64 counts of true positives, predicted and gold codes."""

    tp_doc: Tensor
    pred_doc: Tensor
    gold_doc: Tensor
    tp_code: Tensor
    pred_code: Tensor
    gold_code: Tensor

    @staticmethod
    def of(pred: CodeSets, gold: CodeSets) -> SetCounts:
        if (pred.n_docs, pred.n_codes) != (gold.n_docs, gold.n_codes):
            raise ValueError("predicted and gold code sets cover different documents or codes")
        hit = pred.contains(gold)
        return SetCounts(
            tp_doc=torch.bincount(gold.doc[hit], minlength=gold.n_docs),
            pred_doc=pred.per_doc(),
            gold_doc=gold.per_doc(),
            tp_code=torch.bincount(gold.code[hit], minlength=gold.n_codes),
            pred_code=pred.per_code(),
            gold_code=gold.per_code(),
        )

    @property
    def evaluated(self) -> Tensor:
        """``[C]`` bool: codes with at least one gold document."""
        return self.gold_code > 0


def _ratio(num: Tensor, den: Tensor, empty: float = 0.0) -> Tensor:
    num, den = num.double(), den.double()
    return torch.where(den > 0, num / den.clamp(min=1), torch.full_like(num, empty))


def _mean(values: Tensor, mask: Tensor | None = None) -> float:
    values = values[mask] if mask is not None else values
    return float(values.mean()) if values.numel() else float("nan")


def per_code_f1(counts: SetCounts) -> Tensor:
    """``[C]`` float64 per-code F1 = 2TP / (predicted + gold); 0 where both are 0."""
    return _ratio(2 * counts.tp_code, counts.pred_code + counts.gold_code)


def classification_metrics(counts: SetCounts) -> dict[str, float]:
    """The threshold-based keys of a report (see ``icdbench.metrics.keys``)."""
    tp, pred, gold = (int(x.sum()) for x in (counts.tp_doc, counts.pred_doc, counts.gold_doc))
    n_docs, n_codes = len(counts.tp_doc), len(counts.tp_code)
    evaluated = counts.evaluated
    macro_p = _mean(_ratio(counts.tp_code, counts.pred_code), evaluated)
    macro_r = _mean(_ratio(counts.tp_code, counts.gold_code), evaluated)
    union_code = counts.pred_code + counts.gold_code - counts.tp_code
    return {
        "micro_precision": tp / pred if pred else 0.0,
        "micro_recall": tp / gold if gold else 0.0,
        "micro_f1": 2 * tp / (pred + gold) if pred + gold else 0.0,
        "macro_precision": macro_p,
        "macro_recall": macro_r,
        "macro_f1": _mean(per_code_f1(counts), evaluated),
        "macro_f1_caml": 2 * macro_p * macro_r / (macro_p + macro_r) if macro_p + macro_r > 0 else 0.0,
        "hamming_loss": (pred + gold - 2 * tp) / (n_docs * n_codes),
        "emr": _mean(per_doc_exact(counts).double()),
        "jaccard_samples": _mean(per_doc_jaccard(counts)),
        "jaccard_micro": tp / (pred + gold - tp) if pred + gold - tp else 0.0,
        "jaccard_macro": _mean(_ratio(counts.tp_code, union_code), evaluated),
        "samples_f1": _mean(_ratio(2 * counts.tp_doc, counts.pred_doc + counts.gold_doc, empty=1.0)),
    }


def per_doc_jaccard(counts: SetCounts) -> Tensor:
    """``[N]`` float64 |P∩G| / |P∪G| per document (1 when both are empty)."""
    return _ratio(counts.tp_doc, counts.pred_doc + counts.gold_doc - counts.tp_doc, empty=1.0)


def per_doc_exact(counts: SetCounts) -> Tensor:
    """``[N]`` bool: the predicted set equals the gold set."""
    return (counts.tp_doc == counts.pred_doc) & (counts.tp_doc == counts.gold_doc)
