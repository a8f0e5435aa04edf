"""Training-time text augmentation.

RAC (Kim & Ganapathi 2021, §4.3) enlarges the training set with copies of each note whose sentences are
shuffled into a random order, keeping the note's labels: the codes of a note do not depend on the order its
sentences are read in, and RAC's reader has no positional encoding. The datamodule makes the copies on the fly
from a seeded generator, so they are reproducible and never stored.
"""

from __future__ import annotations

import numpy as np


def permute_sentences(ids: np.ndarray, sentence_starts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return ``ids`` with its sentences (whole token runs) in a random order.

    Args:
        ids: ``[T]`` token ids of one note (no padding).
        sentence_starts: ``[S]`` token index where each sentence begins, strictly increasing, in ``[0, T)``.
            Tokens before the first start, if any, are treated as one more sentence.
        rng: the generator that draws the order (the caller seeds it; same state -> same output).

    Returns:
        ``[T]`` array of the same dtype holding the same multiset of tokens; each sentence stays contiguous
        and keeps its internal order. With two or more sentences the order is never the original one (an
        identity draw is redrawn), so every augmented copy is a new sample. Notes with fewer than two
        sentences come back unchanged (as a copy).

    Permute before truncating to the model's maximum length, so a copy can bring later sentences into the
    window.
    """
    ids = np.asarray(ids)
    starts = np.asarray(sentence_starts, dtype=np.int64)
    n_tokens = len(ids)
    if ids.ndim != 1 or starts.ndim != 1:
        raise ValueError("permute_sentences expects 1-D token ids and 1-D sentence starts")
    if len(starts) and (starts[0] < 0 or starts[-1] >= n_tokens or np.any(np.diff(starts) <= 0)):
        raise ValueError(f"sentence starts must be strictly increasing within [0, {n_tokens})")
    if len(starts) == 0 or starts[0] != 0:
        starts = np.concatenate([[0], starts])
    n_sentences = len(starts) if n_tokens else 0
    if n_sentences < 2:
        return ids.copy()

    lengths = np.diff(np.append(starts, n_tokens))
    identity = np.arange(n_sentences)
    order = rng.permutation(n_sentences)
    while np.array_equal(order, identity):
        order = rng.permutation(n_sentences)
    # Gather index: for each output position, the source position inside its (moved) sentence.
    new_lengths = lengths[order]
    new_starts = np.cumsum(new_lengths) - new_lengths
    source = np.repeat(starts[order] - new_starts, new_lengths) + np.arange(n_tokens)
    return ids[source]
