"""MIMIC-III splits (Mullenbach et al. 2018, Edin et al. 2023) and MDACE evidence, on hand-built v1.4 files."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest
from fixtures_mimic import Admission, write_mimic3

from icdbench.codes import get_system
from icdbench.datasets.mimic.mimic3 import MULLENBACH_TOP50, prepare_mimic3
from icdbench.datasets.registry import PrepareOptions
from icdbench.datasets.storage import load_split
from icdbench.datasets.text import clean_text
from icdbench.errors import UserError

TOP = ["4019", "4280", "42731", "41401", "5849", "25000", "2724"]  # in Mullenbach et al.'s 50 (undotted)
OTHER = ["7070", "5715", "2875", "53081", "V4581", "0389", "49390", "78650"]
PROCS = ["3893", "9604", "8856", "0066"]  # 00.66 is not in the published 50
REPORT = "Chief Complaint:\nDyspnea\n\nPt with CHF and HTN; EF 25%. Started lasix 40 mg."
ADDENDUM = "Addendum: AFib noted on telemetry."


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    rng = random.Random(1)
    adms = [Admission(500 + i // 2, 100000 + i, [REPORT if i < 5 else f"Report {i}: CHF, HTN, renal failure."],
                      dx=rng.sample(TOP, 3) + rng.sample(OTHER, 1), proc=rng.sample(PROCS, 1), icd_version=9)
            for i in range(240)]
    adms[0].dx, adms[0].proc = ["4280", "4019", "42731"], ["3893"]
    adms[7].notes = [adms[7].notes[0], adms[7].notes[0]]  # duplicate note
    adms[9].dx, adms[9].proc = ["99999"], []  # one document only: kept by mimic3-full, dropped by mimic3-clean
    root = write_mimic3(tmp_path_factory.mktemp("mimic3") / "v1.4", adms, addenda={100000: [ADDENDUM]})
    notes = pl.read_csv(root / "NOTEEVENTS.csv.gz", schema_overrides={"TEXT": pl.String})
    return root, {a.hadm_id: a for a in adms}, notes


def _prepare(scenario, name, tmp_path, **options):
    root = scenario[0]
    return load_split(prepare_mimic3(name, tmp_path / name, PrepareOptions(source=root, seed=1, **options)))


def _all(split):
    return pl.concat([split.train, split.val, split.test])


def test_full_keeps_every_code_in_order_with_addenda_after_the_report(scenario, tmp_path):
    split = _prepare(scenario, "mimic3-full", tmp_path)
    docs = _all(split)
    assert "999.99" in split.code_list  # no frequency threshold
    first = docs.filter(pl.col("doc_id") == "100000").to_dicts()[0]
    assert first["codes"] == ["428.0", "401.9", "427.31", "38.93"]
    assert first["text"] == clean_text(REPORT + "\n" + ADDENDUM)
    assert first["reason_for_visit"] == "dyspnea"
    assert split.manifest["split_assignment"] == "regenerated" and not split.manifest["comparable_to_published"]
    assert "caml-mimic" in split.manifest["split_note"]
    assert split.manifest["rows"]["train"] > 0.85 * docs.height  # Mullenbach's proportions (90.5/3.1/6.4)
    assert split.manifest["counts"]["duplicate_notes_dropped"] == 0  # Mullenbach kept every note


def test_clean_applies_min_count_and_drops_duplicate_notes(scenario, tmp_path):
    split = _prepare(scenario, "mimic3-clean", tmp_path)
    docs = _all(split)
    assert "999.99" not in split.code_list
    assert docs.filter(pl.col("doc_id") == "100009").height == 0
    assert split.manifest["counts"]["duplicate_notes_dropped"] == 1
    text = docs.filter(pl.col("doc_id") == "100007")["text"][0]
    assert text == clean_text(scenario[1][100007].notes[0])
    subjects = [set(split.part(p)["subject_id"].to_list()) for p in ("train", "val", "test")]
    assert not (subjects[0] & subjects[1] or subjects[0] & subjects[2] or subjects[1] & subjects[2])


def test_top50_uses_the_published_codes(scenario, tmp_path):
    split = _prepare(scenario, "mimic3-50", tmp_path)
    assert set(split.code_list) <= set(MULLENBACH_TOP50)
    assert "00.66" not in split.code_list and "401.9" in split.code_list
    note = f"{len(split.code_list)} of the 50 published codes occur in the source"
    assert split.manifest["rules"]["label_set_note"] == note
    assert _all(split)["codes"].list.len().min() > 0


def test_caml_split_ids_are_followed(scenario, tmp_path):
    ids = sorted(scenario[1])
    ids_dir = tmp_path / "caml"
    ids_dir.mkdir()
    (ids_dir / "train_full_hadm_ids.csv").write_text("\n".join(map(str, ids[:150])) + "\n")
    (ids_dir / "dev_full_hadm_ids.csv").write_text("\n".join(map(str, ids[150:180])) + "\n")
    (ids_dir / "test_full_hadm_ids.csv").write_text("\n".join(map(str, ids[180:] + [999999])) + "\n")
    split = _prepare(scenario, "mimic3-full", tmp_path, split_ids=ids_dir)
    assert split.manifest["split_assignment"] == "published" and split.manifest["comparable_to_published"]
    assert split.val["doc_id"].to_list() == [str(i) for i in ids[150:180]]
    assert split.manifest["published_ids_not_in_data"] == 1
    with pytest.raises(UserError, match="train_50_hadm_ids.csv"):
        _prepare(scenario, "mimic3-50", tmp_path, split_ids=ids_dir)
    (ids_dir / "dev_full_hadm_ids.csv").write_text("100150\nnot-an-id\n")
    with pytest.raises(UserError, match="dev_full_hadm_ids.csv line 2"):
        _prepare(scenario, "mimic3-full", tmp_path, split_ids=ids_dir)


def _row_id(notes: pl.DataFrame, hadm_id: int, description: str) -> int:
    return notes.filter((pl.col("HADM_ID") == hadm_id) & (pl.col("DESCRIPTION") == description))["ROW_ID"][0]


def test_mdace_evidence_is_mapped_into_cleaned_text(scenario, tmp_path):
    _, _, notes = scenario
    report, addendum, nursing = (_row_id(notes, 100000, d) for d in ("Report", "Addendum", "Note"))
    chf, afib = REPORT.index("CHF"), ADDENDUM.index("AFib")
    annotations = [
        {"begin": chf, "end": chf + 3, "code": "428.0", "code_system": "ICD-9-CM"},
        {"begin": REPORT.index("EF 25%"), "end": REPORT.index("EF 25%") + 6, "code": "428.0",
         "code_system": "ICD-9-CM"},
        {"begin": 5, "end": 10_000, "code": "401.9", "code_system": "ICD-9-CM"},  # outside the note
        {"begin": 0, "end": 4, "code": "I50.9", "code_system": "ICD-10-CM"},  # another system
        {"begin": 0, "end": 4, "code": "250.00", "code_system": "ICD-9-CM"},  # not a label of the admission
        {"begin": REPORT.index("40 mg"), "end": REPORT.index("40 mg") + 2, "code": "401.9",
         "code_system": "ICD-9-CM"},  # only digits: nothing left after cleaning
    ]
    chart = {"hadm_id": 100000, "comment": "", "notes": [
        {"note_id": report, "category": "Discharge summary", "description": "Report", "annotations": annotations},
        {"note_id": addendum, "category": "Discharge summary", "description": "Addendum",
         "annotations": [{"begin": afib, "end": afib + 4, "code": "427.31", "code_system": "ICD-9-CM"}]},
        {"note_id": nursing, "category": "Nursing", "description": "Note",
         "annotations": [{"begin": 0, "end": 7, "code": "401.9", "code_system": "ICD-9-CM"}]},
    ]}
    folder = tmp_path / "mdace" / "Inpatient" / "ICD-9" / "1.0"
    folder.mkdir(parents=True)
    (folder / "100000-ICD-9.json").write_text(json.dumps(chart))
    split = _prepare(scenario, "mimic3-full", tmp_path, evidence=tmp_path / "mdace")
    doc = _all(split).filter(pl.col("doc_id") == "100000").to_dicts()[0]
    found = sorted((e["code"], doc["text"][e["start"]:e["end"]]) for e in doc["evidence"])
    assert found == [("427.31", "afib"), ("428.0", "chf"), ("428.0", "ef")]
    assert split.manifest["evidence"] == {
        "admissions_annotated": 1, "admissions_in_documents": 1, "code_not_in_labels": 1, "empty_after_cleaning": 1,
        "note_not_in_document": 1, "offset_outside_note": 1, "other_code_system": 1, "spans_kept": 3}
    others = _all(split).filter(pl.col("doc_id") != "100000")["evidence"]
    assert others.null_count() == others.len()  # not annotated: unknown, not "no evidence"


def test_mdace_bad_json_names_file_and_line(scenario, tmp_path):
    (tmp_path / "mdace").mkdir()
    (tmp_path / "mdace" / "1-ICD-9.json").write_text('{"hadm_id": 1,\n "notes": [}\n')
    with pytest.raises(UserError, match=r"1-ICD-9.json line 2"):
        _prepare(scenario, "mimic3-full", tmp_path, evidence=tmp_path / "mdace")
    assert not (tmp_path / "mimic3-full").exists()


def test_codes_table_titles_come_from_the_source_dictionary(scenario, tmp_path):
    split = _prepare(scenario, "mimic3-clean", tmp_path)
    row = split.codes.filter(pl.col("code") == "401.9").to_dicts()[0]
    assert row["title"] == "Source title of 4019" and row["short_title"] == "short 4019"
    assert row["ancestors"] == get_system("icd9cm").ancestors("401.9")
