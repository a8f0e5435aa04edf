"""The line a run at the label prior ends with: what its curve says to try next."""

from __future__ import annotations

from icdbench.results.record import Convergence, Metrics, RunRecord
from icdbench.training.evaluation import stop_note


def _prior_record(val_losses, *, budget_hit=None, loss="bce") -> RunRecord:
    curve = [{"epoch": i, "monitor": 0.15, "val_loss": value} for i, value in enumerate(val_losses)]
    return RunRecord(
        run_id="r", model="bigru", split="synth-icd10", profile="cpu", seed=0, metrics=Metrics(full={}),
        stop_reason="prior", epochs_run=len(curve), config={"train": {"loss": loss}},
        convergence=Convergence(monitor="val/map_doc", curve=curve, val_map_doc=0.153, prior_val_map_doc=0.155,
                                max_epochs=30, max_minutes=15.0, budget_hit=budget_hit),
    )  # fmt: skip


def test_a_run_whose_validation_loss_only_rose_is_told_more_epochs_will_not_help():
    note = stop_note(_prior_record([0.031, 0.032, 0.033, 0.036], budget_hit="max_epochs"))
    assert note.startswith("note: bigru on synth-icd10 did not leave the label prior (validation mAP 0.1530")
    assert "lowest at epoch 0" in note and "more epochs will not help" in note
    assert "raise" not in note


def test_a_run_a_budget_ended_while_its_loss_still_fell_is_told_which_budget_to_raise():
    note = stop_note(_prior_record([0.031, 0.030, 0.029, 0.028], budget_hit="max_minutes"))
    assert "the 15-minute time budget ended it first: raise train.max_minutes" in note
    assert "will not help" not in note


def test_a_run_patience_ended_gets_the_general_advice():
    note = stop_note(_prior_record([0.031, 0.030, 0.0305]))
    assert note.endswith("give it more epochs (optim.epochs, train.max_minutes) or check optim.lr")


def test_a_class_weighted_loss_is_named_as_why_the_ranking_starts_below_the_prior():
    note = stop_note(_prior_record([0.95, 0.85, 0.80], budget_hit="max_minutes", loss="focal+wbce"))
    assert "class-weighted loss (train.loss=focal+wbce)" in note
    assert "class-weighted" not in stop_note(_prior_record([0.95, 0.85, 0.80]))
