"""What each command asks for, as typed requests: ``icdbench.cli`` builds them from the command line, tests and
scripts build them directly. Nothing here imports the rest of the suite, so the CLI starts fast."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from icdbench.errors import UserError


@dataclass(frozen=True)
class ListRequest:
    what: Literal["splits", "models", "metrics"]
    fidelity: bool = False  # models: each one's paper, reference and departures


@dataclass(frozen=True)
class PrepareRequest:
    split: str
    out: Path | None = None  # default: DATA_DIR/SPLIT
    force: bool = False
    source: Path | None = None
    split_ids: Path | None = None
    evidence: Path | None = None
    seed: int = 0
    folds: int | None = None


@dataclass(frozen=True)
class EvaluateRequest:
    scores: Path
    split: str
    out: Path | None = None


@dataclass(frozen=True)
class ConfigRequest:
    model: str
    split: str
    profile: str = "cpu"
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainRequest:
    model: str
    split: str
    profile: str = "cpu"
    seed: int = 0
    overrides: tuple[str, ...] = ()
    source: Path | None = None
    resume: Path | None = None  # a run folder to continue from its last checkpoint
    command: str = ""  # the command line, recorded


@dataclass(frozen=True)
class BenchRequest:
    model: str
    split: str
    profile: str = "cpu"
    seeds: tuple[int, ...] = (0,)
    folds: str | None = None  # cross-validated splits: the first K folds (also accepted as a folds=K override)
    overrides: tuple[str, ...] = ()
    source: Path | None = None
    command: str = ""


@dataclass(frozen=True)
class PredictRequest:
    run_dir: Path
    text: Path  # a text file (one document)
    top: int = 15


@dataclass(frozen=True)
class ExplainRequest:
    run_dir: Path
    doc: str  # doc_id in the split's test part
    method: Literal["attention", "lime"] = "attention"


@dataclass(frozen=True)
class ExportRequest:
    run_dir: Path
    format: str  # codiesp-d, codiesp-p or codiesp-x
    part: str = "test"
    out: Path | None = None


@dataclass(frozen=True)
class LeaderboardRequest:
    splits: tuple[str, ...] = ()
    run: bool = False  # run whatever committed record is missing first
    converged_only: bool = False


@dataclass(frozen=True)
class CompareRequest:
    run_a: Path
    run_b: Path


@dataclass(frozen=True)
class RegressRequest:
    update: bool = False  # rewrite leaderboards/ci.csv
    only: frozenset[str] | None = None  # with update: run just these jobs, keep the other jobs' ci.csv rows


@dataclass(frozen=True)
class GridRequest:
    grid: str  # a grid name (settings/grids/NAME.yaml) or a path to a grid file
    launcher: Literal["local", "ray", "slurm"] = "local"
    dry_run: bool = False
    retry_failed: bool = False
    cpus: int | None = None
    address: str | None = None  # ray
    partition: str | None = None  # slurm
    account: str | None = None  # slurm
    slurm_cluster: Literal["slurm", "local"] = "slurm"


def parse_seeds(text: str) -> tuple[int, ...]:
    """``--seeds 0,1,2`` as distinct integers."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds must be comma-separated integers (e.g. 0,1,2), got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds must list distinct integers, got {text!r}")
    return tuple(seeds)
