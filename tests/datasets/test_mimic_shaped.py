"""The MIMIC-shaped writer: PhysioNet file names, columns and dtypes, code forms, exact note counts."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest

from icdbench.datasets.synthetic.mimic_shaped import write_mimic_files
from icdbench.datasets.synthetic.mimic_tables import MIMIC3_FILES, MIMIC4_FILES, SCHEMAS

CODE_COLUMNS = {"icd_code": pl.String, "ICD9_CODE": pl.String}


def _read(path, schema: dict) -> pl.DataFrame:
    """Read as a user would (type inference), with code columns forced to text as MIMIC requires."""
    overrides = {c: t for c, t in CODE_COLUMNS.items() if c in schema}
    return pl.read_csv(path, infer_schema_length=None, try_parse_dates=True, schema_overrides=overrides)


def _compatible(found: pl.DataType, expected: pl.DataType, column: pl.Series) -> bool:
    if found == expected or column.null_count() == column.len():
        return True
    return isinstance(expected, pl.Datetime) and isinstance(found, pl.Datetime)


@pytest.fixture(scope="module")
def mimic4(tmp_path_factory):
    out = tmp_path_factory.mktemp("mimic4")
    return out, write_mimic_files(out, version="mimic4", n_notes=60, words_per_note=250, seed=0)


@pytest.fixture(scope="module")
def mimic3(tmp_path_factory):
    out = tmp_path_factory.mktemp("mimic3")
    return out, write_mimic_files(out, version="mimic3", n_notes=40, words_per_note=250, seed=0)


@pytest.mark.parametrize("which", ["mimic4", "mimic3"])
def test_files_columns_and_dtypes(which, request):
    out, counts = request.getfixturevalue(which)
    files = MIMIC4_FILES if which == "mimic4" else MIMIC3_FILES
    assert sorted(counts) == sorted(files.values())
    for name, rel in files.items():
        schema = SCHEMAS[which][name]
        frame = _read(out / rel, schema)
        assert frame.columns == list(schema), rel
        assert frame.height == counts[rel] > 0, rel
        for column, expected in schema.items():
            assert _compatible(frame.schema[column], expected, frame[column]), (rel, column, frame.schema[column])


def test_mimic4_codes_notes_and_links(mimic4):
    out, _ = mimic4
    notes = _read(out / MIMIC4_FILES["discharge"], SCHEMAS["mimic4"]["discharge"])
    dx = _read(out / MIMIC4_FILES["diagnoses"], SCHEMAS["mimic4"]["diagnoses"])
    adm = _read(out / MIMIC4_FILES["admissions"], SCHEMAS["mimic4"]["admissions"])
    rad = _read(out / MIMIC4_FILES["radiology"], SCHEMAS["mimic4"]["radiology"])
    assert notes.height == 60  # exactly n_notes discharge notes
    assert set(dx["icd_version"].unique().to_list()) == {9, 10}  # both versions mixed, as in MIMIC-IV
    assert not dx["icd_code"].str.contains(r"\.").any()  # undotted codes
    assert dx.group_by("hadm_id").agg(pl.col("seq_num").min())["seq_num"].max() == 1
    assert set(notes["hadm_id"].to_list()) <= set(adm["hadm_id"].to_list())
    assert notes["note_id"].str.contains(r"^\d+-DS-\d+$").all() and (notes["note_type"] == "DS").all()
    assert set(rad["note_type"].unique().to_list()) <= {"RR", "AR"}
    d_dx = _read(out / MIMIC4_FILES["d_diagnoses"], SCHEMAS["mimic4"]["d_diagnoses"])
    assert set(d_dx["icd_version"].unique().to_list()) == {9, 10}
    titles = dict(zip(d_dx["icd_code"].to_list(), d_dx["long_title"].to_list(), strict=True))
    assert titles["I5023"] == "Acute on chronic systolic (congestive) heart failure"
    assert titles["4280"] == "Congestive heart failure, unspecified"
    assert "___" in notes["text"][0] and "Discharge Diagnosis:" in notes["text"][0]


def test_mimic3_categories_and_codes(mimic3):
    out, _ = mimic3
    notes = _read(out / MIMIC3_FILES["notes"], SCHEMAS["mimic3"]["notes"])
    reports = notes.filter((pl.col("CATEGORY") == "Discharge summary") & (pl.col("DESCRIPTION") == "Report"))
    assert reports.height == 40
    assert notes["CATEGORY"].n_unique() >= 3  # other categories a pipeline must filter out
    assert notes["ROW_ID"].to_list() == list(range(1, notes.height + 1))
    assert "[**" in reports["TEXT"][0] and "___" not in reports["TEXT"][0]
    dx = _read(out / MIMIC3_FILES["diagnoses"], SCHEMAS["mimic3"]["diagnoses"])
    assert dx["ICD9_CODE"].str.contains(r"^[0-9VE]\d*$").all()


def test_output_is_byte_identical(tmp_path):
    def digest(root):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.gz"))}

    write_mimic_files(tmp_path / "a", version="mimic4", n_notes=12, words_per_note=150, seed=5, chunk_patients=3)
    write_mimic_files(tmp_path / "b", version="mimic4", n_notes=12, words_per_note=150, seed=5, chunk_patients=7)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
