"""SIGTERM (SLURM preemption): a run keeps a checkpoint, exits 143 without a record, and resumes from it; stopped
outside Lightning's fit (loading data, a scikit-learn fit) it also exits 143 and records nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from grid_files import SMALL_CAML, write_grid
from pytorch_lightning.callbacks import Callback

import icdbench.training.run as run_module
from icdbench.cli import main
from icdbench.errors import Terminated
from icdbench.training.run import RunRequest, train

TIMEOUT_S = 600


class TerminateAt(Callback):
    """Sends this process SIGTERM before a given training batch, as a scheduler would."""

    def __init__(self, batch: int):
        self.batch = batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == 0 and batch_idx == self.batch:
            os.kill(os.getpid(), signal.SIGTERM)


def terminated_first(function):
    """``function`` that first sends this process SIGTERM, as a scheduler would while it runs."""

    def wrapped(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return function(*args, **kwargs)

    return wrapped


@pytest.mark.parametrize("where", ["loading the split", "a scikit-learn fit"])
def test_sigterm_outside_lightnings_fit_exits_143_and_records_nothing(run_env, monkeypatch, capsys, where):
    _, runs = run_env
    if where == "loading the split":
        model, overrides = "caml", SMALL_CAML
        monkeypatch.setattr(run_module, "load_split", terminated_first(run_module.load_split))
    else:
        from sklearn.linear_model import LogisticRegression

        model, overrides = "lr", []
        monkeypatch.setattr(LogisticRegression, "fit", terminated_first(LogisticRegression.fit))
    handler = signal.getsignal(signal.SIGTERM)
    code = main(["train", model, "synth-tiny", "--profile", "ci", "--seed", "0", *overrides])
    assert code == 143
    assert "stopped by SIGTERM before it had a checkpoint; nothing was recorded" in capsys.readouterr().err
    (run_dir,) = list((runs / "synth-tiny" / model).iterdir())
    assert not list(run_dir.glob("*record.json*")) and not (runs / "runs.csv").exists()  # nor a temporary one
    assert signal.getsignal(signal.SIGTERM) == handler


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="needs SIGTERM")
def test_sigterm_in_the_first_epoch_saves_where_training_stopped_and_the_run_resumes(run_env):
    _, runs = run_env
    overrides = [*SMALL_CAML, "optim.epochs=1"]
    request = RunRequest("caml", "synth-tiny", "ci", seed=0, overrides=overrides, callbacks=[TerminateAt(batch=2)])
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as stopped:
        train(request)
    assert stopped.value.exit_code == 143 and "--resume" in str(stopped.value)
    (run_dir,) = list((runs / "synth-tiny" / "caml").iterdir())
    assert (run_dir / "checkpoints" / "last.ckpt").is_file() and not (run_dir / "record.json").exists()
    assert signal.getsignal(signal.SIGTERM) == handler  # Lightning's handler is gone once the run is
    record = train(RunRequest("caml", "synth-tiny", resume=run_dir)).record.to_dict()
    assert (run_dir / "record.json").is_file() and record["epochs_run"] == 1


@pytest.mark.slow  # two caml runs in fresh processes
def test_a_run_stopped_by_sigterm_exits_143_and_the_grid_resumes_it(run_env, tmp_path, capsys):
    _, runs = run_env
    overrides = [*SMALL_CAML, "optim.epochs=3"]
    command = [sys.executable, "-m", "icdbench.cli", "train", "caml", "synth-tiny", "--profile", "ci", "--seed", "0",
               *overrides]  # fmt: skip
    process = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, checkpoint = time.monotonic() + TIMEOUT_S, None
    while time.monotonic() < deadline and process.poll() is None and checkpoint is None:
        checkpoint = next(iter(runs.glob("synth-tiny/caml/*/checkpoints/last.ckpt")), None)
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stderr = process.communicate(timeout=TIMEOUT_S)[1].decode()
    assert checkpoint is not None, stderr[-3000:]
    assert process.returncode == 143, stderr[-3000:]
    assert "stopped by SIGTERM" in stderr and "--resume" in stderr
    run_dir = checkpoint.parents[1]
    assert not (run_dir / "record.json").exists() and (run_dir / "checkpoints" / "last.ckpt").is_file()

    path = write_grid(tmp_path, "preempted", [{"models": ["caml"], "overrides": overrides}])
    assert main(["grid", str(path), "--dry-run"]) == 0
    assert "1 of them resumed from a checkpoint" in capsys.readouterr().out
    assert main(["grid", str(path), "--cpus", "1"]) == 0, capsys.readouterr().err[-3000:]
    assert "done (resumed)" in capsys.readouterr().out
    record = json.loads((run_dir / "record.json").read_text())  # the same folder, finished
    assert record["epochs_run"] == 3 and len(list((runs / "synth-tiny" / "caml").iterdir())) == 1
