"""Table layouts of the MIMIC-shaped writer: file names, columns and dtypes of each PhysioNet table, the row
buffer of one chunk of patients, and the code dictionaries (d_icd_*) from the real code tables."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, fields
from datetime import datetime

import polars as pl

from icdbench.codes import get_system

MIMIC4_FILES = {
    "discharge": "note/discharge.csv.gz", "radiology": "note/radiology.csv.gz",
    "radiology_detail": "note/radiology_detail.csv.gz", "diagnoses": "hosp/diagnoses_icd.csv.gz",
    "procedures": "hosp/procedures_icd.csv.gz", "d_diagnoses": "hosp/d_icd_diagnoses.csv.gz",
    "d_procedures": "hosp/d_icd_procedures.csv.gz", "patients": "hosp/patients.csv.gz",
    "admissions": "hosp/admissions.csv.gz",
}
MIMIC3_FILES = {
    "notes": "NOTEEVENTS.csv.gz", "diagnoses": "DIAGNOSES_ICD.csv.gz", "procedures": "PROCEDURES_ICD.csv.gz",
    "d_diagnoses": "D_ICD_DIAGNOSES.csv.gz", "d_procedures": "D_ICD_PROCEDURES.csv.gz",
    "patients": "PATIENTS.csv.gz", "admissions": "ADMISSIONS.csv.gz",
}
I64, STR, DT, DATE = pl.Int64, pl.String, pl.Datetime("us"), pl.Date
_NOTE4 = {"note_id": STR, "subject_id": I64, "hadm_id": I64, "note_type": STR, "note_seq": I64, "charttime": DT,
          "storetime": DT, "text": STR}
SCHEMAS: dict[str, dict[str, dict[str, pl.DataType]]] = {
    "mimic4": {
        "discharge": _NOTE4, "radiology": _NOTE4,
        "radiology_detail": {"note_id": STR, "subject_id": I64, "field_name": STR, "field_value": STR,
                             "field_ordinal": I64},
        "diagnoses": {"subject_id": I64, "hadm_id": I64, "seq_num": I64, "icd_code": STR, "icd_version": I64},
        "procedures": {"subject_id": I64, "hadm_id": I64, "seq_num": I64, "chartdate": DATE, "icd_code": STR,
                       "icd_version": I64},
        "d_diagnoses": {"icd_code": STR, "icd_version": I64, "long_title": STR},
        "d_procedures": {"icd_code": STR, "icd_version": I64, "long_title": STR},
        "patients": {"subject_id": I64, "gender": STR, "anchor_age": I64, "anchor_year": I64,
                     "anchor_year_group": STR, "dod": DATE},
        "admissions": {"subject_id": I64, "hadm_id": I64, "admittime": DT, "dischtime": DT, "deathtime": DT,
                       "admission_type": STR, "admit_provider_id": STR, "admission_location": STR,
                       "discharge_location": STR, "insurance": STR, "language": STR, "marital_status": STR,
                       "race": STR, "edregtime": DT, "edouttime": DT, "hospital_expire_flag": I64},
    },
    "mimic3": {
        "notes": {"ROW_ID": I64, "SUBJECT_ID": I64, "HADM_ID": I64, "CHARTDATE": DATE, "CHARTTIME": DT,
                  "STORETIME": DT, "CATEGORY": STR, "DESCRIPTION": STR, "CGID": I64, "ISERROR": I64, "TEXT": STR},
        "diagnoses": {"ROW_ID": I64, "SUBJECT_ID": I64, "HADM_ID": I64, "SEQ_NUM": I64, "ICD9_CODE": STR},
        "procedures": {"ROW_ID": I64, "SUBJECT_ID": I64, "HADM_ID": I64, "SEQ_NUM": I64, "ICD9_CODE": STR},
        "d_diagnoses": {"ROW_ID": I64, "ICD9_CODE": STR, "SHORT_TITLE": STR, "LONG_TITLE": STR},
        "d_procedures": {"ROW_ID": I64, "ICD9_CODE": STR, "SHORT_TITLE": STR, "LONG_TITLE": STR},
        "patients": {"ROW_ID": I64, "SUBJECT_ID": I64, "GENDER": STR, "DOB": DT, "DOD": DT, "DOD_HOSP": DT,
                     "DOD_SSN": DT, "EXPIRE_FLAG": I64},
        "admissions": {"ROW_ID": I64, "SUBJECT_ID": I64, "HADM_ID": I64, "ADMITTIME": DT, "DISCHTIME": DT,
                       "DEATHTIME": DT, "ADMISSION_TYPE": STR, "ADMISSION_LOCATION": STR,
                       "DISCHARGE_LOCATION": STR, "INSURANCE": STR, "LANGUAGE": STR, "RELIGION": STR,
                       "MARITAL_STATUS": STR, "ETHNICITY": STR, "EDREGTIME": DT, "EDOUTTIME": DT,
                       "DIAGNOSIS": STR, "HOSPITAL_EXPIRE_FLAG": I64, "HAS_CHARTEVENTS_DATA": I64},
    },
}


@dataclass
class Rows:
    """Rows of one chunk of patients, per table (MIMIC-IV column names; MIMIC-III notes and codes are kept in
    MIMIC-III names, ROW_ID added when written)."""

    patients: list[dict] = field(default_factory=list)
    admissions: list[dict] = field(default_factory=list)
    diagnoses: list[dict] = field(default_factory=list)
    procedures: list[dict] = field(default_factory=list)
    discharge: list[dict] = field(default_factory=list)
    radiology: list[dict] = field(default_factory=list)
    radiology_detail: list[dict] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)

    def add_note3(self, subject: int, hadm: int, when: datetime, category: str, description: str, text: str,
                  *, timed: bool = False, caregiver: int | None = None) -> None:
        self.notes.append({"SUBJECT_ID": subject, "HADM_ID": hadm, "CHARTDATE": when.date(),
                           "CHARTTIME": when if timed else None, "STORETIME": when if timed else None,
                           "CATEGORY": category, "DESCRIPTION": description, "CGID": caregiver, "ISERROR": None,
                           "TEXT": text})

    def add_code3(self, table: list[dict], subject: int, hadm: int, seq: int, code: str) -> None:
        table.append({"SUBJECT_ID": subject, "HADM_ID": hadm, "SEQ_NUM": seq, "ICD9_CODE": code})

    def n_discharge(self, *, mimic4: bool) -> int:
        if mimic4:
            return len(self.discharge)
        return sum(n["CATEGORY"] == "Discharge summary" and n["DESCRIPTION"] == "Report" for n in self.notes)

    def truncate(self, n: int, *, mimic4: bool) -> None:
        """Keep the first ``n`` discharge notes and drop every row of the patients after the last kept one."""
        notes = self.discharge if mimic4 else self.notes
        positions = [i for i, r in enumerate(notes) if mimic4 or (r["CATEGORY"] == "Discharge summary"
                                                                  and r["DESCRIPTION"] == "Report")]
        if len(positions) <= n:
            return
        if n <= 0:
            for f in fields(self):
                setattr(self, f.name, [])
            return
        cut = notes[positions[n - 1]]
        last_subject = cut.get("subject_id", cut.get("SUBJECT_ID"))
        del notes[positions[n - 1] + 1 :]
        for f in fields(self):
            table = getattr(self, f.name)
            setattr(self, f.name, [r for r in table if r.get("subject_id", r.get("SUBJECT_ID")) <= last_subject])


def frame(version: str, name: str, rows: Rows, *, row_offset: int = 0) -> pl.DataFrame:
    """The rows of table ``name`` as a frame with the release's columns and dtypes."""
    schema = SCHEMAS[version][name]
    if version == "mimic4":
        data = getattr(rows, name)
    elif name == "notes":
        data = rows.notes
    elif name in ("diagnoses", "procedures"):
        data = getattr(rows, name)
    elif name == "patients":
        data = [{"SUBJECT_ID": p["subject_id"], "GENDER": p["gender"],
                 "DOB": datetime(p["anchor_year"] - p["anchor_age"], 1, 1), "DOD": _dt(p["dod"]),
                 "DOD_HOSP": _dt(p["dod"]), "DOD_SSN": None, "EXPIRE_FLAG": int(p["dod"] is not None)}
                for p in rows.patients]
    else:
        data = [{"SUBJECT_ID": a["subject_id"], "HADM_ID": a["hadm_id"], "ADMITTIME": a["admittime"],
                 "DISCHTIME": a["dischtime"], "DEATHTIME": a["deathtime"],
                 "ADMISSION_TYPE": "EMERGENCY" if a["admission_location"] == "EMERGENCY ROOM" else "ELECTIVE",
                 "ADMISSION_LOCATION": a["admission_location"], "DISCHARGE_LOCATION": a["discharge_location"],
                 "INSURANCE": a["insurance"], "LANGUAGE": "ENGL", "RELIGION": "NOT SPECIFIED",
                 "MARITAL_STATUS": a["marital_status"], "ETHNICITY": a["race"], "EDREGTIME": a["edregtime"],
                 "EDOUTTIME": a["edouttime"], "DIAGNOSIS": "SEE NOTE",
                 "HOSPITAL_EXPIRE_FLAG": a["hospital_expire_flag"], "HAS_CHARTEVENTS_DATA": 1}
                for a in rows.admissions]
    if "ROW_ID" in schema:
        data = [{"ROW_ID": row_offset + i + 1, **r} for i, r in enumerate(data)]
    return pl.DataFrame(data, schema=schema, orient="row") if data else pl.DataFrame(schema=schema)


def _dt(day) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day)


def dictionary_frames(version: str) -> dict[str, pl.DataFrame]:
    """``d_icd_diagnoses`` / ``d_icd_procedures`` with every code of the tables (both ICD versions in MIMIC-IV)."""
    out = {}
    for name, systems in (("d_diagnoses", ("icd9cm", "icd10cm")), ("d_procedures", ("icd9proc", "icd10pcs"))):
        rows = []
        for system_name in systems[:1] if version == "mimic3" else systems:
            system = get_system(system_name)
            icd_version = 9 if system_name.startswith("icd9") else 10
            for code in system.codes(leaf_only=system_name != "icd10cm"):
                node = system.hierarchy.nodes[code]
                rows.append((code.replace(".", ""), icd_version, node.title, node.short_title))
        if version == "mimic4":
            data = {"icd_code": [r[0] for r in rows], "icd_version": [r[1] for r in rows],
                    "long_title": [r[2] for r in rows]}
        else:
            data = {"ROW_ID": list(range(1, len(rows) + 1)), "ICD9_CODE": [r[0] for r in rows],
                    "SHORT_TITLE": [r[3] or r[2][:24] for r in rows], "LONG_TITLE": [r[2] for r in rows]}
        out[name] = pl.DataFrame(data, schema=SCHEMAS[version][name])
    return out


_PLACEHOLDER = re.compile(r"___")


def mimic3_text(text: str, rng: random.Random) -> str:
    """MIMIC-III de-identification style: ``[**...**]`` instead of MIMIC-IV's ``___``."""
    def token(match: re.Match) -> str:
        line_start = text.rfind("\n", 0, match.start()) + 1
        if "Date" in text[line_start : match.start()]:
            return f"[**{rng.randint(2100, 2200)}-{rng.randint(1, 12)}-{rng.randint(1, 28)}**]"
        return rng.choice(("[**Known lastname 1234**]", "[**Hospital1 18**]", "[**Name (NI) 5678**]",
                           "[**Last Name (NamePattern4) 2231**]", "[**Numeric Identifier 7890**]"))

    return _PLACEHOLDER.sub(token, text)
