"""Training throughput and the share of its cores a run had: what tells a reader that a time-budgeted run was
cut short by other processes on the machine."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from pytorch_lightning.trainer.states import TrainerFn

from icdbench.results.record import Convergence, Metrics, RunRecord, Timing
from icdbench.training import callbacks
from icdbench.training.callbacks import ThroughputMeter
from icdbench.training.evaluation import stop_note


def test_the_cpu_share_counts_training_batches_and_leaves_validation_out(monkeypatch):
    # (wall, cpu) readings: epoch start, validation start, validation end, epoch end
    readings = iter([(0.0, 0.0), (8.0, 4.0), (10.0, 6.0), (12.0, 7.0)])
    monkeypatch.setattr(callbacks, "clocks", lambda: next(readings))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    trainer = SimpleNamespace(world_size=1, state=SimpleNamespace(fn=TrainerFn.FITTING))
    meter = ThroughputMeter()
    meter.on_train_epoch_start(trainer, None)
    for _ in range(5):
        meter.on_train_batch_end(trainer, None, None, {"targets": torch.zeros(4, 3)}, 0)
    meter.on_validation_epoch_start(trainer, None)
    meter.on_validation_epoch_end(trainer, None)
    meter.on_train_epoch_end(trainer, None)
    # training: 12 - 2 = 10 wall seconds, 7 - 2 = 5 CPU seconds on one thread
    assert meter.docs_per_second == 2.0
    assert meter.cpu_share == 0.5


def test_the_cpu_share_divides_by_the_threads_training_used(monkeypatch):
    readings = iter([(0.0, 0.0), (10.0, 15.0)])
    monkeypatch.setattr(callbacks, "clocks", lambda: next(readings))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    trainer = SimpleNamespace(world_size=1, state=SimpleNamespace(fn=TrainerFn.FITTING))
    meter = ThroughputMeter()
    assert meter.cpu_share is None  # nothing trained yet
    meter.on_train_epoch_start(trainer, None)
    meter.on_train_epoch_end(trainer, None)
    assert meter.cpu_share == 0.75


def _budget_record(share: float | None, budget_hit: str = "max_minutes") -> RunRecord:
    return RunRecord(
        run_id="r", model="laat", split="synth-icd10", profile="cpu", seed=1, metrics=Metrics(full={}),
        stop_reason="budget", epochs_run=3, timing=Timing(train_cpu_share=share),
        convergence=Convergence(monitor="val/map_doc", max_epochs=30, max_minutes=15.0, max_steps=750,
                                budget_hit=budget_hit),
    )  # fmt: skip


def test_a_run_cut_by_its_time_budget_says_how_much_of_its_cores_it_had():
    note = stop_note(_budget_record(0.31))
    assert "stopped at the 15-minute time budget after 3 epochs" in note
    assert "training had 31% of its cores' time" in note
    assert "cores' time" not in stop_note(_budget_record(None))  # records made before the share was kept


def test_the_note_names_the_budget_that_ended_the_run_and_its_setting():
    timed, stepped, capped = (stop_note(_budget_record(0.9, hit)) for hit in ("max_minutes", "max_steps", "max_epochs"))
    assert "raise train.max_minutes" in timed and "train.max_steps does not" in timed
    assert "stopped at its budget of 750 optimiser steps after 3 epochs" in stepped
    assert "raise train.max_steps" in stepped
    assert "stopped at 30 epochs" in capped and "raise optim.epochs" in capped
    assert "machine" not in stepped + capped  # neither depends on the machine
