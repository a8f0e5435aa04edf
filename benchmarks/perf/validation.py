"""What a validation epoch's metrics cost: the monitored keys only (what ``CodingModule`` computes every epoch,
``icdbench.training.monitor``) against every key of ``icdbench.metrics.evaluate`` (what it computed before issue
18), on the validation part of a prepared split, beside the epoch time of a run on that split.

Scores: each code's train prevalence plus noise (a model-like ranking; the cost of these metrics depends on the
shape and the gold cells, not on how good the scores are). The epoch time is the median training seconds per
epoch (train documents over train documents per second) of the records given with ``--records`` (e.g. the
committed ones), so the saving reads as a share of an epoch.

    python benchmarks/perf/validation.py [--split synth-icd10] [--repeat 5] [--records leaderboards/records]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from icdbench.config import MONITORED
from icdbench.datasets.prepared import ensure_split
from icdbench.datasets.storage import load_split
from icdbench.io import format_table
from icdbench.metrics import evaluate


def validation_set(split: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``scores [N, C]`` float32 and ``targets [N, C]`` bool of the split's validation part."""
    data = load_split(ensure_split(split), columns=["doc_id", "codes"])
    index = {code: i for i, code in enumerate(data.code_list)}

    def multi_hot(frame) -> np.ndarray:
        out = np.zeros((frame.height, len(index)), dtype=bool)
        for row, codes in enumerate(frame["codes"].to_list()):
            out[row, [index[c] for c in codes if c in index]] = True
        return out

    prevalence = multi_hot(data.train).mean(0)
    targets = multi_hot(data.val)
    rng = np.random.default_rng(seed)
    logits = np.log(prevalence + 1e-4)[None] + rng.normal(0, 1, targets.shape) + 2.0 * targets
    return (1 / (1 + np.exp(-logits))).astype(np.float32), targets


def seconds(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def epoch_seconds(records: Path | None, split: str) -> dict[str, float]:
    """Median training seconds per epoch of each neural model's records on ``split``."""
    out: dict[str, list[float]] = {}
    for path in sorted(records.glob(f"{split}/*/*.json")) if records else []:
        record = json.loads(path.read_text())
        rate, docs = record.get("timing", {}).get("train_docs_per_s"), record.get("n_train_docs")
        if rate and docs and record.get("epochs_run"):
            out.setdefault(record["model"], []).append(docs / rate)
    return {model: statistics.median(values) for model, values in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="synth-icd10")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--records", type=Path)
    args = parser.parse_args(argv)
    scores, targets = validation_set(args.split, seed=0)
    monitored = seconds(lambda: evaluate(scores, targets, threshold=0.5, keys=MONITORED), args.repeat)
    every = seconds(lambda: evaluate(scores, targets, threshold=0.5), args.repeat)
    print(f"{args.split} validation: {targets.shape[0]} documents x {targets.shape[1]} codes, "
          f"{int(targets.sum())} gold cells; torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}, "
          f"median of {args.repeat}")  # fmt: skip
    rows = [["monitored keys", ", ".join(MONITORED), f"{monitored:.3f}"], ["every key", "all", f"{every:.3f}"]]
    print(format_table(["validation metrics", "keys", "seconds"], rows, numeric={2}))
    print(f"saving per validation epoch: {every - monitored:.3f} s ({every / monitored:.1f}x)")
    per_epoch = epoch_seconds(args.records, args.split)
    if per_epoch:
        rows = [[model, f"{epoch:.1f}", f"{100 * (every - monitored) / epoch:.1f}%"]
                for model, epoch in sorted(per_epoch.items(), key=lambda item: item[1])]  # fmt: skip
        print(format_table(["model", "train s / epoch", "saving / epoch"], rows, numeric={1, 2}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
