"""The Lightning runner: build the model, fit it with ``CodingModule``, pick the evaluated weights, score.

Which weights are evaluated (``ScoredRun.selection``):
- ``swa-average`` when ``train.swa`` is on and an average exists (see ``icdbench.training.callbacks``);
- otherwise ``best-checkpoint``: the best epoch by ``train.monitor`` with the validation loss as tie-breaker
  (``icdbench.training.selection``), reloaded with ``torch.load(weights_only=True)``;
- ``final`` if no checkpoint was written (no validation ran), and in a train+val run
  (:mod:`icdbench.training.official`), which trains a fixed number of epochs.

Checkpoints are loaded with ``weights_only=True`` (resume included): they hold only tensors and plain
containers because ``CodingModule`` saves no hyperparameters (the config lives in ``config.yaml``) and the LR
schedule is a callable object whose state is a dict of numbers.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import torch

from icdbench.training.job import RunJob, ScoredRun, score_parts
from icdbench.training.module import CodingModule
from icdbench.training.trainer import CHECKPOINT_DIR


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
    best = chosen.best_point
    reason = "collapse" if module.collapsed else chosen.stop_reason()
    if bundle.swa is not None and bundle.swa.averaged:
        return Selected("swa-average", None, chosen.curve, None, reason)
    if final:
        return Selected("final", None, chosen.curve, None, reason)
    if best is not None and chosen.best_path.is_file():
        load_checkpoint_weights(module, chosen.best_path)
        return Selected("best-checkpoint", best["monitor"], chosen.curve, chosen.best, reason)
    return Selected("final", None, chosen.curve, None, reason)


def fit_lightning(job: RunJob) -> ScoredRun:
    datamodule = job.datamodule()
    model = job.spec.build(job.model_config(), datamodule.ctx)
    module = CodingModule(model, job.cfg, datamodule.ctx)
    bundle = job.trainer()
    trainer = bundle.trainer
    trainer.fit(module, datamodule=datamodule, ckpt_path=job.resume_from, weights_only=True)
    job.is_global_zero = trainer.is_global_zero

    chosen = select_weights(bundle, module, final=job.fixed is not None)
    job.save_weights(module.model)
    if job.is_global_zero:
        datamodule.inputs.save(job.run_dir)  # what predict needs to encode new text (e.g. the vocabulary)
    val, test, ms_per_doc = score_parts(module, trainer, datamodule)
    if job.is_global_zero and not job.cfg.train.keep_checkpoints:
        shutil.rmtree(job.run_dir / CHECKPOINT_DIR, ignore_errors=True)
    return ScoredRun(
        val=val,
        test=test,
        n_parameters=count_parameters(module.model),
        train_docs_per_s=bundle.throughput.docs_per_second,
        inference_ms_per_doc=ms_per_doc,
        epochs_run=trainer.current_epoch,
        **chosen.scored_fields(),
    )
