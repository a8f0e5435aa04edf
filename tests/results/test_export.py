"""``icdbench export``: the official CodiEsp submission files of a run folder, and one clear line for every
input it cannot export. (Conformance with the official scorer: tests/metrics/test_codiesp_official.py.)"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from fake_records import fake_record, write_run

from icdbench.cli import main
from icdbench.metrics.functional.evidence import DocumentAttributions
from icdbench.metrics.scores_file import save_scores

CODES = ["R52", "N39.0", "Z87.440", "K13.79"]
DOC_IDS = ["S0004-1", "S1130-2"]
SCORES = np.array([[0.1, 0.9, 0.5, 0.5], [0.7, 0.2, 0.2, 0.3]], dtype=np.float32)


def codiesp_run(tmp_path, split: str = "codiesp-d", model: str = "lr", scores: bool = True):
    run_dir = write_run(tmp_path / "runs", fake_record(model, split=split))
    if scores:
        save_scores(run_dir / "scores.npz", DOC_IDS, CODES, SCORES)
    return run_dir


def export(*args) -> int:
    return main(["export", *map(str, args)])


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("icdbench: error: "), err
    return err


def test_d_file_ranks_every_code_lower_case_ties_by_code(tmp_path, capsys):
    run_dir = codiesp_run(tmp_path)
    assert export(run_dir, "--format", "codiesp-d") == 0
    written = run_dir / "codiesp-d-test.tsv"
    assert f"wrote {written}" in capsys.readouterr().out
    assert written.read_text().splitlines() == [
        "S0004-1\tn39.0", "S0004-1\tk13.79", "S0004-1\tz87.440", "S0004-1\tr52",  # k13.79 < z87.440: the tie
        "S1130-2\tr52", "S1130-2\tk13.79", "S1130-2\tn39.0", "S1130-2\tz87.440",
    ]


def test_p_run_exports_as_p_and_out_names_the_file(tmp_path):
    run_dir = codiesp_run(tmp_path, split="codiesp-p-en")
    assert export(run_dir, "--format", "codiesp-p", "--out", tmp_path / "sub" / "p.tsv") == 0
    assert len((tmp_path / "sub" / "p.tsv").read_text().splitlines()) == 8


@pytest.mark.parametrize(
    ("split", "fmt", "message"),
    [
        ("codiesp-d", "codiesp-p", "is a run on codiesp-d (diagnoses); export it with --format codiesp-d"),
        ("codiesp-p", "codiesp-d", "(procedures); export it with --format codiesp-p"),
        ("synth-icd10", "codiesp-d", "is a run on synth-icd10; --format codiesp-d needs a run on a CodiEsp split"),
        ("codiesp-d-en", "codiesp-x", "the English translation: CodiEsp-X positions are offsets into the Spanish"),
        ("codiesp-d", "codiesp-x", "has no evidence to export: lr keeps no model"),
        ("codiesp-d", "trec", "unknown export format 'trec'; choose one of codiesp-d, codiesp-p, codiesp-x"),
    ],
)
def test_format_that_does_not_fit_the_run_is_one_line(tmp_path, capsys, split, fmt, message):
    run_dir = codiesp_run(tmp_path, split=split)
    assert export(run_dir, "--format", fmt) == 2
    assert message in error_line(capsys)
    assert not list(run_dir.glob("*.tsv"))  # nothing written


def test_bad_folders_are_one_line(tmp_path, capsys):
    assert export(tmp_path / "absent", "--format", "codiesp-d") == 2
    assert "does not exist" in error_line(capsys)
    (tmp_path / "plain").mkdir()
    assert export(tmp_path / "plain", "--format", "codiesp-d") == 2
    assert "has no record.json; is it a finished run folder?" in error_line(capsys)
    run_dir = codiesp_run(tmp_path, scores=False)
    assert export(run_dir, "--format", "codiesp-d") == 2
    assert "has no scores.npz (its test scores)" in error_line(capsys)
    run_dir = codiesp_run(tmp_path / "other")
    assert export(run_dir, "--format", "codiesp-d", "--part", "dev") == 2
    assert "keeps the scores of its test part only; use --part test" in error_line(capsys)


def test_x_lines_are_the_attributed_spans_of_assigned_codes(tmp_path, monkeypatch):
    """The glue from a neural run's attributions to X lines (attribution itself: tests of training.evidence)."""
    import icdbench.training.export as exporting  # the names export.py took from training.evidence

    run_dir = codiesp_run(tmp_path, model="caml")
    (run_dir / "model.pt").write_bytes(b"weights")
    predicted = SCORES >= 0.5  # row 0: N39.0, Z87.440, K13.79; row 1: R52
    split = SimpleNamespace(test=pl.DataFrame({"doc_id": DOC_IDS}), code_list=CODES)
    job = SimpleNamespace(split=split, datamodule=lambda: "datamodule")
    positions = np.array([[0, 5], [6, 11], [12, 20], [21, 25], [-1, -1]])
    weights = {0: [0.1, 0.9, 0.6, 0.1, 5.0], 1: [0.8, 0.0, 0.9, 0.1, 0.0], 2: [0, 0, 0, 0, 0.0]}
    seen = {}

    def attributions(model, datamodule, part, wanted):
        seen.update(wanted)
        return {0: DocumentAttributions(positions, {c: np.array(weights[c - 1]) for c in (1, 2, 3)}),
                1: DocumentAttributions(positions, {0: np.array(weights[0])})}  # fmt: skip

    monkeypatch.setattr(exporting, "finished_run_job", lambda path: (job, predicted))
    monkeypatch.setattr(exporting, "saved_model", lambda job, datamodule: "model")
    monkeypatch.setattr(exporting, "collect_attributions", attributions)
    assert export(run_dir, "--format", "codiesp-x") == 0
    assert seen == {0: [1, 2, 3], 1: [0]}
    assert (run_dir / "codiesp-x-test.tsv").read_text().splitlines() == [
        "S0004-1\t6 20\tDIAGNOSTICO\tn39.0",  # positions 1-2 reach half the peak; padding (-1) never counts
        "S0004-1\t0 5\tDIAGNOSTICO\tz87.440",  # two runs of positions: two lines for one code
        "S0004-1\t12 20\tDIAGNOSTICO\tz87.440",
        "S1130-2\t6 20\tDIAGNOSTICO\tr52",
    ]  # K13.79 has no attribution above 0: no position, no line
