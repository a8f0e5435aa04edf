"""``--resume`` after a crash reproduces the uninterrupted run; SWA's averaged weights are the evaluated ones
even after early stopping; the NaN and collapse guards stop a run with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

from icdbench.config import resolve_config
from icdbench.errors import UserError
from icdbench.models.base import ModelContext, ModelOutput, as_output
from icdbench.models.registry import get_model
from icdbench.training.callbacks import SWAEvaluated
from icdbench.training.module import CodingModule, TrainingDiverged, collapse_reason
from icdbench.training.run import RunRequest, train
from icdbench.training.selection import SelectionCallback

RESUME = ["optim.epochs=3", "train.patience=5", "train.logger=none", "data.max_train_docs=96"]


class FailAt(Callback):
    """Raises at a given epoch and batch: a crash part-way through training, for ``--resume``."""

    def __init__(self, epoch: int, batch: int):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            raise RuntimeError(f"simulated crash at epoch {self.epoch}, batch {self.batch}")


def test_resumed_run_ends_with_the_uninterrupted_metrics(run_env):
    uninterrupted = train(RunRequest("caml", "synth-tiny", "ci", seed=1, overrides=RESUME)).record
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(RunRequest("caml", "synth-tiny", "ci", seed=1, overrides=RESUME, callbacks=[FailAt(epoch=1, batch=2)]))
    crashed = sorted((run_env[1] / "synth-tiny" / "caml").iterdir())[-1]
    assert (crashed / "checkpoints" / "last.ckpt").is_file() and not (crashed / "record.json").exists()
    resumed = train(RunRequest("caml", "synth-tiny", resume=crashed)).record
    assert resumed.run_id == crashed.name and resumed.epochs_run == uninterrupted.epochs_run
    assert resumed.metrics == uninterrupted.metrics
    with pytest.raises(UserError, match="finished run"):
        train(RunRequest("caml", "synth-tiny", resume=crashed))


class _NoPrior(Callback):
    """Takes the label prior away from the run's selection, so SWA averages every epoch from its start: two ci
    epochs on synth-tiny never leave the prior, and SWA averages only epochs that have."""

    def on_fit_start(self, trainer, pl_module):
        for callback in trainer.callbacks:
            if isinstance(callback, SelectionCallback):
                callback.prior = None


def test_swa_run_evaluates_the_average_of_epochs_past_the_prior(run_env):
    overrides = ["optim.epochs=2", "train.logger=none", "data.max_train_docs=48"]
    record = train(RunRequest("rac", "synth-tiny", "ci", overrides=overrides, callbacks=[_NoPrior()])).record
    assert record.config["train"]["swa"] is True and record.selection == "swa-average"
    # at the prior (both epochs), nothing is averaged: the lowest-loss epoch is evaluated, as for any such run
    at_prior = train(RunRequest("rac", "synth-tiny", "ci", overrides=overrides)).record
    assert at_prior.selection == "lowest-loss" and at_prior.stop_reason == "prior"
    # the ci profile adds one permuted copy per note; every synthetic note has several sentences
    assert record.sentence_permutation == {"copies": 1, "train_docs_under_2_sentences": 0}


def test_swa_under_hmhans_frozen_feature_path_evaluates_the_average(run_env):
    """HMHAN's SMOTE stage trains on the fit path of every model: with ``train.swa=true`` the evaluated and saved
    weights are the average, not the last epoch's (``last.ckpt``), and the frozen encoder stays as it was."""
    overrides = ["optim.epochs=2", "train.swa=true", "train.keep_checkpoints=true", "train.logger=none",
                 "data.max_train_docs=48"]  # fmt: skip
    result = train(RunRequest("hmhan", "synth-tiny", "ci", overrides=overrides, callbacks=[_NoPrior()]))
    record = result.record
    assert record.extra["smote"]["encoder_frozen"] and record.epochs_run == 2
    assert record.selection == "swa-average"
    evaluated = torch.load(result.run_dir / "model.pt", weights_only=True)
    last = torch.load(result.run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    last = {name.removeprefix("model."): value for name, value in last.items() if name.startswith("model.")}
    assert evaluated.keys() == last.keys()
    moved = {name for name in evaluated if not torch.equal(evaluated[name], last[name])}
    assert moved and not any(name.startswith("encoder.") for name in moved)


class _StopAfter(Callback):
    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            trainer.should_stop = True


class _Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_swa_average_replaces_live_weights_after_an_early_stop():
    """Lightning's callback alone keeps the live weights when training stops before max_epochs."""
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(32, 3)), batch_size=8)
    module = _Tiny()
    swa = SWAEvaluated(swa_lrs=0.1, swa_epoch_start=1, annealing_epochs=1)
    trainer = pl.Trainer(max_epochs=10, callbacks=[swa, _StopAfter(3)], logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(module, data)
    assert trainer.current_epoch < 10 and swa.averaged
    for live, averaged in zip(module.parameters(), swa._average_model.parameters()):
        torch.testing.assert_close(live, averaged)


class _EndOfEpochWeights(Callback):
    def __init__(self):
        self.weights: list[list[torch.Tensor]] = []

    def on_train_epoch_end(self, trainer, pl_module):
        self.weights.append([p.detach().clone() for p in pl_module.parameters()])


@pytest.mark.parametrize("start, stop_after", [(1, None), (2, None), (1, 2)])
def test_swa_averages_the_weights_after_each_epoch_from_its_start_epoch(start, stop_after):
    """The average is the mean of the weights at the end of epochs start..last (1-based): the initial weights
    are not in it and the last epoch is (Lightning's own callback updates at epoch starts: the reverse)."""
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(32, 3)), batch_size=8)
    module, seen = _Tiny(), _EndOfEpochWeights()
    swa = SWAEvaluated(swa_lrs=0.05, swa_epoch_start=start, annealing_epochs=1)
    stops = [_StopAfter(stop_after)] if stop_after is not None else []
    trainer = pl.Trainer(max_epochs=4, callbacks=[seen, swa, *stops], logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(module, data)
    averaged_epochs = seen.weights[start - 1 :]
    assert swa.averaged and int(swa.n_averaged) == len(averaged_epochs)
    for index, live in enumerate(module.parameters()):
        expected = torch.stack([epoch[index] for epoch in averaged_epochs]).mean(0)
        torch.testing.assert_close(live, expected)


class _PriorLeftAt(Callback):
    """What SWAEvaluated reads of the run's SelectionCallback: the run leaves the label prior at epoch ``left``
    (0-based; None: never)."""

    def __init__(self, left: int | None):
        self.left, self.prior, self.left_prior = left, object(), False

    def on_train_epoch_end(self, trainer, pl_module):  # after validation, before SWA's update
        self.left_prior = self.left is not None and trainer.current_epoch >= self.left


@pytest.mark.parametrize("left", [2, None])
def test_swa_averages_only_epochs_that_left_the_prior(left):
    """RAC on codiesp-p: 16 epochs at the prior, then a climb; an average from epoch 1 would be mostly untrained
    weights. With no epoch past the prior there is no average, and the live weights stay (not the initial ones
    Lightning would copy back)."""
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(32, 3)), batch_size=8)
    module, seen, gate = _Tiny(), _EndOfEpochWeights(), _PriorLeftAt(left)
    swa = SWAEvaluated(swa_lrs=0.05, swa_epoch_start=1, annealing_epochs=1, selection=gate)
    trainer = pl.Trainer(max_epochs=4, callbacks=[seen, gate, swa], logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(module, data)
    if left is None:
        assert not swa.averaged
        for live, last in zip(module.parameters(), seen.weights[-1]):
            torch.testing.assert_close(live, last)
        return
    assert swa.averaged and int(swa.n_averaged) == 4 - left
    for index, live in enumerate(module.parameters()):
        torch.testing.assert_close(live, torch.stack([epoch[index] for epoch in seen.weights[left:]]).mean(0))


class _Passthrough(torch.nn.Module):
    def forward(self, batch):
        return batch["input_ids"]


def _module(loss: str = "bce") -> CodingModule:
    spec = get_model("caml")
    cfg = resolve_config(spec, split="synth-tiny", profile="ci", overrides=[f"train.loss={loss}"]).cfg
    ctx = ModelContext(codes=["A", "B"], kinds=["dx", "dx"], titles=["a", "b"], short_titles=[None, None],
                       ancestors=[[], []], train_counts=np.array([3, 1]), n_train_docs=10)  # fmt: skip
    return CodingModule(_Passthrough(), cfg, ctx)


def test_nan_loss_stops_with_a_clear_message():
    module = _module()
    batch = {"input_ids": torch.tensor([[float("nan"), 0.0]]), "targets": torch.tensor([[1.0, 0.0]])}
    with pytest.raises(TrainingDiverged, match="training loss became nan .* lower optim.lr"):
        module.training_step(batch, 0)


def test_collapse_to_every_code_is_recognised():
    targets = np.zeros((20, 50), dtype=bool)
    targets[:, 0] = True
    assert "pooled AUC-ROC 0.50" in collapse_reason(np.full((20, 50), 0.95, dtype=np.float32), targets)
    assert collapse_reason(np.full((20, 50), 0.1, dtype=np.float32), targets) is None  # predicting little is fine
    assert collapse_reason(np.full((20, 50), 0.55, dtype=np.float32), targets) is None  # untrained: near 0.5


def test_high_scores_that_still_rank_gold_codes_first_are_not_a_collapse():
    """Focal + class-weighted BCE (HMHAN) lifts every score on purpose; the model is fine while gold pairs
    outscore the others."""
    rng = np.random.default_rng(0)
    targets = rng.random((40, 60)) < 0.05
    scores = np.where(targets, 0.97, 0.91) + rng.uniform(-0.02, 0.02, targets.shape)
    assert collapse_reason(scores.astype(np.float32), targets) is None
    scores[:, :] = 0.95 + rng.uniform(-0.02, 0.02, targets.shape)  # the same level, no ranking: collapsed
    assert "pooled AUC-ROC 0.4" in collapse_reason(scores.astype(np.float32), targets)  # chance: 0.49


class _Saturate(Callback):
    """Makes the model predict every code with certainty at validation: the label-attention failure mode."""

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        def saturate(module, inputs, output):
            return ModelOutput(logits=torch.full_like(as_output(output).logits, 30.0))

        self.handle = pl_module.model.register_forward_hook(saturate)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self.handle.remove()


def test_a_collapse_stops_training_and_the_record_says_so(run_env, capfd):
    """The guard ends training after the epoch it fires in; the run is still scored and recorded as
    ``collapse`` (a marked row on the boards, never a silent one), and says so in one line."""
    overrides = ["optim.epochs=3", "train.patience=3", "train.logger=none", "data.max_train_docs=32"]
    record = train(RunRequest("hmhan", "synth-tiny", "ci", overrides=overrides, callbacks=[_Saturate()])).record
    assert record.stop_reason == "collapse" and record.epochs_run == 1
    err = capfd.readouterr().err
    assert "warning: the model collapsed to predicting nearly every code" in err and "after epoch 0" in err
    assert "note: hmhan on synth-tiny collapsed during training" in err


def test_class_weighted_loss_uses_train_frequencies():
    module = _module("wbce")
    assert module.loss_fn.pos_weight.tolist() == pytest.approx([7 / 3, 9.0])
