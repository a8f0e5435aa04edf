"""The grid on real engines: a local Ray instance, submitit's local executor and the local pool, with a failing
run and a worker killed mid-run. Every run is a real ``train`` in a worker process on synth-tiny at the ci
profile; the slow ones train caml."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from grid_files import SMALL_CAML, write_grid

from icdbench.cli import main

TIMEOUT_S = 600


def _records(runs: Path) -> dict[tuple[str, int], list[dict]]:
    found: dict[tuple[str, int], list[dict]] = {}
    for path in runs.glob("synth-tiny/*/*/record.json"):
        record = json.loads(path.read_text())
        found.setdefault((record["model"], record["seed"]), []).append(record)
    return found


def test_ray_runs_a_grid_a_failing_run_is_listed_with_its_log_and_retried_alone(run_env, tmp_path, capsys):
    """A real local Ray instance with 2 CPUs; lr with train.devices=2 fails in its worker (a scikit-learn model
    runs in one process), prior finishes."""
    _, runs = run_env
    path = write_grid(tmp_path, "mixed", [{"models": ["prior"]}, {"models": ["lr"], "overrides": ["train.devices=2"]}])
    code = main(["grid", str(path), "--launcher", "ray", "--cpus", "2"])
    captured = capsys.readouterr()
    assert code == 1, captured.err[-3000:]
    (prior,) = _records(runs)[("prior", 0)]
    assert ("lr", 0) not in _records(runs)
    failed = [line for line in captured.out.splitlines() if line.startswith("failed: synth-tiny.lr.ci-seed0")]
    assert failed and "scikit-learn model" in failed[0], captured.out[-3000:]
    log = Path(captured.out.split("log: ")[-1].splitlines()[0])
    assert log.is_file() and "scikit-learn model" in log.read_text()
    assert "icdbench bench lr synth-tiny --profile ci --seeds 0 train.devices=2" in captured.out
    # --retry-failed plans the failed run alone; prior is recorded and not run again
    assert main(["grid", str(path), "--retry-failed", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "grid mixed: 1 run(s), 0 recorded, 1 to run" in out and "train.devices=2" in out
    assert main(["grid", str(path), "--dry-run"]) == 0
    assert "2 run(s), 1 recorded, 1 to run" in capsys.readouterr().out
    assert prior["command"] == "icdbench bench prior synth-tiny --profile ci --seeds 0"


@pytest.mark.slow  # eight runs, two of them on Ray
def test_ray_records_equal_the_local_launchers(run_env, tmp_path, monkeypatch, capsys):
    data, _ = run_env
    path = write_grid(tmp_path, "four", [{"models": ["lr"], "seeds": [0, 1]},
                                         {"models": ["caml"], "seeds": [0, 1], "overrides": SMALL_CAML}])  # fmt: skip
    results = {}
    for launcher in ("local", "ray"):
        monkeypatch.setenv("RUNS_DIR", str(tmp_path / launcher))
        assert main(["grid", str(path), "--launcher", launcher, "--cpus", "2"]) == 0, capsys.readouterr().err[-3000:]
        results[launcher] = _records(tmp_path / launcher)
    assert len(results["local"]) == 4 and results["local"].keys() == results["ray"].keys()
    for key, (local,) in results["local"].items():
        (ray,) = results["ray"][key]
        assert ray["metrics"] == local["metrics"], key
        assert ray["config_hash"] == local["config_hash"]


@pytest.mark.slow  # submitit's local executor: two jobs, each a submitit process and a worker process
def test_submitit_local_executor_runs_a_grid_end_to_end(run_env, tmp_path, capsys):
    _, runs = run_env
    path = write_grid(tmp_path, "pair", [{"models": ["prior"], "seeds": [0, 1]}])
    assert main(["grid", str(path), "--launcher", "slurm", "--slurm-cluster", "local"]) == 0, \
        capsys.readouterr().err[-3000:]  # fmt: skip
    found = _records(runs)
    assert sorted(found) == [("prior", 0), ("prior", 1)] and all(len(v) == 1 for v in found.values())
    assert list((runs / "grid" / "pair" / "slurm").iterdir())  # submitit's own files


def _workers_of(parent: int) -> dict[int, str]:
    """Worker processes started by ``parent``: pid -> command line."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and "icdbench.grid.worker" in cmdline:
            found[int(proc.name)] = cmdline
    return found


@pytest.mark.slow  # three caml runs in worker processes, one of them resumed
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker process through /proc")
def test_a_grid_whose_worker_is_killed_completes_on_rerun_with_each_record_once(run_env, tmp_path, capsys):
    _, runs = run_env
    path = write_grid(tmp_path, "killed", [{"models": ["caml"], "seeds": [0, 1],
                                            "overrides": [*SMALL_CAML, "optim.epochs=3"]}])  # fmt: skip
    command = [sys.executable, "-m", "icdbench.cli", "grid", str(path), "--cpus", "2"]
    driver = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline, victim = time.monotonic() + TIMEOUT_S, None
    while time.monotonic() < deadline and driver.poll() is None and victim is None:
        for checkpoint in runs.glob("synth-tiny/caml/*/checkpoints/last.ckpt"):
            seed = checkpoint.parents[1].name.split("-seed")[1]
            for pid, cmdline in _workers_of(driver.pid).items():
                if f'"seed": {seed},' in cmdline:
                    os.kill(pid, signal.SIGKILL)
                    victim = checkpoint.parents[1]
        time.sleep(0.05)
    out = driver.communicate(timeout=TIMEOUT_S)[0].decode()
    assert victim is not None, out[-3000:]
    assert driver.returncode == 1, out[-3000:]
    assert "killed by signal SIGKILL" in out
    assert not (victim / "record.json").exists()

    assert main(["grid", str(path), "--cpus", "2"]) == 0, capsys.readouterr().err[-3000:]
    assert "done (resumed)" in capsys.readouterr().out
    found = _records(runs)
    assert sorted(found) == [("caml", 0), ("caml", 1)] and all(len(v) == 1 for v in found.values())
    assert (victim / "record.json").is_file()  # the killed run went on in its own folder
    assert not [p for p in runs.rglob("*") if p.name.startswith(".record.json")]  # no half-written record
    assert main(["grid", str(path), "--dry-run"]) == 0
    assert "2 recorded, 0 to run" in capsys.readouterr().out
