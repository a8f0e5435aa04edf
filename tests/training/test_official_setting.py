"""``data.train_parts=train,val`` with ``train.fixed_from``: train on train + val with every choice fixed by a
train-only run, so nothing is chosen on the validation documents it trains on or on test."""

from __future__ import annotations

import json

import polars as pl
import pytest

from icdbench.datasets.storage import load_split
from icdbench.errors import UserError
from icdbench.training.official import comparable_to_published, with_val_in_train
from icdbench.training.run import RunRequest, train

SHRINK = ["data.max_train_docs=null", "train.monitor=val/map_doc"]


def _train(model, *overrides):
    return train(RunRequest(model=model, split="synth-tiny", profile="ci", seed=0, overrides=[*SHRINK, *overrides]))


def test_fitted_model_reuses_the_chosen_setting_and_threshold_and_trains_on_both_parts(run_env):
    data, _ = run_env
    reference = _train("svm")
    split = load_split(data / "synth-tiny")
    fixed = _train("svm", "data.train_parts=train,val", f"train.fixed_from={reference.run_dir}")
    rec, ref = fixed.record, reference.record
    assert ref.training.to_dict() == {"parts": ["train"]} and rec.training.parts == ["train", "val"]
    assert rec.training.fixed_from == ref.run_id and rec.training.setting == ref.extra["chosen"]
    assert [p["C"] for p in rec.convergence.curve] == [ref.extra["chosen"]["C"]]  # one fit, no search
    assert rec.n_train_docs == split.train.height + split.val.height == ref.n_train_docs + split.val.height
    assert json.loads((fixed.run_dir / "threshold.json").read_text()) == json.loads(
        (reference.run_dir / "threshold.json").read_text())  # fmt: skip
    assert rec.metrics.full["micro_f1"] != ref.metrics.full["micro_f1"]  # more data, another model
    # synth-tiny publishes nothing: neither setting is comparable to published numbers
    assert rec.comparable_to_published is False and ref.comparable_to_published is False


def test_lightning_model_trains_the_selected_epoch_count_and_keeps_the_final_weights(run_env):
    reference = _train("cnn", "optim.epochs=3", "train.patience=1")
    selected = reference.record.convergence.selected_epoch
    fixed = _train("cnn", "optim.epochs=3", "data.train_parts=train,val", f"train.fixed_from={reference.run_dir}")
    rec = fixed.record
    assert rec.config["optim"]["epochs"] == selected + 1 == rec.training.epochs
    assert rec.epochs_run == selected + 1 and rec.selection == "final"
    assert rec.stop_reason in (reference.record.stop_reason, "prior")
    assert f"train.fixed_from {reference.record.run_id}" in rec.config_sources


def test_bad_requests_are_one_line_errors(run_env):
    with pytest.raises(UserError, match="add train.fixed_from=RUN_DIR, a finished run of lr on synth-tiny"):
        _train("lr", "data.train_parts=train,val")
    with pytest.raises(UserError, match="train.fixed_from only applies with data.train_parts=train,val"):
        _train("lr", "train.fixed_from=somewhere")
    with pytest.raises(UserError, match="data.train_parts='train,test' is not one of"):
        _train("lr", "data.train_parts=train,test")
    reference = _train("prior")
    with pytest.raises(UserError, match="is a run of prior, not lr"):
        _train("lr", "data.train_parts=train,val", f"train.fixed_from={reference.run_dir}")
    combined = _train("prior", "data.train_parts=train,val", f"train.fixed_from={reference.run_dir}")
    with pytest.raises(UserError, match="trained on train,val: its choices saw the validation documents"):
        _train("prior", "data.train_parts=train,val", f"train.fixed_from={combined.run_dir}")


def test_val_in_train_recounts_training_documents_and_published_setting_decides_comparability(run_env):
    data, _ = run_env
    split = load_split(data / "synth-tiny")
    both = with_val_in_train(split)
    assert both.train.height == split.train.height + split.val.height and both.val.equals(split.val)
    counts = dict(zip(both.codes["code"], both.codes["train_count"]))
    val_only = split.val.explode("codes")["codes"].value_counts().filter(
        ~pl.col("codes").is_in(split.train.explode("codes")["codes"].implode()))  # fmt: skip
    assert all(counts[c] == n for c, n in zip(val_only["codes"], val_only["count"]))
    codiesp = {"comparable_to_published": True, "published_train_parts": ["train", "val"]}
    assert comparable_to_published(codiesp, ("train", "val")) and not comparable_to_published(codiesp, ("train",))
    mimic = {"comparable_to_published": True}
    assert comparable_to_published(mimic, ("train",)) and not comparable_to_published(mimic, ("train", "val"))
