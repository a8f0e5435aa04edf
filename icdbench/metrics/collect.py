"""Whole-set score collection for the training loop, correct under DDP.

Validation metrics such as macro AUC or a tuned threshold need every document's scores at once, so batches
are only accumulated here; the metrics run on the gathered set. Under DDP torchmetrics concatenates the
states of all processes (``dist_reduce_fx="cat"``); ``DistributedSampler`` pads the last batches by repeating
documents, so :meth:`ScoreCollector.compute` drops repeated document indices and returns rows sorted by index.
:class:`DocumentMean` does the same for one number per document (the validation loss): a mean over the
deduplicated documents, equal on every rank, where a per-rank mean would count padding and weigh ranks wrongly.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


class _PerDocument(Metric):
    """Rows kept per document: ``doc_index`` and the ``states`` beside it, concatenated across DDP processes."""

    full_state_update = False
    is_differentiable = False

    def __init__(self, *states: str, **kwargs):
        super().__init__(**kwargs)
        for name in ("doc_index", *states):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def gathered_doc_index(self) -> Tensor:
        if isinstance(self.doc_index, list) and not self.doc_index:
            raise ValueError(f"{type(self).__name__}.compute() called before any update()")
        return dim_zero_cat(self.doc_index)


class ScoreCollector(_PerDocument):
    """Accumulates ``(doc_index [B], scores [B, C], targets [B, C])`` batches.

    ``compute()`` returns ``(doc_index [N], scores [N, C], targets [N, C])`` sorted by ``doc_index``, each
    document once. A document seen twice with different targets is an error (it means two datasets were
    mixed), not a duplicate.
    """

    def __init__(self, **kwargs):
        super().__init__("scores", "targets", **kwargs)

    def update(self, scores: Tensor, targets: Tensor, doc_index: Tensor) -> None:
        doc_index = torch.as_tensor(doc_index, device=scores.device).reshape(-1)
        if scores.dim() != 2 or targets.shape != scores.shape or doc_index.numel() != scores.shape[0]:
            raise ValueError(
                f"expected scores [B, C], targets of the same shape and doc_index [B]; got {tuple(scores.shape)}, "
                f"{tuple(targets.shape)}, {tuple(doc_index.shape)}"
            )
        self.doc_index.append(doc_index.long())
        self.scores.append(scores.detach())
        self.targets.append(targets.detach().bool())

    def compute(self) -> tuple[Tensor, Tensor, Tensor]:
        doc_index = self.gathered_doc_index()
        return deduplicate(doc_index, dim_zero_cat(self.scores), dim_zero_cat(self.targets))


class DocumentMean(_PerDocument):
    """Mean of one value per document (``values [B]``, ``doc_index [B]``), each document counted once."""

    def __init__(self, **kwargs):
        super().__init__("values", **kwargs)

    def update(self, values: Tensor, doc_index: Tensor) -> None:
        doc_index = torch.as_tensor(doc_index, device=values.device).reshape(-1)
        if values.shape != doc_index.shape:
            raise ValueError(
                f"expected values [B] and doc_index [B]; got {tuple(values.shape)}, {tuple(doc_index.shape)}"
            )
        self.doc_index.append(doc_index.long())
        self.values.append(values.detach().double())

    def compute(self) -> Tensor:
        order, first = first_rows(self.gathered_doc_index())
        return dim_zero_cat(self.values)[order][first].mean()


def first_rows(doc_index: Tensor) -> tuple[Tensor, Tensor]:
    """The order that sorts ``doc_index`` ``[M]`` (stable) and, in that order, a mask of each index's first row."""
    order = torch.argsort(doc_index, stable=True)
    doc_index = doc_index[order]
    first = torch.ones_like(doc_index, dtype=torch.bool)
    first[1:] = doc_index[1:] != doc_index[:-1]
    return order, first


def deduplicate(doc_index: Tensor, scores: Tensor, targets: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Sort rows by ``doc_index`` ``[M]`` and keep the first row of each index."""
    order, first = first_rows(doc_index)
    doc_index, scores, targets = doc_index[order], scores[order], targets[order]
    group = torch.cumsum(first.long(), 0) - 1
    if not torch.equal(targets, targets[first][group]):
        raise ValueError("the same document index arrived with different targets; were two datasets mixed?")
    return doc_index[first], scores[first], targets[first]
