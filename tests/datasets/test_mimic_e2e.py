"""Every MIMIC split prepared end to end from the synthetic generator's MIMIC-shaped PhysioNet files.

The rules are re-derived from the raw files independently of the pipeline: threshold, duplicates, sequence
order, patient disjointness, the top-50 from train only.
"""

from __future__ import annotations

import polars as pl
import pytest

from icdbench.codes import get_system
from icdbench.datasets.mimic.mimic3 import MULLENBACH_TOP50
from icdbench.datasets.registry import PrepareOptions, get_split
from icdbench.datasets.splitting import code_counts, top_k_codes
from icdbench.datasets.storage import PARTS, load_split
from icdbench.datasets.synthetic.mimic_shaped import write_mimic_files

MIMIC4 = ["mimic4-icd9", "mimic4-icd10", "mimic4-icd9-50", "mimic4-icd10-50", "mimic4-radiology-top10"]
MIMIC3 = ["mimic3-clean", "mimic3-full", "mimic3-50"]
SYSTEMS = {(9, "dx"): "icd9cm", (9, "proc"): "icd9proc", (10, "dx"): "icd10cm", (10, "proc"): "icd10pcs"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    raw = tmp_path_factory.mktemp("physionet")
    write_mimic_files(raw / "mimic4", version="mimic4", n_notes=700, words_per_note=250, seed=0)
    write_mimic_files(raw / "mimic3", version="mimic3", n_notes=500, words_per_note=250, seed=0)
    out = tmp_path_factory.mktemp("data")
    splits = {}
    for name in MIMIC4 + MIMIC3:
        source = raw / ("mimic4" if name.startswith("mimic4") else "mimic3")
        path = get_split(name).prepare(out / name, PrepareOptions(source=source, seed=0, command="test"))
        splits[name] = load_split(path)
    return raw, splits


def _docs(split) -> pl.DataFrame:
    return pl.concat([split.part(p) for p in PARTS])


def _expected_codes(raw) -> dict[str, list[str]]:
    """hadm_id -> codes in sequence order (dx by seq_num, then proc by seq_num), straight from the raw files."""
    frames = []
    for name, kind in (("diagnoses_icd", "dx"), ("procedures_icd", "proc")):
        table = pl.read_csv(raw / f"mimic4/hosp/{name}.csv.gz", schema_overrides={"icd_code": pl.String})
        frames.append(table.with_columns(pl.lit(kind).alias("kind")))
    rows = pl.concat([f.select("hadm_id", "seq_num", "icd_code", "icd_version", "kind") for f in frames])
    rows = rows.sort("hadm_id", pl.col("kind") == "proc", "seq_num")
    out: dict[str, list[str]] = {}
    for hadm, _, code, version, kind in rows.iter_rows():
        canonical = get_system(SYSTEMS[(version, kind)]).normalize(code)
        if canonical not in out.setdefault(str(hadm), []):
            out[str(hadm)].append(canonical)
    return out


@pytest.mark.parametrize("name", MIMIC4 + MIMIC3)
def test_common_rules(prepared, name):
    _, splits = prepared
    split = splits[name]
    docs = _docs(split)
    assert min(split.manifest["rows"].values()) > 0
    subjects = [set(split.part(p)["subject_id"].to_list()) for p in PARTS]
    assert not (subjects[0] & subjects[1] or subjects[0] & subjects[2] or subjects[1] & subjects[2])
    assert docs["doc_id"].n_unique() == docs.height
    assert (docs["codes"].list.len() == docs["code_kinds"].list.len()).all()
    assert (docs["codes"].list.len() == docs["codes"].list.unique().list.len()).all()  # no duplicate codes
    assert docs["codes"].list.len().min() > 0
    assert set(docs["codes"].explode().to_list()) <= set(split.code_list)
    assert split.codes["title"].null_count() == 0
    assert split.manifest["stats"]["documents"] == split.manifest["rows"]


@pytest.mark.parametrize("name", ["mimic4-icd9", "mimic4-icd10", "mimic3-clean"])
def test_min_count_of_ten(prepared, name):
    counts = code_counts(_docs(prepared[1][name]))
    assert min(counts.values()) >= 10
    assert prepared[1][name].manifest["counts"]["codes_below_min_count"] > 0  # the generator's rare tail


@pytest.mark.parametrize("name", ["mimic4-icd9", "mimic4-icd10"])
def test_sequence_order_and_versions(prepared, name):
    raw, splits = prepared
    expected = _expected_codes(raw)
    kept = set(splits[name].code_list)
    for doc in _docs(splits[name]).head(200).iter_rows(named=True):
        assert doc["codes"] == [c for c in expected[doc["doc_id"]] if c in kept]


@pytest.mark.parametrize(("top", "full"), [("mimic4-icd9-50", "mimic4-icd9"), ("mimic4-icd10-50", "mimic4-icd10")])
def test_top50_from_train_only(prepared, top, full):
    splits = prepared[1]
    assert set(splits[top].code_list) == set(top_k_codes(splits[full].train, 50))
    assert splits[top].codes.height == 50


def test_mimic3_settings(prepared):
    splits = prepared[1]
    assert set(splits["mimic3-50"].code_list) <= set(MULLENBACH_TOP50)
    assert set(splits["mimic3-clean"].code_list) < set(splits["mimic3-full"].code_list)
    for name in MIMIC3:
        assert splits[name].manifest["split_assignment"] == "regenerated"
        assert "reason_for_visit" in splits[name].train.columns


def test_radiology_setting(prepared):
    split = prepared[1]["mimic4-radiology-top10"]
    assert split.codes.height == 10
    assert {"metadata", "age", "sex", "sentences"} <= set(split.train.columns)
