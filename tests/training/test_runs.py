"""Every registered model trains at the ci profile on synth-tiny and leaves a complete run folder that
``predict`` and ``explain`` can use; runs are deterministic; records carry provenance and no note text."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import torch

from icdbench.cli import main
from icdbench.errors import UserError
from icdbench.metrics.keys import METRICS
from icdbench.models.registry import all_models
from icdbench.training import explain as explain_module
from icdbench.training.predict import predict_codes
from icdbench.training.run import RunRequest, train

FAST = ["optim.epochs=1", "train.logger=none", "data.max_train_docs=64"]


def _run(model: str, *overrides: str, seed: int = 0, **kwargs):
    return train(RunRequest(model=model, split="synth-tiny", profile="ci", seed=seed, overrides=list(overrides),
                            **kwargs))  # fmt: skip


@pytest.mark.parametrize("model", sorted(all_models()))
def test_every_model_produces_a_run_record(model, run_env):
    result = _run(model, *FAST)
    record = result.record.to_dict()
    run_dir = result.run_dir
    assert run_dir.parent.name == model and run_dir.parent.parent.name == "synth-tiny"
    for name in ("config.yaml", "config_layers.yaml", "record.json", "scores.npz", "threshold.json"):
        assert (run_dir / name).is_file(), name
    assert not (run_dir / "checkpoints").exists()  # Lightning's resume checkpoints go once the run is done
    assert json.loads((run_dir / "record.json").read_text())["model"] == model
    for setting in ("full", "top50"):
        metrics = record["metrics"][setting]
        for key in ("micro_f1", "macro_f1", "macro_auc_pr", "p@8", "emr", "jaccard_samples"):
            assert 0.0 <= metrics[key] <= 1.0, (setting, key)
    assert record["n_test_docs"] == len(pl.read_parquet(run_env[0] / "synth-tiny" / "test.parquet"))
    assert record["timing"]["wall_seconds"] > 0 and record["timing"]["inference_ms_per_doc"] > 0
    assert record["memory"]["peak_rss_mib"] > 0
    assert record["split_hashes"]["content_sha256"] and record["config_hash"]
    assert set(record["metrics"]["full"]) | set(record["metrics"]["top50"]) <= set(METRICS)  # `list metrics`
    if all_models()[model].trainer != "sklearn":
        assert record["n_parameters"] > 0 and (run_dir / "model.pt").is_file()
        state = torch.load(run_dir / "model.pt", weights_only=True)
        assert all(isinstance(v, torch.Tensor) for v in state.values())
    _predict_and_explain(model, run_dir, run_env)


def _predict_and_explain(model, run_dir, run_env):
    """Every run with a checkpoint answers ``predict`` and ``explain`` (whatever runner trained it: Lightning,
    HMHAN's SMOTE stage, the tagger's two stages); scikit-learn runs, which keep no model, refuse in one line."""
    note = run_env[1].parent / "note.txt"
    note.write_text("Patient admitted with chest pain and fever. History of hypertension.")
    doc = pl.read_parquet(run_env[0] / "synth-tiny" / "test.parquet", columns=["doc_id"])["doc_id"][0]
    if all_models()[model].trainer == "sklearn":
        with pytest.raises(UserError, match="keep no fitted model"):
            predict_codes(run_dir, note.read_text())
        return
    rows = predict_codes(run_dir, note.read_text(), top=5)
    assert len(rows) == 5 and all(0.0 <= r["score"] <= 1.0 and r["title"] for r in rows)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(explain_module, "LIME_SAMPLES", 16)  # the command's path, not LIME's quality
        assert main(["explain", str(run_dir), "--doc", doc, "--method", "lime"]) == 0
    saved = json.loads((run_dir / "explanations" / f"{doc}-lime.json").read_text())
    assert saved["model"] == model and saved["codes"] and all(c["words"] for c in saved["codes"])
    # explain scores the whole note as the run scored it on the test part
    recorded = np.load(run_dir / "scores.npz")
    row, columns = list(recorded["doc_ids"]).index(doc), list(recorded["codes"])
    for entry in saved["codes"]:
        assert entry["score"] == pytest.approx(float(recorded["scores"][row, columns.index(entry["code"])]), abs=1e-5)


def test_record_holds_provenance_ci_and_threshold(run_env):
    record = _run("caml", *FAST).record.to_dict()
    prov = record["provenance"]
    assert {"git_commit", "git_dirty", "versions", "device"} <= set(prov)
    assert {"python", "torch", "pytorch-lightning", "transformers"} <= set(prov["versions"])
    assert record["threshold"]["rule"] == "global" and 0 < record["threshold"]["value"] < 1
    assert record["best_monitor"]["name"] == "val/map_doc"
    block = record["convergence"]
    assert record["stop_reason"] in {"converged", "budget", "prior"} and block["monitor"] == "val/map_doc"
    # one epoch of 64 notes may not leave the prior; weights chosen by their loss are then the prior's
    assert record["selection"] == "best-checkpoint" or record["stop_reason"] == "prior"
    assert [p["epoch"] for p in block["curve"]] == list(range(record["epochs_run"]))
    assert block["curve"][block["selected"]]["monitor"] == record["best_monitor"]["value"]
    ci = record["ci"]["full"]["micro_f1"]
    assert ci["low"] <= record["metrics"]["full"]["micro_f1"] == ci["estimate"] <= ci["high"]
    assert record["config_sources"][:3] == ["caml defaults", "caml train_defaults", "profile ci (default)"]


def test_same_seed_gives_identical_metrics_and_another_seed_differs(run_env):
    first = _run("cnn", *FAST, seed=3).record.to_dict()
    second = _run("cnn", *FAST, seed=3).record.to_dict()
    other = _run("cnn", *FAST, seed=4).record.to_dict()
    assert first["metrics"] == second["metrics"]
    assert first["metrics"] != other["metrics"]
    scores = [np.load(_run_dir(r, run_env) / "scores.npz")["scores"] for r in (first, second)]
    np.testing.assert_array_equal(*scores)


def _run_dir(record, run_env):
    return run_env[1] / record["split"] / record["model"] / record["run_id"]


def test_no_note_text_in_any_run_file(run_env):
    """Sentences of the notes never appear in what a run writes (vocabulary words aside)."""
    result = _run("caml", *FAST[:1])
    test = pl.read_parquet(run_env[0] / "synth-tiny" / "test.parquet")
    probes = set()
    for text in test["text"].head(20).to_list():
        words = text.split()
        probes.update(" ".join(words[i : i + 4]).lower() for i in range(0, len(words) - 4, 7))
    for path in result.run_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes().decode("latin-1").lower()
            leaked = [p for p in probes if p in content]
            assert not leaked, (path.name, leaked[:2])
