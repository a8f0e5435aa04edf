"""``icdbench evaluate SCORES --split SPLIT``: a scores file scored on a prepared split's test part."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from icdbench.app.requests import EvaluateRequest
from icdbench.datasets.storage import load_split
from icdbench.errors import UserError
from icdbench.io import atomic_write_json
from icdbench.metrics import evaluate_settings, top_codes
from icdbench.metrics.codiesp import codiesp_task, official_keys
from icdbench.metrics.keys import METRICS
from icdbench.metrics.scores_file import load_scores_file
from icdbench.metrics.stats import HEADLINE, bootstrap_ci
from icdbench.paths import data_dir

CI_SEED = 0


def evaluate(request: EvaluateRequest) -> int:
    """Evaluate a scores file on the test part of a prepared split (full and top-50 settings)."""
    loaded = load_scores_file(request.scores)
    split = _load_split(request.split)
    label_set = split.code_list
    scores, threshold = _align(loaded, split, label_set)
    index = {code: i for i, code in enumerate(label_set)}
    sequences = [[c for c in dict.fromkeys(codes) if c in index] for codes in split.test["codes"].to_list()]
    targets = np.zeros(scores.shape, dtype=bool)
    for row, codes in enumerate(sequences):
        targets[row, [index[c] for c in codes]] = True
    outside = sum(len(set(codes)) for codes in split.test["codes"].to_list()) - int(targets.sum())
    if outside:
        _note(f"{outside} gold code assignments of the test part are outside the label set and are not scored")
    train_counts = split.codes["train_count"].to_numpy()
    top50 = top_codes(train_counts, label_set)
    shared = {"codes": label_set, "threshold": threshold}
    try:
        reports = evaluate_settings(
            scores, targets, top50_codes=top50, gold_sequences=sequences, train_counts=train_counts,
            ancestors=dict(zip(label_set, split.codes["ancestors"].to_list())), **shared,
        )  # fmt: skip
        intervals = bootstrap_ci(scores, targets, HEADLINE, top50_codes=top50, seed=CI_SEED, **shared)
    except ValueError as exc:
        raise UserError(f"cannot evaluate {request.scores} on {request.split}: {exc}") from exc
    if codiesp_task(split.name):  # the track's official MAP beside icdbench's keys
        reports["full"].update(official_keys(label_set, scores, split.test["codes"].to_list()))
    print(_table(reports, intervals["full"]))
    if request.out:
        result = {
            "split": split.name,
            "split_version": split.version,
            "scores_file": str(request.scores),
            "threshold": threshold if isinstance(threshold, float) else "per-code (from the scores file)",
            "metrics": reports,
            "ci": intervals,
        }
        atomic_write_json(Path(request.out), result)
        print(f"wrote {request.out}")
    return 0


def _note(message: str) -> None:
    print(f"icdbench: note: {message}", file=sys.stderr)


def _load_split(name: str):
    split_dir = data_dir() / name
    if not split_dir.is_dir():
        raise UserError(f"split {name!r} is not prepared under {data_dir()}; run `icdbench prepare {name}` first")
    return load_split(split_dir, columns=["doc_id", "codes"])


def _align(loaded, split, label_set: list[str]) -> tuple[np.ndarray, float | np.ndarray]:
    """The file's scores as ``[test documents, label set]`` float32 plus the threshold in label-set order."""
    test_ids = split.test["doc_id"].to_list()
    row_of = {doc: i for i, doc in enumerate(loaded.doc_ids)}
    missing = [doc for doc in test_ids if doc not in row_of]
    if missing:
        raise UserError(
            f"the scores file lacks {len(missing)} of the {len(test_ids)} test documents of {split.name} "
            f"(e.g. {missing[0]!r}); it must score every test document"
        )
    if len(loaded.doc_ids) > len(test_ids):
        _note(f"ignoring {len(loaded.doc_ids) - len(test_ids)} scored documents that are not in the test part")
    column_of = {code: j for j, code in enumerate(loaded.codes)}
    present = [i for i, code in enumerate(label_set) if code in column_of]
    if not present:
        raise UserError(
            f"none of the scores file's {len(loaded.codes)} codes is in {split.name}'s label set (file: "
            f"{loaded.codes[0]!r}, split: {label_set[0]!r}); write codes in the split's canonical form"
        )
    if len(present) < len(label_set):
        _note(f"{len(label_set) - len(present)} codes of the label set are not in the scores file and score 0")
    unused = len(loaded.codes) - len(present)
    if unused:
        _note(f"ignoring {unused} scored codes that are not in the label set")
    columns = [column_of[label_set[i]] for i in present]
    rows = np.array([row_of[doc] for doc in test_ids])
    scores = np.zeros((len(test_ids), len(label_set)), dtype=np.float32)
    scores[:, present] = loaded.scores[rows][:, columns]
    if loaded.threshold is None:
        return scores, 0.5
    if isinstance(loaded.threshold, float):
        return scores, loaded.threshold
    threshold = np.ones(len(label_set), dtype=np.float64)  # codes the file lacks score 0: never predicted
    threshold[present] = loaded.threshold[columns]
    return scores, threshold


def _format(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.0f}" if float(value).is_integer() and abs(value) > 1 else f"{value:.4f}"


def _table(reports: dict[str, dict[str, float]], intervals: dict) -> str:
    keys = [key for key in METRICS if key in reports["full"] or key in reports["top50"]]
    width = max(len(key) for key in keys)
    lines = [f"{'metric':<{width}}  {'full':>9}  {'95% CI (full)':>17}  {'top50':>9}"]
    lines.append("-" * len(lines[0]))
    for key in keys:
        ci = intervals.get(key)
        span = f"{ci['low']:.4f}-{ci['high']:.4f}" if ci else ""
        full, top = reports["full"].get(key), reports["top50"].get(key)
        lines.append(f"{key:<{width}}  {_format(full):>9}  {span:>17}  {_format(top):>9}")
    return "\n".join(lines)
