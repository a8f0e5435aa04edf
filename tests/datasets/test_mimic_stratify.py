"""The sparse iterative stratification gives exactly the folds of the dense ``iterstrat`` one it replaces."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from icdbench.datasets import splitting
from icdbench.datasets.mimic import stratify


@pytest.mark.parametrize("seed", range(6))
def test_same_parts_as_splitting_patient_split(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 600))
    codes = [[f"C{min(x, 80)}" for x in set(rng.zipf(1.5, int(rng.integers(0, 6))))] for _ in range(n)]
    docs = pl.DataFrame({"doc_id": [str(i) for i in range(n)], "subject_id": [str(i // 3) for i in range(n)],
                         "codes": codes}, schema={"doc_id": pl.String, "subject_id": pl.String,
                                                  "codes": pl.List(pl.String)})
    fractions = [None, {"a": 0.5, "b": 0.5}, {f"fold-{i}": 0.1 for i in range(10)}][seed % 3]
    dense = splitting.patient_split(docs, seed=seed, fractions=fractions)
    sparse = stratify.patient_split(docs, seed=seed, fractions=fractions)
    assert list(dense) == list(sparse)
    for name in dense:
        assert dense[name].equals(sparse[name])


def test_every_label_spread_over_parts():
    lengths = np.full(300, 2, dtype=np.int64)
    indices = np.tile(np.array([0, 1], dtype=np.int64), 300)
    indices[::4] = 2  # a third label on a quarter of the samples
    folds = stratify.iterative_stratification(lengths, indices, np.array([0.75, 0.1, 0.15]),
                                              np.random.RandomState(0))
    assert np.bincount(folds).tolist() == [225, 30, 45]

