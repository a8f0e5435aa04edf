"""The typed run record: every committed record reads and writes back byte for byte, older schema-1 records
migrate, and a bad record file is one line naming the file."""

from __future__ import annotations

import json
import math
import os

import pytest

from icdbench.errors import UserError
from icdbench.results.record import (
    RECORD_FILE,
    UNRECORDED,
    Metrics,
    RunRecord,
    Threshold,
    Timing,
    read_record_file,
    read_run,
)
from icdbench.results.sources import RECORDS_SUBDIR, leaderboards_dir

COMMITTED = sorted((leaderboards_dir() / RECORDS_SUBDIR).glob("*/*/*.json"))


def test_there_are_committed_records_to_guard():
    assert len(COMMITTED) > 100


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: "/".join(p.parts[-3:]))
def test_a_committed_record_reads_and_writes_back_byte_for_byte(path):
    data = json.loads(path.read_text())
    record = read_record_file(path)
    again = record.to_dict()
    assert list(again.items()) == list(data.items())  # same keys in the same order, same values
    assert json.dumps(again, indent=2) + "\n" == path.read_text()
    assert RunRecord.from_dict(again) == record


def _committed(predicate) -> dict:
    return next(json.loads(p.read_text()) for p in COMMITTED if predicate(json.loads(p.read_text())))


def test_an_older_record_reads_the_later_fields_as_their_defaults_and_writes_them_back_absent():
    # every committed record is recent now: an older one is a recent one without the fields added since
    recent = _committed(lambda d: {"stop_reason", "convergence", "training"} <= d.keys())
    data = {key: value for key, value in recent.items() if key not in ("stop_reason", "convergence", "training")}
    record = RunRecord.from_dict(data)
    assert record.stop_reason == UNRECORDED and record.convergence.curve == [] and record.training.parts == []
    assert {"stop_reason", "convergence", "training"} <= record.written_without
    assert "stop_reason" not in record.to_dict() and record.to_dict() == data
    older = {**recent, "convergence": {k: v for k, v in recent["convergence"].items() if k != "budget_hit"}}
    block = RunRecord.from_dict(older).convergence
    assert block.budget_hit is None and "budget_hit" not in block.to_dict() and block.monitor is not None


def test_the_identity_fields_are_typed_attributes():
    data = _committed(lambda d: "stop_reason" in d)
    record = RunRecord.from_dict(data)
    assert (record.model, record.split, record.seed, record.replicate) == (
        data["model"], data["split"], data["seed"], ("seed", data["seed"]))
    assert record.metrics.of("full") == data["metrics"]["full"]
    assert record.ci.of("top50")["micro_f1"].low == data["ci"]["top50"]["micro_f1"]["low"]
    assert record.timing.wall_seconds == data["timing"]["wall_seconds"]
    assert record.suite_version == data["provenance"]["versions"]["icdbench"]


def test_write_puts_the_schema_first_writes_nan_as_null_and_returns_the_record_as_written(tmp_path):
    record = RunRecord(run_id="r1", model="lr", split="synth-tiny", profile="ci", seed=0,
                       timing=Timing(wall_seconds=1.5, train_docs_per_s=float("nan"), inference_ms_per_doc=0.2),
                       threshold=Threshold(rule="global", value=0.3, top_k=None),
                       metrics=Metrics(full={"micro_f1": float("nan")}, top50={}))  # fmt: skip
    written = record.write(tmp_path)
    data = json.loads((tmp_path / RECORD_FILE).read_text())
    assert list(data)[:3] == ["schema", "run_id", "model"] and "fold" not in data and "extra" not in data
    assert data["metrics"]["full"]["micro_f1"] is None and data["timing"]["train_docs_per_s"] is None
    assert written.metrics.full["micro_f1"] is None and math.isnan(record.metrics.full["micro_f1"])
    assert read_run(tmp_path) == written and written.to_dict() == data


BAD = {
    "not a run record": lambda d: [d],
    "incompatible icdbench version (record schema 0": lambda d: {**d, "schema": 0},
    "incompatible icdbench version (record schema None": lambda d: {k: v for k, v in d.items() if k != "schema"},
    "missing run_id": lambda d: {k: v for k, v in d.items() if k != "run_id"},
    "missing metrics.full": lambda d: {**d, "metrics": {"top50": {}}},
    "(convergence.prior_monitor)": lambda d: {**d, "convergence": {**d["convergence"], "prior_monitor": 0.1}},
    "(timing is not a JSON object)": lambda d: {**d, "timing": 12.5},
    "(convergence is not a JSON object)": lambda d: {**d, "convergence": None},
    "(ci.full.micro_f1 is not a JSON object)": lambda d: {**d, "ci": {"full": {"micro_f1": 0.5}}},
}


@pytest.mark.parametrize("needle", list(BAD))
def test_a_bad_record_file_is_one_line_naming_the_file(tmp_path, needle):
    path = tmp_path / RECORD_FILE
    path.write_text(json.dumps(BAD[needle](_committed(lambda d: "convergence" in d))))
    with pytest.raises(UserError) as caught:
        read_record_file(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and needle in message and "\n" not in message, message
    assert "re-run" in message  # says what to do about it


def test_a_corrupt_or_missing_record_file_is_one_line(tmp_path):
    (tmp_path / RECORD_FILE).write_text("{ half a record")
    with pytest.raises(UserError, match="is corrupt"):
        read_run(tmp_path)
    with pytest.raises(UserError, match="has no record.json; is it a finished run folder"):
        read_run(tmp_path / "..")
    with pytest.raises(UserError, match="does not exist"):
        read_run(tmp_path / "nowhere")


def test_the_device_names_the_processor_and_the_vector_instructions_torch_uses():
    """Two 2-core machines trained the same model at 4.3 and 2.4 documents/s: the record must say which it was."""
    import torch

    from icdbench.results.provenance import cpu_model, device_description

    device = device_description("cpu")
    assert device.startswith(f"cpu: {cpu_model()} ({torch.backends.cpu.get_cpu_capability()}), ")
    assert device.endswith(f"{torch.get_num_threads()} threads, {os.cpu_count()} cores") and cpu_model()
