"""Run records: ``RUNS_DIR/<split>/<model>/<run_id>/record.json`` and the files beside it.

A run folder holds ``config.yaml`` (the resolved config), ``config_layers.yaml`` (every layer in resolution
order), ``record.json`` (provenance, metrics with confidence intervals, threshold, timing, memory, sizes),
``scores.npz`` (test scores, the metrics package's format), ``threshold.json``, ``codes.parquet`` (the label
set with titles), ``model.pt`` (the evaluated weights, a plain state dict) and, for word models,
``vocab.txt``. Every file is written to a temporary name and renamed, so a crash never leaves a
half-written file. No note text is written.
"""

from __future__ import annotations

import json
from pathlib import Path

from icdbench.errors import UserError
from icdbench.io import atomic_write_json, jsonable

RECORD_FILE = "record.json"
CONFIG_FILE = "config.yaml"
LAYERS_FILE = "config_layers.yaml"
SCORES_FILE = "scores.npz"
THRESHOLD_FILE = "threshold.json"
RECORD_SCHEMA = 1


def write_record(run_dir: Path, record: dict) -> dict:
    """Write ``record.json``; returns the record as written (plain JSON values, NaN as None)."""
    written = jsonable({"schema": RECORD_SCHEMA, **record})
    atomic_write_json(Path(run_dir) / RECORD_FILE, written)
    return written


def read_record(run_dir: Path) -> dict:
    path = Path(run_dir) / RECORD_FILE
    if not path.is_file():
        raise UserError(f"{run_dir} has no {RECORD_FILE}; is it a finished run folder?")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is corrupt ({exc.msg})") from None
