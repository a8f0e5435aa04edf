"""Compact curve points for leaderboard plots: selective automation (EMR vs share of documents automated) and
the micro-averaged precision-recall curve.

Committed records carry no scores, so a run stores these few points in its record (``RunRecord.curves``,
from :func:`compact_curves`, about 2 KB); for a run folder whose record lacks them, they are computed from its
``scores.npz`` and the prepared split's test codes when both are at hand (:func:`curves_of_run`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from icdbench.datasets.storage import read_manifest
from icdbench.errors import UserError
from icdbench.metrics import automation_curve_of
from icdbench.metrics.scores_file import load_scores
from icdbench.metrics.thresholds import TopK
from icdbench.results.record import SCORES_FILE, THRESHOLD_FILE, RunRecord

AUTOMATION_POINTS = 20  # coverage 5%, 10%, ..., 100%
PR_BINS = 1000  # the PR curve is exact at score thresholds 0.000, 0.001, ..., 0.999
PR_POINTS = 60
DIGITS = 4
ROW_CHUNK = 4096  # documents per chunk when binning scores (bounds memory at MIMIC scale)


def automation_points(scores: np.ndarray, targets: np.ndarray, threshold) -> dict[str, list[float]]:
    """EMR and Jaccard when automating the 5%, 10%, ... most confident documents (metrics' own curve)."""
    curve = automation_curve_of(scores, targets, threshold=threshold)
    shares = [(i + 1) / AUTOMATION_POINTS for i in range(AUTOMATION_POINTS)]
    points = [curve.at(share) for share in shares]
    return {
        "coverage": [round(s, DIGITS) for s in shares],
        "emr": [round(emr, DIGITS) for emr, _ in points],
        "jaccard": [round(jac, DIGITS) for _, jac in points],
    }


def pr_points(scores: np.ndarray, targets: np.ndarray) -> dict[str, list[float]]:
    """Micro-averaged precision and recall over all (document, code) cells at binned score thresholds.

    ``scores`` ``[N, C]`` probabilities, ``targets`` ``[N, C]`` bool. Returns up to ``PR_POINTS`` points, recall
    ascending (thresholds descending).
    """
    positives = np.zeros(PR_BINS, dtype=np.int64)
    cells = np.zeros(PR_BINS, dtype=np.int64)
    for start in range(0, scores.shape[0], ROW_CHUNK):
        block = np.asarray(scores[start : start + ROW_CHUNK], dtype=np.float64)
        bins = np.minimum((block * PR_BINS).astype(np.int64), PR_BINS - 1)
        cells += np.bincount(bins.ravel(), minlength=PR_BINS)
        positives += np.bincount(bins[np.asarray(targets[start : start + ROW_CHUNK], dtype=bool)], minlength=PR_BINS)
    total = int(positives.sum())
    if total == 0:
        return {"recall": [], "precision": []}
    tp = np.cumsum(positives[::-1])  # predicted = score >= bin's lower edge, highest bin first
    predicted = np.cumsum(cells[::-1])
    keep = predicted > 0
    recall, precision = tp[keep] / total, tp[keep] / predicted[keep]
    wanted = np.linspace(recall[0], recall[-1], PR_POINTS)
    index = np.unique(np.minimum(np.searchsorted(recall, wanted), len(recall) - 1))
    return {
        "recall": [round(float(v), DIGITS) for v in recall[index]],
        "precision": [round(float(v), DIGITS) for v in precision[index]],
    }


def compact_curves(scores, targets, threshold) -> dict:
    """The ``curves`` entry of a run record for the full setting (no text, about 2 KB)."""
    scores = np.asarray(scores.detach().cpu() if hasattr(scores, "detach") else scores)
    targets = np.asarray(targets.detach().cpu() if hasattr(targets, "detach") else targets, dtype=bool)
    return {"automation": automation_points(scores, targets, threshold), "pr": pr_points(scores, targets)}


def threshold_of(saved: dict, n_codes: int):
    """The decision rule of a run's ``threshold.json`` (``{"rule", "value", "top_k"}``) for the metrics package."""
    if saved.get("rule") == "top_k":
        return TopK(int(saved["top_k"]))
    value = saved.get("value")
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 1 and len(array) != n_codes:
        raise ValueError(f"threshold has {len(array)} values for {n_codes} codes")
    return float(array) if array.ndim == 0 else array


def curves_of_run(record: RunRecord, run_dir: Path, data_root: Path) -> dict | None:
    """Curves of a run: the record's own, else computed from ``scores.npz`` and the split under ``data_root``
    (only when the split there is the one the run used, by content hash); None when neither is available."""
    if record.curves:
        return record.curves

    run_dir = Path(run_dir)
    if not (run_dir / SCORES_FILE).is_file() or not (run_dir / THRESHOLD_FILE).is_file():
        return None
    try:
        targets_of = GoldCodes.load(Path(data_root) / record.split, record.split_hashes.content_sha256)
        if targets_of is None:
            return None

        doc_ids, codes, scores = load_scores(run_dir / SCORES_FILE)
        targets = targets_of.matrix(doc_ids, codes)
        threshold = threshold_of(json.loads((run_dir / THRESHOLD_FILE).read_text()), len(codes))
        return compact_curves(scores.astype(np.float32), targets, threshold)
    except (UserError, ValueError, KeyError, json.JSONDecodeError):
        return None


class GoldCodes:
    """Gold codes of a prepared split's test documents, as ``[N, C]`` matrices for any doc/code order."""

    def __init__(self, gold: dict[str, list[str]]):
        self.gold = gold  # doc_id -> its gold codes in coded order (principal first)

    @staticmethod
    def load(split_dir: Path, content_sha256: str | None = None) -> GoldCodes | None:
        """None when the split is not prepared there or (given the run's split content hash) is not the split the
        run used."""
        manifest = read_manifest(split_dir, missing_ok=True)
        if manifest is None:
            return None
        if content_sha256 and manifest.get("content_sha256") != content_sha256:
            return None
        frame = pl.read_parquet(Path(split_dir) / "test.parquet", columns=["doc_id", "codes"])
        gold = dict(zip(frame["doc_id"].to_list(), frame["codes"].to_list()))
        return GoldCodes(gold)

    def missing(self, doc_ids: list[str]) -> list[str]:
        return [doc for doc in doc_ids if doc not in self.gold]

    def sequences(self, doc_ids: list[str]) -> list[list[str]]:
        return [list(self.gold[doc]) for doc in doc_ids]

    def matrix(self, doc_ids: list[str], codes: list[str]) -> np.ndarray:
        """``[len(doc_ids), len(codes)]`` bool; raises ValueError for a document the split lacks."""
        missing = self.missing(doc_ids)
        if missing:
            raise ValueError(f"{len(missing)} scored documents are not in the split's test part, e.g. {missing[0]}")
        column = {code: i for i, code in enumerate(codes)}
        out = np.zeros((len(doc_ids), len(codes)), dtype=bool)
        for row, doc in enumerate(doc_ids):
            for code in self.gold[doc]:
                if code in column:
                    out[row, column[code]] = True
        return out
