"""Replicates that hit the time budget join a committed row only if they trained at a comparable speed: on a
machine twice as slow a seed trains half the epochs, and the row's mean would measure the machines."""

from __future__ import annotations

from types import SimpleNamespace

from fake_records import commit_all, fake_record

from icdbench.grid.commands import store_outcome
from icdbench.grid.process import Outcome
from icdbench.results.record import RunRecord
from icdbench.results.sources import committed_path, time_budget_conflict


def _run(seed: int, speed: float, budget_hit: str | None = "max_minutes", lr: float = 0.001) -> dict:
    record = fake_record("laat", seed=seed, stop_reason="budget" if budget_hit else "converged")
    record["timing"]["train_docs_per_s"] = speed
    record["convergence"]["budget_hit"] = budget_hit
    record["config"]["optim"]["lr"] = lr
    return record


def test_a_timed_seed_at_another_speed_is_refused_and_a_comparable_one_joins(tmp_path):
    commit_all(tmp_path, [_run(0, speed=4.28)])
    slow = time_budget_conflict(RunRecord.from_dict(_run(2, speed=2.30)), tmp_path)
    assert slow is not None and "seed 2" in slow and "54% of the speed of committed seed 0" in slow
    assert "train.max_steps" in slow and "\n" not in slow
    assert time_budget_conflict(RunRecord.from_dict(_run(1, speed=3.60)), tmp_path) is None  # 84%: the same machine
    # a converged seed beside a timed one: the timed one's epochs depended on its speed, so the check applies
    assert time_budget_conflict(RunRecord.from_dict(_run(1, speed=2.30, budget_hit=None)), tmp_path) is not None


def test_speed_does_not_matter_when_no_run_hit_the_time_budget_or_the_settings_differ(tmp_path):
    commit_all(tmp_path, [_run(0, speed=4.28, budget_hit=None)])
    assert time_budget_conflict(RunRecord.from_dict(_run(1, speed=1.0, budget_hit=None)), tmp_path) is None
    assert time_budget_conflict(RunRecord.from_dict(_run(1, speed=1.0, budget_hit="max_steps")), tmp_path) is None
    assert time_budget_conflict(RunRecord.from_dict(_run(1, speed=1.0, lr=0.01)), tmp_path) is None  # another row
    # re-running a seed replaces it: its own committed record is no yardstick
    commit_all(tmp_path, [_run(2, speed=4.0)])
    assert time_budget_conflict(RunRecord.from_dict(_run(2, speed=1.0)), tmp_path) is not None  # seed 0 is
    assert time_budget_conflict(RunRecord.from_dict(_run(0, speed=4.2)), tmp_path) is None


def test_the_committed_grid_keeps_a_refused_run_out_of_the_boards(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ICDBENCH_LEADERBOARDS", str(tmp_path))
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    commit_all(tmp_path, [_run(0, speed=4.28)])
    grid = SimpleNamespace(store="committed")
    for seed, speed in ((2, 2.30), (1, 4.0)):
        record = RunRecord.from_dict(_run(seed, speed=speed))
        store_outcome(grid, Outcome("k", "done", "icdbench bench", "log", record=record, run_dir=None))
    assert not committed_path("synth-icd10", "laat", "cpu", 2, tmp_path).exists()
    assert committed_path("synth-icd10", "laat", "cpu", 1, tmp_path).exists()
    assert "icdbench: warning: not committed: laat seed 2 on synth-icd10" in capsys.readouterr().err


def test_bench_says_when_its_run_cannot_be_read_against_the_committed_row(tmp_path, monkeypatch):
    from icdbench.app.tables import speed_notes

    monkeypatch.setenv("ICDBENCH_LEADERBOARDS", str(tmp_path))
    commit_all(tmp_path, [{**_run(0, speed=4.28), "epochs_run": 6}])
    slow, like = ({**_run(0, speed=speed), "epochs_run": epochs} for speed, epochs in ((2.30, 3), (4.0, 6)))
    (note,) = speed_notes([RunRecord.from_dict(slow)])  # the same seed is the yardstick here
    assert note.startswith("note: seed 0 trained at 54% of the speed of the committed laat seed 0")
    assert "3 against 6 epochs" in note and "\n" not in note
    assert speed_notes([RunRecord.from_dict(like)]) == []
