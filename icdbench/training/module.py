"""``CodingModule``: the one LightningModule that trains every neural model.

It owns the loss (configurable, plus the model's auxiliary loss), the optimiser and schedule, whole-set score
collection for validation and test (DDP-correct: scores are gathered across ranks and de-duplicated by
``doc_index``) and two guards: a non-finite loss and a collapse to predicting every code stop the run with a
clear message instead of producing meaningless numbers: a non-finite loss ends the run with an error; a collapse
ends training (``collapsed`` holds the one-line reason), and the run is scored and recorded with
``stop_reason: collapse``, so the collapse is a marked row, not a silent one.
"""

from __future__ import annotations

import sys

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.states import TrainerFn
from torch import nn

from icdbench.errors import UserError
from icdbench.metrics import evaluate
from icdbench.metrics.collect import DocumentMean, ScoreCollector
from icdbench.models.base import ModelContext, ModelOutput, as_output
from icdbench.training.losses import CodingLoss, positive_weights
from icdbench.training.monitor import monitor_metrics
from icdbench.training.selection import resolve_monitor
from icdbench.training.trainer import monitor_mode

# "Predicting everything": more than half of the validation (document, code) pairs scored >= 0.9 while gold
# pairs are rare, AND the scores no longer tell gold pairs from the others (pooled AUC-ROC below
# COLLAPSE_AUC). A confident score, not just >= 0.5: an untrained model scores every pair near 0.5. The AUC
# condition keeps the guard off models whose loss lifts every score but which still rank gold pairs first:
# class-weighted BCE (HMHAN's focal + wbce) weighs a rare code's positives by ~N/n_pos, so its scores sit
# high on purpose; a collapsed model's saturated, document-independent scores rank at chance (0.5).
COLLAPSE_SCORE, COLLAPSE_SHARE, COLLAPSE_AUC = 0.9, 0.5, 0.6


class TrainingDiverged(UserError):
    """The loss became NaN/inf; the message says where and what to try."""


class LinearWarmupDecay:
    """LR factor: linear warm-up over ``warmup`` steps, then linear decay to 0 at ``total`` steps.
    A callable object (not a lambda) so the scheduler state is plain data in checkpoints."""

    def __init__(self, warmup: int, total: int):
        self.warmup, self.total = warmup, max(total, 1)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))


class CodingModule(pl.LightningModule):
    """Wraps a model ``batch -> logits [B, C] | ModelOutput`` with its training and evaluation.

    ``cfg`` is the resolved RunConfig (``optim`` and ``train`` sections are read). After
    ``trainer.validate`` / ``trainer.test`` the gathered ``(doc_index [N], scores [N, C], targets [N, C])`` of
    the whole part are in ``self.collected["val"]`` / ``self.collected["test"]`` on every rank.
    """

    def __init__(self, model: nn.Module, cfg, ctx: ModelContext):
        super().__init__()
        self.model = model
        self.optim_cfg = cfg.optim
        self.train_cfg = cfg.train
        pos_weight = positive_weights(ctx.train_counts, ctx.n_train_docs) if "wbce" in cfg.train.loss else None
        self.loss_fn = CodingLoss(
            cfg.train.loss, gamma=cfg.train.focal_gamma, alpha=cfg.train.focal_alpha, pos_weight=pos_weight
        )
        # what the plateau schedule watches (a stage may watch its own)
        self.monitor = resolve_monitor(cfg.train.monitor)
        self.collectors = nn.ModuleDict({"val": ScoreCollector(), "test": ScoreCollector()})
        self.val_loss = DocumentMean()
        self.collected: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.collapsed: str | None = None  # why training was stopped by the collapse guard

    def forward(self, batch: dict) -> ModelOutput:
        return as_output(self.model(batch))

    def compute_loss(self, batch: dict) -> torch.Tensor:
        output = self(batch)
        loss = self.loss_fn(output.logits, batch["targets"])
        if output.aux_loss is not None:
            loss = loss + output.aux_loss.float()
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.compute_loss(batch)
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"training loss became {loss.item()} at epoch {self.current_epoch}, step {self.global_step}; "
                f"lower optim.lr (now {self.optim_cfg.lr:g}) or use train.precision=32-true"
            )
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(batch["targets"]))
        return loss

    def _collect(self, part: str, batch: dict) -> None:
        output = self(batch)
        scores = torch.sigmoid(output.logits.float())
        self.collectors[part].update(scores, batch["targets"].bool(), batch["doc_index"])
        if part == "val":  # per document, so that DDP's padding repeats count once (see DocumentMean)
            self.val_loss.update(self.loss_fn.per_document(output.logits, batch["targets"]), batch["doc_index"])

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._collect("val", batch)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._collect("test", batch)

    def _gather(self, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        doc_index, scores, targets = self.collectors[part].compute()
        self.collectors[part].reset()
        collected = (_numpy(doc_index), _numpy(scores).astype(np.float32), _numpy(targets).astype(bool))
        self.collected[part] = collected
        return collected

    def on_validation_epoch_end(self) -> None:
        _, scores, targets = self._gather("val")
        metrics = {**monitor_metrics(scores, targets), "loss": float(self.val_loss.compute())}
        self.val_loss.reset()
        # identical on every rank (computed from the gathered set), so no further reduction is needed
        self.log_dict({f"val/{k}": float(v) for k, v in metrics.items()}, prog_bar=True, sync_dist=False)
        if self.trainer.state.fn == TrainerFn.FITTING and (reason := collapse_reason(scores, targets)):
            self.collapsed = (
                f"the model collapsed to predicting nearly every code ({reason}) after epoch {self.current_epoch}; "
                f"training stopped. Lower optim.lr (now {self.optim_cfg.lr:g}) or check the model's attention masking"
            )
            print(f"warning: {self.collapsed}", file=sys.stderr)
            self.trainer.should_stop = True

    def on_test_epoch_end(self) -> None:
        self._gather("test")

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        cls = torch.optim.AdamW if self.optim_cfg.optimizer == "adamw" else torch.optim.Adam
        optimizer = cls(params, lr=self.optim_cfg.lr, weight_decay=self.optim_cfg.weight_decay)
        if self.optim_cfg.schedule == "constant":
            return optimizer
        if self.optim_cfg.schedule == "plateau":
            # stepped once per epoch, after validation, with the monitored value (mode follows train.monitor)
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer,
                mode=monitor_mode(self.train_cfg, self.monitor),
                factor=self.optim_cfg.plateau_factor,
                patience=self.optim_cfg.plateau_patience,
                min_lr=self.optim_cfg.plateau_min_lr,
            )
            config = {"scheduler": scheduler, "interval": "epoch", "monitor": self.monitor}
            return {"optimizer": optimizer, "lr_scheduler": config}
        total = int(self.trainer.estimated_stepping_batches)
        if self.train_cfg.max_steps is not None:  # the step budget (StepBudget) ends the run, so the decay ends there
            total = min(total, int(self.train_cfg.max_steps))
        warmup = warmup_steps(self.optim_cfg, total)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, LinearWarmupDecay(warmup, total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def warmup_steps(optim_cfg, total: int) -> int:
    """The linear schedule's warm-up: ``optim.warmup_steps`` when set (the papers give steps; Edin et al. 2,000),
    else the ``optim.warmup`` fraction of the ``total`` optimisation steps; never more than ``total``."""
    if optim_cfg.warmup_steps is not None:
        return min(int(optim_cfg.warmup_steps), total)
    return int(optim_cfg.warmup * total)


def collapse_reason(scores: np.ndarray, targets: np.ndarray) -> str | None:
    """What the collapse guard saw (see ``COLLAPSE_*``), or None when the scores have not collapsed."""
    rate = float((scores >= COLLAPSE_SCORE).mean()) if scores.size else 0.0
    density = float(targets.mean()) if targets.size else 0.0
    if rate <= COLLAPSE_SHARE or density >= COLLAPSE_SHARE / 2:
        return None
    auc = pooled_auc(scores, targets)  # only computed when the cheap test above fires
    if auc >= COLLAPSE_AUC:
        return None
    return (
        f"{rate:.0%} of validation document-code pairs scored >= {COLLAPSE_SCORE}, gold density {density:.1%}, "
        f"pooled AUC-ROC {auc:.2f}"
    )


def pooled_auc(scores: np.ndarray, targets: np.ndarray) -> float:
    """AUC-ROC over all (document, code) pairs pooled (ties count half); 0.5 when undefined."""
    value = evaluate(scores, targets, keys=["micro_auc_roc"]).get("micro_auc_roc", float("nan"))
    return float(value) if np.isfinite(value) else 0.5


def _numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
