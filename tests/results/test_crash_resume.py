"""A real crash: ``icdbench train`` killed with SIGKILL after its first checkpoint, then ``--resume`` on the
run folder, ends with the same metrics as the uninterrupted run (tests/training covers the in-process case)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from icdbench.training.run import RunRequest, train

# Three epochs, so the first checkpoint (after epoch 1) comes well before the end.
OVERRIDES = ["optim.epochs=3", "train.patience=5", "train.logger=none", "data.max_train_docs=96"]
TIMEOUT_S = 300


def _icdbench(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from icdbench.cli import main; sys.exit(main())", *args]


@pytest.mark.slow  # three trainings in fresh processes; tests/training covers resume in-process in the fast set
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkilled_run_resumes_to_the_uninterrupted_metrics(run_env):
    _, runs = run_env
    reference = train(RunRequest("caml", "synth-tiny", "ci", seed=3, overrides=OVERRIDES)).record.to_dict()
    process = subprocess.Popen(_icdbench("train", "caml", "synth-tiny", "--profile", "ci", "--seed", "3", *OVERRIDES),
                               env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + TIMEOUT_S
    checkpoint = None
    while time.monotonic() < deadline and process.poll() is None:
        found = [p for p in (runs / "synth-tiny" / "caml").glob("*/checkpoints/last.ckpt")
                 if p.parents[1].name != reference["run_id"]]  # fmt: skip
        if found and found[0].stat().st_size > 0:
            checkpoint = found[0]
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert checkpoint is not None, process.stderr.read().decode()[-2000:]
    assert process.returncode == -signal.SIGKILL  # killed, not finished
    run_dir = checkpoint.parents[1]
    assert not (run_dir / "record.json").exists()
    resumed = subprocess.run(_icdbench("train", "caml", "synth-tiny", "--resume", str(run_dir)), env=os.environ.copy(),
                             capture_output=True, text=True, timeout=TIMEOUT_S)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    record = json.loads((run_dir / "record.json").read_text())
    assert record["epochs_run"] == reference["epochs_run"]
    assert record["metrics"] == reference["metrics"]
