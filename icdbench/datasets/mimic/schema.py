"""What the raw PhysioNet files look like: names, the columns read from them, their types, and their project.

Only the columns the preparation reads are listed (and checked); a file may hold more. Identifiers are integers,
codes are
strings (``0031`` must keep its leading zero), timestamps are read as strings and parsed where needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

MIMIC4_HOSP = "MIMIC-IV v2.2+ (https://physionet.org/content/mimiciv/), module hosp/"
MIMIC4_NOTE = "MIMIC-IV-Note v2.2 (https://physionet.org/content/mimic-iv-note/), module note/"
MIMIC3 = "MIMIC-III v1.4 (https://physionet.org/content/mimiciii/1.4/)"

MIMIC4_LAYOUT = ("DIR/hosp/*.csv.gz from MIMIC-IV (physionet.org/content/mimiciv) and DIR/note/*.csv.gz from "
                 "MIMIC-IV-Note (physionet.org/content/mimic-iv-note)")
MIMIC3_LAYOUT = ("DIR/NOTEEVENTS.csv.gz, DIR/DIAGNOSES_ICD.csv.gz, ... (the MIMIC-III v1.4 folder as downloaded from "
                 "physionet.org/content/mimiciii/1.4)")


@dataclass(frozen=True)
class Table:
    """One raw file: its path under the source folder and the columns read from it."""

    path: str
    columns: dict[str, pl.DataType]
    project: str
    layout: str


def _mimic4(path: str, columns: dict[str, pl.DataType], project: str = MIMIC4_HOSP) -> Table:
    return Table(path, columns, project, MIMIC4_LAYOUT)


def _mimic3(path: str, columns: dict[str, pl.DataType]) -> Table:
    return Table(path, columns, MIMIC3, MIMIC3_LAYOUT)


I64, STR = pl.Int64, pl.String

# --- MIMIC-IV (hosp) and MIMIC-IV-Note (note) -------------------------------------------------------------
M4_DISCHARGE = _mimic4(
    "note/discharge.csv.gz",
    {"subject_id": I64, "hadm_id": I64, "note_seq": I64, "charttime": STR, "text": STR},
    MIMIC4_NOTE,
)
M4_RADIOLOGY = _mimic4(
    "note/radiology.csv.gz",
    {"note_id": STR, "subject_id": I64, "hadm_id": I64, "note_type": STR, "note_seq": I64, "charttime": STR,
     "text": STR},
    MIMIC4_NOTE,
)
M4_RADIOLOGY_DETAIL = _mimic4(
    "note/radiology_detail.csv.gz",
    {"note_id": STR, "field_name": STR, "field_ordinal": I64, "field_value": STR},
    MIMIC4_NOTE,
)
_CODES = {"hadm_id": I64, "seq_num": I64, "icd_code": STR, "icd_version": I64}
M4_DIAGNOSES = _mimic4("hosp/diagnoses_icd.csv.gz", _CODES)
M4_PROCEDURES = _mimic4("hosp/procedures_icd.csv.gz", _CODES)
M4_D_DIAGNOSES = _mimic4("hosp/d_icd_diagnoses.csv.gz", {"icd_code": STR, "icd_version": I64, "long_title": STR})
M4_D_PROCEDURES = _mimic4("hosp/d_icd_procedures.csv.gz", {"icd_code": STR, "icd_version": I64, "long_title": STR})
M4_PATIENTS = _mimic4(
    "hosp/patients.csv.gz",
    {"subject_id": I64, "gender": STR, "anchor_age": I64, "anchor_year": I64, "anchor_year_group": STR},
)

# --- MIMIC-III v1.4 -----------------------------------------------------------------------------------------
M3_NOTES = _mimic3(
    "NOTEEVENTS.csv.gz",
    {"ROW_ID": I64, "SUBJECT_ID": I64, "HADM_ID": I64, "CHARTDATE": STR, "CATEGORY": STR, "DESCRIPTION": STR,
     "TEXT": STR},
)
M3_DIAGNOSES = _mimic3("DIAGNOSES_ICD.csv.gz", {"HADM_ID": I64, "SEQ_NUM": I64, "ICD9_CODE": STR})
M3_PROCEDURES = _mimic3("PROCEDURES_ICD.csv.gz", {"HADM_ID": I64, "SEQ_NUM": I64, "ICD9_CODE": STR})
M3_D_DIAGNOSES = _mimic3("D_ICD_DIAGNOSES.csv.gz", {"ICD9_CODE": STR, "SHORT_TITLE": STR, "LONG_TITLE": STR})
M3_D_PROCEDURES = _mimic3("D_ICD_PROCEDURES.csv.gz", {"ICD9_CODE": STR, "SHORT_TITLE": STR, "LONG_TITLE": STR})

# The code system of each (ICD version, kind) pair, by ``icdbench.codes.get_system`` name.
SYSTEMS: dict[tuple[int, str], str] = {
    (9, "dx"): "icd9cm",
    (9, "proc"): "icd9proc",
    (10, "dx"): "icd10cm",
    (10, "proc"): "icd10pcs",
}
