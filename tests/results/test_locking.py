"""Shared files survive concurrent writers and crashes: no lost row with several processes appending to the
same run index, or committing records and rebuilding the same leaderboard, at once; a failed write leaves the
previous file whole."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest
from fake_records import fake_record

from icdbench.io import atomic_write
from icdbench.results.locking import append_rows, read_csv, write_text
from icdbench.results.record import RunRecord
from icdbench.results.run_index import INDEX_FILE, append_run

WRITERS = 4
ROUNDS = 25  # appends per writer, all writers running at once


def _writer(root: str, writer: int, rounds: int, start) -> None:
    """What each finishing bench process does: append its run's row to the shared index."""
    start.wait()  # all writers begin together, so their appends collide
    for i in range(rounds):
        record = fake_record("caml", seed=writer * 1000 + i)
        record["run_id"] = f"run-{writer}-{i}"
        append_run(RunRecord.from_dict(record), Path(root) / "synth-icd10" / "caml" / record["run_id"], Path(root))


def test_concurrent_bench_processes_lose_no_row(tmp_path):
    context = multiprocessing.get_context("fork")  # light children: no re-import of torch per process
    start = context.Barrier(WRITERS)
    processes = [context.Process(target=_writer, args=(str(tmp_path), w, ROUNDS, start)) for w in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    rows = read_csv(tmp_path / INDEX_FILE)
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


def test_a_leaderboard_folder_is_locked_from_inside_so_nothing_appears_beside_it(tmp_path, monkeypatch):
    """The lock of ``leaderboards/`` once landed next to it (``.leaderboards.lock`` in the repository root)."""
    from filelock import FileLock, Timeout

    from icdbench.results import render
    from icdbench.results.locking import lock_path

    out = tmp_path / "lb"
    held = []

    def write_while_checking(path, text):  # the lock is held while the files are written
        with pytest.raises(Timeout):
            FileLock(str(lock_path(out, folder=True)), timeout=0).acquire()
        held.append(path.name)
        return write_text(path, text)

    monkeypatch.setattr(render, "write_text", write_while_checking)
    render.rebuild_leaderboard(out, lambda: render.Leaderboard("t", "intro", []))
    assert held and lock_path(out, folder=True).parent == out
    assert [p.name for p in tmp_path.iterdir()] == ["lb"]


def _leaderboard_writer(root: str, writer: int, rounds: int, start) -> None:
    """What each `icdbench leaderboard --run` does per finished run: commit its record, rebuild the folder."""
    from icdbench.results.leaderboard import build_tables
    from icdbench.results.render import Leaderboard, rebuild_leaderboard
    from icdbench.results.sources import commit_record, committed_records

    def build():
        records = committed_records(Path(root))
        time.sleep(0.01)  # a real build also reads curves and draws plots: seconds between reading and writing
        return Leaderboard("t", "", build_tables(records, []))

    start.wait()
    for i in range(rounds):
        commit_record(RunRecord.from_dict(fake_record(f"m{writer}-{i}")), Path(root))
        rebuild_leaderboard(root, build)


def test_concurrent_leaderboard_rebuilds_lose_no_row(tmp_path, monkeypatch):
    from icdbench.results import render

    def write_growing(path, text):  # a rebuild from records read before another process's commit drops its row
        if path.name == "leaderboard.csv":
            before = {row["model"] for row in read_csv(path)}
            lost = before - {line.split(",")[5] for line in text.splitlines()[1:]}
            assert not lost, f"a rebuild dropped the rows of {sorted(lost)}"
        return write_text(path, text)

    monkeypatch.setattr(render, "render_plots", lambda board: {})  # the race is in the tables; plots take seconds
    monkeypatch.setattr(render, "write_text", write_growing)
    context = multiprocessing.get_context("fork")  # the children inherit the patch
    start = context.Barrier(WRITERS)
    processes = [context.Process(target=_leaderboard_writer, args=(str(tmp_path), w, ROUNDS, start))
                 for w in range(WRITERS)]  # fmt: skip
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
        assert process.exitcode == 0
    rows = read_csv(tmp_path / "leaderboard.csv")
    assert {r["model"] for r in rows} == {f"m{w}-{i}" for w in range(WRITERS) for i in range(ROUNDS)}
    assert len(rows) == WRITERS * ROUNDS * 2  # full and top-50
