"""The scores file: what a run writes for its test documents and ``icdbench evaluate`` reads, from this suite
or from any other model.

Format — a NumPy ``.npz`` archive (``numpy.savez``; read with ``allow_pickle=False``) holding:

* ``doc_ids``: 1-D unicode array ``[N]`` — the split's ``doc_id`` of each row, unique.
* ``codes``: 1-D unicode array ``[C]`` — the code of each column, unique, in the split's canonical form
  (ICD-9 and ICD-10-CM with the dot, ICD-10-PCS without).
* ``scores``: ``[N, C]`` float16 or float32 probabilities in [0, 1] (apply a sigmoid to logits).
* ``threshold`` (optional): the decision threshold tuned on validation — a float32 scalar, or ``[C]`` per
  code; ``icdbench evaluate`` uses 0.5 when it is absent.

Writing from Python without this package::

    np.savez("scores.npz", doc_ids=np.array(ids, dtype=str), codes=np.array(codes, dtype=str),
             scores=probabilities.astype(np.float32))

Rows and columns may come in any order and may cover more documents or codes than the split (see
``icdbench evaluate``). No note text is stored.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from icdbench.errors import UserError
from icdbench.io import atomic_write

ARRAYS = ("doc_ids", "codes", "scores")
OPTIONAL = ("threshold",)
SCORE_DTYPES = (np.float16, np.float32)


@dataclass(frozen=True)
class ScoresFile:
    doc_ids: list[str]
    codes: list[str]
    scores: np.ndarray  # [N, C] float16/float32
    threshold: float | np.ndarray | None  # scalar or [C] float, None when the file has none


def save_scores(path, doc_ids, codes, scores, *, threshold=None, dtype=None) -> Path:
    """Write a scores file atomically (a temporary file renamed into place). ``scores`` ``[N, C]`` array or
    tensor of probabilities; stored as float32 unless it is float16 or ``dtype`` says otherwise."""
    path = Path(path)
    if hasattr(scores, "detach"):
        scores = scores.detach().cpu().numpy()
    scores = np.asarray(scores)
    target = np.dtype(dtype) if dtype is not None else (scores.dtype if scores.dtype == np.float16 else np.float32)
    arrays = {
        "doc_ids": np.asarray([str(d) for d in doc_ids], dtype=str),
        "codes": np.asarray([str(c) for c in codes], dtype=str),
        "scores": scores.astype(target, copy=False),
    }
    if threshold is not None:
        value = threshold.detach().cpu().numpy() if hasattr(threshold, "detach") else threshold
        arrays["threshold"] = np.asarray(value, dtype=np.float32)
    _validate(arrays, path)
    return atomic_write(path, lambda handle: np.savez(handle, **arrays), binary=True)


def load_scores(path) -> tuple[list[str], list[str], np.ndarray]:
    """``(doc_ids, codes, scores)`` of a scores file; raises a one-line ``UserError`` if it is malformed."""
    loaded = load_scores_file(path)
    return loaded.doc_ids, loaded.codes, loaded.scores


def load_scores_file(path) -> ScoresFile:
    """The whole scores file, including the optional threshold."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"scores file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise UserError(f"{path} is not a readable .npz scores file ({exc}); see icdbench.metrics.scores_file") from exc
    _validate(arrays, path)
    threshold = arrays.get("threshold")
    if threshold is not None and threshold.ndim == 0:
        threshold = float(threshold)
    return ScoresFile(arrays["doc_ids"].tolist(), arrays["codes"].tolist(), arrays["scores"], threshold)


def _validate(arrays: dict[str, np.ndarray], path: Path) -> None:
    def fail(problem: str) -> None:
        raise UserError(f"scores file {path}: {problem}; see the format in icdbench.metrics.scores_file")

    missing = [name for name in ARRAYS if name not in arrays]
    if missing:
        fail(f"missing array(s) {', '.join(missing)}")
    extra = [name for name in arrays if name not in ARRAYS + OPTIONAL]
    if extra:
        fail(f"unexpected array(s) {', '.join(extra)}")
    doc_ids, codes, scores = (arrays[name] for name in ARRAYS)
    for name, values in (("doc_ids", doc_ids), ("codes", codes)):
        if values.ndim != 1 or values.dtype.kind != "U":
            fail(f"{name} must be a 1-D unicode string array, got {values.dtype} with shape {values.shape}")
        if len(set(values.tolist())) != len(values):
            fail(f"{name} has duplicates")
    if scores.dtype not in SCORE_DTYPES:
        fail(f"scores must be float16 or float32, got {scores.dtype}")
    if scores.shape != (len(doc_ids), len(codes)):
        fail(f"scores have shape {scores.shape}, expected ({len(doc_ids)}, {len(codes)}) from doc_ids and codes")
    if scores.size and not np.isfinite(scores).all():
        fail("scores contain NaN or inf")
    if scores.size and (scores.min() < 0 or scores.max() > 1):
        fail("scores must be probabilities in [0, 1]")
    threshold = arrays.get("threshold")
    if threshold is not None and (
        threshold.dtype.kind != "f" or threshold.shape not in ((), (len(codes),)) or not np.isfinite(threshold).all()
    ):
        fail(f"threshold must be a finite float scalar or one value per code, got shape {threshold.shape}")
