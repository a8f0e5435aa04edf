"""The trainer factory: one place that turns a RunConfig into a Lightning ``Trainer`` with its callbacks."""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.loggers import CSVLogger, Logger, TensorBoardLogger, WandbLogger

from icdbench.training.callbacks import (
    BatchSeeder,
    KeepResumableOnTerminate,
    StepBudget,
    SWAEvaluated,
    ThroughputMeter,
)
from icdbench.training.selection import SelectionCallback, resolve_monitor

CHECKPOINT_DIR = "checkpoints"
BEST_CKPT = "best.ckpt"
LAST_CKPT = "last.ckpt"

# Lightning hints that do not apply to these runs (tiny synthetic epochs, in-process data loading), and a
# deprecation inside Lightning itself (its pytree helper) that a user can do nothing about. SWA's notice about a
# per-step schedule is what the runs intend: from the SWA start, Lightning swaps the warm-up/decay schedule for SWALR.
for _message in (
    ".*number of training batches.*",
    ".*does not have many workers.*",
    ".*sync_dist=True.*",
    ".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*",
    ".*SWA is currently only supported every epoch.*",
):
    warnings.filterwarnings("ignore", message=_message)


class _NoAdvertising(logging.Filter):
    """Drops Lightning's "💡 Tip: ... try installing ..." lines, which advertise cloud services."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip: For seamless" not in record.getMessage()


logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(_NoAdvertising())


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def quiet_lightning() -> None:
    """Keep Lightning's banner lines ("GPU available...") out of CI logs."""
    if in_ci():
        for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch"):
            logging.getLogger(name).setLevel(logging.WARNING)


def make_logger(cfg, run_dir: Path, run_id: str, stage: str = "") -> Logger | None:
    """The run's logger, writing under ``run_dir/logs`` (``logs/<stage>`` for each fit of a multi-stage family,
    so the stages' metrics files do not overwrite each other)."""
    kind = cfg.train.logger
    if kind == "none":
        return None
    if kind == "csv":
        logger: Logger = CSVLogger(save_dir=run_dir, name="logs", version=stage)
    elif kind == "tensorboard":
        logger = TensorBoardLogger(save_dir=run_dir, name="logs", version=stage, default_hp_metric=False)
    else:
        # offline unless the user opted in; only config values and metrics are sent, never text
        online = os.environ.get("WANDB_MODE", "offline") == "online"
        name = f"{run_id}-{stage}" if stage else run_id
        logger = WandbLogger(save_dir=run_dir, project="icdbench", name=name, offline=not online)
    from omegaconf import OmegaConf  # imported here so the module loads where omegaconf is absent (GPU check)

    logger.log_hyperparams(OmegaConf.to_container(cfg))
    return logger


def _deterministic(cfg) -> bool | str:
    """Strict on CPU; on accelerators some kernels have no deterministic version, so warn instead of fail."""
    if not cfg.train.deterministic:
        return False
    on_cpu = cfg.train.accelerator == "cpu" or (
        cfg.train.accelerator == "auto" and not torch.cuda.is_available()
    )
    return True if on_cpu else "warn"


@dataclass
class TrainerBundle:
    trainer: pl.Trainer
    selection: SelectionCallback  # validation curve, best epoch (its checkpoint) and early stopping
    swa: SWAEvaluated | None
    throughput: ThroughputMeter
    extra: list[Callback] = field(default_factory=list)


def make_trainer(
    cfg,
    run_dir: Path,
    *,
    run_id: str = "",
    max_epochs: int | None = None,
    monitor: str | None = None,
    checkpoint_dir: Path | None = None,
    callbacks: list[Callback] | None = None,
    stage: str = "",
) -> TrainerBundle:
    """A Trainer for ``cfg`` writing under ``run_dir``.

    ``monitor`` (default ``cfg.train.monitor``, ``auto`` resolved) drives checkpoint selection and early
    stopping (:class:`SelectionCallback`); ``max_epochs`` defaults to ``cfg.optim.epochs`` and
    ``train.max_minutes`` caps the wall time of the fit (Lightning's ``max_time``), ``train.max_steps`` its
    optimiser steps (:class:`StepBudget`). Families with several fits
    (``trainer="custom"``) pass their own monitor, epochs, ``checkpoint_dir`` and ``stage`` (its log folder
    ``logs/<stage>``) per stage.
    Data sharding under DDP is done by the datamodule's sampler, hence ``use_distributed_sampler=False``.
    """
    quiet_lightning()
    monitor = resolve_monitor(monitor or cfg.train.monitor)
    directory = checkpoint_dir or run_dir / CHECKPOINT_DIR
    # Lightning's checkpoint keeps last.ckpt for --resume; the best epoch is the selection callback's
    # (the newest epoch, overwritten: save_top_k=1 without a monitor keeps the latest checkpoint)
    last = ModelCheckpoint(
        dirpath=directory, filename=Path(LAST_CKPT).stem, save_top_k=1, enable_version_counter=False
    )
    selection = SelectionCallback(
        monitor, monitor_mode(cfg.train, monitor), cfg.train.patience, directory / BEST_CKPT
    )
    throughput = ThroughputMeter()
    all_callbacks: list[Callback] = [last, selection, throughput, BatchSeeder(cfg.seed),
                                     KeepResumableOnTerminate(directory / LAST_CKPT)]
    swa = None
    if cfg.train.swa:
        swa = SWAEvaluated(
            swa_lrs=float(cfg.train.swa_lrs if cfg.train.swa_lrs is not None else cfg.optim.lr),
            swa_epoch_start=int(cfg.train.swa_epoch_start),
            annealing_epochs=1,
            selection=selection,  # averages only epochs that have left the label prior
        )
        all_callbacks.append(swa)
    logger = make_logger(cfg, run_dir, run_id, stage)
    if logger is not None:
        all_callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    progress = not in_ci()
    if progress:
        all_callbacks.append(TQDMProgressBar(refresh_rate=10))
    if cfg.train.max_steps:
        all_callbacks.append(StepBudget(int(cfg.train.max_steps)))
    all_callbacks += list(callbacks or [])
    max_time = {"minutes": float(cfg.train.max_minutes)} if cfg.train.max_minutes else None
    trainer = pl.Trainer(
        max_epochs=max_epochs or cfg.optim.epochs,
        max_time=max_time,
        accelerator=cfg.train.accelerator,
        devices=cfg.train.devices,
        num_nodes=cfg.train.num_nodes,
        strategy=cfg.train.strategy,
        precision=cfg.train.precision,
        deterministic=_deterministic(cfg),
        accumulate_grad_batches=cfg.optim.accumulate,
        limit_train_batches=cfg.train.limit_train_batches or 1.0,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        logger=logger if logger is not None else False,
        callbacks=all_callbacks,
        enable_progress_bar=progress,
        enable_model_summary=False,
        default_root_dir=run_dir,
        log_every_n_steps=50,
    )
    return TrainerBundle(trainer, selection, swa, throughput, list(callbacks or []))


def monitor_mode(train_cfg, monitor: str) -> str:
    """``max`` or ``min``: ``train.monitor_mode`` for the run's monitor, else by name (losses go down)."""
    if monitor == resolve_monitor(train_cfg.monitor):
        return train_cfg.monitor_mode
    return "min" if monitor.endswith("loss") else "max"
