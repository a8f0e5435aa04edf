"""A grid file (``icdbench/settings/grids/<name>.yaml``) and its expansion into runs.

::

    store: runs            # runs (default): records stay under RUNS_DIR; committed: also into leaderboards/records
    threads: 1             # torch threads per run (default: the run's cpus; one: numbers independent of the cores)
    resources: {cpus: 1, gpus: 0, mem_gb: 8, time_min: 60}   # per run; a block may override any of them
    slurm: {partition: gpu, account: lab}                     # sbatch settings; flags override them
    runs:                  # blocks; each is the product of its lists
      - models: all        # or a list of registered names
        exclude: [plm-icd]   # with models: all, every registered model but these
        splits: [synth-icd10]
        profiles: [cpu]
        seeds: [0, 1, 2]
        folds: all         # cross-validated splits only: all prepared folds, or the first K
        overrides: [optim.lr=1e-3]
        source: path/to/raw/files   # for splits that need one (relative to the grid file)
        # or ${CORPUS_DIR:-../default/path}: an environment variable, with a fallback used where it is unset

Only this module's :func:`load_grid` reads the file; expanding it (:meth:`Grid.runs`) needs the model registry
and, for fold blocks, the prepared split.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import yaml

from icdbench.config import resolve_config
from icdbench.datasets.registry import get_split
from icdbench.errors import UserError
from icdbench.grid.process import Ticket
from icdbench.models.registry import all_models, get_model
from icdbench.paths import settings_dir

STORES = ("runs", "committed")
TOP_KEYS = ("description", "store", "threads", "resources", "slurm", "runs")
BLOCK_KEYS = ("models", "exclude", "splits", "profiles", "seeds", "folds", "overrides", "resources", "source")
SLURM_KEYS = ("partition", "account", "qos", "constraint", "array_parallelism", "extra")


@dataclass(frozen=True)
class Resources:
    """What one run needs: CPU cores, GPUs, memory (GB) and a time limit (minutes, for SLURM)."""

    cpus: int = 1
    gpus: int = 0
    mem_gb: float | None = None
    time_min: int | None = None


@dataclass(frozen=True)
class GridRun:
    """One run of a grid: what ``icdbench bench MODEL SPLIT --profile P --seeds S [overrides]`` runs."""

    model: str
    split: str
    profile: str
    seed: int
    fold: int | None = None
    overrides: tuple[str, ...] = ()
    resources: Resources = field(default_factory=Resources)
    threads: int = 1
    source: str | None = None

    @property
    def key(self) -> str:
        """A name unique within a grid, safe as a file name."""
        base = f"{self.split}.{self.model}.{self.profile}-seed{self.seed}" + (
            "" if self.fold is None else f"-fold{self.fold}")  # fmt: skip
        if self.overrides:
            base += "-" + hashlib.sha256("\n".join(self.overrides).encode()).hexdigest()[:8]
        return base

    @property
    def command(self) -> str:
        """The single-run command that reproduces it (a fold run: ``bench`` over the split's folds)."""
        parts = ["icdbench", "bench", self.model, self.split, "--profile", self.profile, "--seeds", str(self.seed)]
        if self.source:
            parts += ["--source", self.source]
        return " ".join([*parts, *self.overrides])

    def train_config(self):
        """The ``train`` section of the run's resolved config (its devices, nodes and accelerator)."""
        spec = get_model(self.model)
        return resolve_config(spec, split=self.split, profile=self.profile, overrides=list(self.overrides),
                              seed=self.seed).cfg.train  # fmt: skip

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def ticket(self) -> Ticket:
        """What a launcher needs to start this run's worker process."""
        return Ticket(self.key, self.command, self.threads, self.to_json())

    @classmethod
    def from_json(cls, text: str) -> GridRun:
        data = json.loads(text)
        data["resources"] = Resources(**data["resources"])
        data["overrides"] = tuple(data["overrides"])
        return cls(**data)


@dataclass(frozen=True)
class Block:
    models: tuple[str, ...] | None  # None: every registered model
    splits: tuple[str, ...]
    profiles: tuple[str, ...]
    seeds: tuple[int, ...]
    folds: int | str | None  # "all", the first K, or None (plain splits)
    overrides: tuple[str, ...]
    resources: Resources
    source: str | None
    exclude: tuple[str, ...] = ()  # with models None: registered models left out of this block


@dataclass(frozen=True)
class Grid:
    name: str
    path: Path
    store: str
    threads: int | None  # None: each run uses as many torch threads as it reserves CPUs
    blocks: tuple[Block, ...]
    slurm: dict

    def runs(self, registered: list[str] | None = None) -> list[GridRun]:
        """Every run of the grid, in file order, without duplicates."""
        registered = list(all_models()) if registered is None else registered
        out: dict[str, GridRun] = {}
        for block in self.blocks:
            models = registered if block.models is None else [get_model(m).name for m in block.models]
            excluded = {get_model(m).name for m in block.exclude}  # unknown name -> one line with the closest names
            models = [m for m in models if m not in excluded]
            for split in block.splits:
                get_split(split)  # unknown split -> one line with the closest names
                for fold in self._folds(block, split):
                    for profile in block.profiles:
                        for model in models:
                            for seed in block.seeds:
                                run = GridRun(model, split, profile, seed, fold, block.overrides, block.resources,
                                              self.threads or block.resources.cpus, block.source)  # fmt: skip
                                out.setdefault(run.key, run)
        return list(out.values())

    def _folds(self, block: Block, split: str) -> list[int | None]:
        from icdbench.datasets.prepared import fold_plan  # heavy: polars and numpy, for fold blocks only

        asked = None if block.folds in (None, "all") else int(block.folds)
        source = Path(block.source) if block.source else None
        folds = fold_plan(split, asked, source, f"icdbench prepare {split}")
        return [None] if folds is None else list(folds)


def grids_dir() -> Path:
    return settings_dir() / "grids"


def grid_path(name_or_path: str | Path) -> Path:
    """A grid by name (``settings/grids/<name>.yaml``) or by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise UserError(f"grid file {path} does not exist")
        return path
    named = grids_dir() / f"{name_or_path}.yaml"
    if not named.is_file():
        available = sorted(p.stem for p in grids_dir().glob("*.yaml"))
        raise UserError(f"unknown grid {name_or_path!r}; available: {', '.join(available) or 'none'} (or a path to "
                        "a .yaml file)")  # fmt: skip
    return named


def _list(value, what: str, path: Path, cast=str) -> tuple:
    values = value if isinstance(value, list) else [value]
    try:
        out = tuple(cast(v) for v in values)
    except (TypeError, ValueError):
        raise UserError(f"{path}: {what} must be a list of {cast.__name__} values, got {value!r}") from None
    if not out:
        raise UserError(f"{path}: {what} is empty")
    return out


def _resources(value, base: Resources, path: Path) -> Resources:
    if value is None:
        return base
    if not isinstance(value, dict):
        raise UserError(f"{path}: resources must be a mapping (cpus, gpus, mem_gb, time_min), got {value!r}")
    allowed = set(Resources.__dataclass_fields__)
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise UserError(f"{path}: unknown resources {unknown}; allowed: {', '.join(sorted(allowed))}")
    merged = replace(base, **value)
    if merged.cpus < 1 or merged.gpus < 0:
        raise UserError(f"{path}: resources need cpus >= 1 and gpus >= 0, got {value!r}")
    return merged


def _block(raw, resources: Resources, path: Path, index: int) -> Block:
    where = f"runs[{index}]"
    if not isinstance(raw, dict):
        raise UserError(f"{path}: {where} must be a mapping with models, splits, profiles and seeds")
    unknown = sorted(set(raw) - set(BLOCK_KEYS))
    missing = [key for key in ("models", "splits", "profiles", "seeds") if key not in raw]
    if unknown or missing:
        raise UserError(f"{path}: {where} has unknown keys {unknown} or lacks {missing}; keys: {', '.join(BLOCK_KEYS)}")
    models = None if raw["models"] == "all" else _list(raw["models"], f"{where}.models", path)
    exclude = _list(raw["exclude"], f"{where}.exclude", path) if raw.get("exclude") else ()
    if exclude and models is not None:
        raise UserError(f"{path}: {where}.exclude goes with models: all (list the models instead)")
    folds = raw.get("folds")
    if folds is not None and folds != "all" and not (isinstance(folds, int) and folds > 0):
        raise UserError(f"{path}: {where}.folds must be all or a positive integer, got {folds!r}")
    overrides = _list(raw["overrides"], f"{where}.overrides", path) if raw.get("overrides") else ()
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise UserError(f"{path}: {where}.overrides must be key=value, got {bad}")
    source = raw.get("source")
    if source is not None:
        source = str((path.parent / _expand(str(source), f"{path}: {where}.source")).expanduser().resolve())
    return Block(models, _list(raw["splits"], f"{where}.splits", path),
                 _list(raw["profiles"], f"{where}.profiles", path), _list(raw["seeds"], f"{where}.seeds", path, int),
                 folds, overrides,
                 _resources(raw.get("resources"), resources, path), source, exclude)  # fmt: skip


# ${NAME} or ${NAME:-fallback}, as in a shell
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<fallback>[^}]*))?\}")


def _expand(value: str, where: str) -> str:
    """``value`` with each ``${NAME}`` / ``${NAME:-fallback}`` replaced by the environment's value (a packaged grid
    cannot know where a corpus lies, so its source names a variable; the fallback serves a repository checkout)."""

    def replace_one(match: re.Match) -> str:
        name, fallback = match["name"], match["fallback"]
        if os.environ.get(name):
            return os.environ[name]
        if fallback is None:
            raise UserError(f"{where} names ${{{name}}}, which is not set; export {name}=PATH and run again")
        return fallback

    return _VARIABLE.sub(replace_one, value)


def load_grid(name_or_path: str | Path) -> Grid:
    """Read and check a grid file; every problem is one line naming the file and the key."""
    path = grid_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list) or not data["runs"]:
        raise UserError(f"{path}: a grid file is a mapping with a non-empty runs: list")
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise UserError(f"{path}: unknown keys {unknown}; allowed: {', '.join(TOP_KEYS)}")
    store = data.get("store", "runs")
    if store not in STORES:
        raise UserError(f"{path}: store must be one of {', '.join(STORES)}, got {store!r}")
    threads = data.get("threads")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise UserError(f"{path}: threads must be a positive integer, got {threads!r}")
    slurm = data.get("slurm") or {}
    if not isinstance(slurm, dict) or set(slurm) - set(SLURM_KEYS):
        raise UserError(f"{path}: slurm must be a mapping with keys among {', '.join(SLURM_KEYS)}")
    resources = _resources(data.get("resources"), Resources(), path)
    blocks = tuple(_block(raw, resources, path, i) for i, raw in enumerate(data["runs"]))
    return Grid(path.stem, path, store, threads, blocks, dict(slurm))
