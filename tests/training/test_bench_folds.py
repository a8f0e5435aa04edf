"""``icdbench bench MODEL cmc2007 folds=K``: one run per fold, records carrying ``fold``, mean ± std over folds,
the human coders beside the model; one-line errors for folds where there are none or too few."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest

from icdbench.cli import main
from icdbench.datasets.registry import PrepareOptions, get_split

sys.path.insert(0, str(Path(__file__).parents[1] / "datasets"))
from fixtures_public import write_cmc  # noqa: E402

N_DOCS = 60


@pytest.fixture(scope="module")
def cmc_data(tmp_path_factory) -> Path:
    """A DATA_DIR holding cmc2007 prepared with 3 folds (the corpus default is 10; 3 keeps the test short)."""
    data = tmp_path_factory.mktemp("data")
    xml = write_cmc(tmp_path_factory.mktemp("cmc") / "train.xml", n_docs=N_DOCS, seed=1)
    get_split("cmc2007").prepare(data / "cmc2007", PrepareOptions(source=xml, folds=3, command="test"))
    return data


@pytest.fixture
def env(cmc_data, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DATA_DIR", str(cmc_data))
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _cell(out: str, setting: str, replicate: str, column: str) -> str:
    lines = out.splitlines()
    header = next(line.split() for line in lines if line.startswith("setting"))
    row = next(line.split() for line in lines if line.split()[:2] == [setting, replicate])
    return row[header.index(column)]


def test_bench_runs_every_fold_and_aggregates(env, capsys):
    code, out, err = _cli(capsys, "bench", "lr", "cmc2007", "--profile", "ci", "folds=3")
    assert code == 0, err
    run_dirs = sorted((env / "cmc2007" / "lr").iterdir())
    records = sorted((json.loads((d / "record.json").read_text()) for d in run_dirs), key=lambda r: r["fold"])
    assert [r["fold"] for r in records] == [0, 1, 2] and {r["split"] for r in records} == {"cmc2007"}
    assert all(r["seed"] == 0 for r in records) and all(f"-fold{r['fold']}" in r["run_id"] for r in records)
    tested = [set(np.load(d / "scores.npz")["doc_ids"].tolist()) for d in run_dirs]
    assert sum(len(t) for t in tested) == N_DOCS and len(set().union(*tested)) == N_DOCS  # disjoint, complete
    for key, column in (("micro_f1", "micro-F1"), ("macro_f1", "macro-F1")):
        values = [r["metrics"]["full"][key] for r in records]
        for record in records:
            assert float(_cell(out, "full", str(record["fold"]), column)) == pytest.approx(
                record["metrics"]["full"][key], abs=5e-5)
        mean, std = _cell(out, "full", "mean±std", column).split("±")
        assert float(mean) == pytest.approx(statistics.mean(values), abs=5e-5)
        assert float(std) == pytest.approx(statistics.stdev(values), abs=5e-5)
    coders = out.split("human coders on the same test documents", 1)[1].splitlines()
    rows = {line.split()[0]: line.split() for line in coders[3:] if line.strip()}
    assert sorted(rows) == ["COMPANY1", "COMPANY2", "COMPANY3"]
    assert all(0 <= float(row[1].split("±")[0]) <= 1 and row[3] == "n/a" for row in rows.values())


def test_default_is_every_prepared_fold_and_folds_option_form(env, capsys):
    code, out, err = _cli(capsys, "bench", "lr", "cmc2007", "--profile", "ci", "--folds", "2")
    assert code == 0, err
    assert "folds 0..1" in out and len(list((env / "cmc2007" / "lr").iterdir())) == 2


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["bench", "lr", "synth-tiny", "folds=3"], "split synth-tiny has fixed train/val/test parts, not folds"),
        (["bench", "lr", "cmc2007", "folds=5"], "folds=5 but cmc2007 is prepared with 3 folds"),
        (["bench", "lr", "cmc2007", "--folds", "0"], "folds must be a positive integer"),
        (["bench", "lr", "cmc2007", "--folds", "2", "folds=3"], "folds given twice"),
        (["bench", "lr", "cmc2007", "folds=2", "--seeds", "0,1"], "one seed per fold"),
        (["train", "lr", "cmc2007"], "split cmc2007 is cross-validated (3 folds)"),
    ],
)
def test_bad_fold_requests_fail_with_one_line(argv, needle, env, capsys):
    code, _, err = _cli(capsys, *argv, "--profile", "ci")
    assert code == 2
    assert err.startswith("icdbench: error: ") and err.count("\n") == 1 and needle in err, err
    assert not env.exists()  # no run folder started


def test_compare_two_fold_runs_reads_gold_codes_from_their_fold(env, capsys):
    for model in ("lr", "svm"):
        code, _, err = _cli(capsys, "bench", model, "cmc2007", "--profile", "ci", "--folds", "1")
        assert code == 0, err
    (run_a,), (run_b,) = (sorted((env / "cmc2007" / model).iterdir()) for model in ("lr", "svm"))
    code, out, err = _cli(capsys, "compare", str(run_a), str(run_b))
    assert code == 0, err
    n_test = json.loads((run_a / "record.json").read_text())["n_test_docs"]
    assert n_test < N_DOCS // 2 and f"over {n_test} test documents of cmc2007" in out  # fold 0's test part


def test_explain_a_fold_run_reads_its_document_from_the_fold(env, cmc_data, capsys):
    code, _, err = _cli(capsys, "bench", "caml", "cmc2007", "--profile", "ci", "--folds", "1")
    assert code == 0, err
    (run_dir,) = sorted((env / "cmc2007" / "caml").iterdir())
    doc_id = str(np.load(run_dir / "scores.npz")["doc_ids"][0])  # a test document of fold 0 only
    code, _, err = _cli(capsys, "explain", str(run_dir), "--doc", doc_id, "--method", "attention")
    assert code == 0, err
    run_id = json.loads((run_dir / "record.json").read_text())["run_id"]
    written = json.loads((cmc_data / "cmc2007" / "explanations" / run_id / f"{doc_id}-attention.json").read_text())
    assert written["doc_id"] == doc_id and written["split"] == "cmc2007"
