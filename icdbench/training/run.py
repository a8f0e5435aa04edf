"""One run end to end: prepare the split if needed → resolve the config → train (the model's runner) → tune
the threshold on validation → evaluate the test set in the full and top-50 settings → write the run folder.

Under DDP (``train.strategy=ddp``, started by Lightning, torchrun or srun) every rank runs this function; rank 0
creates the run folder and shares its id with the others (:mod:`icdbench.training.ranks`), and only rank 0
writes files.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytorch_lightning as pl
from omegaconf import OmegaConf
from pytorch_lightning.utilities.exceptions import SIGTERMException

from icdbench.config import ConfigLayer, ResolvedConfig, load_run_config, merge_layer, resolve_config
from icdbench.datasets.prepared import ensure_split, fold_split_dir
from icdbench.datasets.storage import load_split, read_manifest
from icdbench.errors import Terminated, UserError
from icdbench.io import atomic_write_text
from icdbench.models.encoders import resolve_encoder
from icdbench.models.registry import ModelSpec, get_model
from icdbench.paths import runs_dir
from icdbench.results.record import CONFIG_FILE, LAYERS_FILE, RECORD_FILE, RunRecord
from icdbench.results.run_index import append_run
from icdbench.training.evaluation import finish_run, stop_note
from icdbench.training.job import RunJob, ScoredRun
from icdbench.training.official import fixed_choices, with_val_in_train
from icdbench.training.ranks import forget, leave_process_group, process_rank, share
from icdbench.training.runners import runner_of
from icdbench.training.selection import monitor_warning
from icdbench.training.stopping import StopOnSigterm
from icdbench.training.trainer import CHECKPOINT_DIR, LAST_CKPT
from icdbench.training.weights import read_weights

RUN_ID = "run_id"  # the value DDP ranks take from rank 0 (ICDBENCH_RUN_ID for ranks Lightning starts)


@dataclass
class RunRequest:
    model: str
    split: str
    profile: str = "cpu"
    seed: int | None = None
    overrides: list[str] = field(default_factory=list)
    source: Path | None = None
    resume: Path | None = None  # a run folder to continue from its last checkpoint
    fold: int | None = None  # the fold of a cross-validated split (cmc2007); None for a plain split
    callbacks: list = field(default_factory=list)  # extra Lightning callbacks (tests)
    command: str = ""  # the command line, recorded


@dataclass
class RunResult:
    run_dir: Path
    record: RunRecord | None  # None on DDP ranks other than 0




def new_run_dir(split: str, model: str, seed: int, profile: str, fold: int | None = None) -> tuple[Path, str]:
    """A fresh run folder (made by DDP rank 0 alone)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{profile}-seed{seed}" + ("" if fold is None else f"-fold{fold}")
    parent = runs_dir() / split / model
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        run_id = base if attempt == 0 else f"{base}-{attempt}"
        try:
            (parent / run_id).mkdir()
            return parent / run_id, run_id
        except FileExistsError:
            continue
    raise UserError(f"cannot create a new run folder under {parent}")


def _resumable_checkpoint(run_dir: Path) -> Path:
    """The last checkpoint of an unfinished run folder, checked to be readable (a truncated checkpoint is one
    line here, not a traceback after the data is set up)."""
    if (run_dir / RECORD_FILE).exists():
        raise UserError(f"{run_dir} is a finished run (it has {RECORD_FILE}); nothing to resume")
    last = run_dir / CHECKPOINT_DIR / LAST_CKPT
    if not (run_dir / CONFIG_FILE).is_file() or not last.is_file():
        raise UserError(f"{run_dir} has no {CONFIG_FILE} and {CHECKPOINT_DIR}/{LAST_CKPT} to resume from")
    read_weights(last, mmap=True)
    return last


def _resume_config(spec: ModelSpec, run_dir: Path) -> tuple[ResolvedConfig, str, int | None]:
    """The saved config of an unfinished run, its profile and its fold (cross-validated splits)."""
    cfg = load_run_config(run_dir / CONFIG_FILE, spec)
    saved = OmegaConf.load(run_dir / LAYERS_FILE) if (run_dir / LAYERS_FILE).is_file() else {}
    layers = (
        [ConfigLayer(**layer) for layer in OmegaConf.to_container(saved).get("layers", [])] if saved else []
    )
    layers.append(ConfigLayer(f"resumed from {run_dir / CONFIG_FILE}", {}))
    fold = saved.get("fold") if saved else None
    return ResolvedConfig(cfg=cfg, layers=layers), str(saved.get("profile", "?")) if saved else "?", fold


def train(request: RunRequest) -> RunResult:
    """Train, evaluate and record one run; returns its folder and record. SIGTERM at any point before the
    record is written raises ``Terminated`` (exit 143) and records nothing."""
    with StopOnSigterm() as sigterm:
        try:
            return _train(request, sigterm)
        except (SIGTERMException, Terminated):  # Lightning's SIGTERMException would end the process with code 0
            raise _stopped(request, sigterm.run_dir) from None


def _stopped(request: RunRequest, run_dir: Path | None) -> Terminated:
    name = get_model(request.model).name
    if run_dir is not None and (run_dir / CHECKPOINT_DIR / LAST_CKPT).is_file():
        return Terminated(f"{name} on {request.split} was stopped by SIGTERM; its checkpoint is kept: "
                          f"icdbench train {name} {request.split} --resume {run_dir}")  # fmt: skip
    return Terminated(f"{name} on {request.split} was stopped by SIGTERM before it had a checkpoint; nothing was "
                      "recorded: run the same command again")  # fmt: skip


def _train(request: RunRequest, sigterm: StopOnSigterm) -> RunResult:
    spec = get_model(request.model)
    resume_from = None
    if request.resume is not None:
        if request.overrides or request.seed is not None:
            raise UserError("--resume continues a run with its saved config; drop the overrides and --seed")
        run_dir = Path(request.resume)
        resume_from = _resumable_checkpoint(run_dir)  # the folder's own defects first
        if run_dir.parent.name != spec.name or run_dir.parent.parent.name != request.split:
            raise UserError(f"{run_dir} is not a run of {spec.name} on {request.split} (RUNS_DIR/SPLIT/MODEL/RUN_ID)")
        resolved, profile, fold = _resume_config(spec, run_dir)
        run_id = run_dir.name
    else:
        profile, fold = request.profile, request.fold
        resolved = resolve_config(
            spec, split=request.split, profile=profile, overrides=request.overrides, seed=request.seed
        )
    cfg = resolved.cfg
    if spec.trainer == "sklearn" and cfg.train.devices > 1:
        raise UserError(f"{spec.name} is a scikit-learn model; it runs in one process (set train.devices=1)")
    if "encoder" in cfg.model:  # a missing encoder is one line before anything is written
        resolve_encoder(cfg.model.encoder)
    split_dir = fold_split_dir(ensure_split(request.split, request.source, request.command), request.split, fold)
    fixed = fixed_choices(spec, request.split, read_manifest(split_dir), cfg)
    if fixed is not None and fixed.layer_values() and resume_from is None:
        layer = ConfigLayer(f"train.fixed_from {fixed.run_id}", fixed.layer_values())
        resolved = ResolvedConfig(cfg=merge_layer(cfg, layer), layers=[*resolved.layers, layer])
        cfg = resolved.cfg
    rank = process_rank(cfg.train)
    if resume_from is None:
        run_id = share(RUN_ID, rank, lambda: new_run_dir(request.split, spec.name, cfg.seed, profile, fold)[1],
                       cfg.train.accelerator)  # fmt: skip
        run_dir = runs_dir() / request.split / spec.name / run_id
    sigterm.run_dir = run_dir

    launcher = rank.is_zero
    if launcher:
        if resume_from is None:
            atomic_write_text(run_dir / CONFIG_FILE, resolved.yaml)
            layers = {"profile": profile, **({} if fold is None else {"fold": fold}),
                      "layers": [vars(layer) for layer in resolved.layers]}
            atomic_write_text(run_dir / LAYERS_FILE, OmegaConf.to_yaml(layers))
    try:
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
        split = load_split(split_dir)
        if fixed is not None:
            split = with_val_in_train(split)
        job = RunJob(spec, split, cfg, run_dir, run_id, resume_from, list(request.callbacks), fixed=fixed)
        if launcher and (warning := monitor_warning(job.monitor, split)):
            print(warning, file=sys.stderr)
        start = time.perf_counter()
        scored: ScoredRun = runner_of(spec)(job)
        wall = time.perf_counter() - start
        sigterm.check()  # SIGTERM while a Lightning stage held it, e.g. in its last test batch
        leave_process_group()  # the scores are gathered; what is left is rank 0's alone
        if not job.is_global_zero:
            return RunResult(run_dir, None)
        with sigterm.deferred():
            record = finish_run(
                job, scored, resolved, wall_seconds=wall, profile=profile, command=request.command
            )
            append_run(record, run_dir)  # RUNS_DIR/runs.csv lists every finished run, whichever command ran it
        if note := stop_note(record):
            print(note, file=sys.stderr)
        return RunResult(run_dir, record)
    finally:
        forget(RUN_ID)
