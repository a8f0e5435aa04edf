"""Where leaderboard records come from, and which ones the committed leaderboards must hold.

* committed: ``leaderboards/records/<split>/<model>/<profile>-seed<S>.json`` (or ``-fold<K>``), the run records
  of the committed leaderboards — JSON only, no scores or checkpoints, so the tables rebuild from the repo alone;
* the user's runs: ``RUNS_DIR/<split>/<model>/<run_id>/record.json`` (finished runs only).

A record this suite cannot read (another record schema, a corrupt file; :mod:`icdbench.results.record`) is
skipped with a warning when scanning folders, and refused with a one-line error where a user names the run
(:func:`icdbench.results.record.read_run`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from icdbench.errors import UserError
from icdbench.io import atomic_write_json
from icdbench.paths import REPO_ROOT
from icdbench.results.record import RECORD_FILE, RunRecord, read_record_file

RECORDS_SUBDIR = "records"


@dataclass(frozen=True)
class PlanEntry:
    """A committed leaderboard: every registered model but ``excluded`` on ``split`` at ``profile`` with ``seeds``."""

    split: str
    profile: str
    seeds: tuple[int, ...]
    excluded: tuple[str, ...] = ()  # the grid block's ``exclude`` (e.g. English-only encoders on Spanish text)


@dataclass(frozen=True)
class LoadedRecord:
    record: RunRecord
    path: Path  # the record file
    origin: str  # "committed" or "runs"

    @property
    def run_dir(self) -> Path:
        return self.path.parent

    @property
    def replicate(self) -> tuple[str, int]:
        return self.record.replicate


def leaderboards_dir() -> Path:
    """The committed leaderboards: ``$ICDBENCH_LEADERBOARDS`` or ``leaderboards/`` of the repository."""
    return Path(os.environ.get("ICDBENCH_LEADERBOARDS") or REPO_ROOT / "leaderboards")


# Config keys added after records were committed, with the value every older record ran with: a record that has
# the key at that value groups with one written before the key existed (num_nodes came with multi-node DDP; the
# other four with 0.3.0's train+val refits, warm-up steps and the plateau schedule's floor).
LATER_KEYS: dict[tuple[str, str], object] = {
    ("train", "num_nodes"): 1,
    ("data", "train_parts"): "train",
    ("train", "fixed_from"): None,
    ("optim", "warmup_steps"): None,
    ("optim", "plateau_min_lr"): 0.0,
    ("train", "max_steps"): None,
}


def settings_key(config: dict) -> str:
    """Hash of a resolved config (a plain dict) without its seed and without the later keys at their implied
    values: two runs with the same settings share it, whenever each was made (12 hex digits)."""
    config = {section: dict(values) if isinstance(values, dict) else values
              for section, values in config.items()}  # fmt: skip
    config.pop("seed", None)
    for (section, key), implied in LATER_KEYS.items():
        if isinstance(config.get(section), dict) and config[section].get(key, implied) == implied:
            config[section].pop(key, None)
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def config_key(record: RunRecord) -> str:
    """The record's :func:`settings_key`: the runs a leaderboard row may average share it."""
    return settings_key(record.config)


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


# Replicates of a row whose training hit the time budget (train.max_minutes) trained as many epochs as their
# machine allowed: they are averaged only if they trained within this factor of each other's speed.
TIMED_SPEED_FACTOR = 1.25


def _timed(record: RunRecord) -> bool:
    return record.convergence.budget_hit == "max_minutes"


def speed_mismatch(record: RunRecord, others: list[RunRecord]) -> tuple[RunRecord, float] | None:
    """The first of ``others`` with ``record``'s settings where one of the two hit the time budget and one trained
    more than :data:`TIMED_SPEED_FACTOR` times faster than the other (another processor, or a loaded machine), with
    ``record``'s speed as a fraction of its; None if there is none."""
    speed = record.timing.train_docs_per_s
    for other in others:
        other_speed = other.timing.train_docs_per_s
        if (speed and other_speed and (_timed(record) or _timed(other)) and config_key(other) == config_key(record)
                and abs(math.log(speed / other_speed)) > math.log(TIMED_SPEED_FACTOR)):  # fmt: skip
            return other, speed / other_speed
    return None


def committed_row(record: RunRecord, root: Path | None = None) -> list[RunRecord]:
    """The committed records of ``record``'s split, model and profile (every replicate, any settings)."""
    folder = committed_path(record.split, record.model, str(record.profile), record.seed, root).parent
    return [loaded.record for loaded in _scan(list(folder.glob("*.json")), "committed")] if folder.is_dir() else []


def time_budget_conflict(record: RunRecord, root: Path | None = None) -> str | None:
    """Why ``record`` cannot join its committed row, or None: see :func:`speed_mismatch` (their epoch counts, and
    numbers, would measure the machines). A committed record of the same replicate is not compared: it is the one
    ``record`` replaces."""
    others = [r for r in committed_row(record, root) if (r.seed, r.fold) != (record.seed, record.fold)]
    found = speed_mismatch(record, others)
    if found is None:
        return None
    other, ratio = found
    return (f"{record.model} seed {record.seed} on {record.split} trained at {ratio:.0%} of the speed of committed "
            f"seed {other.seed} ({record.timing.train_docs_per_s:.2f} against {other.timing.train_docs_per_s:.2f} "
            "documents/s) and one of them stopped at the time budget, so they trained different numbers of epochs; "
            "run it on a machine like that seed's, or give the model a step budget (train.max_steps)")


def commit_record(record: RunRecord, root: Path | None = None) -> Path:
    """Copy a finished run's record into the committed records (atomic; replaces an older one)."""
    base = Path(root) if root is not None else leaderboards_dir()
    name = committed_name(record.profile, record.seed, record.fold)
    return atomic_write_json(base / RECORDS_SUBDIR / record.split / record.model / name, record.to_dict())
