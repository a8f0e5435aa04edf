"""MLSMOTE: the multi-label Synthetic Minority Over-sampling Technique (Charte et al. 2015,
"MLSMOTE: approaching imbalanced multilabel learning through synthetic instance generation",
Knowledge-Based Systems 89).

imbalanced-learn has no multi-label SMOTE, so the published algorithm is written here (pure numpy; the
neighbour search is scikit-learn's ``NearestNeighbors``):

1. the imbalance ratio of every label, ``IRLbl(l) = max_l' n(l') / n(l)`` (``n`` = positives), and their
   mean ``MeanIR``; labels with ``IRLbl > MeanIR`` are the minority labels;
2. for each minority label, its bag (the samples carrying it); for each sample of the bag, its ``k`` nearest
   neighbours within the bag (Euclidean); one neighbour drawn at random is the reference;
3. the synthetic sample's features lie on the segment between the sample and the reference:
   ``x + g·(x_ref − x)`` with one gap ``g ~ U[0, 1)`` per synthetic sample (as imbalanced-learn's SMOTE
   draws it; MLSMOTE's pseudo-code draws a gap per attribute, which leaves the segment);
4. its labels by ranking (MLSMOTE's default): the labels carried by more than half of the sample and its
   ``k`` neighbours — so the minority label itself is always kept.

Ratios and bags come from the original data only (synthetic samples made for one label are not re-sampled
for the next), which makes the result independent of the order labels are visited in. A bag with fewer
than two samples has no neighbour and is skipped; ``k`` shrinks to the bag size minus one.

The algorithm only plans the synthetic samples (:class:`SmotePlan`: which sample, which reference, which
gap, which labels); :func:`interpolate` applies a plan to feature vectors, and callers with structured
features (HMHAN's token-state matrices, ``icdbench.training.families.hmhan``) apply the same plan to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors


@dataclass(frozen=True)
class SmotePlan:
    """``M`` synthetic samples, each ``x[seeds] + gaps · (x[references] − x[seeds])`` with ``labels``."""

    seeds: np.ndarray  # [M] int64, index of the sample each synthetic one starts from
    references: np.ndarray  # [M] int64, the neighbour it moves towards
    gaps: np.ndarray  # [M] float64 in [0, 1)
    labels: np.ndarray  # [M, C] bool
    for_label: np.ndarray  # [M] int64, the minority label the sample was made for
    neighbourhoods: list[np.ndarray]  # M arrays: the k neighbours that voted on the labels
    minority_labels: np.ndarray  # [L] int64, labels with IRLbl > MeanIR
    mean_ir: float

    def __len__(self) -> int:
        return len(self.seeds)

    def summary(self) -> dict:
        """Plain facts for a run record."""
        return {
            "synthetic_samples": len(self),
            "minority_labels": len(self.minority_labels),
            "mean_ir": round(self.mean_ir, 4),
        }


def imbalance_ratios(labels: np.ndarray) -> np.ndarray:
    """``IRLbl`` per label ``[C]`` (float64) for a ``[N, C]`` bool label matrix; NaN for labels without
    positives (they cannot be over-sampled and are left out of ``MeanIR``)."""
    counts = np.asarray(labels, dtype=bool).sum(axis=0).astype(np.float64)
    ratios = np.full(counts.shape, np.nan)
    present = counts > 0
    if present.any():
        ratios[present] = counts.max() / counts[present]
    return ratios


def mlsmote(features: np.ndarray, labels: np.ndarray, *, k: int = 5, seed: int = 0) -> SmotePlan:
    """Plan MLSMOTE's synthetic samples for ``features`` ``[N, F]`` (float) and ``labels`` ``[N, C]`` (bool).

    Deterministic for a given ``seed``. Returns an empty plan when no label is a minority label."""
    if k < 1:
        raise ValueError(f"MLSMOTE needs k >= 1 neighbours, got {k}")
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    if features.ndim != 2 or labels.ndim != 2 or len(features) != len(labels):
        raise ValueError(f"need features [N, F] and labels [N, C], got {features.shape} and {labels.shape}")
    ratios = imbalance_ratios(labels)
    mean_ir = float(np.nanmean(ratios)) if np.isfinite(ratios).any() else 0.0
    minority = np.flatnonzero(np.nan_to_num(ratios, nan=-np.inf) > mean_ir)
    rng = np.random.default_rng(seed)
    seeds, references, gaps, made_for, out_labels, hoods = [], [], [], [], [], []
    for label in minority:
        bag = np.flatnonzero(labels[:, label])
        if len(bag) < 2:
            continue
        k_bag = min(k, len(bag) - 1)
        search = NearestNeighbors(n_neighbors=k_bag + 1).fit(features[bag])
        _, found = search.kneighbors(features[bag])
        for row, sample in enumerate(bag):
            others = found[row][found[row] != row][:k_bag]  # drop the sample itself (ties: wherever it sits)
            neighbours = bag[others]
            votes = labels[sample].astype(np.int64) + labels[neighbours].sum(axis=0)
            seeds.append(sample)
            references.append(neighbours[rng.integers(len(neighbours))])
            gaps.append(rng.random())
            made_for.append(label)
            out_labels.append(votes > (len(neighbours) + 1) / 2)
            hoods.append(neighbours)
    n_labels = labels.shape[1]
    return SmotePlan(
        seeds=np.asarray(seeds, dtype=np.int64),
        references=np.asarray(references, dtype=np.int64),
        gaps=np.asarray(gaps, dtype=np.float64),
        labels=np.asarray(out_labels, dtype=bool).reshape(-1, n_labels),
        for_label=np.asarray(made_for, dtype=np.int64),
        neighbourhoods=hoods,
        minority_labels=minority.astype(np.int64),
        mean_ir=mean_ir,
    )


def interpolate(features: np.ndarray, plan: SmotePlan) -> np.ndarray:
    """The synthetic feature vectors ``[M, F]`` of ``plan`` over ``features`` ``[N, F]``."""
    features = np.asarray(features)
    start = features[plan.seeds]
    gaps = plan.gaps.astype(features.dtype if features.dtype.kind == "f" else np.float64)[:, None]
    return start + gaps * (features[plan.references] - start)
