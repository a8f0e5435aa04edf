"""The published schedule settings a run can now express: warm-up in steps (Edin et al.: 2,000), a floor on
the plateau decay (Vu et al.'s release and Edin et al.: min_lr 1e-4), and the fixed 0.5 decision rule."""

from __future__ import annotations

import json

import numpy as np
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import Callback

from icdbench.training.module import warmup_steps
from icdbench.training.run import RunRequest, train


def test_warmup_steps_replace_the_fraction_and_never_pass_the_total():
    def optim(**values):
        return OmegaConf.create({"warmup": 0.02, "warmup_steps": None, **values})

    assert warmup_steps(optim(), 10_000) == 200
    assert warmup_steps(optim(warmup_steps=2000), 10_000) == 2000
    assert warmup_steps(optim(warmup_steps=2000), 500) == 500
    assert warmup_steps(optim(warmup=0.0, warmup_steps=0), 500) == 0


class _FrozenRates(Callback):
    """Drops every gradient (validation metrics stay flat) and records the rate each epoch starts with."""

    def __init__(self):
        self.seen: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        for parameter in pl_module.parameters():
            parameter.grad = None


def test_plateau_decay_stops_at_its_floor_and_a_fixed_rule_run_saves_one_half(run_env):
    rates = _FrozenRates()
    overrides = ["optim.epochs=4", "train.patience=10", "optim.plateau_patience=0", "optim.plateau_factor=0.5",
                 "optim.plateau_min_lr=4e-4", "data.max_train_docs=32", "train.logger=none",
                 "train.threshold=fixed"]  # fmt: skip
    result = train(RunRequest("laat", "synth-tiny", "ci", overrides=overrides, callbacks=[rates]))
    np.testing.assert_allclose(rates.seen, [1e-3, 1e-3, 5e-4, 4e-4])  # without the floor: 2.5e-4 at epoch 4
    saved = json.loads((result.run_dir / "threshold.json").read_text())
    assert saved == {"rule": "fixed", "value": 0.5, "top_k": None} == result.record.threshold.to_dict()


class _StepRates(Callback):
    """Records the rate of every optimiser step."""

    def __init__(self):
        self.seen: list[float] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.seen.append(optimizer.param_groups[0]["lr"])


def test_the_linear_decay_ends_at_the_step_budget_when_that_comes_first(run_env):
    """32 documents in batches of 8 for 30 epochs are 120 steps; a budget of 10 steps ends the run, so the rate
    must reach zero there, not a twelfth of the way down (it would still be at 92% of its peak)."""
    rates = _StepRates()
    overrides = ["optim.epochs=30", "train.patience=30", "train.max_steps=10", "data.max_train_docs=32",
                 "optim.batch_size=8", "optim.schedule=linear", "optim.warmup=0.0", "optim.lr=1e-3",
                 "train.logger=none"]  # fmt: skip
    train(RunRequest("cnn", "synth-tiny", "ci", overrides=overrides, callbacks=[rates]))
    np.testing.assert_allclose(rates.seen, [1e-3 * (10 - step) / 10 for step in range(10)], rtol=1e-6)
