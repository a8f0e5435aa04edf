"""MIMIC-IV discharge splits (Edin et al. 2023 rules), checked one rule at a time on hand-built PhysioNet files."""

from __future__ import annotations

import random

import polars as pl
import pytest
from fixtures_mimic import Admission, write_mimic4

from icdbench.codes import get_system
from icdbench.datasets.mimic.mimic4 import detect_version, prepare_mimic4
from icdbench.datasets.registry import PrepareOptions, get_split
from icdbench.datasets.splitting import top_k_codes
from icdbench.datasets.storage import load_split
from icdbench.datasets.text import clean_text

DUP_TEXT = "Discharge Diagnosis: CHF. BP 120/80."
OTHER_TEXT = "Addendum: seen by cardiology (Dr. ___) on 3/4."


def _pool(system: str, n: int, undotted: bool = True) -> list[str]:
    codes = [c for c in get_system(system).codes() if not c.startswith("A0")]  # A0x: the planted codes below
    return [c.replace(".", "") if undotted else c for c in codes[:: max(1, len(codes) // n)][:n]]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """400 ICD-10 and 120 ICD-9 admissions (2 per patient) with planted edge cases; returns (root, facts)."""
    rng = random.Random(0)
    frequent, pcs, frequent9 = _pool("icd10cm", 60), _pool("icd10pcs", 5), _pool("icd9cm", 12)
    rare, edge, noted_only, unknown = "A000", "A001", "A0100", "Z9999"  # undotted, as MIMIC writes them
    adms = []
    for i in range(400):
        dx = rng.sample(frequent, 4)
        adms.append(Admission(1000 + i // 2, 20000 + i, [f"Chief Complaint:\nfever {i}\n\nHPI: pt {i} with HTN, "
                                                        f"EF 35%, 2.5mg."], dx=dx, proc=rng.sample(pcs, 1)))
    for i in range(9):
        adms[i].dx.append(rare)  # 9 documents: below the threshold
    for i in range(10, 20):
        adms[i].dx.append(edge)  # exactly 10 documents: kept
    for i in range(20, 30):
        adms[i].dx.append(unknown)  # 10 documents, unknown to the tables: kept and reported
    for i in range(30, 38):
        adms[i].dx.append(noted_only)  # 8 noted documents + 5 without a note below: dropped
    adms[40].dx = [adms[40].dx[0], adms[40].dx[1], adms[40].dx[0]]  # duplicate (admission, code) pair
    adms[41].notes = [DUP_TEXT, DUP_TEXT, OTHER_TEXT]  # a duplicate note
    adms.append(Admission(3000, 30000, ["only a rare code here"], dx=["A020"]))  # left without codes
    adms += [Admission(3001 + i, 30001 + i, [], dx=[noted_only]) for i in range(5)]  # codes but no note
    for i in range(120):
        adms.append(Admission(4000 + i // 2, 40000 + i, [f"Old admission {i}, CHF."], dx=rng.sample(frequent9, 3),
                              icd_version=9, year=2140))
    root = write_mimic4(tmp_path_factory.mktemp("mimic4") / "physionet", adms)
    facts = {"admissions": {a.hadm_id: a for a in adms}, "rare": "A00.0", "edge": "A00.1", "unknown": "Z99.99",
             "noted_only": "A01.00"}
    return root, facts


@pytest.fixture(scope="module")
def prepared(scenario, tmp_path_factory):
    root, _ = scenario
    out = tmp_path_factory.mktemp("out")
    names = ["mimic4-icd10", "mimic4-icd9", "mimic4-icd10-50"]
    written = prepare_mimic4({n: out / n for n in names}, PrepareOptions(source=root, seed=3, command="test"))
    return {name: load_split(path) for name, path in written.items()}


def _all(split) -> pl.DataFrame:
    return pl.concat([split.train, split.val, split.test])


def _doc(split, hadm_id: int) -> dict:
    rows = _all(split).filter(pl.col("doc_id") == str(hadm_id)).to_dicts()
    return rows[0] if rows else {}


def test_min_count_is_ten_documents_with_a_note(prepared, scenario):
    _, facts = scenario
    codes = set(prepared["mimic4-icd10"].code_list)
    assert facts["edge"] in codes and facts["unknown"] in codes
    assert facts["rare"] not in codes and facts["noted_only"] not in codes
    counts = prepared["mimic4-icd10"].manifest["counts"]
    assert counts["codes_below_min_count"] == 3  # rare, noted_only and the lone A02.0


def test_admissions_left_without_codes_are_dropped(prepared):
    assert _doc(prepared["mimic4-icd10"], 30000) == {}
    assert prepared["mimic4-icd10"].manifest["counts"]["admissions_left_without_codes"] == 1


def test_duplicate_code_pairs_and_notes_are_dropped(prepared, scenario):
    _, facts = scenario
    doc = _doc(prepared["mimic4-icd10"], 20040)
    dx = [get_system("icd10cm").normalize(c) for c in facts["admissions"][20040].dx]
    assert doc["codes"][:2] == [dx[0], dx[1]] and len(doc["codes"]) == len(set(doc["codes"]))
    assert _doc(prepared["mimic4-icd10"], 20041)["text"] == clean_text(DUP_TEXT + "\n" + OTHER_TEXT)
    assert prepared["mimic4-icd10"].manifest["counts"]["duplicate_notes_dropped"] == 1
    assert prepared["mimic4-icd10"].manifest["counts"]["duplicate_code_rows_dropped"] == 1


def test_code_order_is_diagnoses_by_seq_num_then_procedures(prepared, scenario):
    _, facts = scenario
    for hadm_id in (20100, 20101, 20250):
        adm, doc = facts["admissions"][hadm_id], _doc(prepared["mimic4-icd10"], hadm_id)
        expected = [get_system("icd10cm").normalize(c) for c in adm.dx] + [get_system("icd10pcs").normalize(c)
                                                                          for c in adm.proc]
        assert doc["codes"] == expected
        assert doc["code_kinds"] == ["dx"] * len(adm.dx) + ["proc"] * len(adm.proc)


def test_patients_are_disjoint_and_parts_near_75_10_15(prepared):
    split = prepared["mimic4-icd10"]
    subjects = {p: set(split.part(p)["subject_id"].to_list()) for p in ("train", "val", "test")}
    assert not subjects["train"] & subjects["val"] and not subjects["train"] & subjects["test"]
    assert not subjects["val"] & subjects["test"]
    total = sum(split.manifest["rows"].values())
    assert abs(split.manifest["rows"]["train"] / total - 0.75) < 0.05
    assert abs(split.manifest["rows"]["test"] / total - 0.15) < 0.05


def test_versions_are_separate_and_texts_cleaned(prepared):
    assert all(c[0].isdigit() or c[0] in "EV" for c in prepared["mimic4-icd9"].code_list)
    assert not set(prepared["mimic4-icd9"].code_list) & set(prepared["mimic4-icd10"].code_list)
    doc = _doc(prepared["mimic4-icd10"], 20003)
    assert doc["text"] == clean_text("Chief Complaint:\nfever 3\n\nHPI: pt 3 with HTN, EF 35%, 2.5mg.")
    assert doc["reason_for_visit"] == "fever" and doc["sex"] in ("F", "M") and doc["age"] == 50.0


def test_top50_is_chosen_from_train_counts_only(prepared):
    full, top = prepared["mimic4-icd10"], prepared["mimic4-icd10-50"]
    assert set(top.code_list) == set(top_k_codes(full.train, 50))
    for part in ("train", "val", "test"):
        frame = top.part(part)
        assert frame.height and frame["codes"].list.len().min() > 0
        assert set(frame["codes"].explode().to_list()) <= set(top.code_list)
        kept = full.part(part).filter(pl.col("codes").list.eval(pl.element().is_in(top.code_list)).list.any())
        assert frame.height == kept.height  # documents without a top-50 code dropped, no other


def test_manifest_records_version_source_and_unknown_codes(prepared, scenario):
    _, facts = scenario
    manifest = prepared["mimic4-icd10"].manifest
    assert manifest["source"]["version"] == "2.2"
    assert set(manifest["source"]["files"]) >= {"note/discharge.csv.gz", "hosp/diagnoses_icd.csv.gz"}
    assert manifest["split_version"] == "1.0.0" and manifest["split_assignment"] == "regenerated"
    assert manifest["comparable_to_published"] is False
    assert facts["unknown"] in manifest["unknown_codes"]["examples"]
    codes = prepared["mimic4-icd10"].codes.filter(pl.col("code") == facts["unknown"]).to_dicts()[0]
    assert codes["title"] == "Source title of Z9999"  # the source's dictionary titles an unknown code
    assert "text" not in str(manifest["counts"]) and DUP_TEXT not in str(manifest)


def test_published_split_ids_are_followed(scenario, prepared, tmp_path):
    root, _ = scenario
    regenerated = prepared["mimic4-icd10"]
    ids = _all(regenerated).select(pl.col("doc_id").cast(pl.Int64).alias("_id"), "subject_id")
    parts = {s: ("test" if int(s) % 2 else "train") for s in ids["subject_id"].unique().to_list()}
    parts[ids["subject_id"][0]] = "val"
    table = ids.with_columns(pl.col("subject_id").replace_strict(parts).alias("split")).drop("subject_id")
    table.slice(1).write_ipc(tmp_path / "mimiciv_icd10_split.feather")
    out = get_split("mimic4-icd10").prepare(tmp_path / "out", PrepareOptions(source=root, split_ids=tmp_path))
    split = load_split(out)
    assert split.manifest["split_assignment"] == "published" and split.manifest["comparable_to_published"]
    assert split.manifest["docs_not_in_published_ids"] == 1
    assert set(split.test["doc_id"].to_list()) == {str(i) for i, s in table.iter_rows() if s == "test"}


def test_version_detection(scenario, tmp_path):
    root, _ = scenario
    patients = pl.DataFrame({"anchor_year_group": ["2008 - 2010", "2020 - 2022"]})
    assert detect_version(root, patients) == "3.x"
    (tmp_path / "mimiciv" / "2.0" / "core").mkdir(parents=True)
    from icdbench.errors import UserError

    with pytest.raises(UserError, match="v1.x"):
        detect_version(tmp_path / "mimiciv" / "2.0", patients)
    (tmp_path / "mimiciv" / "2.1" / "hosp").mkdir(parents=True)
    with pytest.raises(UserError, match="v2.1; icdbench supports MIMIC-IV v2.2"):
        detect_version(tmp_path / "mimiciv" / "2.1", patients)


def test_same_seed_same_bytes(scenario, prepared, tmp_path):
    root, _ = scenario
    again = prepare_mimic4({"mimic4-icd10": tmp_path / "again"}, PrepareOptions(source=root, seed=3, command="test"))
    first = prepared["mimic4-icd10"].manifest
    assert load_split(again["mimic4-icd10"]).manifest["content_sha256"] == first["content_sha256"]
