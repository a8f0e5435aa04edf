"""The dense primitives the metrics spend their time in, written with numpy on the tensors' own memory.

Metrics run on CPU (inputs are moved there by ``validation``). Measured on the 2-core benchmark machine,
numpy's SIMD sort is about 8x faster than ``torch.sort`` on rows of 8k-20k scores and its comparison +
``flatnonzero`` about 4x faster than ``torch.ge`` + ``torch.nonzero``; sorting and comparing are exact, so the
choice changes speed only. These functions hold no Python-level state and release the GIL inside numpy,
so :func:`pipeline` can run them on worker threads while the caller's thread does the torch work.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

# Elements per chunk of a dense pass: large enough to amortise per-call overhead, small enough (16 MiB of
# float32) to stay near the CPU caches and bound peak memory.
CHUNK_ELEMENTS = 1 << 22

TRANSPOSE_ROWS = 512

Chunk = TypeVar("Chunk")
Block = TypeVar("Block")


def row_chunks(n_rows: int, row_length: int, elements: int = CHUNK_ELEMENTS) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``n_rows`` rows in chunks of about ``elements`` elements."""
    step = max(1, elements // max(row_length, 1))
    return [(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]


def workers() -> int:
    """Threads for dense passes: torch's intra-op thread count (the user's CPU budget), at least 1."""
    return max(1, min(torch.get_num_threads(), os.cpu_count() or 1))


def pipeline(chunks: Iterable[Chunk], prepare: Callable[[Chunk], Block], consume: Callable[[Chunk, Block], None]):
    """``consume(chunk, prepare(chunk))`` for every chunk, in order. ``prepare`` (numpy only: sorting) runs on
    up to :func:`workers` threads ahead of ``consume`` (torch work on the caller's thread); at most that many
    prepared blocks wait in memory."""
    chunks = list(chunks)
    n_workers = workers()
    if n_workers == 1 or len(chunks) <= 1:
        for chunk in chunks:
            consume(chunk, prepare(chunk))
        return
    with ThreadPoolExecutor(n_workers) as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append((chunk, pool.submit(prepare, chunk)))
            if len(pending) > n_workers:
                done, future = pending.popleft()
                consume(done, future.result())
        while pending:
            done, future = pending.popleft()
            consume(done, future.result())


def sorted_rows(x: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``x`` ``[R, L]`` with rows sorted."""
    out = np.array(x, order="C", copy=True)
    out.sort(axis=-1)
    return out


def sorted_columns(x: np.ndarray) -> np.ndarray:
    """The columns of ``x`` ``[R, L]`` (a column slice of the score matrix) as sorted rows ``[L, R]``."""
    out = np.empty((x.shape[1], x.shape[0]), dtype=x.dtype)
    for start in range(0, x.shape[0], TRANSPOSE_ROWS):  # in cache-sized blocks: ~7x faster than one strided copy
        out[:, start : start + TRANSPOSE_ROWS] = x[start : start + TRANSPOSE_ROWS].T
    out.sort(axis=-1)
    return out


def row_sums(x: Tensor) -> Tensor:
    """``[R]`` float64 sums of the rows of ``x`` ``[R, L]`` (numpy's pairwise summation: deterministic and
    ~20x faster here than ``torch.sum(dtype=float64)``)."""
    return torch.from_numpy(np.add.reduce(x.numpy(), axis=1, dtype=np.float64))


def flat_where_at_least(x: Tensor, threshold: Tensor) -> Tensor:
    """Flat indices (row-major, ascending, int64) of the cells of ``x`` ``[R, L]`` with ``x >= threshold``;
    ``threshold`` broadcasts (scalar, ``[L]`` or ``[R, 1]``) and has ``x``'s dtype."""
    mask = np.greater_equal(x.numpy(), threshold.numpy())
    return torch.from_numpy(np.flatnonzero(mask))


class SortedRows:
    """Rows sorted ascending (built on a worker thread by :meth:`of`) and batched lookups in them."""

    PADDED_QUERIES = 64  # rows with at most this many lookups are searched as one padded batch

    def __init__(self, values: np.ndarray):
        self.values = values  # [R, L] float32, rows ascending

    @staticmethod
    def of(x: np.ndarray) -> SortedRows:
        """Sort a copy of the rows of ``x`` ``[R, L]``."""
        return SortedRows(sorted_rows(x))

    @staticmethod
    def of_columns(x: np.ndarray) -> SortedRows:
        """Sort a copy of the columns of ``x`` ``[R, L]``: rows of the result are its columns."""
        return SortedRows(sorted_columns(x))

    def count(self, row: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """For each query ``(row[q], value[q])`` (``[Q]`` each, any order): entries of that row ``< value`` and
        ``<= value``, ``[Q]`` int64 each.

        Rows with few queries (documents: their gold codes; most codes: their positives) go through one padded
        ``torch.searchsorted`` batch; the few rows with many queries (frequent codes) are searched one by one.
        """
        order = torch.argsort(row, stable=True)
        lt, le = self._count_grouped(row[order], value[order])
        n_lt, n_le = torch.empty_like(lt), torch.empty_like(le)
        n_lt[order], n_le[order] = lt, le
        return n_lt, n_le

    def _count_grouped(self, row: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        n_rows = self.values.shape[0]
        n_lt = torch.empty(len(row), dtype=torch.long)
        n_le = torch.empty(len(row), dtype=torch.long)
        if len(row) == 0:
            return n_lt, n_le
        counts = torch.bincount(row, minlength=n_rows)
        position = torch.arange(len(row)) - (torch.cumsum(counts, 0) - counts)[row]
        light = counts[row] <= self.PADDED_QUERIES
        if bool(light.any()):
            rows, where = row[light], position[light]
            padded = torch.full((n_rows, int(counts[rows].max())), float("inf"), dtype=torch.float32)
            padded[rows, where] = value[light].float()
            sorted_values = torch.from_numpy(self.values)
            n_lt[light] = torch.searchsorted(sorted_values, padded, right=False)[rows, where]
            n_le[light] = torch.searchsorted(sorted_values, padded, right=True)[rows, where]
        heavy_rows = torch.nonzero(counts > self.PADDED_QUERIES).squeeze(1).tolist()
        starts = (torch.cumsum(counts, 0) - counts).tolist()
        queries = value.numpy().astype(np.float32)
        for r in heavy_rows:
            a, b = starts[r], starts[r] + int(counts[r])
            n_lt[a:b] = torch.from_numpy(np.searchsorted(self.values[r], queries[a:b], side="left"))
            n_le[a:b] = torch.from_numpy(np.searchsorted(self.values[r], queries[a:b], side="right"))
        return n_lt, n_le

    def below(self, row: Tensor, n_lt: Tensor) -> Tensor:
        """The largest entry of each queried row strictly below the looked-up value (``-inf`` if none)."""
        found = torch.from_numpy(self.values[row.numpy(), np.maximum(n_lt.numpy() - 1, 0)])
        return torch.where(n_lt > 0, found, torch.full_like(found, float("-inf")))
