"""``icdbench evaluate`` on a prepared split and ``icdbench list metrics``."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from icdbench.cli import main
from icdbench.datasets.storage import write_split
from icdbench.metrics.keys import METRICS
from icdbench.metrics.scores_file import save_scores

CODES = ["I10", "I50.21", "I50.9", "E11.9", "0DTJ4ZZ", "N17.9"]


def _part(name: str, n: int, rng) -> pl.DataFrame:
    codes = [list(rng.choice(CODES, size=rng.integers(1, 4), replace=False)) for _ in range(n)]
    return pl.DataFrame(
        {
            "doc_id": [f"{name}-{i}" for i in range(n)],
            "subject_id": [f"s{i}" for i in range(n)],
            "text": ["note"] * n,
            "codes": codes,
            "code_kinds": [["proc" if c[0].isdigit() else "dx" for c in doc] for doc in codes],
        }
    )


@pytest.fixture()
def split(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    parts = {name: _part(name, n, rng) for name, n in (("train", 30), ("val", 10), ("test", 25))}
    codes = pl.DataFrame(
        {
            "code": CODES,
            "kind": ["proc" if c[0].isdigit() else "dx" for c in CODES],
            "title": CODES,
            "short_title": [None] * len(CODES),
            "ancestors": [[c[:3]] for c in CODES],
            "train_count": [12, 7, 3, 9, 1, 5],
        }
    )
    write_split(tmp_path / "data" / "tiny", parts, codes, {"split": "tiny", "split_version": "1"})
    return parts["test"]


def test_evaluate_writes_both_settings(split, tmp_path, capsys):
    rng = np.random.default_rng(1)
    ids = split["doc_id"].to_list()[::-1] + ["val-0"]  # any row order; an extra document is ignored
    file_codes = CODES[:5] + ["Z99.9"]  # one label-set code missing (scores 0), one unknown (ignored)
    scores = rng.random((len(ids), len(file_codes))).astype(np.float32)
    save_scores(tmp_path / "scores.npz", ids, file_codes, scores, threshold=0.6)
    out = tmp_path / "report" / "eval.json"
    assert main(["evaluate", str(tmp_path / "scores.npz"), "--split", "tiny", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "micro_f1" in printed.out and "95% CI" in printed.out
    assert "not in the scores file" in printed.err and "ignoring 1 scored codes" in printed.err
    result = json.loads(out.read_text())
    assert result["threshold"] == pytest.approx(0.6)
    assert set(result["metrics"]) == {"full", "top50"} and set(result["ci"]) == {"full", "top50"}
    full = result["metrics"]["full"]
    assert full["n_docs"] == 25 and full["n_codes"] == len(CODES)
    assert {"seq_edit_sim", "hier_f1", "macro_f1@[1-10]", "jaccard_3char"} <= set(full)
    # the numbers are those of evaluate() on the aligned matrix
    from icdbench.metrics import evaluate

    rows = [ids.index(d) for d in split["doc_id"].to_list()]
    aligned = np.zeros((25, len(CODES)), dtype=np.float32)
    aligned[:, :5] = scores[rows][:, :5]
    targets = np.array([[c in doc for c in CODES] for doc in split["codes"].to_list()])
    assert full["micro_f1"] == pytest.approx(evaluate(aligned, targets, threshold=0.6)["micro_f1"])


def test_evaluate_refuses_what_it_cannot_score(split, tmp_path, capsys):
    ids = split["doc_id"].to_list()
    save_scores(tmp_path / "partial.npz", ids[:-1], CODES, np.zeros((24, len(CODES)), np.float32))
    assert main(["evaluate", str(tmp_path / "partial.npz"), "--split", "tiny"]) == 2
    assert "lacks 1 of the 25 test documents" in capsys.readouterr().err
    save_scores(tmp_path / "foreign.npz", ids, ["X1", "X2"], np.zeros((25, 2), np.float32))
    assert main(["evaluate", str(tmp_path / "foreign.npz"), "--split", "tiny"]) == 2
    assert "none of the scores file's 2 codes" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "foreign.npz"), "--split", "absent"]) == 2
    assert "is not prepared" in capsys.readouterr().err


def test_list_metrics(capsys):
    assert main(["list", "metrics"]) == 0
    printed = capsys.readouterr().out
    for key, info in METRICS.items():
        assert key in printed
        assert info.definition in printed
    assert "lower" in printed and "higher" in printed
