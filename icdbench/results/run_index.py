"""``RUNS_DIR/runs.csv``: one row per finished run, appended by every ``train``/``bench`` process.

It is the live list of what has been run; ``icdbench leaderboard`` aggregates the records themselves. Several
bench processes may finish at once, so the append goes through :func:`icdbench.results.locking.append_rows`
(lock + atomic rename): no row is lost and the file is never half-written.
"""

from __future__ import annotations

from pathlib import Path

from icdbench.paths import runs_dir
from icdbench.results.locking import append_rows
from icdbench.results.record import RunRecord

INDEX_FILE = "runs.csv"
INDEX_METRICS = ("micro_f1", "macro_f1", "macro_auc_pr", "p@8", "emr")
INDEX_FIELDS = (
    "split", "model", "profile", "seed", "fold", "run_id", "run_dir", "config_hash", "suite_version",
    *(f"full.{key}" for key in INDEX_METRICS), "wall_seconds",
)  # fmt: skip
INDEX_KEY = ("split", "model", "run_id")


def index_row(record: RunRecord, run_dir: Path, root: Path) -> dict:
    """The index row of one run record (``run_dir`` stored relative to ``root`` when inside it)."""
    run_dir = Path(run_dir)
    try:
        where = str(run_dir.resolve().relative_to(Path(root).resolve()))
    except ValueError:
        where = str(run_dir)
    return {
        "split": record.split,
        "model": record.model,
        "profile": record.profile,
        "seed": record.seed,
        "fold": record.fold,
        "run_id": record.run_id,
        "run_dir": where,
        "config_hash": (record.config_hash or "")[:12],
        "suite_version": record.suite_version,
        **{f"full.{key}": _number(record.metrics.full.get(key)) for key in INDEX_METRICS},
        "wall_seconds": _number(record.timing.wall_seconds, 1),
    }


def _number(value, digits: int = 6) -> str:
    return "" if value is None else f"{float(value):.{digits}f}"


def append_run(record: RunRecord, run_dir: Path, root: Path | None = None) -> Path:
    """Add (or replace) the row of a finished run in ``root/runs.csv`` (``root`` defaults to RUNS_DIR)."""
    root = Path(root) if root is not None else runs_dir()
    path = root / INDEX_FILE
    append_rows(path, [index_row(record, run_dir, root)], INDEX_FIELDS, key=INDEX_KEY)
    return path
