"""The sentence tagger's runner (``trainer="custom"``): two Lightning fits of one model, one run record.

1. ``tagger``: level 1 alone learns (class-weighted NLL over the sentences of training reports); validation
   logs ``val/tagger_macro_f1`` (macro F1 over focus / non-focus sentences), the stage's monitor.
2. ``classifier``: level 2 alone learns from batches of ``optim.batch_size`` single-code focus sentences;
   validation logs ``val/classifier_accuracy`` over the validation reports' single-code focus sentences, and
   scores the validation reports like every model, so this stage's patience counts only once the pipeline has
   left the label prior (``icdbench.training.selection``).

Each stage is a :class:`StageModule` (the one ``CodingModule`` with the stage's loss and the other level
frozen), runs at most ``min(<stage>_epochs, optim.epochs)`` epochs with early stopping on its own monitor, and
keeps its best checkpoint (``checkpoints/<stage>/``). The trained pipeline is then scored on validation and test
like every model (document scores ``max_n P(focus_n) · P(code | n)``), and the paper's own test metrics (tagger
P/R/F1, classifier accuracy and F1, the union rule's subset accuracy and instance-based F1) are handed over as
``extra["metrics"]``; ``finish_run`` moves them into the record's ``metrics.full`` (keys listed in
``icdbench.metrics.keys``). Which supervision the model had stays in ``extra["supervision"]``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from icdbench.datasets.datamodule import Collator, PartDataset, focus_sentence_loader
from icdbench.datasets.sentences import FocusSentences
from icdbench.errors import UserError
from icdbench.models.sentence_tagger import SentenceTaggerModel, union_codes
from icdbench.training.fit import Fitted, fit_module, scored_run
from icdbench.training.job import RunJob, ScoredRun
from icdbench.training.module import CodingModule

MONITORS = {"tagger": "val/tagger_macro_f1", "classifier": "val/classifier_accuracy"}


class StageModule(CodingModule):
    """``CodingModule`` training one level of a :class:`SentenceTaggerModel` (``stage``: tagger | classifier):
    the stage's loss replaces the document-level loss, the other level is frozen, and validation logs the stage's
    own metric (``MONITORS[stage]``). While the tagger trains, validation runs the tagger alone (document scores
    of an untrained classifier mean nothing and cost the most); while the classifier trains, document scores are
    collected as for every model, and the final scoring uses this module."""

    def __init__(self, model: SentenceTaggerModel, cfg, ctx, stage: str):
        super().__init__(model, cfg, ctx)
        self.stage = stage
        self.monitor = MONITORS[stage]
        model.tagger.requires_grad_(stage == "tagger")
        model.classifier.requires_grad_(stage == "classifier")
        self.stage_metric: Metric = (
            MulticlassF1Score(num_classes=2, average="macro")
            if stage == "tagger"
            else MulticlassAccuracy(num_classes=ctx.n_codes, average="micro")
        )
        self._extras: dict = {}

    def compute_loss(self, batch: dict) -> torch.Tensor:
        return self.model.stage_loss(batch, self.stage)

    def forward(self, batch: dict):
        output = super().forward(batch)
        self._extras = output.extras  # read by validation_step, after CodingModule collected the scores
        return output

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        if self.stage == "tagger":
            mask = batch["sentence_mask"]
            preds = (self.model.tagger(batch)[..., 1][mask] > math.log(0.5)).long()
            target = batch["focus"][mask]
        else:
            super().validation_step(batch, batch_idx)
            single = batch["sentence_codes"] >= 0
            preds, target = self._extras["sentence_code"][single], batch["sentence_codes"][single]
        if target.numel():
            self.stage_metric.update(preds, target)
            self.log(MONITORS[self.stage], self.stage_metric, on_epoch=True, batch_size=int(target.numel()))

    def on_validation_epoch_end(self) -> None:
        if self.stage != "tagger":  # the tagger stage collected no document scores
            super().on_validation_epoch_end()


def focus_class_weights(features, focus_weight: float | None) -> tuple[float, float]:
    """NLL weights (non-focus, focus): ``(1, focus_weight)`` or, by default, balanced on the train sentences
    (``n / (2 · n_class)``, as scikit-learn's ``class_weight="balanced"``)."""
    if focus_weight is not None:
        return 1.0, float(focus_weight)
    focus = np.concatenate([f.focus for f in features]) if features else np.zeros(0)
    n, n_focus = len(focus), int(focus.sum())
    if n_focus == 0 or n_focus == n:
        return 1.0, 1.0
    return n / (2.0 * (n - n_focus)), n / (2.0 * n_focus)


def supervision_summary(counts) -> dict:
    """Which evidence supervised the model: ``gold``, ``silver``, ``gold+silver`` or ``none``."""
    sources = [s for s in ("gold", "silver") if counts.get(s)]
    return {
        "supervision": "+".join(sources) or "none",
        "supervision_docs": {s: int(counts.get(s, 0)) for s in ("gold", "silver", "none")},
    }


def sequential_loader(datamodule, name: str, batch_size: int) -> DataLoader:
    """Every document of a part in order, unsharded (for evaluation passes on one process)."""
    part = datamodule.part(name)
    return DataLoader(
        PartDataset(part, datamodule.inputs),
        batch_size=batch_size,
        shuffle=False,
        collate_fn=Collator(part, datamodule.inputs, datamodule.ctx.n_codes),
    )


@torch.no_grad()
def paper_metrics(model: SentenceTaggerModel, loader: DataLoader) -> dict[str, float]:
    """The paper's test metrics (Tables 3-5) of the trained pipeline, with scikit-learn's definitions."""
    # heavy: scikit-learn's metric definitions, only at the end of a run
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    model.eval()
    device = next(model.parameters()).device
    focus_gold, focus_pred, code_gold, code_pred, union, targets = [], [], [], [], [], []
    for batch in loader:
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        extras = model(batch).extras
        mask, single = batch["sentence_mask"], batch["sentence_codes"] >= 0
        focus_gold.append(batch["focus"][mask])
        focus_pred.append((extras["focus_prob"][mask] > 0.5).long())
        code_gold.append(batch["sentence_codes"][single])
        code_pred.append(extras["sentence_code"][single])
        union.append(union_codes(extras["focus_prob"], extras["sentence_code"], mask, model.n_codes))
        targets.append(batch["targets"].bool())
    focus_gold, focus_pred, code_gold, code_pred, union, targets = (
        torch.cat(x).cpu().numpy() for x in (focus_gold, focus_pred, code_gold, code_pred, union, targets)
    )
    out: dict[str, float] = {
        "n_test_sentences": float(len(focus_gold)),
        "n_test_single_code_focus_sentences": float(len(code_gold)),
    }
    p, r, f, _ = precision_recall_fscore_support(focus_gold, focus_pred, average="macro", zero_division=0)
    out.update(tagger_macro_precision=p, tagger_macro_recall=r, tagger_macro_f1=f)
    if len(code_gold):
        out["classifier_accuracy"] = accuracy_score(code_gold, code_pred)
        for average in ("macro", "weighted"):
            out[f"classifier_{average}_f1"] = f1_score(code_gold, code_pred, average=average, zero_division=0)
    out["union_subset_accuracy"] = accuracy_score(targets, union)
    for average, name in (("micro", "micro"), ("samples", "instance")):
        p, r, f, _ = precision_recall_fscore_support(targets, union, average=average, zero_division=0)
        out.update({f"union_{name}_precision": p, f"union_{name}_recall": r, f"union_{name}_f1": f})
    return {k: float(v) for k, v in out.items()}


def _fit_stage(job: RunJob, module: StageModule, **data) -> tuple[Fitted, dict]:
    """Fit one stage on the run's fit path (its best checkpoint reloaded); returns it and the stage's facts."""
    stage, config = module.stage, job.model_config()
    epochs = min(config.tagger_epochs if stage == "tagger" else config.classifier_epochs, job.cfg.optim.epochs)
    # the classifier stage validates on whole reports (document scores): its patience waits until it has left the
    # label prior, like every model's; the tagger stage scores sentences only
    fitted = fit_module(job, module, stage=stage, monitor=MONITORS[stage], max_epochs=epochs,
                        ranks_documents=stage == "classifier", **data)  # fmt: skip
    chosen = fitted.chosen
    return fitted, {
        "epochs_run": int(fitted.trainer.current_epoch),
        "steps_run": int(fitted.trainer.global_step),
        "max_epochs": int(epochs),
        "monitor": MONITORS[stage],
        "best": chosen.best_monitor,
        "selection": chosen.selection,
        "stop_reason": chosen.stop_reason,
        "curve": chosen.curve,
        "selected": chosen.selected,
        # whether an epoch of the stage left the label prior (None: the stage does not score documents)
        "left_prior": fitted.bundle.selection.left_prior if fitted.bundle.selection.prior is not None else None,
        "train_items_per_s": fitted.bundle.throughput.docs_per_second,  # reports (tagger) or sentences (classifier)
    }


def run_sentence_tagger(job: RunJob) -> ScoredRun:
    if job.resume_from is not None:
        raise UserError("sentence-tagger runs train two stages and cannot be resumed; start a new run")
    datamodule = job.datamodule("sentences")
    config = job.model_config()
    model = job.spec.build(config, datamodule.ctx)
    train_features = datamodule.part("train").features
    weights = focus_class_weights(train_features, config.focus_weight)
    model.tagger.class_weights.copy_(torch.tensor(weights))

    tagger, tagger_facts = _fit_stage(job, StageModule(model, job.cfg, datamodule.ctx, "tagger"), datamodule=datamodule)
    module = StageModule(model, job.cfg, datamodule.ctx, "classifier")
    classifier, classifier_facts = _fit_stage(job, module, train_dataloaders=focus_sentence_loader(datamodule),
                                              val_dataloaders=datamodule.val_dataloader())  # fmt: skip
    stages = {"tagger": tagger_facts, "classifier": classifier_facts}
    scored = scored_run(job, module, classifier, datamodule)
    extra = {
        **supervision_summary(datamodule.inputs.supervision),
        "focus_class_weights": list(weights),
        "n_classifier_train_sentences": len(FocusSentences(train_features)),
        "stages": stages,
    }
    if job.is_global_zero:
        extra["metrics"] = paper_metrics(model, sequential_loader(datamodule, "test", job.cfg.optim.batch_size))
    return dataclasses.replace(
        scored,
        train_docs_per_s=tagger.bundle.throughput.docs_per_second,  # stage 1 sees whole reports
        train_cpu_share=tagger.bundle.throughput.cpu_share,
        epochs_run=sum(s["epochs_run"] for s in stages.values()),
        max_epochs=classifier_facts["max_epochs"],  # the recorded curve is the classifier stage's
        steps_run=max(s["steps_run"] for s in stages.values()),  # each stage has the step budget (max_steps)
        best_monitor=None,  # each stage has its own monitor and curve: extra["stages"]
        # the run converged when both stages did; the record's curve and selection are the classifier's (it
        # scores codes)
        stop_reason="converged" if all(s["stop_reason"] == "converged" for s in stages.values()) else "budget",
        extra=extra,
    )
