"""Shared files survive concurrent writers and crashes: no lost row with several processes appending to the
same run index at once, and a failed write leaves the previous file whole."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from fake_records import fake_record

from icdbench.results.locking import append_rows, read_csv, write_text
from icdbench.results.record import atomic_write
from icdbench.results.run_index import INDEX_FILE, append_run, read_index

WRITERS = 4
ROUNDS = 25  # appends per writer, all writers running at once


def _writer(root: str, writer: int, rounds: int, start) -> None:
    """What each finishing bench process does: append its run's row to the shared index."""
    start.wait()  # all writers begin together, so their appends collide
    for i in range(rounds):
        record = fake_record("caml", seed=writer * 1000 + i)
        record["run_id"] = f"run-{writer}-{i}"
        append_run(record, Path(root) / "synth-icd10" / "caml" / record["run_id"], Path(root))


def test_concurrent_bench_processes_lose_no_row(tmp_path):
    context = multiprocessing.get_context("fork")  # light children: no re-import of torch per process
    start = context.Barrier(WRITERS)
    processes = [context.Process(target=_writer, args=(str(tmp_path), w, ROUNDS, start)) for w in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    rows = read_index(tmp_path)
    assert len(rows) == WRITERS * ROUNDS
    assert {r["run_id"] for r in rows} == {f"run-{w}-{i}" for w in range(WRITERS) for i in range(ROUNDS)}
    assert all(r["run_dir"] == f"synth-icd10/caml/{r['run_id']}" for r in rows)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{INDEX_FILE}.") and not p.name.endswith(".lock")]


def test_a_rerun_replaces_its_row_and_older_columns_are_kept(tmp_path):
    path = tmp_path / "index.csv"
    append_rows(path, [{"id": "a", "x": "1", "old": "keep"}], ["id", "x", "old"], key=["id"])
    append_rows(path, [{"id": "b", "x": "2"}], ["id", "x"], key=["id"])
    assert append_rows(path, [{"id": "a", "x": "3"}], ["id", "x"], key=["id"]) == 2
    assert read_csv(path) == [{"id": "b", "x": "2", "old": ""}, {"id": "a", "x": "3", "old": ""}]


def test_a_crash_while_writing_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "leaderboard.csv"
    write_text(path, "model,micro_f1\ncaml,0.5\n")

    def crash(handle):
        handle.write("model,micro_f1\nca")
        raise KeyboardInterrupt  # e.g. Ctrl-C halfway through

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash)
    assert path.read_text() == "model,micro_f1\ncaml,0.5\n"
    assert [p.name for p in tmp_path.iterdir()] == ["leaderboard.csv"]  # no temporary file left behind
