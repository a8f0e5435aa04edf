"""Where leaderboard records come from, and which ones the committed leaderboards must hold.

* committed: ``leaderboards/records/<split>/<model>/<profile>-seed<S>.json`` (or ``-fold<K>``), the run records
  of the committed leaderboards — JSON only, no scores or checkpoints, so the tables rebuild from the repo alone;
* the user's runs: ``RUNS_DIR/<split>/<model>/<run_id>/record.json`` (finished runs only).

A record written by an incompatible suite version (another record schema) is skipped with a warning when
scanning folders, and refused with a one-line error where a user names the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from icdbench.errors import UserError
from icdbench.io import atomic_write_json
from icdbench.paths import REPO_ROOT
from icdbench.results.record import RECORD_FILE, RECORD_SCHEMA

RECORDS_SUBDIR = "records"
REQUIRED = ("model", "split", "profile", "seed", "metrics", "run_id")


@dataclass(frozen=True)
class PlanEntry:
    """A committed leaderboard: every registered model but ``excluded`` on ``split`` at ``profile`` with ``seeds``."""

    split: str
    profile: str
    seeds: tuple[int, ...]
    excluded: tuple[str, ...] = ()  # the grid block's ``exclude`` (e.g. English-only encoders on Spanish text)


@dataclass(frozen=True)
class LoadedRecord:
    record: dict
    path: Path  # the record file
    origin: str  # "committed" or "runs"

    @property
    def run_dir(self) -> Path:
        return self.path.parent

    @property
    def replicate(self) -> tuple[str, int]:
        """What distinguishes the runs that one row averages: the fold (cross-validation) or the seed."""
        fold = self.record.get("fold")
        return ("fold", int(fold)) if fold is not None else ("seed", int(self.record["seed"]))


def leaderboards_dir() -> Path:
    """The committed leaderboards: ``$ICDBENCH_LEADERBOARDS`` or ``leaderboards/`` of the repository."""
    return Path(os.environ.get("ICDBENCH_LEADERBOARDS") or REPO_ROOT / "leaderboards")


# Config keys added after records were committed, with the value every older record ran with: a record that has
# the key at that value groups with one written before the key existed.
LATER_KEYS: dict[tuple[str, str], object] = {("train", "num_nodes"): 1}


def config_key(record: dict) -> str:
    """Hash of the resolved config without its seed: the runs a row may average share it (12 hex digits)."""
    config = {section: dict(values) if isinstance(values, dict) else values
              for section, values in (record.get("config") or {}).items()}  # fmt: skip
    config.pop("seed", None)
    for (section, key), implied in LATER_KEYS.items():
        if isinstance(config.get(section), dict) and config[section].get(key, implied) == implied:
            config[section].pop(key, None)
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


class IncompatibleRecord(UserError):
    pass


def check_record(record: dict, path: Path) -> dict:
    """The record if this suite can read it; a one-line ``UserError`` otherwise."""
    if not isinstance(record, dict):
        raise UserError(f"{path} is not a run record (expected a JSON object)")
    schema = record.get("schema")
    if schema != RECORD_SCHEMA:
        raise IncompatibleRecord(
            f"{path} was written by an incompatible icdbench version (record schema {schema}, this suite reads "
            f"{RECORD_SCHEMA}); re-run it with this version or use the version that wrote it"
        )
    missing = [key for key in REQUIRED if key not in record]
    if missing or "full" not in (record.get("metrics") or {}):
        raise UserError(f"{path} is not a complete run record (missing {', '.join(missing) or 'metrics.full'})")
    return record


def read_record_file(path: Path) -> dict:
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is corrupt ({getattr(exc, 'msg', exc)}); delete it or re-run the run") from None
    return check_record(record, path)


def read_run(run_dir: Path) -> dict:
    """The record of a run folder a user named (``compare``): refused if missing, corrupt or incompatible."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist")
    if not (run_dir / RECORD_FILE).is_file():
        raise UserError(f"{run_dir} has no {RECORD_FILE}; is it a finished run folder?")
    return read_record_file(run_dir / RECORD_FILE)


def _scan(paths: list[Path], origin: str) -> list[LoadedRecord]:
    out = []
    for path in sorted(paths):
        try:
            out.append(LoadedRecord(read_record_file(path), path, origin))
        except UserError as exc:
            print(f"icdbench: warning: skipping {exc}", file=sys.stderr)
    return out


def committed_records(root: Path | None = None) -> list[LoadedRecord]:
    folder = (Path(root) if root is not None else leaderboards_dir()) / RECORDS_SUBDIR
    return _scan(list(folder.glob("*/*/*.json")), "committed") if folder.is_dir() else []


def run_records(root: Path) -> list[LoadedRecord]:
    """Finished runs under a RUNS_DIR (``<split>/<model>/<run_id>/record.json``)."""
    root = Path(root)
    return _scan(list(root.glob(f"*/*/*/{RECORD_FILE}")), "runs") if root.is_dir() else []


def committed_name(profile: str, seed: int, fold: int | None = None) -> str:
    return f"{profile}-fold{fold}.json" if fold is not None else f"{profile}-seed{seed}.json"


def committed_path(split: str, model: str, profile: str, seed: int, root: Path | None = None) -> Path:
    base = Path(root) if root is not None else leaderboards_dir()
    return base / RECORDS_SUBDIR / split / model / committed_name(profile, seed)


def commit_record(record: dict, root: Path | None = None) -> Path:
    """Copy a finished run's record into the committed records (atomic; replaces an older one)."""
    base = Path(root) if root is not None else leaderboards_dir()
    name = committed_name(record["profile"], record["seed"], record.get("fold"))
    return atomic_write_json(base / RECORDS_SUBDIR / record["split"] / record["model"] / name, record)
