"""Split preparation shared by all sources: patient-level stratification, label sets, the codes table."""

from __future__ import annotations

import random

import polars as pl
import pytest

from icdbench.datasets.splitting import (
    code_counts,
    code_kinds,
    codes_table,
    codes_with_min_count,
    patient_split,
    restrict_labels,
    top_k_codes,
)


def _docs(n_patients: int = 400, seed: int = 0) -> pl.DataFrame:
    rng = random.Random(seed)
    pool = [f"C{i:02d}" for i in range(40)]
    weights = [1 / (i + 1) for i in range(40)]
    rows = []
    for p in range(n_patients):
        for k in range(rng.randint(1, 3)):
            codes = list(dict.fromkeys(rng.choices(pool, weights, k=rng.randint(1, 6))))
            rows.append({"doc_id": f"d{p}-{k}", "subject_id": f"p{p}", "codes": codes,
                         "code_kinds": ["dx"] * len(codes),
                         "evidence": [{"code": c, "start": 0, "end": 1} for c in codes]})
    return pl.DataFrame(rows, schema={"doc_id": pl.String, "subject_id": pl.String, "codes": pl.List(pl.String),
                                      "code_kinds": pl.List(pl.String),
                                      "evidence": pl.List(pl.Struct({"code": pl.String, "start": pl.Int64,
                                                                     "end": pl.Int64}))})


def test_patient_split_is_disjoint_stratified_and_deterministic():
    docs = _docs()
    parts = patient_split(docs, seed=3)
    assert sum(p.height for p in parts.values()) == docs.height
    subjects = {name: set(p["subject_id"].to_list()) for name, p in parts.items()}
    assert not (subjects["train"] & subjects["val"]) and not (subjects["train"] & subjects["test"])
    assert not (subjects["val"] & subjects["test"])
    n = len(set(docs["subject_id"].to_list()))
    assert abs(len(subjects["train"]) / n - 0.75) < 0.03 and abs(len(subjects["test"]) / n - 0.15) < 0.03
    # every frequent code keeps close to its share of patients in each part
    totals = code_counts(docs)
    for code in ("C00", "C01", "C02", "C05"):
        share = code_counts(parts["test"]).get(code, 0) / totals[code]
        assert 0.08 < share < 0.22, (code, share)
    again = patient_split(docs, seed=3)
    assert all(again[k].equals(parts[k]) for k in parts)
    assert not patient_split(docs, seed=4)["test"].equals(parts["test"])


def test_top_k_from_train_counts_with_code_tiebreak():
    train = pl.DataFrame({"codes": [["B", "A"], ["A", "C"], ["C"], ["B", "B"], ["D"]]})
    assert code_counts(train) == {"A": 2, "B": 2, "C": 2, "D": 1}  # "B" twice in one document counts once
    assert top_k_codes(train, 2) == ["A", "B"]
    assert codes_with_min_count(train, 2) == ["A", "B", "C"]


def test_restrict_labels_keeps_order_filters_evidence_and_drops_empty():
    docs = pl.DataFrame(
        {"doc_id": ["a", "b"], "codes": [["X", "Y", "Z"], ["Q"]], "code_kinds": [["dx", "dx", "proc"], ["dx"]],
         "evidence": [[{"code": "Y", "start": 0, "end": 2}, {"code": "X", "start": 3, "end": 4}],
                      [{"code": "Q", "start": 0, "end": 1}]]})
    out = restrict_labels(docs, {"Z", "X"})
    assert out["doc_id"].to_list() == ["a"]
    assert out["codes"].to_list() == [["X", "Z"]] and out["code_kinds"].to_list() == [["dx", "proc"]]
    assert out["evidence"].to_list() == [[{"code": "X", "start": 3, "end": 4}]]
    assert out.columns == docs.columns
    kept = restrict_labels(docs, {"Z"}, drop_empty=False)
    assert kept["codes"].to_list() == [["Z"], []]


def test_codes_table_from_real_tables():
    from icdbench.codes import get_system

    table = codes_table(["I50.23", "0DTJ4ZZ"], {"I50.23": "dx", "0DTJ4ZZ": "proc"}, {"I50.23": 7},
                        {"dx": get_system("icd10cm"), "proc": get_system("icd10pcs")})
    rows = {r["code"]: r for r in table.iter_rows(named=True)}
    assert rows["I50.23"]["title"] == "Acute on chronic systolic (congestive) heart failure"
    assert rows["I50.23"]["ancestors"][:2] == ["I50.2", "I50"] and rows["I50.23"]["train_count"] == 7
    assert rows["0DTJ4ZZ"]["kind"] == "proc" and rows["0DTJ4ZZ"]["train_count"] == 0
    assert code_kinds(pl.DataFrame({"codes": [["A", "P"]], "code_kinds": [["dx", "proc"]]})) == {"A": "dx",
                                                                                               "P": "proc"}


@pytest.mark.parametrize("fractions", [{"train": 0.8, "test": 0.2}])
def test_patient_split_custom_fractions(fractions):
    parts = patient_split(_docs(200), seed=0, fractions=fractions)
    assert set(parts) == {"train", "test"}
