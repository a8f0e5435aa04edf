"""Metrics that respect the code hierarchy.

* ``jaccard_3char`` / ``jaccard_4char`` (Gan et al., Table 2): every code is replaced by its first 3 or 4
  characters with the dot removed — ``I50.21`` → ``I50`` / ``I502``, ICD-10-PCS ``0DTJ4ZZ`` → ``0DT`` /
  ``0DTJ``, ICD-9 ``428.0`` → ``428`` / ``4280`` — then per-document Jaccard is computed on the merged sets.
* ``hier_precision/recall/f1``, count-preserving in the manner of CoPHE (Falis et al. 2021): each code also
  counts once for every one of its ancestors; per document and node, true positives are
  ``min(predicted count, gold count)``, and the counts are pooled over documents and nodes (codes included).
  A wrong sibling thus still earns credit for the shared parent, and predicting two children of one parent
  does not double the parent's credit unless two are gold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from icdbench.metrics.functional.classification import SetCounts, per_doc_jaccard
from icdbench.metrics.functional.sets import CodeSets

Ancestors = Mapping[str, Sequence[str]] | Callable[[str], Sequence[str]]


def rollup_groups(codes: Sequence[str], n_chars: int) -> tuple[Tensor, int]:
    """``[C]`` int64 group of each code (its first ``n_chars`` characters, dot removed) and the group count."""
    prefixes = [code.replace(".", "")[:n_chars] for code in codes]
    index = {prefix: i for i, prefix in enumerate(sorted(set(prefixes)))}
    return torch.tensor([index[p] for p in prefixes], dtype=torch.long), len(index)


def jaccard_at_depth(pred: CodeSets, gold: CodeSets, codes: Sequence[str], n_chars: int) -> float:
    """Mean per-document Jaccard after rolling codes up to ``n_chars`` characters."""
    group, n_groups = rollup_groups(codes, n_chars)
    counts = SetCounts.of(pred.rollup(group, n_groups), gold.rollup(group, n_groups))
    return float(per_doc_jaccard(counts).mean())


@dataclass(frozen=True)
class Hierarchy:
    """Each code's nodes (itself and its ancestors) in CSR form: code ``c`` owns
    ``node[offsets[c]:offsets[c + 1]]`` (int64 node ids in ``0..n_nodes-1``)."""

    offsets: Tensor
    node: Tensor
    n_nodes: int

    @staticmethod
    def build(codes: Sequence[str], ancestors: Ancestors) -> Hierarchy:
        """``ancestors``: a mapping code → ancestor codes (nearest first, as ``codes.parquet`` stores them) or a
        callable giving that list. Raises ``ValueError`` when a code has no entry."""
        lookup = ancestors if callable(ancestors) else None
        index: dict[str, int] = {}
        offsets, nodes = [0], []
        for code in codes:
            if lookup is not None:
                chain = lookup(code)
            elif code in ancestors:
                chain = ancestors[code]
            else:
                raise ValueError(f"ancestors has no entry for code {code!r}; give every code (an empty list is fine)")
            for name in dict.fromkeys([code, *chain]):  # ordered, without repeats
                nodes.append(index.setdefault(str(name), len(index)))
            offsets.append(len(nodes))
        return Hierarchy(torch.tensor(offsets), torch.tensor(nodes, dtype=torch.long), len(index))

    def expand(self, sets: CodeSets) -> tuple[Tensor, Tensor]:
        """Count-preserving node counts: unique ``doc * n_nodes + node`` keys ``[K]`` and their counts ``[K]``."""
        lengths = self.offsets[1:] - self.offsets[:-1]
        per_pair = lengths[sets.code]
        doc = torch.repeat_interleave(sets.doc, per_pair)
        first = torch.repeat_interleave(self.offsets[sets.code], per_pair)
        step = torch.arange(len(doc)) - torch.repeat_interleave(torch.cumsum(per_pair, 0) - per_pair, per_pair)
        node = self.node[first + step]
        return torch.unique(doc * self.n_nodes + node, return_counts=True)


def hierarchical_prf(pred: CodeSets, gold: CodeSets, hierarchy: Hierarchy) -> dict[str, float]:
    """``hier_precision``, ``hier_recall``, ``hier_f1`` pooled over documents and nodes."""
    pred_keys, pred_counts = hierarchy.expand(pred)
    gold_keys, gold_counts = hierarchy.expand(gold)
    tp = 0
    if len(pred_keys) and len(gold_keys):
        where = torch.searchsorted(pred_keys, gold_keys).clamp(max=len(pred_keys) - 1)
        shared = pred_keys[where] == gold_keys
        tp = int(torch.minimum(pred_counts[where[shared]], gold_counts[shared]).sum())
    n_pred, n_gold = int(pred_counts.sum()), int(gold_counts.sum())
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0
    return {"hier_precision": precision, "hier_recall": recall, "hier_f1": f1}
