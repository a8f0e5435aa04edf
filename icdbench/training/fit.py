"""The fit path of every Lightning model: build the model, fit it with ``CodingModule`` and the run's Trainer, pick
the evaluated weights, score. Families that train their own way (``icdbench.training.families``) go through the
same steps: :func:`fit_lightning` with their own training data (:class:`FitData`), or :func:`fit_module` once per
stage and :func:`scored_run` at the end, so every callback (SWA included) and the weight selection are the same.

Which weights are evaluated (``ScoredRun.selection``):
- ``swa-average`` when ``train.swa`` is on and an average exists (see ``icdbench.training.callbacks``);
- otherwise ``best-checkpoint``: the best epoch by ``train.monitor`` with the validation loss as tie-breaker
  (``icdbench.training.selection``), reloaded with ``torch.load(weights_only=True)``;
- ``lowest-loss`` while no epoch ranked the validation codes better than the label prior: the monitor had
  nothing to choose on, so the epoch with the lowest validation loss (``icdbench.training.selection``);
- ``final`` if no checkpoint was written (no validation ran), and in a train+val run
  (:mod:`icdbench.training.official`), which trains a fixed number of epochs.

Checkpoints are loaded with ``weights_only=True`` (resume included): they hold only tensors and plain
containers because ``CodingModule`` saves no hyperparameters (the config lives in ``config.yaml``) and the LR
schedule is a callable object whose state is a dict of numbers.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from icdbench.training.job import RunJob, ScoredRun
from icdbench.training.module import CodingModule
from icdbench.training.trainer import CHECKPOINT_DIR, TrainerBundle


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_checkpoint_weights(module: torch.nn.Module, path) -> None:
    """Load the ``state_dict`` of a Lightning checkpoint; only tensors and plain data are unpickled."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    module.load_state_dict(checkpoint["state_dict"])


@dataclass
class Selected:
    """What :func:`select_weights` loaded into the module, and the facts the run record keeps about it."""

    selection: str  # swa-average | best-checkpoint | final
    best_monitor: float | None
    curve: list[dict]
    selected: int | None  # index into curve of the evaluated epoch (None for an SWA average or final weights)
    stop_reason: str  # converged | budget | collapse

    def scored_fields(self) -> dict:
        return {name: getattr(self, name) for name in ("selection", "best_monitor", "curve", "selected", "stop_reason")}


def select_weights(bundle, module: CodingModule, *, final: bool = False) -> Selected:
    """After ``trainer.fit``: put the evaluated weights into ``module`` (the SWA average is already there).
    ``final``: keep the last epoch's weights (a train+val run: its validation documents are training data)."""
    chosen = bundle.selection
    evaluated = chosen.evaluated()
    reason = "collapse" if module.collapsed else chosen.stop_reason()
    if bundle.swa is not None and bundle.swa.averaged:
        return Selected("swa-average", None, chosen.curve, None, reason)
    if final:
        return Selected("final", None, chosen.curve, None, reason)
    if evaluated is not None and evaluated[1].is_file():
        index, path = evaluated
        load_checkpoint_weights(module, path)
        how = "lowest-loss" if chosen.below_prior else "best-checkpoint"
        return Selected(how, chosen.curve[index]["monitor"], chosen.curve, index, reason)
    return Selected("final", None, chosen.curve, None, reason)


@dataclass
class Fitted:
    """One ``trainer.fit`` of the run: the Trainer with its callbacks, and the weights it selected."""

    bundle: TrainerBundle
    chosen: Selected

    @property
    def trainer(self):
        return self.bundle.trainer


@dataclass
class FitData:
    """What a Lightning model trains on: the data it fits on, the context its loss is built from (class weights
    count the training documents) and facts for the record's ``extra``. By default the run's datamodule and
    context; a family that trains on something else (HMHAN's SMOTE stage: frozen features, over-sampled) supplies
    its own and is scored like every model on the run's datamodule."""

    datamodule: Any
    ctx: Any
    extra: dict = field(default_factory=dict)


FitDataOf = Callable[[RunJob, torch.nn.Module, Any], FitData]


def fit_module(job: RunJob, module: CodingModule, *, stage: str = "", monitor: str | None = None,
               max_epochs: int | None = None, ranks_documents: bool = True, **data) -> Fitted:  # fmt: skip
    """Fit ``module`` with the run's Trainer (``job.trainer``: every callback, SWA included; ``stage`` etc. for a
    family with several fits) on ``data`` (``datamodule=`` or the dataloaders ``trainer.fit`` takes), and put
    the evaluated weights into it (:func:`select_weights`)."""
    bundle = job.trainer(stage=stage, monitor=monitor, max_epochs=max_epochs, ranks_documents=ranks_documents)
    bundle.trainer.fit(module, ckpt_path=job.resume_from, weights_only=True, **data)
    job.is_global_zero = bundle.trainer.is_global_zero
    return Fitted(bundle, select_weights(bundle, module, final=job.fixed is not None))


def scored_run(job: RunJob, module: CodingModule, fitted: Fitted, datamodule) -> ScoredRun:
    """The run's end for every Lightning fit: save the evaluated weights (and what predict needs to encode new
    text), score validation and test on ``datamodule``, drop the checkpoints unless kept."""
    job.save_weights(module.model)
    if job.is_global_zero:
        datamodule.inputs.save(job.run_dir)  # what predict needs to encode new text (e.g. the vocabulary)
    val, test, ms_per_doc = job.score(module, fitted.trainer, datamodule)
    if job.is_global_zero and not job.cfg.train.keep_checkpoints:
        shutil.rmtree(job.run_dir / CHECKPOINT_DIR, ignore_errors=True)
    return ScoredRun(
        val=val,
        test=test,
        n_parameters=count_parameters(module.model),
        train_docs_per_s=fitted.bundle.throughput.docs_per_second,
        train_cpu_share=fitted.bundle.throughput.cpu_share,
        inference_ms_per_doc=ms_per_doc,
        epochs_run=fitted.trainer.current_epoch,
        steps_run=int(fitted.trainer.global_step),
        **fitted.chosen.scored_fields(),
    )


def fit_lightning(job: RunJob, fit_data: FitDataOf | None = None) -> ScoredRun:
    """The Lightning runner: build the model, fit it (:func:`fit_module`), score it (:func:`scored_run`).
    ``fit_data(job, model, datamodule)`` says what the model trains on when that is not the run's datamodule."""
    datamodule = job.datamodule()
    model = job.spec.build(job.model_config(), datamodule.ctx)
    data = FitData(datamodule, datamodule.ctx) if fit_data is None else fit_data(job, model, datamodule)
    module = CodingModule(model, job.cfg, data.ctx)
    scored = scored_run(job, module, fit_module(job, module, datamodule=data.datamodule), datamodule)
    scored.extra.update(data.extra)
    return scored
