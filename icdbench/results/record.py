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
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

RECORD_FILE = "record.json"
CONFIG_FILE = "config.yaml"
LAYERS_FILE = "config_layers.yaml"
SCORES_FILE = "scores.npz"
THRESHOLD_FILE = "threshold.json"
RECORD_SCHEMA = 1


def atomic_write(path: Path, write: Callable[[Any], None], *, binary: bool = False) -> Path:
    """Call ``write(handle)`` on a temporary file next to ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
    try:
        with os.fdopen(fd, "wb" if binary else "w") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda handle: handle.write(text))


def atomic_torch_save(obj: Any, path: Path) -> Path:
    return atomic_write(path, lambda handle: torch.save(obj, handle), binary=True)


def jsonable(value: Any) -> Any:
    """Plain JSON types; NaN/inf become null (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, torch.Tensor):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: dict) -> Path:
    return atomic_write_text(path, json.dumps(jsonable(data), indent=2, sort_keys=False) + "\n")


def write_record(run_dir: Path, record: dict) -> dict:
    """Write ``record.json``; returns the record as written (plain JSON values, NaN as None)."""
    written = jsonable({"schema": RECORD_SCHEMA, **record})
    write_json(Path(run_dir) / RECORD_FILE, written)
    return written


def read_record(run_dir: Path) -> dict:
    from icdbench.errors import UserError

    path = Path(run_dir) / RECORD_FILE
    if not path.is_file():
        raise UserError(f"{run_dir} has no {RECORD_FILE}; is it a finished run folder?")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is corrupt ({exc.msg})") from None
