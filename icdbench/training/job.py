"""What a runner receives (:class:`RunJob`) and returns (:class:`ScoredRun`).

Three runners exist, chosen by ``ModelSpec.trainer``: ``lightning``
(:func:`icdbench.training.fit.fit_lightning`, every neural model), ``sklearn``
(:func:`icdbench.training.sklearn_runner.fit_sklearn`) and ``custom``: the family's own runner
(:data:`icdbench.training.runners.CUSTOM_RUNNERS`), e.g. the sentence tagger's two Lightning fits. A custom runner
trains on the same fit path (:mod:`icdbench.training.fit`: ``fit_lightning`` with its own training data, or
``fit_module`` per stage and ``scored_run``), which uses this machinery of the job:

- ``job.datamodule(kind)``: the split encoded for an input kind (cached per kind);
- ``job.trainer(stage=..., monitor=..., max_epochs=...)``: a configured Trainer (callbacks, logger under
  ``run_dir/logs/<stage>``, checkpoints under ``run_dir/checkpoints/<stage>``);
- ``job.score(module, trainer, datamodule)``: whole-set validation and test scores of a ``CodingModule``-like
  module (DDP-gathered);
- ``job.save_weights(model)``: the evaluated weights as ``model.pt`` (loadable with ``weights_only=True``).

It returns validation and test scores; threshold tuning, metrics, scores file and run record are then done
the same way for every runner (``icdbench.training.run``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from icdbench.datasets.datamodule import CodingDataModule
from icdbench.datasets.storage import Split
from icdbench.io import atomic_write
from icdbench.models.registry import ModelSpec
from icdbench.training.selection import LabelPrior, resolve_monitor
from icdbench.training.trainer import CHECKPOINT_DIR, make_trainer

MODEL_FILE = "model.pt"


@dataclass
class ScoredPart:
    doc_index: np.ndarray  # [N] row of each document in its part (sorted, unique)
    scores: np.ndarray  # [N, C] float32 probabilities
    targets: np.ndarray  # [N, C] bool


@dataclass
class ScoredRun:
    val: ScoredPart
    test: ScoredPart
    n_parameters: int | None = None
    train_docs_per_s: float | None = None
    train_cpu_share: float | None = None  # ThroughputMeter.cpu_share: how much of its cores training had
    inference_ms_per_doc: float | None = None
    epochs_run: int | None = None
    steps_run: int | None = None  # optimiser steps of the fit (the most of any stage's, for several fits)
    # the epoch cap of the fit whose curve is recorded (a family with stages: the scoring stage's); None:
    # optim.epochs
    max_epochs: int | None = None
    # which weights were evaluated: best-checkpoint | lowest-loss | swa-average | final | fitted
    selection: str = "final"
    best_monitor: float | None = None  # the monitor's value at the selected checkpoint
    # The selection curve: one point per validated epoch ({"epoch", "monitor", "val_loss"}) or per grid value
    # of a fitted model (e.g. {"C", "monitor"}); ``selected`` indexes the point whose weights were evaluated.
    curve: list[dict[str, Any]] = field(default_factory=list)
    selected: int | None = None
    # converged (patience exhausted, or a grid searched to its end) | budget (max epochs, steps or time reached
    # while the monitor still improved); "prior" is decided afterwards, in the run record
    stop_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # family-specific facts for the record (no text)


@dataclass
class RunJob:
    spec: ModelSpec
    split: Split
    cfg: Any  # resolved RunConfig (OmegaConf DictConfig)
    run_dir: Path
    run_id: str
    resume_from: Path | None = None  # Lightning checkpoint to continue from
    callbacks: list = field(default_factory=list)  # extra Lightning callbacks (tests inject crashes here)
    is_global_zero: bool = True  # updated by runners once the Trainer knows the process rank
    fixed: Any = None  # FixedChoices of a train+val run (icdbench.training.official); None for train-only runs
    _datamodules: dict = field(default_factory=dict, repr=False)

    @property
    def monitor(self) -> str:
        """The validation metric that selects weights and stops training (``val/<key>``), ``train.monitor``
        resolved for this split (``auto``: see :func:`icdbench.training.selection.resolve_monitor`)."""
        return resolve_monitor(self.cfg.train.monitor, self.split)

    def model_config(self):
        """The model's config dataclass instance (what ``spec.build`` takes)."""
        return OmegaConf.to_object(self.cfg.model)

    def datamodule(self, kind: str | None = None):
        kind = kind or self.spec.inputs
        if kind not in self._datamodules:
            self._datamodules[kind] = CodingDataModule(self.split, self.cfg, kind)
        return self._datamodules[kind]

    def permutation_summary(self) -> dict:
        """Sentence permutation (RAC) for the record: copies added per train note and how many train notes it
        cannot shuffle (fewer than two sentences); empty when ``data.permutations`` is 0 (only word inputs
        permute, and only they count sentences)."""
        counts = [getattr(dm.inputs, "train_docs_under_2_sentences", None) for dm in self._datamodules.values()]
        counts = [n for n in counts if n is not None]
        if not self.cfg.data.permutations or not counts:
            return {}
        return {"copies": int(self.cfg.data.permutations), "train_docs_under_2_sentences": int(counts[0])}

    @property
    def context(self):
        """The ModelContext of the first datamodule built (None if the runner built none)."""
        return next(iter(self._datamodules.values())).ctx if self._datamodules else None

    def trainer(self, *, stage: str = "", monitor: str | None = None, max_epochs: int | None = None,
                ranks_documents: bool = True):  # fmt: skip
        """The run's Trainer (``stage``: one fit of a family with several, its checkpoints apart).
        ``ranks_documents``: validation scores the documents' codes (logs ``val/map_doc``), so patience waits
        until the run leaves the label prior; False for a stage that validates on something else."""
        checkpoints = self.run_dir / CHECKPOINT_DIR / stage if stage else self.run_dir / CHECKPOINT_DIR
        bundle = make_trainer(
            self.cfg,
            self.run_dir,
            run_id=self.run_id,
            max_epochs=max_epochs,
            monitor=monitor,
            checkpoint_dir=checkpoints,
            callbacks=list(self.callbacks),
            stage=stage,
        )
        if ranks_documents:
            bundle.selection.prior = self.label_prior(self.datamodule().targets("val"))
        return bundle

    def label_prior(self, val_targets: np.ndarray) -> LabelPrior:
        """Every code scored at its prevalence in the run's training documents (a profile may train on the first
        N), the label prior the ``prior`` baseline predicts; a model whose ranking is no better than this has
        learnt nothing from the text."""
        context = self.context
        if context is not None:
            counts, n_train = np.asarray(context.train_counts, dtype=np.float64), context.n_train_docs
        else:  # a runner that built no datamodule: the split's whole training part
            counts = np.asarray(self.split.codes["train_count"].to_list(), dtype=np.float64)
            n_train = self.split.train.height
        return LabelPrior.of(counts, n_train, val_targets)

    def score(self, module, trainer, datamodule) -> tuple[ScoredPart, ScoredPart, float]:
        """Validation and test scores of ``module``; also returns inference ms per test document."""
        return score_parts(module, trainer, datamodule)

    def save_weights(self, model: torch.nn.Module) -> Path:
        path = self.run_dir / MODEL_FILE
        if self.is_global_zero:
            state = model.state_dict()
            atomic_write(path, lambda handle: torch.save(state, handle), binary=True)
        return path


def score_parts(module, trainer, datamodule) -> tuple[ScoredPart, ScoredPart, float]:
    """Whole-set validation and test scores (gathered over DDP ranks) and test inference ms per document."""
    trainer.validate(module, dataloaders=datamodule.val_dataloader(), verbose=False)
    start = time.perf_counter()
    trainer.test(module, dataloaders=datamodule.test_dataloader(), verbose=False)
    seconds = time.perf_counter() - start
    val, test = (ScoredPart(*module.collected[part]) for part in ("val", "test"))
    return val, test, 1000.0 * seconds / max(1, len(test.doc_index))
