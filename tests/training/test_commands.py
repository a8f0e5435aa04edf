"""``icdbench train / bench / predict / list models`` from the command line: tables, one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from icdbench.cli import main
from icdbench.models.registry import all_models
from icdbench.results.locking import read_csv
from icdbench.results.run_index import INDEX_FILE


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "no-such-model", "synth-tiny"], "unknown model 'no-such-model'"),
        (["train", "caml", "no-such-split"], "unknown split 'no-such-split'"),
        (["train", "caml", "synth-tiny", "model.nope=3"], "unknown config key 'model.nope'"),
        (["train", "caml", "synth-tiny", "optim.lr=abc"], "config key 'optim.lr' expects float, got 'abc'"),
        (["bench", "caml", "synth-tiny", "--seeds", "0,x"], "--seeds must be comma-separated integers"),
        (["bench", "rac", "mimic4-icd10"], "needs MIMIC_DIR"),
        (["train", "caml", "synth-tiny", "--profile", "gpu-farm"], "unknown profile 'gpu-farm'"),
    ],
)
def test_bad_requests_fail_with_one_line_and_exit_2(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    code, out, err = _cli(capsys, *argv)
    assert code == 2
    assert err.startswith("icdbench: error: ") and err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_bench_prints_the_results_table_over_seeds(run_env, capsys):
    code, out, _ = _cli(capsys, "bench", "lr", "synth-tiny", "--profile", "ci", "--seeds", "0,1")
    assert code == 0
    assert "micro-F1" in out and "AUC-PR" in out and "P@8" in out and "EMR" in out and "Jaccard" in out
    assert out.count("mean±std") == 2  # full and top50
    assert len(list((run_env[1] / "synth-tiny" / "lr").iterdir())) == 2
    # every finished run is listed in RUNS_DIR/runs.csv, whichever command ran it
    index = read_csv(run_env[1] / INDEX_FILE)
    assert sorted((row["model"], row["seed"]) for row in index) == [("lr", "0"), ("lr", "1")]


def test_bench_places_its_result_beside_the_committed_prior_and_lr_rows(run_env, capsys, tmp_path, monkeypatch):
    sys.path.insert(0, str(Path(__file__).parents[1] / "results"))
    from fake_records import commit_all, fake_record

    monkeypatch.setenv("ICDBENCH_LEADERBOARDS", str(tmp_path / "boards"))
    commit_all(tmp_path / "boards", [fake_record(model, "synth-tiny", "ci", base=base)
                                     for model, base in (("prior", 0.1), ("lr", 0.4), ("svm", 0.5))])  # fmt: skip
    code, out, _ = _cli(capsys, "bench", "lr", "synth-tiny", "--profile", "ci")
    board = out[out.index("the committed synth-tiny board at profile ci"):]
    rows = {line.split()[0]: line.split() for line in board.splitlines()[3:]}
    assert code == 0 and set(rows) == {"prior", "lr"}  # svm is not a yardstick row
    assert rows["prior"][2] == "converged" and 0.09 <= float(rows["prior"][3]) <= 0.11


def test_train_then_predict_new_text(run_env, capsys, tmp_path):
    code, out, _ = _cli(capsys, "train", "caml", "synth-tiny", "--profile", "ci", "optim.epochs=1",
                        "train.logger=none")  # fmt: skip
    assert code == 0
    run_dir = out.split("run: ", 1)[1].splitlines()[0]
    note = tmp_path / "note.txt"
    note.write_text("Patient admitted with chest pain. History of hypertension and type 2 diabetes.")
    code, out, _ = _cli(capsys, "predict", run_dir, "--text", str(note), "--top", "5")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[:4] == ["rank", "code", "score", "assigned"] and len(lines) == 2 + 5
    assert "chest pain" not in out  # codes and titles only, never the text
    code, _, err = _cli(capsys, "predict", run_dir, "--text", str(tmp_path / "missing.txt"))
    assert code == 2 and "no such file" in err


def test_list_models_names_every_registered_model_with_a_parameter_count(capsys):
    code, out, _ = _cli(capsys, "list", "models")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
    for name, spec in all_models().items():
        assert name in rows
        if spec.trainer == "lightning" and spec.inputs == "words":
            assert any(c.isdigit() for c in rows[name].split()[4]), rows[name]
    assert "20,000-word vocabulary and 1,000 codes" in out
