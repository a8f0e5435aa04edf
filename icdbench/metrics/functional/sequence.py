"""Code sequence metrics (Gan et al., recommendation 7): is the principal code first, and is the order right.

* ``primary_acc`` / ``primary_in_top3``: the gold first code is the top-scored code / among the 3 top-scored
  codes, by expectation when it ties with other codes.
* ``seq_kendall_tau``: per document, Kendall tau-b between the gold order and the score order of the codes
  that are both gold and predicted; documents with fewer than 2 such codes, or all of them tied, are skipped.
* ``seq_edit_sim``: per document, 1 - Levenshtein distance / the longer length between the gold sequence and
  the predicted sequence (predicted codes by descending score, ties by code string); 1 when both are empty.

Sequences are deduplicated (a repeated code keeps its first position). Documents are processed in groups of
equal length, so the padded tables hold no padding along the gold sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from icdbench.metrics.functional.ranks import Ranks
from icdbench.metrics.functional.sets import CodeSets

_CELL_BUDGET = 1 << 22  # cells per batch of the pairwise and edit-distance tables


@dataclass(frozen=True)
class Sequences:
    """Gold code sequences of ``n_docs`` documents, flattened: entry ``i`` puts ``code[i]`` at 0-based
    ``position[i]`` of document ``doc[i]``. ``[S]`` int64 each, sorted by ``(doc, position)``."""

    doc: Tensor
    position: Tensor
    code: Tensor
    n_docs: int

    @staticmethod
    def from_flat(doc: Tensor, code: Tensor, n_docs: int) -> Sequences:
        """From ``(doc, code)`` entries in sequence order, grouped by ascending ``doc``; repeats are dropped."""
        n_codes = int(code.max()) + 1 if code.numel() else 1
        _, inverse = torch.unique(doc * n_codes + code, return_inverse=True)
        first = torch.full((int(inverse.max()) + 1 if inverse.numel() else 0,), doc.numel(), dtype=torch.long)
        first = first.scatter_reduce(0, inverse, torch.arange(doc.numel()), "amin")
        keep = torch.zeros(doc.numel(), dtype=torch.bool)
        keep[first] = True
        doc, code = doc[keep], code[keep]
        return Sequences(doc, _positions(doc, n_docs), code, n_docs)

    @staticmethod
    def from_lists(sequences: list[list[int]]) -> Sequences:
        doc = torch.repeat_interleave(torch.arange(len(sequences)), torch.tensor([len(s) for s in sequences]))
        code = torch.tensor([c for s in sequences for c in s], dtype=torch.long)
        return Sequences.from_flat(doc, code, len(sequences))

    def lengths(self) -> Tensor:
        return torch.bincount(self.doc, minlength=self.n_docs)

    def select(self, doc_mask: Tensor | None, code_index: Tensor | None, n_codes: int) -> Sequences:
        """Keep documents ``doc_mask`` and codes ``code_index`` (renumbered), closing the gaps in positions."""
        keep = torch.ones(len(self.doc), dtype=torch.bool)
        new_code = torch.arange(n_codes)
        new_doc, n_docs = torch.arange(self.n_docs), self.n_docs
        if code_index is not None:
            new_code = torch.full((n_codes,), -1, dtype=torch.long)
            new_code[code_index] = torch.arange(len(code_index))
            keep &= new_code[self.code] >= 0
        if doc_mask is not None:
            keep &= doc_mask[self.doc]
            new_doc, n_docs = torch.cumsum(doc_mask.long(), 0) - 1, int(doc_mask.sum())
        doc = new_doc[self.doc[keep]]
        return Sequences(doc, _positions(doc, n_docs), new_code[self.code[keep]], n_docs)


def _positions(doc: Tensor, n_docs: int) -> Tensor:
    counts = torch.bincount(doc, minlength=n_docs)
    return torch.arange(len(doc)) - (torch.cumsum(counts, 0) - counts)[doc]


def primary_metrics(sequences: Sequences, gold: CodeSets, ranks: Ranks) -> dict[str, float]:
    """Expected top-1 and top-3 correctness of the first gold code, over documents with a sequence.

    ``ranks``: the per-document ranks of ``gold``'s cells (:func:`ranks.doc_ranks`).
    """
    first = sequences.position == 0
    if not bool(first.any()):
        return {"primary_acc": float("nan"), "primary_in_top3": float("nan")}
    where = gold.index_of(sequences.doc[first], sequences.code[first])
    n_gt = (ranks.size - ranks.n_le[where]).double()
    n_eq = (ranks.n_le[where] - ranks.n_lt[where]).double()
    expected = {k: float(((k - n_gt) / n_eq).clamp(min=0, max=1).mean()) for k in (1, 3)}
    return {"primary_acc": expected[1], "primary_in_top3": expected[3]}


def kendall_tau(sequences: Sequences, pred: CodeSets, scores: Tensor) -> float:
    """Mean per-document Kendall tau-b between gold order and score order of correctly predicted codes."""
    kept = pred.has(sequences.doc, sequences.code)
    doc, code = sequences.doc[kept], sequences.code[kept]
    values = scores[doc, code].double()
    taus = []
    for _, table in _groups(doc, values, sequences.n_docs, minimum=2):
        m = table.shape[1]
        earlier, later = table[:, :, None], table[:, None, :]
        upper = torch.triu(torch.ones(m, m, dtype=torch.bool), diagonal=1)
        concordant = ((earlier > later) & upper).sum((1, 2)).double()
        discordant = ((earlier < later) & upper).sum((1, 2)).double()
        pairs = m * (m - 1) / 2
        tied = pairs - concordant - discordant
        tau = (concordant - discordant) / torch.sqrt(pairs * (pairs - tied))
        taus.append(tau[tied < pairs])  # all tied: undefined, skipped
    tau = torch.cat(taus) if taus else torch.zeros(0)
    return float(tau.mean()) if tau.numel() else float("nan")


def edit_similarity(sequences: Sequences, pred: CodeSets, code_order: Tensor) -> float:
    """Mean per-document ``1 - levenshtein(gold, predicted) / max(len)``.

    ``pred`` must carry scores; ``code_order`` ``[C]`` int64 breaks score ties (the rank of each code string).
    """
    n_docs = sequences.n_docs
    order = torch.argsort(code_order[pred.code], stable=True)
    order = order[torch.argsort(pred.score[order], descending=True, stable=True)]
    order = order[torch.argsort(pred.doc[order], stable=True)]
    pred_table, pred_len = _pad(pred.doc[order], pred.code[order], n_docs, fill=-2)
    gold_table, gold_len = _pad(sequences.doc, sequences.code, n_docs, fill=-1)
    distance = pred_len.clone()  # no gold codes: every predicted code is an insertion
    by_length = torch.argsort(gold_len, stable=True)
    by_length = by_length[gold_len[by_length] > 0]
    start = 0
    while start < len(by_length):  # batches of documents with similar gold lengths, bounded table size
        cells = int(gold_len[by_length[start:]].max()) * (int(pred_len.max()) + 1)
        rows = by_length[start : start + max(1, _CELL_BUDGET // max(cells, 1))]
        la, lb = int(gold_len[rows].max()), int(pred_len[rows].max())
        distance[rows] = _levenshtein(gold_table[rows, :la], gold_len[rows], pred_table[rows, :lb], pred_len[rows])
        start += len(rows)
    longer = torch.maximum(gold_len, pred_len).double()
    similarity = torch.where(longer > 0, 1 - distance.double() / longer.clamp(min=1), 1.0)
    return float(similarity.mean())


def _pad(doc: Tensor, values: Tensor, n_docs: int, fill: int) -> tuple[Tensor, Tensor]:
    """Ragged per-document ``values`` (grouped by ascending ``doc``) → ``[n_docs, max length]`` and lengths."""
    length = torch.bincount(doc, minlength=n_docs)
    out = torch.full((n_docs, max(int(length.max()) if n_docs else 0, 1)), fill, dtype=values.dtype)
    out[doc, _positions(doc, n_docs)] = values
    return out, length


def _groups(doc: Tensor, values: Tensor, n_docs: int, minimum: int, fill: float = 0):
    """Yield ``(rows, table)``: documents with exactly ``m >= minimum`` entries and their ``[len(rows), m]``
    values, in batches of at most ``_CELL_BUDGET`` table cells (``m`` squared for pairwise tables)."""
    length = torch.bincount(doc, minlength=n_docs)
    table, _ = _pad(doc, values, n_docs, fill=fill) if doc.numel() else (None, None)
    for m in torch.unique(length).tolist():
        if m < minimum:
            continue
        rows = torch.nonzero(length == m).squeeze(1)
        step = max(1, _CELL_BUDGET // (m * m))
        for start in range(0, len(rows), step):
            batch = rows[start : start + step]
            yield batch, table[batch, :m]


def _levenshtein(a: Tensor, a_len: Tensor, b: Tensor, b_len: Tensor) -> Tensor:
    """Edit distances between padded sequences ``a`` ``[n, La]`` and ``b`` ``[n, Lb]`` of lengths ``a_len``,
    ``b_len``. Row by row of the DP table; within a row the insertion chain is a running minimum,
    ``D[i][j] = j + min_{k<=j}(E[k] - k)``, so each row is a few vectorised operations. Padding in ``b`` only
    affects columns beyond ``b_len``; the answer of a document is read at its own row ``a_len``."""
    n, width = b.shape[0], b.shape[1] + 1
    column = torch.arange(width)
    row = column.expand(n, -1)
    result = torch.zeros(n, dtype=torch.long)
    for i in range(1, a.shape[1] + 1):
        substitute = row[:, :-1] + (a[:, i - 1, None] != b).long()
        delete = row[:, 1:] + 1
        best = torch.cat([torch.full((n, 1), i), torch.minimum(substitute, delete)], dim=1)
        row = column + torch.cummin(best - column, dim=1).values
        result = torch.where(a_len == i, row.gather(1, b_len[:, None]).squeeze(1), result)
    return result
