"""Small score matrices with the awkward cases the metrics must get right (shared by the metrics tests)."""

from __future__ import annotations

import numpy as np


def make_case(seed: int, n_docs: int = 40, n_codes: int = 12, *, ties: bool = False, density: float = 0.25):
    """Random float32 scores and bool targets. Guarantees: one code without positives, one code that every
    document has (no negatives), two documents without gold. ``ties`` rounds scores to 1 decimal."""
    rng = np.random.default_rng(seed)
    scores = rng.random((n_docs, n_codes)).astype(np.float32)
    if ties:
        scores = np.round(scores, 1).astype(np.float32)
    targets = rng.random((n_docs, n_codes)) < density
    targets[:, 0] = False  # a code without positives
    targets[:, 1] = True  # a code without negatives
    targets[:2] = False  # documents without gold
    # correlate scores with targets so the metrics are not all near chance
    scores = np.where(targets, np.maximum(scores, rng.random(scores.shape).astype(np.float32)), scores)
    return scores.astype(np.float32), targets
