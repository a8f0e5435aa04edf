"""``benchmarks/perf/convergence.py``: ``table`` reads fake run records (both layouts) into one table with every
model's stop reason, the count line and the curves of the runs that did not converge; ``run`` benches a model
on synth-tiny in a child process and reads its record back, and a model that fails is a row, not a crash.
No timing is asserted (the benchmark measures it)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "perf" / "convergence.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("convergence_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_record(model: str, micro_f1: float, stop_reason: str | None, curve=None, selected=None, **extra) -> dict:
    record = {
        "schema": 1,
        "run_id": f"20260101-000000-cpu-seed0-{model}",
        "model": model,
        "split": "synth-fake",
        "profile": "cpu",
        "seed": 0,
        "config": {"optim": {"epochs": 8}, "train": {"max_minutes": 15}},
        "provenance": {"device": "cpu: x86_64, 2 threads, 2 cores"},
        "timing": {"wall_seconds": 12.5, "train_docs_per_s": 300.0, "inference_ms_per_doc": 0.5},
        "epochs_run": len(curve) if curve else None,
        "metrics": {"full": {"micro_f1": micro_f1, "macro_auc_pr": micro_f1 / 2}},
        **extra,
    }
    if stop_reason is not None:  # old records have neither field
        record["stop_reason"] = stop_reason
        record["convergence"] = {
            "monitor": "val/map_doc", "selected": selected,
            "selected_epoch": curve[selected].get("epoch") if curve and selected is not None else None,
            "curve": curve or [], "val_map_doc": 0.4, "prior_val_map_doc": 0.2, "max_epochs": 8, "max_minutes": 15,
        }  # fmt: skip
    return record


def epochs(*values: float) -> list[dict]:
    return [{"epoch": i, "monitor": v, "val_loss": 1.0 - v} for i, v in enumerate(values)]


def test_table_lists_every_model_with_its_stop_reason(bench, tmp_path, capsys):
    records = {
        "caml": fake_record("caml", 0.61, "converged", epochs(0.3, 0.5, 0.5), selected=1),
        "rac": fake_record("rac", 0.72, "budget", epochs(0.111, 0.222, 0.333), selected=2),
        "lr": fake_record("lr", 0.55, "converged", [{"C": 1.0, "monitor": 0.3}, {"C": 10.0, "monitor": 0.4}], 1),
        "bert-cls": fake_record("bert-cls", 0.03, "prior", epochs(0.2, 0.2), selected=0),
        "laat": fake_record("laat", 0.42, None),
    }
    records["rac"]["timing"]["train_cpu_share"] = 0.62  # shared its cores (records before 0.3.0 lack it)
    records["rac"]["convergence"]["budget_hit"] = "max_minutes"  # the time budget ended it
    # committed layout for most, a RUNS_DIR layout (with a non-record JSON beside it) for one
    for model, record in records.items():
        if model == "rac":
            path = tmp_path / "synth-fake" / model / record["run_id"] / "record.json"
            path.parent.mkdir(parents=True)
            (path.parent / "threshold.json").write_text(json.dumps({"rule": "global", "value": 0.3}))
        else:
            path = tmp_path / "synth-fake" / model / "cpu-seed0.json"
            path.parent.mkdir(parents=True)
        path.write_text(json.dumps(record))
    # an older run of rac (earlier run id) is replaced by the newer one, as on the leaderboards
    older = fake_record("rac", 0.10, "prior", epochs(0.1), selected=0, run_id="20250101-000000-cpu-seed0")
    (tmp_path / "synth-fake" / "rac" / "old").mkdir()
    (tmp_path / "synth-fake" / "rac" / "old" / "record.json").write_text(json.dumps(older))

    out = tmp_path / "rows.json"
    assert bench.main(["table", "--records", str(tmp_path), "--split", "synth-fake", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith("synth-fake, profile cpu, 2 threads; machine: cpu: x86_64, 2 threads, 2 cores")
    table_rows = [line.split() for line in lines[3:8]]
    assert [row[0] for row in table_rows] == ["rac", "caml", "lr", "laat", "bert-cls"]  # by micro-F1
    reasons = {row[0]: row[4] for row in table_rows}
    assert reasons == {"rac": "budget", "caml": "converged", "lr": "converged", "laat": "unrecorded",
                       "bert-cls": "prior"}  # fmt: skip
    assert table_rows[0][2:4] == ["3/8", "2"] and table_rows[2][3] == "C=10"  # epochs/max, selected
    # "budget (time)": the time budget ended it; then train docs/s and cpu share
    assert table_rows[0][5:8] == ["(time)", "300.0", "0.62"] and table_rows[1][6] == "n/a"
    assert "stop reasons: converged 2, budget 1, prior 1, unrecorded 1" in lines
    # curves: budget and prior rows, not the converged ones; the old record without one is named
    assert any(line.startswith("  rac [budget] val/map_doc by epoch from 0: 0.111 0.222 0.333*") for line in lines)
    assert any(line.startswith("  bert-cls [prior]") for line in lines)
    assert not any(line.startswith(("  caml", "  lr")) for line in lines)
    assert "  no curve recorded: laat" in lines
    written = json.loads(out.read_text())["rows"]
    assert [row["model"] for row in written] == ["rac", "caml", "lr", "laat", "bert-cls"]
    assert written[0]["micro_f1"] == 0.72 and written[0]["stop_reason"] == "budget"


def test_run_benches_a_model_in_a_child_process(bench, run_env, tmp_path, capsys):
    _, runs = run_env
    out = tmp_path / "rows.json"
    code = bench.main(["run", "--split", "synth-tiny", "--profile", "ci", "--models", "prior", "--threads", "1",
                       "--out", str(out)])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["model"] == "prior" and row["stop_reason"] == "converged"  # the yardstick is never "prior" itself
    assert row["micro_f1"] is not None and row["val_map_doc"] is not None
    assert Path(row["record"]).is_relative_to(runs / "synth-tiny" / "prior")  # read back from RUNS_DIR
    header = next(line for line in text.splitlines() if line.startswith("synth-tiny, profile ci"))
    assert "1 threads; machine:" in header and "cores" in header
    assert any(line.split()[:1] == ["prior"] and "converged" in line.split() for line in text.splitlines())
    assert "stop reasons: converged 1" in text


def test_a_failing_model_is_a_row_not_a_crash(bench, tmp_path, capsys, monkeypatch):
    # a stand-in interpreter that fails as a crashing run does, so no second real child is started
    crash = tmp_path / "crash"
    crash.write_text("#!/bin/sh\necho 'Traceback (most recent call last):' >&2\necho 'RuntimeError: boom' >&2\n"
                     "exit 3\n")  # fmt: skip
    crash.chmod(0o755)
    monkeypatch.setattr(bench.sys, "executable", str(crash))
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    out = tmp_path / "rows.json"
    code = bench.main(["run", "--split", "synth-tiny", "--models", "caml", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 1
    (row,) = json.loads(out.read_text())["rows"]
    assert (row["stop_reason"], row["status"], row["error"]) == ("failed", "exit 3", "RuntimeError: boom")
    line = next(line for line in text.splitlines() if line.startswith("caml "))
    assert "failed (exit 3)" in line and line.endswith("RuntimeError: boom")
    assert "stop reasons: failed 1" in text
