"""Length-bucketed batching: every item once per epoch, seeded, sharded over DDP ranks."""

from __future__ import annotations

import numpy as np
import pytest

from icdbench.datasets import batching
from icdbench.datasets.batching import BucketBatchSampler


def _indices(sampler) -> list[list[int]]:
    return [[key.index for key in batch] for batch in sampler]


def test_train_batches_cover_every_item_once_and_reshuffle_per_epoch():
    lengths = np.random.default_rng(0).integers(10, 1000, size=203)
    sampler = BucketBatchSampler(lengths, 16, shuffle=True, seed=3, bucket_batches=4)
    first = _indices(sampler)
    assert sorted(i for b in first for i in b) == list(range(203))
    assert len(first) == len(sampler) == 13
    assert _indices(sampler) == first  # same epoch, same order
    sampler.set_epoch(1)
    second = _indices(sampler)
    assert second != first and sorted(i for b in second for i in b) == list(range(203))
    assert all(key.epoch == 1 for batch in sampler for key in batch)


def test_bucketing_groups_similar_lengths():
    lengths = np.random.default_rng(1).integers(10, 1000, size=640)
    bucketed = BucketBatchSampler(lengths, 16, shuffle=True, seed=0, bucket_batches=10)
    plain = BucketBatchSampler(lengths, 16, shuffle=True, seed=0, bucket=False)

    def padding(sampler):
        return sum(len(b) * lengths[b].max() - lengths[b].sum() for b in _indices(sampler))

    assert padding(bucketed) < 0.5 * padding(plain)


def test_evaluation_batches_are_sorted_longest_first():
    lengths = np.array([5, 50, 20, 40, 10])
    batches = _indices(BucketBatchSampler(lengths, 2, shuffle=False))
    assert batches == [[1, 3], [2, 4], [0]]


@pytest.mark.parametrize("shuffle", [True, False])
def test_ranks_get_disjoint_equal_shares_that_cover_everything(shuffle, monkeypatch):
    lengths = np.arange(1, 52)
    shares = []
    for rank in range(3):
        monkeypatch.setattr(batching, "_rank_and_world", lambda rank=rank: (rank, 3))
        sampler = BucketBatchSampler(lengths, 4, shuffle=shuffle, seed=0)
        shares.append(_indices(sampler))
        assert len(shares[-1]) == len(sampler)
    assert len({len(s) for s in shares}) == 1  # same number of steps on every rank
    seen = [i for share in shares for batch in share for i in batch]
    assert set(seen) == set(range(51))  # padding repeats whole batches, never drops an item
