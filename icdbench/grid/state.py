"""What a grid already has: a run whose record exists (same settings, split content hash, seed and fold) is
skipped, an unfinished run folder of the same config with a checkpoint is resumed, and the last invocation's
outcome per run is kept for ``--retry-failed``. Settings compare as leaderboard rows group runs: a config key
added since a record was made, at the value the record ran with, is not a change.

Files under ``RUNS_DIR/grid/<grid>/``: ``status.json`` (run key -> status, command, log) and ``logs/<key>.log``
(each run's console output). ``RUNS_DIR/grid/locks/<key>.lock`` is held while a run trains, so two grids (or a
requeued SLURM job) never train the same run at once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from icdbench.config import resolve_config
from icdbench.errors import UserError
from icdbench.grid.spec import GridRun
from icdbench.io import atomic_write_json
from icdbench.models.registry import get_model
from icdbench.paths import data_dir, runs_dir
from icdbench.results.record import CONFIG_FILE, LAYERS_FILE, RECORD_FILE, RunRecord, read_record_file
from icdbench.results.sources import config_key, settings_key

GRID_DIR = "grid"
STATUS_FILE = "status.json"


@dataclass(frozen=True)
class Identity:
    """What a finished record must match for the run to count as done."""

    config_hash: str  # of the resolved config file: an unfinished run folder resumes only with the same bytes
    settings_key: str  # the config's settings (icdbench.results.sources.settings_key): a record must share them
    split_hash: str | None  # None while the split is not prepared: no record can match it yet


def identity(run: GridRun) -> Identity:
    from icdbench.datasets.prepared import fold_split_dir  # heavy: polars and numpy
    from icdbench.datasets.storage import read_manifest  # heavy: polars

    spec = get_model(run.model)
    resolved = resolve_config(spec, split=run.split, profile=run.profile, overrides=list(run.overrides), seed=run.seed)
    split_hash = None
    if read_manifest(data_dir() / run.split, missing_ok=True) is not None:
        folder = fold_split_dir(data_dir() / run.split, run.split, run.fold)
        split_hash = (read_manifest(folder, missing_ok=True) or {}).get("content_sha256")
    settings = settings_key(OmegaConf.to_container(resolved.cfg))  # as the record keeps it
    return Identity(resolved.hash, settings, split_hash)


def matches(record: RunRecord, run: GridRun, ident: Identity) -> bool:
    return (config_key(record) == ident.settings_key and ident.split_hash is not None
            and record.split_hashes.content_sha256 == ident.split_hash
            and record.seed == run.seed and record.fold == run.fold and record.profile == run.profile)  # fmt: skip


def _run_folders(run: GridRun, root: Path | None) -> list[Path]:
    parent = (Path(root) if root is not None else runs_dir()) / run.split / run.model
    return sorted(p for p in parent.iterdir() if p.is_dir()) if parent.is_dir() else []


def find_record(run: GridRun, ident: Identity, root: Path | None = None) -> tuple[RunRecord, Path] | None:
    """The newest finished record of ``run`` under RUNS_DIR, with its run folder (an unreadable one counts as none)."""
    for folder in reversed(_run_folders(run, root)):
        path = folder / RECORD_FILE
        if not path.is_file():
            continue
        try:
            record = read_record_file(path)
        except (OSError, UserError):
            continue
        if matches(record, run, ident):
            return record, folder
    return None


def find_resumable(run: GridRun, ident: Identity, root: Path | None = None) -> Path | None:
    """The newest unfinished run folder of ``run`` (same resolved config, same fold) that has a last checkpoint."""
    from icdbench.training.trainer import CHECKPOINT_DIR, LAST_CKPT  # heavy: Lightning

    for folder in reversed(_run_folders(run, root)):
        config, last = folder / CONFIG_FILE, folder / CHECKPOINT_DIR / LAST_CKPT
        if (folder / RECORD_FILE).exists() or not config.is_file() or not last.is_file():
            continue
        if hashlib.sha256(config.read_bytes()).hexdigest() != ident.config_hash:
            continue
        layers = OmegaConf.load(folder / LAYERS_FILE) if (folder / LAYERS_FILE).is_file() else {}
        if layers.get("fold") == run.fold and layers.get("profile") == run.profile:
            return folder
    return None


def grid_dir(name: str) -> Path:
    return runs_dir() / GRID_DIR / name


def log_path(name: str, run: GridRun) -> Path:
    return grid_dir(name) / "logs" / f"{run.key}.log"


def lock_file(run: GridRun) -> Path:
    return runs_dir() / GRID_DIR / "locks" / f"{run.key}.lock"


def read_status(name: str) -> dict[str, dict]:
    path = grid_dir(name) / STATUS_FILE
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def write_status(name: str, entries: dict[str, dict]) -> Path:
    """Merge this invocation's outcomes into the grid's status file (runs not attempted keep their entry)."""
    merged = {**read_status(name), **entries}
    return atomic_write_json(grid_dir(name) / STATUS_FILE, merged)
