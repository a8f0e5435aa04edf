"""Callbacks of the one training loop beyond Lightning's stock ones.

SWA rule (``train.swa=true``): the model that is evaluated, saved and recorded is the stochastic weight
average at the end of training, whether training ran to ``optim.epochs`` or early stopping ended it.
Lightning's ``StochasticWeightAveraging`` only swaps the average in when training reaches ``max_epochs``;
after an early stop it would silently leave the last live weights in place. :class:`SWAEvaluated` closes
that gap. With SWA on, the monitor (which scores the live weights each epoch) drives early stopping only; it
never selects the evaluated weights, and the run record says so (``selection: "swa-average"``).
"""

from __future__ import annotations

import time

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, StochasticWeightAveraging
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities.exceptions import SIGTERMException

from icdbench.training.selection import SelectionCallback


class BatchSeeder(Callback):
    """Reseeds torch before every training batch from ``(seed, epoch, batch)``, ``batch`` counted in the global
    list of batches that DDP ranks take turns on (rank r's i-th batch is ``i * world_size + r``).

    Dropout and other random draws of a batch then depend only on where the batch is in training, not on what
    else consumed random numbers before it (Lightning's loops, data loader iterators), so a run resumed from a
    checkpoint continues exactly as the uninterrupted run would have, and a DDP run over N ranks draws what one
    process with ``optim.accumulate=N`` draws (tests/training/test_ddp.py). The trailing 0 (once the rank) keeps
    the keys, and so the numbers, of one-process runs as they were recorded."""

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        key = [self.seed, trainer.current_epoch, batch_idx * trainer.world_size + trainer.global_rank, 0]
        torch.manual_seed(int(np.random.SeedSequence(key).generate_state(1)[0]))


class SWAEvaluated(StochasticWeightAveraging):
    """Lightning's SWA, with three changes:

    * the average holds the weights *after* each epoch from ``swa_epoch_start`` (1-based) on, the last one
      included. Lightning updates it at the start of each epoch, which averages in the weights before the start
      epoch (the random initialisation when it is 1) and leaves out the last epoch's;
    * only epochs that have left the label prior are averaged (``selection``'s test; all of them when the run has
      no prior). RAC on codiesp-p sat at the prior for 16 epochs, climbed past it (val mAP 0.136 -> 0.151) in its
      last four, and the average from epoch 8 scored 0.137: mostly untrained weights;
    * when training ends before the scheduled last epoch (early stopping), the running average still replaces
      the live weights. ``averaged`` tells whether an average was swapped in; with none (no epoch left the prior),
      the live weights stay and the run's selection picks the evaluated epoch as for any run.
    """

    averaged = False

    def __init__(self, *args, selection: SelectionCallback | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.selection = selection

    def _averaging(self) -> bool:
        return self.selection is None or self.selection.prior is None or self.selection.left_prior

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_fit_start(trainer, pl_module)
        # no epoch-start update at the start epoch (a restored checkpoint's later value is kept)
        self._latest_update_epoch = max(self._latest_update_epoch, self.swa_start)

    def on_train_epoch_end(self, trainer: pl.Trainer, *args) -> None:
        super().on_train_epoch_end(trainer, *args)
        epoch = trainer.current_epoch
        if self.swa_start <= epoch <= self.swa_end and self._average_model is not None:
            if self._averaging():
                self.update_parameters(self._average_model, trainer.lightning_module, self.n_averaged, self._avg_fn)
            self._latest_update_epoch = epoch + 1  # the next epoch's start sees these weights: skip it

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.averaged = self._average_model is not None and self.n_averaged is not None and self.n_averaged > 0
        if not self.averaged:  # Lightning would swap in the untouched copy of the initial weights
            return
        reached_end = trainer.current_epoch - 1 >= self.swa_end
        super().on_train_end(trainer, pl_module)
        if not reached_end:
            self.transfer_weights(self._average_model, pl_module)


class StepBudget(Callback):
    """Ends a fit after ``max_steps`` optimiser steps the way Lightning's ``max_time`` ends one (``should_stop``
    after a batch), so the partial last epoch is validated and can be selected. Lightning's own ``max_steps``
    would end the epoch without validating it."""

    def __init__(self, max_steps: int):
        self.max_steps = max_steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.max_steps:
            trainer.should_stop = True


def clocks() -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds over all its threads)."""
    return time.perf_counter(), time.process_time()


class ThroughputMeter(Callback):
    """Documents, wall seconds and CPU seconds spent in training batches (validation excluded), summed over epochs.

    ``cpu_share`` tells how much of its cores a run had: CPU seconds / (wall seconds x torch threads). A run on one
    thread with a core to itself is near 1; two such runs on one core get about 0.5 each. A time budget
    (``train.max_minutes``) trains fewer epochs at a lower share, so the record keeps it beside the throughput.
    Several threads rarely keep all busy, so a multi-threaded run is below 1 on an idle machine too."""

    def __init__(self):
        self.docs = 0
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.threads = 1
        self._start = (0.0, 0.0)
        self._val_start: tuple[float, float] | None = None

    def _add(self, since: tuple[float, float], sign: float) -> None:
        wall, cpu = clocks()
        self.seconds += sign * (wall - since[0])
        self.cpu_seconds += sign * (cpu - since[1])

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.threads = torch.get_num_threads()
        self._start = clocks()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.docs += int(batch["targets"].shape[0]) * trainer.world_size

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._add(self._start, 1.0)

    # validation runs inside the train epoch; keep its time out of the training throughput
    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            self._val_start = clocks()

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if self._val_start is not None:
            self._add(self._val_start, -1.0)
            self._val_start = None

    @property
    def docs_per_second(self) -> float | None:
        return self.docs / self.seconds if self.seconds > 0 else None

    @property
    def cpu_share(self) -> float | None:
        return self.cpu_seconds / (self.seconds * self.threads) if self.seconds > 0 else None


class KeepResumableOnTerminate(Callback):
    """On SIGTERM (SLURM preemption, a scheduler stopping the job) Lightning ends the loop at the next batch with
    ``SIGTERMException``; this leaves a checkpoint to ``--resume`` from. The end-of-epoch ``last.ckpt``, when one
    was written, is kept: resuming from it repeats the uninterrupted run exactly (the batches are reseeded by
    position). Only when the first epoch had not ended is the state saved where training stopped, mid-epoch:
    that epoch is then not lost, and the resumed run is not bit-identical to an uninterrupted one."""

    def __init__(self, path):
        self.path = path

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException) and trainer.state.fn == TrainerFn.FITTING:
            if not self.path.is_file():
                trainer.save_checkpoint(self.path)
