"""Bad run folders wherever a user names one (predict, explain, compare, evaluate, train --resume): a corrupt
checkpoint or scores file, or a folder written by an incompatible suite version, gives one line and exit code 2,
never a traceback — unless ``--debug`` asks for it. (Unknown names, overrides and profiles: tests/training.)"""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest

from icdbench.cli import main
from icdbench.training.run import RunRequest, train

OWNER = "training core: loads without turning the failure into a UserError (see the results helper's report)"


@pytest.fixture(scope="module")
def finished_run(synth_tiny_data, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATA_DIR", str(synth_tiny_data))
        patch.setenv("RUNS_DIR", str(runs))
        result = train(RunRequest("caml", "synth-tiny", "ci", overrides=["optim.epochs=1", "train.logger=none"]))
    return result.run_dir


@pytest.fixture
def broken(finished_run, run_env, tmp_path):
    """A copy of the finished run, to damage."""
    target = tmp_path / "run"
    shutil.copytree(finished_run, target)
    return target


def _one_line_error(capsys, argv: list[str], needle: str) -> None:
    try:
        code = main(argv)
    except Exception as exc:  # noqa: BLE001  (a traceback is exactly the failure this test reports)
        raise AssertionError(f"traceback instead of one line: {exc!r}"[:500]) from exc
    err = capsys.readouterr().err
    assert code == 2, err[-1500:]
    assert err.startswith("icdbench: error: ") and err.count("\n") == 1 and needle in err, err[-1500:]


def _doc(run_env) -> str:
    return pl.read_parquet(run_env[0] / "synth-tiny" / "test.parquet", columns=["doc_id"])["doc_id"][0]


def _note(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("Chest pain and fever.")
    return str(note)


def test_corrupt_scores_file(broken, capsys, tmp_path):
    (broken / "scores.npz").write_bytes(b"not a zip archive")
    _one_line_error(capsys, ["evaluate", str(broken / "scores.npz"), "--split", "synth-tiny"], "scores file")
    _one_line_error(capsys, ["compare", str(broken), str(broken)], "not a readable .npz scores file")
    with pytest.raises(Exception, match="not a readable"):
        main(["--debug", "compare", str(broken), str(broken)])


@pytest.mark.parametrize("command", ["predict", "explain"])
def test_corrupt_checkpoint(broken, run_env, capsys, tmp_path, command):
    (broken / "model.pt").write_bytes((broken / "model.pt").read_bytes()[:100])  # a truncated download
    argv = [command, str(broken), *(["--text", _note(tmp_path)] if command == "predict" else ["--doc", _doc(run_env)])]
    _one_line_error(capsys, argv, "model.pt")


def test_corrupt_checkpoint_of_an_unfinished_run(broken, capsys):
    (broken / "record.json").unlink()
    (broken / "checkpoints").mkdir(exist_ok=True)
    (broken / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 half a checkpoint")
    _one_line_error(capsys, ["train", "caml", "synth-tiny", "--resume", str(broken)], "last.ckpt")


@pytest.mark.parametrize("command", ["predict", "explain"])
def test_run_folder_of_an_incompatible_suite_version(broken, run_env, capsys, tmp_path, command):
    record = json.loads((broken / "record.json").read_text())
    (broken / "record.json").write_text(json.dumps({**record, "schema": 0}))
    argv = [command, str(broken), *(["--text", _note(tmp_path)] if command == "predict" else ["--doc", _doc(run_env)])]
    _one_line_error(capsys, argv, "incompatible")


def test_incompatible_or_missing_run_folders_in_compare(broken, finished_run, capsys, tmp_path):
    record = json.loads((broken / "record.json").read_text())
    (broken / "record.json").write_text(json.dumps({**record, "schema": 0}))
    _one_line_error(capsys, ["compare", str(finished_run), str(broken)], "incompatible icdbench version")
    (broken / "record.json").write_text("{ half a record")
    _one_line_error(capsys, ["compare", str(finished_run), str(broken)], "corrupt")
    _one_line_error(capsys, ["compare", str(finished_run), str(tmp_path)], "no record.json")
