"""Sparse code sets: which codes each document has (gold) or gets (predicted), as sorted (doc, code) pairs.

A document has about 15 of thousands of codes, so every set-based metric (F1, Jaccard, exact match,
hierarchy, sequence) works on these pairs instead of dense ``[N, C]`` masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from icdbench.metrics.functional._kernels import flat_where_at_least, row_chunks


@dataclass(frozen=True)
class CodeSets:
    """``n_docs`` documents' subsets of ``n_codes`` codes: pair ``i`` puts code ``code[i]`` in ``doc[i]``.

    ``doc``, ``code``: ``[M]`` int64, sorted by ``(doc, code)``, no duplicates. ``score``: ``[M]`` float (the
    cell's score) for predicted sets, else ``None``.
    """

    doc: Tensor
    code: Tensor
    n_docs: int
    n_codes: int
    score: Tensor | None = None

    @staticmethod
    def from_mask(mask: Tensor) -> CodeSets:
        """Gold sets from a boolean ``[N, C]`` mask."""
        flat = _chunked_where_at_least(mask.view(torch.uint8), torch.tensor(1, dtype=torch.uint8))
        return CodeSets._from_flat(flat, *mask.shape)

    @staticmethod
    def from_scores(scores: Tensor, threshold: Tensor) -> CodeSets:
        """Predicted sets: cells with ``scores >= threshold``; ``threshold`` is a scalar, ``[C]`` or ``[N, 1]``."""
        n_docs, n_codes = scores.shape
        sets = CodeSets._from_flat(_chunked_where_at_least(scores, threshold), n_docs, n_codes)
        return CodeSets(sets.doc, sets.code, n_docs, n_codes, scores[sets.doc, sets.code])

    @staticmethod
    def from_lists(sets: list[list[int]], n_codes: int) -> CodeSets:
        """From per-document lists of code indices (duplicates are merged)."""
        doc = torch.tensor([d for d, codes in enumerate(sets) for _ in codes], dtype=torch.long)
        code = torch.tensor([c for codes in sets for c in codes], dtype=torch.long)
        flat = torch.unique(doc * n_codes + code) if len(doc) else doc
        return CodeSets._from_flat(flat, len(sets), n_codes)

    @staticmethod
    def _from_flat(flat: Tensor, n_docs: int, n_codes: int) -> CodeSets:
        flat = flat.long()
        return CodeSets(flat // n_codes, flat % n_codes, n_docs, n_codes)

    @property
    def keys(self) -> Tensor:
        """``[M]`` ascending ``doc * n_codes + code``."""
        return self.doc * self.n_codes + self.code

    def __len__(self) -> int:
        return self.doc.numel()

    def per_doc(self) -> Tensor:
        """``[N]`` int64 set sizes."""
        return torch.bincount(self.doc, minlength=self.n_docs)

    def per_code(self) -> Tensor:
        """``[C]`` int64: documents holding each code."""
        return torch.bincount(self.code, minlength=self.n_codes)

    def contains(self, other: CodeSets) -> Tensor:
        """``[len(other)]`` bool: whether each pair of ``other`` is also in ``self`` (same shape of sets)."""
        return self.has(other.doc, other.code)

    def has(self, doc: Tensor, code: Tensor) -> Tensor:
        """``[Q]`` bool: whether each ``(doc[q], code[q])`` is in the sets."""
        return self._lookup(doc, code)[1]

    def index_of(self, doc: Tensor, code: Tensor) -> Tensor:
        """``[Q]`` int64 positions of the pairs ``(doc[q], code[q])``, which must all be present."""
        where, found = self._lookup(doc, code)
        if not bool(found.all()):
            raise ValueError("a looked-up (document, code) pair is not in the code sets")
        return where

    def _lookup(self, doc: Tensor, code: Tensor) -> tuple[Tensor, Tensor]:
        if len(self) == 0 or doc.numel() == 0:
            return torch.zeros(doc.numel(), dtype=torch.long), torch.zeros(doc.numel(), dtype=torch.bool)
        keys, queries = self.keys, doc * self.n_codes + code
        where = torch.searchsorted(keys, queries).clamp(max=len(keys) - 1)
        return where, keys[where] == queries

    def rollup(self, group: Tensor, n_groups: int) -> CodeSets:
        """Map every code to ``group[code]`` (``[C]`` int64) and merge duplicates: sets over ``n_groups``."""
        flat = torch.unique(self.doc * n_groups + group[self.code])
        return CodeSets._from_flat(flat, self.n_docs, n_groups)

    def select(self, doc_mask: Tensor | None = None, code_index: Tensor | None = None) -> CodeSets:
        """Keep the documents where ``doc_mask`` ``[N]`` is true and the codes ``code_index`` ``[C']`` (renumbered
        in that order); pairs outside are dropped."""
        doc, code, score = self.doc, self.code, self.score
        n_docs, n_codes = self.n_docs, self.n_codes
        keep = torch.ones(len(self), dtype=torch.bool)
        new_doc = torch.arange(n_docs)
        new_code = torch.arange(n_codes)
        if doc_mask is not None:
            keep &= doc_mask[doc]
            new_doc = torch.cumsum(doc_mask.long(), 0) - 1
            n_docs = int(doc_mask.sum())
        if code_index is not None:
            new_code = torch.full((self.n_codes,), -1, dtype=torch.long)
            new_code[code_index] = torch.arange(len(code_index))
            keep &= new_code[code] >= 0
            n_codes = len(code_index)
        doc, code = new_doc[doc[keep]], new_code[code[keep]]
        order = torch.argsort(doc * n_codes + code)
        score = score[keep][order] if score is not None else None
        return CodeSets(doc[order], code[order], n_docs, n_codes, score)


def _chunked_where_at_least(x: Tensor, threshold: Tensor) -> Tensor:
    """Flat indices of ``x >= threshold`` over ``[N, C]``, one chunk of documents at a time (bounded memory)."""
    n_docs, n_codes = x.shape
    flats = [torch.zeros(0, dtype=torch.long, device=x.device)]
    for start, stop in row_chunks(n_docs, n_codes):
        part = threshold[start:stop] if threshold.dim() == 2 else threshold
        flats.append(flat_where_at_least(x[start:stop], part) + start * n_codes)
    return torch.cat(flats)
