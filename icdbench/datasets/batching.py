"""Length-bucketed, seeded, DDP-aware batching.

Clinical notes vary in length by an order of magnitude; padding every batch to its longest note wastes most of
the compute unless notes of similar length are batched together. Training batches: shuffle the items with a
generator seeded by ``(seed, epoch)``, cut the order into chunks of ``bucket_batches`` batches, sort each
chunk by length, cut it into batches and shuffle the batch order. Evaluation batches: all items sorted by
length.

Under DDP every rank builds the same global list of batches and takes every ``world_size``-th one; the list is
padded by repeating batches so ranks run the same number of steps. Evaluation padding duplicates documents,
which the score collector removes by ``doc_index``. Because the sampler shards itself, the Trainer runs with
``use_distributed_sampler=False``.

The sampler yields :class:`ItemKey` s carrying the epoch, so a dataset can draw per-epoch augmentations from a
generator seeded by ``(seed, epoch, item)`` even inside persistent worker processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch.distributed as dist
from torch.utils.data import Sampler


class ItemKey(NamedTuple):
    index: int
    epoch: int


def _rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class BucketBatchSampler(Sampler[list[ItemKey]]):
    """Batches of item keys. ``lengths[i]`` is item ``i``'s length in tokens (or any size proxy)."""

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        bucket: bool = True,
        bucket_batches: int = 50,
    ):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.bucket = bucket
        self.bucket_batches = bucket_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning before every epoch."""
        self.epoch = epoch

    def global_batches(self) -> list[np.ndarray]:
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(-self.lengths, kind="stable") if self.bucket else np.arange(n)
            return [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(n)
        if self.bucket:
            chunk = self.batch_size * self.bucket_batches
            order = (
                np.concatenate(
                    [
                        c[np.argsort(-self.lengths[c], kind="stable")]
                        for c in np.split(order, range(chunk, n, chunk))
                    ]
                )
                if n
                else order
            )
        batches = [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def _rank_batches(self) -> list[np.ndarray]:
        batches = self.global_batches()
        rank, world = _rank_and_world()
        if world == 1 or not batches:
            return batches
        padded = batches + batches[: (-len(batches)) % world]
        return padded[rank::world]

    def __iter__(self) -> Iterator[list[ItemKey]]:
        for batch in self._rank_batches():
            yield [ItemKey(int(i), self.epoch) for i in batch]

    def __len__(self) -> int:
        n_batches = -(-len(self.lengths) // self.batch_size)
        _, world = _rank_and_world()
        return -(-n_batches // world)
