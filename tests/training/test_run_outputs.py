"""What finish_run records beyond the standard metrics: the sentence tagger's own metrics and per-stage logs,
evidence metrics on splits with gold evidence, every decision rule's threshold (top-k included); and LAAT's
learning-rate decay on a validation plateau."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from pytorch_lightning.callbacks import Callback

from icdbench.config import resolve_config
from icdbench.metrics.keys import METRICS
from icdbench.metrics.thresholds import TopK
from icdbench.models.registry import get_model
from icdbench.results.record import RunRecord
from icdbench.training.evaluation import threshold_summary
from icdbench.training.predict import predict_codes
from icdbench.training.run import RunRequest, train

FAST = ["optim.epochs=1", "data.max_train_docs=64"]
EVIDENCE = ("evidence_p@5", "evidence_r@5", "evidence_p@10", "evidence_r@10", "evidence_sentence_hit",
            "evidence_span_f1_exact", "evidence_span_f1_pi", "evidence_n_cases")  # fmt: skip


def _run(model: str, *overrides: str, callbacks=()):
    return train(RunRequest(model, "synth-tiny", "ci", overrides=list(overrides), callbacks=list(callbacks)))


def _assert_listed(record: RunRecord) -> None:
    for setting in ("full", "top50"):
        unknown = set(record.metrics.of(setting)) - set(METRICS)
        assert not unknown, f"keys missing from icdbench.metrics.keys: {unknown}"


def test_tagger_run_records_its_metrics_evidence_and_one_log_folder_per_stage(run_env):
    result = _run("sentence-tagger", *FAST, "train.logger=csv")
    record, run_dir = result.record, result.run_dir
    full = record.metrics.full
    for key in ("tagger_macro_precision", "tagger_macro_recall", "tagger_macro_f1", "classifier_accuracy",
                "classifier_macro_f1", "classifier_weighted_f1", "union_subset_accuracy", "union_instance_f1"):
        assert 0.0 <= full[key] <= 1.0, key  # fmt: skip
    assert full["n_test_sentences"] > 0 and "metrics" not in record.extra
    assert set(EVIDENCE) <= set(full) and full["evidence_n_cases"] > 0
    assert not any(k.startswith(("evidence_", "tagger_")) for k in record.metrics.top50)
    _assert_listed(record)
    for stage, monitor in (("tagger", "val/tagger_macro_f1"), ("classifier", "val/classifier_accuracy")):
        header = (run_dir / "logs" / stage / "metrics.csv").read_text().splitlines()[0]
        assert monitor in header, (stage, header)


def test_laat_run_records_evidence_metrics(run_env):
    record = _run("laat", *FAST, "train.logger=none").record
    full = record.metrics.full
    assert set(EVIDENCE) <= set(full) and full["evidence_n_cases"] > 0
    for key in EVIDENCE[:-1]:
        assert full[key] is None or 0.0 <= full[key] <= 1.0, key  # NaN is written as null
    _assert_listed(record)


def test_threshold_summary_of_every_rule():
    assert threshold_summary("global", 0.25) == {"rule": "global", "value": 0.25, "top_k": None}
    per_code = threshold_summary("per_code", torch.tensor([0.2, 0.4], dtype=torch.float64))
    assert per_code["value"] == [0.2, 0.4]
    assert per_code["summary"] == pytest.approx({"mean": 0.3, "min": 0.2, "max": 0.4})
    assert threshold_summary("top_k", TopK(3)) == {"rule": "top_k", "value": None, "top_k": 3}


def test_top_k_run_saves_its_k_and_predicts_k_codes(run_env, tmp_path):
    result = _run("caml", *FAST, "train.logger=none", "train.threshold=top_k", "train.top_k=3")
    saved = json.loads((result.run_dir / "threshold.json").read_text())
    assert saved == {"rule": "top_k", "value": None, "top_k": 3} == result.record.threshold.to_dict()
    assert "evidence_n_cases" in result.record.metrics.full  # evidence decisions under top-k too
    rows = predict_codes(result.run_dir, "Chest pain and fever. Hypertension.", top=10)
    assert sum(r["assigned"] for r in rows) == 3


class _FrozenWeights(Callback):
    """Drops every gradient before the optimiser step, so validation metrics stay flat; records the learning
    rate each epoch starts with."""

    def __init__(self):
        self.seen: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        for parameter in pl_module.parameters():
            parameter.grad = None


def test_laat_decays_the_learning_rate_on_a_validation_plateau(run_env):
    laat = resolve_config(get_model("laat"), split="synth-tiny", profile="paper").cfg.optim
    assert (laat.schedule, laat.plateau_factor, laat.plateau_patience) == ("plateau", 0.9, 5)
    assert resolve_config(get_model("caml"), split="synth-tiny", profile="paper").cfg.optim.schedule == "constant"
    # frozen weights leave validation micro-F1 flat: with patience 1 the third flat epoch halves the rate
    rates = _FrozenWeights()
    overrides = ["optim.epochs=4", "train.patience=10", "optim.plateau_patience=1", "optim.plateau_factor=0.5",
                 "data.max_train_docs=32", "train.logger=none"]  # fmt: skip
    _run("laat", *overrides, callbacks=[rates])
    np.testing.assert_allclose(rates.seen, [1e-3, 1e-3, 1e-3, 5e-4])
