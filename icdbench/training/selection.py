"""Which weights a run evaluates, when it stops, and why: model selection on a metric that moves.

* **The monitor.** ``train.monitor: auto`` (the default) is ``val/map_doc``: threshold-free, and every
  validation document with a gold code contributes to it, whatever the split's number of codes per document.
  ``val/p@8`` cannot move on a split whose median document has 1–2 codes (at most 2 of the 8 can be right, and
  the prior already ranks them there); a monitor set by a user, profile or experiment that cannot move on the
  split is kept but warned about in one line at the start of the run (:func:`monitor_warning`).
* **Selection with a tie-breaker.** An epoch is better than the best so far when its monitor is higher by more
  than :data:`TIE` or, within :data:`TIE`, when its validation loss is lower: a flat monitor can never keep
  epoch 0 over a later epoch that fits the validation set better.
* **Leaving the label prior.** The yardstick is the label prior (every code scored at its training prevalence;
  :class:`LabelPrior`, its ties broken at random). An epoch has left it when its ``val/map_doc`` is higher by at
  least :data:`PRIOR_MARGIN` (a point of mAP) *and* a paired bootstrap over the validation documents puts the 95%
  interval of the gain above zero (:meth:`LabelPrior.beaten_by`). A tie alone was not enough: on CodiEsp (250
  validation documents, ~2,200 codes) CAML's epoch 0 scored 0.0934 against the tied prior's 0.0913, counted as
  learning, and patience ended the run after 4 epochs; on the English text the same model sat at the prior for 4
  epochs and then climbed to 0.126.
* **Below the prior, the loss chooses.** While no epoch has left the prior, the monitor ranks untrained rankings
  against each other (BERT-CLS under HMHAN's class-weighted loss: 0.0198, 0.0192, 0.0192, 0.0196 while the
  validation loss fell 0.94 → 0.80, and epoch 0 was kept). Such a run is evaluated at its lowest validation loss
  (``selection: lowest-loss``); it is still marked ``prior``.
* **Stopping.** Once an epoch has left the prior, training stops when ``train.patience`` epochs in a row brought
  no better epoch (``converged``). Before that, patience does not count: a run at the prior trains on until a
  budget (``optim.epochs``, ``train.max_steps`` or ``train.max_minutes``) ends it, as does a run still improving
  (``budget``); a run that never left the prior is then recorded as ``prior`` with the budget that ended it.
  Every validated epoch's monitor and loss is kept (:class:`SelectionCallback.curve`) for the run record.

The models' published monitors (P@8 for CAML on MIMIC-III full, micro-F1 for LAAT) are no model defaults: they
belong to the split they were published on (``icdbench/settings/experiments/<split>/<model>.yaml``), where they move.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.trainer.states import TrainerFn

from icdbench.config import MONITORED
from icdbench.errors import UserError
from icdbench.metrics.stats import paired_test
from icdbench.training.monitor import monitor_metrics

AUTO = "auto"
DEFAULT_MONITOR = "val/map_doc"
PRIOR_KEY = "map_doc"  # "left the prior" means: ranks the validation codes better than prevalence does
PRIOR_MONITOR = f"val/{PRIOR_KEY}"
LOSS = "val/loss"
TIE = 1e-4  # monitor differences this small are ties, broken by the validation loss
LOWEST_LOSS_CKPT = "lowest-loss.ckpt"  # beside the best epoch's, kept while no epoch has left the label prior
PRIOR_RESAMPLES = 1000  # bootstrap resamples of the validation documents for LabelPrior.beaten_by (~0.1 s on CodiEsp)
PRIOR_MARGIN = 0.01  # a point of validation mAP: the least gain over the label prior that counts as learning


@dataclass(frozen=True)
class LabelPrior:
    """The label prior on the validation documents: every code scored at its prevalence in the run's training
    documents, the ranking of a model that learnt nothing from the text."""

    prevalence: np.ndarray  # [C] float32: training documents with the code / training documents
    n_train: int
    val_map_doc: float = math.nan  # of :meth:`scores`

    @staticmethod
    def of(counts: np.ndarray, n_train: int, targets: np.ndarray) -> LabelPrior:
        n_train = max(1, int(n_train))
        prior = LabelPrior((np.asarray(counts, dtype=np.float64) / n_train).astype(np.float32), n_train)
        return replace(prior, val_map_doc=monitor_metrics(prior.scores(len(targets)), targets)[PRIOR_KEY])

    def scores(self, n_docs: int) -> np.ndarray:
        """``[n_docs, C]``: each code at its prevalence, codes of equal prevalence in a random order per document
        (fixed seed; the jitter stays below half the gap between prevalences). Average precision counts a tied
        group at its lowest place, so a prior left tied hands any model that merely breaks its ties a gain: on
        codiesp-d (2,557 codes at 43 prevalences, 790 never seen in training) CAML's first epoch, the prior
        itself to within 1e-5, beat the tied prior's test mAP by 0.0019 (bootstrap interval 0.0014-0.0024) and
        the untied one by 0.0002 (-0.0003-0.0006)."""
        width = np.float32(0.5 / self.n_train)  # scaled into [0, 1]: a code in every training document stays <= 1
        jitter = np.random.default_rng(0).random((n_docs, len(self.prevalence)), dtype=np.float32)
        return self.prevalence * (1 - width) + jitter * width

    def beaten_by(self, scores: np.ndarray, targets: np.ndarray) -> bool:
        """Whether ``scores`` rank the validation codes better than the prior, by at least :data:`PRIOR_MARGIN` of
        ``map_doc`` and beyond chance (the paired bootstrap's 95% interval of the gain, fixed seed, above zero).
        Significance alone is not enough: CAML's first epoch on codiesp-d beat the (untied) prior by 0.0004, an
        interval above zero, and sat there for three more epochs."""
        if monitor_metrics(scores, targets)[PRIOR_KEY] < self.val_map_doc + PRIOR_MARGIN:
            return False
        gain = paired_test(self.scores(len(targets)), scores, targets, metrics=(PRIOR_KEY,), n_boot=PRIOR_RESAMPLES)
        return gain[PRIOR_KEY]["low"] > 0


def resolve_monitor(monitor: str, split=None) -> str:
    """The concrete ``val/<key>`` a run selects on: ``monitor`` itself, or :data:`DEFAULT_MONITOR` for ``auto``."""
    return DEFAULT_MONITOR if monitor == AUTO else monitor


def median_codes_per_doc(split) -> float:
    """The median number of gold codes of a training document (0 for an empty part)."""
    lengths = split.train["codes"].list.len().to_numpy()
    return float(np.median(lengths)) if len(lengths) else 0.0


def monitor_warning(monitor: str, split) -> str | None:
    """One line when ``monitor`` cannot move on ``split``: P@k with k above the median gold codes per document."""
    key = monitor.removeprefix("val/")
    if not key.startswith("p@"):
        return None
    k = int(key[2:])
    median = median_codes_per_doc(split)
    if k <= median:
        return None
    return (
        f"warning: {monitor} can hardly move on {split.name} (median {median:g} gold codes per document, "
        f"k = {k}); selection and early stopping on it may keep an early epoch. Use train.monitor=auto "
        f"({DEFAULT_MONITOR})"
    )


def better(monitor: float, loss: float | None, best_monitor: float, best_loss: float | None, mode: str) -> bool:
    """Whether (monitor, loss) beats the best so far: a higher (``mode=max``) or lower (``min``) monitor by
    more than :data:`TIE`, or a tie on the monitor with a lower validation loss."""
    if not math.isfinite(monitor):
        return False
    if not math.isfinite(best_monitor):
        return True
    gain = monitor - best_monitor if mode == "max" else best_monitor - monitor
    if gain > TIE:
        return True
    if gain < -TIE or loss is None or best_loss is None:
        return False
    return loss < best_loss


class SelectionCallback(Callback):
    """Keeps the validation curve, saves the best epoch's checkpoint to ``best_path`` and, once an epoch has left
    the label prior, stops training after ``patience`` epochs without a better one. Its state travels in
    checkpoints, so a resumed run goes on with the same curve and best epoch."""

    def __init__(self, monitor: str, mode: str, patience: int, best_path: Path):
        self.monitor, self.mode, self.patience, self.best_path = monitor, mode, int(patience), Path(best_path)
        self.lowest_loss_path = self.best_path.with_name(LOWEST_LOSS_CKPT)
        self.prior: LabelPrior | None = None  # set by the run (None: no fallback, patience counts from epoch 0)
        self.curve: list[dict[str, Any]] = []
        self.best: int | None = None  # index into curve
        self.lowest_loss: int | None = None  # index into curve, kept while no epoch has left the prior
        self.left_at: int | None = None  # index into curve of the first epoch that left the prior
        self.patience_exhausted = False

    @property
    def left_prior(self) -> bool:
        return self.left_at is not None

    @property
    def best_point(self) -> dict[str, Any] | None:
        return self.curve[self.best] if self.best is not None else None

    @property
    def below_prior(self) -> bool:
        """No validated epoch ranked better than the label prior, and the monitor is a document metric, which
        below the prior only ranks untrained rankings: the lowest-loss epoch is evaluated. A stage's own monitor
        (the sentence tagger's classifier accuracy over sentences) measures learning below the prior too, and
        keeps choosing: on codiesp-d that accuracy rose from 0.025 to 0.064 in 30 epochs while the stage's
        validation loss rose from its first epoch."""
        return self.document_monitor and self.prior is not None and not self.left_prior and self.lowest_loss is not None

    @property
    def document_monitor(self) -> bool:
        return self.monitor.removeprefix("val/") in MONITORED

    def evaluated(self) -> tuple[int, Path] | None:
        """The curve index and checkpoint of the weights to evaluate: the best epoch, or the lowest-loss one
        while no epoch left the prior; None before any validation."""
        if self.below_prior:
            return self.lowest_loss, self.lowest_loss_path
        return (self.best, self.best_path) if self.best is not None else None

    def _track_prior(self, trainer: pl.Trainer, pl_module, point: dict[str, Any], ranking: float | None) -> None:
        if ranking is None:  # a fit that does not log it (none today) keeps the monitor's choice
            self.prior = None
        if self.prior is None or self.left_prior:
            return
        if ranking >= self.prior.val_map_doc + PRIOR_MARGIN and self.prior.beaten_by(*pl_module.collected["val"][1:]):
            self.left_at = len(self.curve) - 1
            self.lowest_loss_path.unlink(missing_ok=True)
            return
        lowest = self.curve[self.lowest_loss]["val_loss"] if self.lowest_loss is not None else None
        loss = point["val_loss"]
        if self.lowest_loss is None or (loss is not None and lowest is not None and loss < lowest):
            self.lowest_loss = len(self.curve) - 1
            if self.document_monitor:  # only then is the lowest-loss epoch ever evaluated (below_prior)
                trainer.save_checkpoint(self.lowest_loss_path, weights_only=True)

    @property
    def epochs_without_progress(self) -> int:
        """What patience counts: epochs since the best one, or since the run left the prior if that came later (a
        noisy early epoch that beat it without leaving the prior does not use up the patience)."""
        marks = [index for index in (self.best, self.left_at) if index is not None]
        return len(self.curve) - 1 - max(marks) if marks else len(self.curve)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        metrics = trainer.callback_metrics
        if self.monitor not in metrics:
            known = ", ".join(sorted(k for k in metrics if k.startswith("val/")))
            raise UserError(f"train.monitor={self.monitor} was not logged this epoch; logged: {known}")
        loss = float(metrics[LOSS]) if LOSS in metrics else None
        point = {"epoch": int(trainer.current_epoch), "monitor": float(metrics[self.monitor]), "val_loss": loss}
        self.curve.append(point)
        best = self.best_point
        if best is None or better(point["monitor"], loss, best["monitor"], best["val_loss"], self.mode):
            self.best = len(self.curve) - 1
            trainer.save_checkpoint(self.best_path, weights_only=True)
        ranking = float(metrics[PRIOR_MONITOR]) if PRIOR_MONITOR in metrics else None
        self._track_prior(trainer, pl_module, point, ranking)
        counting = self.prior is None or self.left_prior  # at the prior, only a budget ends the run
        if counting and self.epochs_without_progress >= self.patience:
            self.patience_exhausted = True
            trainer.should_stop = True

    def stop_reason(self) -> str:
        return "converged" if self.patience_exhausted else "budget"

    def state_dict(self) -> dict[str, Any]:
        return {"curve": list(self.curve), "best": self.best, "patience_exhausted": self.patience_exhausted,
                "lowest_loss": self.lowest_loss, "left_prior": self.left_prior, "left_at": self.left_at}  # fmt: skip

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.curve = list(state_dict.get("curve", []))
        self.best = state_dict.get("best")
        self.lowest_loss = state_dict.get("lowest_loss")
        self.left_at = state_dict.get("left_at")
        if self.left_at is None and state_dict.get("left_prior"):  # a checkpoint from before left_at was kept
            self.left_at = self.best
        self.patience_exhausted = bool(state_dict.get("patience_exhausted", False))
