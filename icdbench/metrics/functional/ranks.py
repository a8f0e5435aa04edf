"""Where each gold cell's score falls among other scores: the one expensive step behind every ranking and
threshold-free metric, done by sorting each row once.

* :func:`doc_ranks` — within its document's row (ranking metrics, primary code, top-k).
* :func:`code_ranks` — within its code's column (per-code AUC-ROC/AP, per-code thresholds).
* :func:`pooled_ranks` — among all ``N x C`` cells (micro AUC-ROC/AP, the global threshold), from bin counts
  rather than a sort of the whole matrix.

Only the gold cells (about 0.2% of the matrix) are looked up, so after the sorts the rest is cheap. Work is
chunked (bounded memory); chunks are sorted on worker threads while the caller's thread does the lookups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from icdbench.metrics.functional._kernels import CHUNK_ELEMENTS, SortedRows, pipeline, row_chunks
from icdbench.metrics.functional.sets import CodeSets

POOLED_CHUNK_ELEMENTS = 1 << 24  # each chunk's bin counts are one array of every bin, added up by the caller
BIN_SHIFT = 8  # pooled bins: float32 keys without their 8 lowest mantissa bits


@dataclass(frozen=True)
class Ranks:
    """For each gold pair ``i`` (aligned with the ``CodeSets`` it was computed for), among the compared cells:
    ``n_lt[i]`` score strictly lower, ``n_le[i]`` lower or equal (``[M]`` int64). ``below[i]`` is the largest
    compared score strictly below the gold score (``-inf`` if none; used to place thresholds between scores;
    ``None`` for pooled ranks).
    ``size`` is the number of compared cells (row length, or ``N * C`` pooled)."""

    n_lt: Tensor
    n_le: Tensor
    below: Tensor | None
    size: int


@dataclass(frozen=True)
class KthLargest:
    """For each document and requested depth ``k``: the k-th largest score ``value`` ``[N, K]`` and how many of
    the document's codes score strictly above it (``n_gt``) and exactly equal to it (``n_eq``)."""

    value: Tensor
    n_gt: Tensor
    n_eq: Tensor


def gold_scores(scores: Tensor, gold: CodeSets) -> Tensor:
    """``[M]`` the scores of the gold cells."""
    return scores[gold.doc, gold.code]


def doc_ranks(scores: Tensor, gold: CodeSets, ks: Tensor) -> tuple[Ranks, KthLargest]:
    """Rank gold cells within their documents and read the top-``k`` boundaries of every document.

    ``scores`` ``[N, C]``; ``ks`` ``[N, K]`` int64 depths in ``1..C`` (a column per requested depth).
    """
    n_docs, n_codes = scores.shape
    matrix = scores.numpy()
    values = gold_scores(scores, gold)
    n_lt, n_le, below_value = _empty_ranks(len(gold), scores.dtype)
    kth = torch.zeros(ks.shape, dtype=scores.dtype)
    kth_lt = torch.zeros(ks.shape, dtype=torch.long)
    kth_le = torch.zeros_like(kth_lt)
    bounds = torch.searchsorted(gold.doc, torch.arange(n_docs + 1))

    def consume(chunk: tuple[int, int], block: SortedRows) -> None:
        start, stop = chunk
        g0, g1 = int(bounds[start]), int(bounds[stop])
        rows = gold.doc[g0:g1] - start
        value = torch.from_numpy(block.values).gather(1, n_codes - ks[start:stop])
        k_rows = torch.arange(stop - start).repeat_interleave(ks.shape[1])
        lt, le = block.count(torch.cat([rows, k_rows]), torch.cat([values[g0:g1], value.reshape(-1)]))
        n_lt[g0:g1], n_le[g0:g1] = lt[: g1 - g0], le[: g1 - g0]
        below_value[g0:g1] = block.below(rows, n_lt[g0:g1])
        kth[start:stop] = value
        kth_lt[start:stop] = lt[g1 - g0 :].view(value.shape)
        kth_le[start:stop] = le[g1 - g0 :].view(value.shape)

    pipeline(row_chunks(n_docs, n_codes), lambda c: SortedRows.of(matrix[c[0] : c[1]]), consume)
    return Ranks(n_lt, n_le, below_value, n_codes), KthLargest(kth, n_codes - kth_le, kth_le - kth_lt)


def code_ranks(scores: Tensor, gold: CodeSets) -> Ranks:
    """Rank gold cells within their code's column of ``scores`` ``[N, C]`` (columns are sorted as rows of a
    transposed copy, one chunk of codes at a time)."""
    n_docs, n_codes = scores.shape
    matrix = scores.numpy()
    values = gold_scores(scores, gold)
    n_lt, n_le, below_value = _empty_ranks(len(gold), scores.dtype)
    by_code = torch.argsort(gold.code, stable=True)  # gold pairs grouped by code
    bounds = torch.searchsorted(gold.code[by_code], torch.arange(n_codes + 1))

    def consume(chunk: tuple[int, int], block: SortedRows) -> None:
        start, stop = chunk
        pick = by_code[bounds[start] : bounds[stop]]
        rows = gold.code[pick] - start
        lt, le = block.count(rows, values[pick])
        n_lt[pick], n_le[pick] = lt, le
        below_value[pick] = block.below(rows, lt)

    chunks = row_chunks(n_codes, n_docs, CHUNK_ELEMENTS)
    pipeline(chunks, lambda c: SortedRows.of_columns(matrix[:, c[0] : c[1]]), consume)
    return Ranks(n_lt, n_le, below_value, n_docs)


def pooled_ranks(scores: Tensor, gold: CodeSets) -> Ranks:
    """Rank gold cells among all ``N x C`` cells of ``scores`` (probabilities in [0, 1], as validated), without
    sorting the matrix. ``below`` is left ``None``: :func:`largest_below` finds it for the one score that needs it.

    Non-negative float32 values order like their bit patterns, so each cell's top bits name a narrow bin (a
    relative width of 3e-5). One pass counts cells per bin and keeps only the cells that share a bin with some
    gold score (~1% of a model's matrix); those few are sorted. A gold score's rank is then the count of all
    lower bins plus its position among the kept cells of its own bin: exact, ties included.
    """
    n_docs, n_codes = scores.shape
    matrix = scores.numpy()
    gold_key = _order_keys(gold_scores(scores, gold).numpy())
    gold_bin = gold_key >> BIN_SHIFT
    n_bins = int(_order_keys(np.ones(1, dtype=np.float32))[0] >> BIN_SHIFT) + 1
    shared = np.zeros(n_bins, dtype=bool)
    shared[gold_bin] = True
    per_bin = np.zeros(n_bins, dtype=np.int64)
    kept: list[np.ndarray] = []

    def prepare(chunk: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        key = _order_keys(matrix[chunk[0] : chunk[1]].reshape(-1))
        bins = key >> BIN_SHIFT
        return np.bincount(bins, minlength=n_bins), key[shared[bins]]

    def consume(chunk: tuple[int, int], block: tuple[np.ndarray, np.ndarray]) -> None:
        np.add(per_bin, block[0], out=per_bin)
        kept.append(block[1])

    pipeline(row_chunks(n_docs, n_codes, POOLED_CHUNK_ELEMENTS), prepare, consume)
    kept_sorted = np.sort(np.concatenate(kept)) if kept else np.zeros(0, dtype=np.uint32)
    in_lower_bins = np.cumsum(per_bin) - per_bin
    kept_in_lower_bins = np.searchsorted(kept_sorted, gold_bin << BIN_SHIFT, side="left")
    base = in_lower_bins[gold_bin] - kept_in_lower_bins
    n_lt = base + np.searchsorted(kept_sorted, gold_key, side="left")
    n_le = base + np.searchsorted(kept_sorted, gold_key, side="right")
    return Ranks(torch.from_numpy(n_lt), torch.from_numpy(n_le), None, n_docs * n_codes)


def largest_below(scores: Tensor, value: float) -> float:
    """The largest cell of ``scores`` strictly below ``value`` (``-inf`` if none), in one chunked pass."""
    matrix = scores.numpy().reshape(-1)
    best = float("-inf")
    for start in range(0, matrix.size, CHUNK_ELEMENTS):
        chunk = matrix[start : start + CHUNK_ELEMENTS]
        lower = chunk[chunk < value]
        if lower.size:
            best = max(best, float(lower.max()))
    return best


def _order_keys(values: np.ndarray) -> np.ndarray:
    """uint32 keys that order non-negative float32 ``values`` exactly as the values (``-0.0`` maps to ``0.0``)."""
    return np.bitwise_and(np.ascontiguousarray(values, dtype=np.float32).view(np.uint32), np.uint32(0x7FFFFFFF))


def _empty_ranks(m: int, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
    return (
        torch.empty(m, dtype=torch.long),
        torch.empty(m, dtype=torch.long),
        torch.full((m,), float("-inf"), dtype=dtype),
    )


def within_group_ties(group: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
    """Among elements sharing a ``group`` id: how many have a strictly lower ``value`` and how many an equal one
    (itself included). ``group`` ``[M]`` int64, ``value`` ``[M]`` → ``(n_lt, n_eq)`` ``[M]`` int64."""
    m = value.numel()
    if m == 0:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    order = torch.argsort(value, stable=True)
    order = order[torch.argsort(group[order], stable=True)]
    g, v = group[order], value[order]
    index = torch.arange(m)
    new_group = torch.ones(m, dtype=torch.bool)
    new_group[1:] = g[1:] != g[:-1]
    new_run = new_group.clone()
    new_run[1:] |= v[1:] != v[:-1]
    group_start = torch.cummax(torch.where(new_group, index, 0), 0).values
    run_start = torch.cummax(torch.where(new_run, index, 0), 0).values
    run_id = torch.cumsum(new_run.long(), 0) - 1
    run_len = torch.bincount(run_id)
    n_lt = torch.empty(m, dtype=torch.long)
    n_eq = torch.empty(m, dtype=torch.long)
    n_lt[order] = run_start - group_start
    n_eq[order] = run_len[run_id]
    return n_lt, n_eq
