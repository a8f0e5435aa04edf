"""icdbench's CodiEsp scoring against the track's official scorer (``../shared/reference/codiesp-evaluation-script``,
run from there, never copied): the toy files shipped with it, a synthetic run exported in the run folder format,
and (slow) a real run trained on ``../shared/data/codiesp``. Numbers must agree to 1e-6.

``codiespD_P_evaluation.py`` runs unchanged in a subprocess (it writes its intermediate files into the working
directory and prints MAP rounded to 3 decimals; the unrounded value is trectools' ``TrecEval.get_map`` on those
files, as the script computes it). ``codiespX_evaluation.py`` was written for pandas < 2: three calls it makes
were removed in pandas 2.0 (``str.split(pat, n)`` with ``n`` positional, unpacking ``Series.str`` into columns,
``DataFrame.drop(labels, axis)`` with ``axis`` positional), so its functions are imported and run under
:func:`legacy_pandas_calls`, which accepts those three calls and changes nothing else.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from icdbench.metrics.codiesp import official_keys, x_scores
from icdbench.metrics.functional.trec_map import code_order, trec_map

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SCORER = SHARED / "reference" / "codiesp-evaluation-script"
CORPUS = SHARED / "data" / "codiesp"
TOLERANCE = 1e-6

pytestmark = pytest.mark.skipif(
    not SCORER.is_dir(), reason=f"the official CodiEsp scorer is not at {SCORER} (../shared is outside the repository)"
)


# --- the official scorer ------------------------------------------------------------------------------------
def official_map(gold: Path, submission: Path, valid_codes: Path, workdir: Path) -> float:
    """The unrounded MAP of ``codiespD_P_evaluation.py`` (run in ``workdir``, where it writes its files)."""
    pytest.importorskip("trectools", reason="the official scorer needs trectools==0.0.42 (the [test] extra)")
    from trectools import TrecEval, TrecQrel, TrecRun

    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(SCORER / "codiespD_P_evaluation.py"), "-g", str(gold), "-p", str(submission),
               "-c", str(valid_codes)]  # fmt: skip
    printed = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=True).stdout
    run = TrecRun(str(workdir / "intermediate_predictions_file.txt"))
    value = TrecEval(run, TrecQrel(str(workdir / "intermediate_gs_file.txt"))).get_map(trec_eval=False)
    assert f"MAP estimate: {round(value, 3)}" in printed  # the number the script prints, unrounded
    return float(value)


def legacy_pandas_calls(monkeypatch) -> None:
    """Accept the three pandas < 2 calls of ``codiespX_evaluation.py`` (module docstring), nothing more."""
    import pandas as pd
    from pandas.core.strings.accessor import StringMethods

    split, drop = StringMethods.split, pd.DataFrame.drop

    def split_with_positional_n(self, pat=None, *args, **kwargs):
        return split(self, pat, **({"n": args[0]} if args else {}), **kwargs)

    def iterate_parts(self):  # pandas < 2: the i-th element of every row while any row has one
        i = 0
        while (part := self.get(i)).notna().any():
            yield part
            i += 1

    def drop_with_positional_axis(self, labels=None, *args, **kwargs):
        return drop(self, labels, **({"axis": args[0]} if args else {}), **kwargs)

    monkeypatch.setattr(StringMethods, "split", split_with_positional_n)
    monkeypatch.setattr(StringMethods, "__iter__", iterate_parts, raising=False)
    monkeypatch.setattr(pd.DataFrame, "drop", drop_with_positional_axis)


def official_x(gold: Path, submission: Path, valid_codes: set[str], monkeypatch) -> dict[str, float]:
    """Micro precision, recall and F1 of ``codiespX_evaluation.py`` (its own reading and counting functions)."""
    legacy_pandas_calls(monkeypatch)
    spec = importlib.util.spec_from_file_location("codiespX_evaluation", SCORER / "codiespX_evaluation.py")
    scorer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scorer)
    df_gs = scorer.read_gs(str(gold))
    scorer.df_run = scorer.read_run(str(submission), valid_codes)  # calculate_metrics reads the global df_run
    _, precision, _, recall, _, f1 = scorer.calculate_metrics(df_gs, scorer.df_run)
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


# --- icdbench on the same files ---------------------------------------------------------------------------------
def read_pairs(path: Path, code_field: int = 1) -> dict[str, list[str]]:
    """doc_id -> its codes (lower-cased) in file order."""
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        out.setdefault(fields[0], []).append(fields[code_field].lower())
    return out


def icdbench_map_of_files(gold: Path, submission: Path, valid_codes: set[str]) -> float:
    """icdbench's ``trec_map`` of a submission file: its ranked codes become scores, the codes each document
    submits (and that are valid) its ``valid`` mask."""
    gold_codes, submitted = read_pairs(gold), read_pairs(submission)
    codes = sorted({c for cs in gold_codes.values() for c in cs} | {c for cs in submitted.values() for c in cs})
    column = {code: j for j, code in enumerate(codes)}
    docs = list(submitted)
    scores = torch.zeros(len(docs), len(codes))
    targets = torch.zeros(len(docs), len(codes), dtype=torch.bool)
    valid = torch.zeros(len(docs), len(codes), dtype=torch.bool)
    for row, doc in enumerate(docs):
        ranked = list(dict.fromkeys(submitted[doc]))
        for rank, code in enumerate(ranked):
            scores[row, column[code]] = 1 - rank / len(ranked)
            valid[row, column[code]] = code in valid_codes
        targets[row, [column[c] for c in gold_codes.get(doc, [])]] = True
    return trec_map(scores, targets, tie_order=code_order(codes), valid=valid)


def x_tuples(path: Path, *, gold: bool) -> list[tuple[str, str, int, int]]:
    """(doc_id, code, start, end) of a CodiEsp-X file; a discontinuous gold reference spans first to last."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        doc, code, position = (fields[0], fields[2], fields[4]) if gold else (fields[0], fields[3], fields[1])
        bounds = position.replace(";", " ").split()
        out.append((doc, code, int(bounds[0]), int(bounds[-1])))
    return out


def write_codes(path: Path, codes) -> Path:
    path.write_text("".join(f"{code}\n" for code in sorted(set(codes))))
    return path


# --- toy files ----------------------------------------------------------------------------------------------
def test_toy_map_equals_official(tmp_path):
    gold, submission = SCORER / "gold/toy_data/gs_D.tsv", SCORER / "system/toy_data/pred_D.tsv"
    valid = {c for cs in read_pairs(gold).values() for c in cs}  # stand-in list: the gold codes
    official = official_map(gold, submission, write_codes(tmp_path / "codes.tsv", valid), tmp_path / "work")
    assert abs(official - 4 / 9) < 1e-12  # README: 0.444 (two submitted documents, one gold document unsubmitted)
    assert abs(icdbench_map_of_files(gold, submission, valid) - official) < TOLERANCE


def test_toy_x_equals_official(monkeypatch):
    gold, submission = SCORER / "gold/toy_data/gs_X.tsv", SCORER / "system/toy_data/pred_X.tsv"
    gold_rows = x_tuples(gold, gold=True)
    valid = {code.lower() for _, code, _, _ in gold_rows}
    official = official_x(gold, submission, valid, monkeypatch)
    ours = x_scores(x_tuples(submission, gold=False), gold_rows, valid=valid)
    assert official["recall"] == pytest.approx(7 / 13)  # README: 0.538
    for key in ("precision", "recall", "f1"):
        assert abs(ours[key] - official[key]) < TOLERANCE, key


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the CodiEsp corpus is not at {CORPUS}")
def test_x_on_the_real_test_gold_equals_official(tmp_path, monkeypatch):
    """Positions around every real gold reference (inside the tolerance, just outside it, shifted the wrong way,
    with the wrong code, on a document without gold), upper- and lower-case codes."""
    gold = CORPUS / "test" / "testX.tsv"
    gold_rows = x_tuples(gold, gold=True)
    rng = np.random.default_rng(0)
    shifts = [(0, 0), (-10, 10), (-3, 7), (1, 0), (0, -1), (-11, 0), (0, 11)]
    lines = []
    for doc, code, start, end in gold_rows[::2]:
        d_start, d_end = shifts[int(rng.integers(len(shifts)))]
        code = code.upper() if rng.random() < 0.3 else code
        lines.append(f"{doc}\t{max(0, start + d_start)} {end + d_end}\tDIAGNOSTICO\t{code}\n")
        if rng.random() < 0.2:
            lines.append(f"{doc}\t{start} {end}\tDIAGNOSTICO\tr69\n")
    lines.append("S9999-0000-1\t0 10\tDIAGNOSTICO\tr52\n")
    submission = tmp_path / "pred_X.tsv"
    submission.write_text("".join(lines))
    valid = {code.lower() for _, code, _, _ in gold_rows}
    official = official_x(gold, submission, valid, monkeypatch)
    ours = x_scores(x_tuples(submission, gold=False), gold_rows, valid=valid)
    for key in ("precision", "recall", "f1"):
        assert abs(ours[key] - official[key]) < TOLERANCE, key
    assert 0.2 < official["recall"] < 0.6


# --- a run folder, exported -----------------------------------------------------------------------------------
def synthetic_run(tmp_path: Path, n_docs: int = 30, n_codes: int = 1100, seed: int = 0):
    """A codiesp-d run folder whose float16 scores tie often and whose 1,100 codes exceed the depth of 1,000,
    with gold codes outside the label set and documents without gold; returns (run_dir, gold per row, gold
    file)."""
    from icdbench.metrics.scores_file import save_scores
    from icdbench.results.record import RECORD_SCHEMA

    rng = np.random.default_rng(seed)
    codes = [f"{chr(65 + i % 26)}{i // 26 % 10}{i % 10}.{i % 7}" for i in range(n_codes)]
    codes = list(dict.fromkeys(codes))
    doc_ids = [f"S0000-{i:04d}-1" for i in range(n_docs)]
    scores = rng.choice(np.linspace(0, 1, 40), size=(n_docs, len(codes))).astype(np.float16)
    gold = []
    for row in range(n_docs):
        k = 0 if row % 7 == 3 else int(rng.integers(1, 12))
        picked = [codes[j] for j in rng.choice(len(codes), size=k, replace=False)]
        gold.append(picked + (["Z99.89"] if row % 5 == 0 else []))  # Z99.89: a gold code outside the label set
    run_dir = tmp_path / "runs" / "codiesp-d" / "lr" / "run"
    run_dir.mkdir(parents=True)
    save_scores(run_dir / "scores.npz", doc_ids, codes, scores)
    (run_dir / "record.json").write_text(json.dumps({
        "schema": RECORD_SCHEMA, "run_id": "run", "model": "lr", "split": "codiesp-d", "profile": "ci", "seed": 0,
        "metrics": {"full": {}, "top50": {}},
    }))  # fmt: skip
    lines = [f"{doc}\t{code.lower()}\n" for doc, codes_ in zip(doc_ids, gold) for code in codes_ + codes_[:1]]
    gold_file = tmp_path / "testD.tsv"  # repeats a code per document, as the gold files do
    gold_file.write_text("".join(lines))
    return run_dir, gold, gold_file, codes


def test_exported_synthetic_run_equals_official(tmp_path):
    from icdbench.metrics.scores_file import load_scores
    from icdbench.training.export import export_run

    run_dir, gold, gold_file, codes = synthetic_run(tmp_path)
    submission = export_run(run_dir, "codiesp-d", out=tmp_path / "submission.tsv")
    assert len(submission.read_text().splitlines()) == 30 * 1000  # the depth the scorer reads
    valid = write_codes(tmp_path / "codes.tsv", [c.lower() for c in codes])  # the label set
    official = official_map(gold_file, submission, valid, tmp_path / "work")
    _, stored_codes, scores = load_scores(run_dir / "scores.npz")
    ours = official_keys(stored_codes, scores, gold)["map_codiesp"]
    assert abs(ours - official) < TOLERANCE
    assert 0.0 < official < 1.0


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the CodiEsp corpus is not at {CORPUS}")
def test_evaluate_command_reports_the_official_map(tmp_path, monkeypatch, capsys):
    """``icdbench evaluate`` on a CodiEsp split reports ``map_codiesp`` of the scores file against the split's gold
    (equal to the official scorer's: the synthetic-run test above)."""
    import polars as pl

    from icdbench.app import evaluate
    from icdbench.cli import main
    from icdbench.metrics.scores_file import save_scores

    # icdbench's own keys and intervals are tested elsewhere; skipping them keeps this test fast
    monkeypatch.setattr(evaluate, "evaluate_settings", lambda *args, **kwargs: {"full": {}, "top50": {}})
    monkeypatch.setattr(evaluate, "bootstrap_ci", lambda *args, **kwargs: {"full": {}})
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    assert main(["prepare", "codiesp-p-en", "--source", str(CORPUS)]) == 0
    test = pl.read_parquet(tmp_path / "data" / "codiesp-p-en" / "test.parquet")
    codes = pl.read_parquet(tmp_path / "data" / "codiesp-p-en" / "codes.parquet")["code"].to_list()
    doc_ids, gold = test["doc_id"].to_list()[::-1], test["codes"].to_list()[::-1]  # rows in another order
    scores = np.random.default_rng(1).random((len(doc_ids), len(codes))).astype(np.float16)
    save_scores(tmp_path / "scores.npz", doc_ids, codes, scores)
    assert main(["evaluate", str(tmp_path / "scores.npz"), "--split", "codiesp-p-en", "--out",
                 str(tmp_path / "report.json")]) == 0  # fmt: skip
    assert "map_codiesp" in capsys.readouterr().out
    reported = json.loads((tmp_path / "report.json").read_text())["metrics"]["full"]["map_codiesp"]
    assert reported == pytest.approx(official_keys(codes, scores, gold)["map_codiesp"], abs=1e-12)
    assert 0 < reported < 0.2


# --- a real run on CodiEsp ------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the CodiEsp corpus is not at {CORPUS}")
def test_exported_real_run_equals_official(tmp_path, monkeypatch):
    """The prior at the ci profile on codiesp-d-en (1-2 minutes on a busy 2-core machine): the record's
    ``map_codiesp`` equals the official MAP of the exported file, with the union of the gold codes of train, dev
    and test as valid codes."""
    from icdbench.cli import main

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    assert main(["train", "prior", "codiesp-d-en", "--profile", "ci", "--source", str(CORPUS)]) == 0
    (run_dir,) = (tmp_path / "runs" / "codiesp-d-en" / "prior").iterdir()
    assert main(["export", str(run_dir), "--format", "codiesp-d", "--out", str(tmp_path / "sub.tsv")]) == 0
    valid = {c for part in ("train", "dev", "test") for cs in read_pairs(CORPUS / part / f"{part}D.tsv").values()
             for c in cs}  # fmt: skip
    official = official_map(CORPUS / "test" / "testD.tsv", tmp_path / "sub.tsv",
                            write_codes(tmp_path / "codes.tsv", valid), tmp_path / "work")  # fmt: skip
    recorded = json.loads((run_dir / "record.json").read_text())["metrics"]["full"]["map_codiesp"]
    assert abs(recorded - official) < TOLERANCE
    assert re.fullmatch(r"S[0-9A-Z-]+\t[a-z0-9.]+", (tmp_path / "sub.tsv").read_text().splitlines()[0])


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the CodiEsp corpus is not at {CORPUS}")
def test_exported_real_x_run_equals_official(tmp_path, monkeypatch):
    """CAML at the ci profile on codiesp-d (Spanish): the CodiEsp-X file ``icdbench export`` writes from the saved
    model's attributions scores the same under the official ``codiespX_evaluation.py`` as under icdbench's
    ``x_scores``, with the union of the gold codes of train, dev and test as valid codes."""
    from icdbench.cli import main

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    assert main(["train", "caml", "codiesp-d", "--profile", "ci", "--source", str(CORPUS)]) == 0
    (run_dir,) = (tmp_path / "runs" / "codiesp-d" / "caml").iterdir()
    submission = tmp_path / "pred_X.tsv"
    assert main(["export", str(run_dir), "--format", "codiesp-x", "--out", str(submission)]) == 0
    lines = submission.read_text().splitlines()
    assert lines and all(re.fullmatch(r"S[0-9A-Z-]+\t\d+ \d+\tDIAGNOSTICO\t[a-z0-9.]+", line) for line in lines)
    gold = CORPUS / "test" / "testX.tsv"
    gold_rows = x_tuples(gold, gold=True)
    valid = {c for part in ("train", "dev", "test") for cs in read_pairs(CORPUS / part / f"{part}D.tsv").values()
             for c in cs}  # fmt: skip
    official = official_x(gold, submission, valid, monkeypatch)
    ours = x_scores(x_tuples(submission, gold=False), gold_rows, valid=valid)
    for key in ("precision", "recall", "f1"):
        assert abs(ours[key] - official[key]) < TOLERANCE, key
