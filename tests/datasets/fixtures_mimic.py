"""Small hand-built MIMIC-IV / MIMIC-III file sets in the exact PhysioNet layout, for rule-by-rule tests.

Each admission is written with chosen notes and codes, so a test knows exactly what the preparation must keep.
(End-to-end tests use the synthetic generator's MIMIC-shaped writer instead.)
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Admission:
    subject_id: int
    hadm_id: int
    notes: list[str]
    dx: list[str] = field(default_factory=list)  # raw undotted codes in seq_num order
    proc: list[str] = field(default_factory=list)
    icd_version: int = 10
    year: int = 2150


def write_csv_gz(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_mimic4(root: Path, admissions: list[Admission], *, provider: bool = True) -> Path:
    notes, dx, proc, subjects = [], [], [], {}
    for adm in admissions:
        subjects[adm.subject_id] = adm
        for seq, text in enumerate(adm.notes, start=1):
            notes.append([f"{adm.subject_id}-DS-{adm.hadm_id}{seq}", adm.subject_id, adm.hadm_id, "DS", seq,
                          f"{adm.year}-01-0{seq} 00:00:00", f"{adm.year}-01-0{seq} 10:00:00", text])
        # written in reverse seq_num order: the preparation must sort, not trust the file order
        for seq, code in reversed(list(enumerate(adm.dx, start=1))):
            dx.append([adm.subject_id, adm.hadm_id, seq, code, adm.icd_version])
        for seq, code in reversed(list(enumerate(adm.proc, start=1))):
            proc.append([adm.subject_id, adm.hadm_id, seq, f"{adm.year}-01-01", code, adm.icd_version])
    write_csv_gz(root / "note/discharge.csv.gz",
                 ["note_id", "subject_id", "hadm_id", "note_type", "note_seq", "charttime", "storetime", "text"], notes)
    write_csv_gz(root / "hosp/diagnoses_icd.csv.gz",
                 ["subject_id", "hadm_id", "seq_num", "icd_code", "icd_version"], dx)
    write_csv_gz(root / "hosp/procedures_icd.csv.gz",
                 ["subject_id", "hadm_id", "seq_num", "chartdate", "icd_code", "icd_version"], proc)
    codes_dx = sorted({(c, a.icd_version) for a in admissions for c in a.dx})
    codes_px = sorted({(c, a.icd_version) for a in admissions for c in a.proc})
    write_csv_gz(root / "hosp/d_icd_diagnoses.csv.gz", ["icd_code", "icd_version", "long_title"],
                 [[c, v, f"Source title of {c}"] for c, v in codes_dx])
    write_csv_gz(root / "hosp/d_icd_procedures.csv.gz", ["icd_code", "icd_version", "long_title"],
                 [[c, v, f"Source title of {c}"] for c, v in codes_px])
    write_csv_gz(root / "hosp/patients.csv.gz",
                 ["subject_id", "gender", "anchor_age", "anchor_year", "anchor_year_group", "dod"],
                 [[s, "F" if s % 2 else "M", 50, 2150, "2011 - 2013", ""] for s in sorted(subjects)])
    if provider:
        write_csv_gz(root / "hosp/provider.csv.gz", ["provider_id"], [["P00001"]])
    return root


def write_radiology(root: Path, reports: list[tuple[int, int | None, str, str]],
                    addenda: dict[str, str] | None = None) -> Path:
    """``reports``: (subject_id, hadm_id or None, note_id, text); ``addenda``: report note_id -> addendum text."""
    notes, detail = [], []
    for seq, (subject, hadm, note_id, text) in enumerate(reports, start=1):
        notes.append([note_id, subject, "" if hadm is None else hadm, "RR", seq, "2150-01-01 00:00:00", "", text])
        detail.append([note_id, subject, "exam_name", 1, f"CHEST (PA AND LAT) {note_id}"])
        detail.append([note_id, subject, "cpt_code", 1, "71046"])
        if addenda and note_id in addenda:
            add_id = note_id.replace("-RR-", "-AR-")
            notes.append([add_id, subject, "" if hadm is None else hadm, "AR", seq + 1000, "2150-01-02 00:00:00", "",
                          addenda[note_id]])
            detail.append([add_id, subject, "parent_note_id", 1, note_id])
    write_csv_gz(root / "note/radiology.csv.gz",
                 ["note_id", "subject_id", "hadm_id", "note_type", "note_seq", "charttime", "storetime", "text"], notes)
    write_csv_gz(root / "note/radiology_detail.csv.gz",
                 ["note_id", "subject_id", "field_name", "field_ordinal", "field_value"], detail)
    return root


def write_mimic3(root: Path, admissions: list[Admission], addenda: dict[int, list[str]] | None = None) -> Path:
    """MIMIC-III v1.4 files; ``addenda`` maps hadm_id to addendum texts (written before the report)."""
    notes, dx, proc, row_id = [], [], [], 1
    for adm in admissions:
        for text in (addenda or {}).get(adm.hadm_id, []):
            notes.append([row_id, adm.subject_id, adm.hadm_id, f"{adm.year}-01-02", "", "", "Discharge summary",
                          "Addendum", "", "", text])
            row_id += 1
        for text in adm.notes:
            notes.append([row_id, adm.subject_id, adm.hadm_id, f"{adm.year}-01-01", "", "", "Discharge summary",
                          "Report", "", "", text])
            row_id += 1
        notes.append([row_id, adm.subject_id, adm.hadm_id, f"{adm.year}-01-01", "", "", "Nursing", "Note", "", "",
                      "nursing note that is not a discharge summary"])
        row_id += 1
        for seq, code in reversed(list(enumerate(adm.dx, start=1))):
            dx.append([len(dx) + 1, adm.subject_id, adm.hadm_id, seq, code])
        for seq, code in reversed(list(enumerate(adm.proc, start=1))):
            proc.append([len(proc) + 1, adm.subject_id, adm.hadm_id, seq, code])
    write_csv_gz(root / "NOTEEVENTS.csv.gz", ["ROW_ID", "SUBJECT_ID", "HADM_ID", "CHARTDATE", "CHARTTIME",
                                              "STORETIME", "CATEGORY", "DESCRIPTION", "CGID", "ISERROR", "TEXT"], notes)
    write_csv_gz(root / "DIAGNOSES_ICD.csv.gz", ["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"], dx)
    write_csv_gz(root / "PROCEDURES_ICD.csv.gz", ["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"], proc)
    for name, codes in (("D_ICD_DIAGNOSES", {c for a in admissions for c in a.dx}),
                        ("D_ICD_PROCEDURES", {c for a in admissions for c in a.proc})):
        write_csv_gz(root / f"{name}.csv.gz", ["ROW_ID", "ICD9_CODE", "SHORT_TITLE", "LONG_TITLE"],
                     [[i, c, f"short {c}", f"Source title of {c}"] for i, c in enumerate(sorted(codes), start=1)])
    return root
