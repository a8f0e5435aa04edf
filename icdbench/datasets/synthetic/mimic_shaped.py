"""Raw files shaped exactly like PhysioNet's MIMIC-IV (hosp + note modules) and MIMIC-III, from the synthetic
generator, at any scale.

The MIMIC preparation pipeline is tested end to end and benchmarked on these files without credentials. File
names, column names and value formats follow the releases (MIMIC-IV v2.2 / MIMIC-IV-Note v2.2, MIMIC-III
v1.4): undotted codes, ``icd_version`` 9/10 mixed as in MIMIC-IV, ``seq_num`` order, timestamps as
``YYYY-MM-DD HH:MM:SS``, de-identification placeholders (``___`` / ``[** **]``). They also carry what real
data throws at a pipeline: duplicate notes, duplicate (admission, code) rows, admissions without codes or
without a note, discharge-summary addenda, note categories to filter out, and rare codes.

Generation streams patient chunks (optionally over worker processes) and appends to gzip CSVs, so memory is
bounded by one chunk whatever the size; output is identical for any ``workers`` and ``chunk_patients``.
"""

from __future__ import annotations

import copy
import gzip
import random
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from icdbench.datasets.synthetic.corpus import Document, patient_documents
from icdbench.datasets.synthetic.documents import discharge_summary
from icdbench.datasets.synthetic.generator import CorpusConfig
from icdbench.datasets.synthetic.mimic_tables import (
    MIMIC3_FILES,
    MIMIC4_FILES,
    Rows,
    dictionary_frames,
    frame,
    mimic3_text,
)
from icdbench.datasets.synthetic.pool import build_pool
from icdbench.datasets.synthetic.radiology import EXAMS, radiology_report, region_of

ICD9_SHARE = 0.63  # MIMIC-IV: about 209k of 331k discharge notes were coded in ICD-9 (Edin et al. 2023)


@dataclass(frozen=True)
class WriterConfig:
    version: str  # "mimic4" | "mimic3"
    words_per_note: int
    seed: int
    radiology: bool
    n_tail_dx: int
    n_tail_proc: int


@cache
def _pools(cfg: WriterConfig) -> dict:
    systems = ("icd9", "icd10") if cfg.version == "mimic4" else ("icd9",)
    return {s: build_pool(s, n_tail_dx=cfg.n_tail_dx, n_tail_proc=cfg.n_tail_proc, seed=cfg.seed) for s in systems}


def _corpus_config(cfg: WriterConfig, system: str) -> CorpusConfig:
    return CorpusConfig(system=system, n_docs=1, words=cfg.words_per_note, n_tail_dx=cfg.n_tail_dx,
                        n_tail_proc=cfg.n_tail_proc)


def _render(cfg: WriterConfig):
    return lambda adm, rng: discharge_summary(adm, rng, words_target=cfg.words_per_note, displace=0.5)


def chunk_rows(cfg: WriterConfig, first: int, last: int) -> Rows:
    """The table rows of patients ``first`` .. ``last - 1`` (deterministic in the patient index)."""
    rows = Rows()
    pools = _pools(cfg)
    for index in range(first, last):
        rng = random.Random(f"mimic:{cfg.seed}:{index}")
        system = "icd9" if cfg.version == "mimic3" or rng.random() < ICD9_SHARE else "icd10"
        docs = patient_documents(pools[system], _corpus_config(cfg, system), cfg.seed, index, _render(cfg))
        if docs:
            _patient_rows(rows, cfg, rng, index, system, docs, pools[system])
    return rows


def _patient_rows(rows: Rows, cfg: WriterConfig, rng: random.Random, index: int, system: str,
                  docs: list[Document], pool) -> None:
    mimic4 = cfg.version == "mimic4"
    subject = (10_000_000 if mimic4 else 2) + index
    year = rng.randint(2110, 2200)
    group = rng.choice(("2008 - 2010", "2011 - 2013") if system == "icd9" else ("2014 - 2016", "2017 - 2019"))
    first_age = int(docs[0].age)
    died = rng.random() < 0.08
    rows.patients.append({"subject_id": subject, "gender": docs[0].sex, "anchor_age": first_age,
                          "anchor_year": year, "anchor_year_group": group, "dod": None})
    when = datetime(year, 1, 1) + timedelta(days=rng.randint(0, 300), minutes=rng.randint(0, 1439))
    note_seq = rad_seq = 0
    for k, doc in enumerate(docs):
        adm = doc.admission
        hadm = (20_000_000 if mimic4 else 100_000) + index * 8 + adm.number
        admit = when + timedelta(days=rng.expovariate(1 / 200) if k else 0)
        discharge = admit + timedelta(hours=rng.randint(20, 24 * 14))
        when = discharge
        last = k == len(docs) - 1
        expired = died and last and rng.random() < 0.5
        rows.admissions.append(_admission(subject, hadm, admit, discharge, expired, rng))
        if died and last:
            rows.patients[-1]["dod"] = (discharge + timedelta(days=0 if expired else rng.randint(1, 300))).date()
        codes_missing = rng.random() < 0.01  # admissions without any code
        if not codes_missing:
            _code_rows(rows, mimic4, subject, hadm, system, doc, admit, rng)
        if rng.random() < 0.02 and not codes_missing:  # an admission whose discharge note is missing
            continue
        copies = 2 if rng.random() < 0.003 else 1  # a note filed twice
        for _ in range(copies):
            note_seq += 1
            if mimic4:
                rows.discharge.append({"note_id": f"{subject}-DS-{note_seq}", "subject_id": subject,
                                       "hadm_id": hadm, "note_type": "DS", "note_seq": note_seq,
                                       "charttime": discharge.replace(hour=0, minute=0, second=0, microsecond=0),
                                       "storetime": discharge + timedelta(hours=rng.randint(2, 60)),
                                       "text": doc.text})
            else:
                rows.add_note3(subject, hadm, discharge, "Discharge summary", "Report", mimic3_text(doc.text, rng))
        if not mimic4:
            _other_notes3(rows, subject, hadm, admit, discharge, doc, rng)
        if cfg.radiology and mimic4:
            rad_seq = _radiology_rows(rows, subject, hadm, admit, doc, rad_seq, rng, pool)


def _admission(subject: int, hadm: int, admit: datetime, discharge: datetime, expired: bool,
               rng: random.Random) -> dict:
    emergency = rng.random() < 0.75
    ed_in = admit - timedelta(hours=rng.randint(2, 10)) if emergency else None
    return {"subject_id": subject, "hadm_id": hadm, "admittime": admit, "dischtime": discharge,
            "deathtime": discharge if expired else None,
            "admission_type": rng.choice(("EW EMER.", "URGENT", "OBSERVATION ADMIT")) if emergency else
            rng.choice(("ELECTIVE", "SURGICAL SAME DAY ADMISSION")),
            "admit_provider_id": f"P{rng.randint(0, 999):03d}{rng.choice('ABCDEFGH')}{rng.choice('XYZQ')}",
            "admission_location": "EMERGENCY ROOM" if emergency else
            rng.choice(("PHYSICIAN REFERRAL", "TRANSFER FROM HOSPITAL")),
            "discharge_location": "DIED" if expired else rng.choice(("HOME", "HOME HEALTH CARE",
                                                                      "SKILLED NURSING FACILITY", "REHAB")),
            "insurance": rng.choice(("Medicare", "Medicaid", "Other")),
            "language": "ENGLISH" if rng.random() < 0.9 else "?",
            "marital_status": rng.choice(("MARRIED", "SINGLE", "WIDOWED", "DIVORCED", None)),
            "race": rng.choice(("WHITE", "BLACK/AFRICAN AMERICAN", "HISPANIC/LATINO - PUERTO RICAN", "ASIAN",
                                "UNKNOWN", "OTHER")),
            "edregtime": ed_in, "edouttime": admit - timedelta(minutes=rng.randint(5, 90)) if emergency else None,
            "hospital_expire_flag": int(expired)}


def _code_rows(rows: Rows, mimic4: bool, subject: int, hadm: int, system: str, doc: Document,
               admit: datetime, rng: random.Random) -> None:
    version = 9 if system == "icd9" else 10
    dx = [c for c, k in zip(doc.codes, doc.code_kinds) if k == "dx"]
    proc = [c for c, k in zip(doc.codes, doc.code_kinds) if k == "proc"]
    if dx and rng.random() < 0.005:  # the same code listed twice for one admission
        dx.append(rng.choice(dx))
    for seq, code in enumerate(dx, start=1):
        bare = code.replace(".", "")
        if mimic4:
            rows.diagnoses.append({"subject_id": subject, "hadm_id": hadm, "seq_num": seq, "icd_code": bare,
                                   "icd_version": version})
        else:
            rows.add_code3(rows.diagnoses, subject, hadm, seq, bare)
    for seq, code in enumerate(proc, start=1):
        bare = code.replace(".", "")
        if mimic4:
            rows.procedures.append({"subject_id": subject, "hadm_id": hadm, "seq_num": seq,
                                    "chartdate": (admit + timedelta(days=rng.randint(0, 3))).date(),
                                    "icd_code": bare, "icd_version": version})
        else:
            rows.add_code3(rows.procedures, subject, hadm, seq, bare)


def _radiology_rows(rows: Rows, subject: int, hadm: int, admit: datetime, doc: Document, seq: int,
                    rng: random.Random, pool) -> int:
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        adm = copy.copy(doc.admission)
        adm.labels, adm.kinds, adm.distractors = list(adm.labels), list(adm.kinds), list(adm.distractors)
        text = radiology_report(adm, rng, words_target=110, displace=0.5, pool=pool).text
        seq += 1
        note_id = f"{subject}-RR-{seq}"
        outpatient = rng.random() < 0.1
        rows.radiology.append({"note_id": note_id, "subject_id": subject, "hadm_id": None if outpatient else hadm,
                               "note_type": "RR", "note_seq": seq,
                               "charttime": admit + timedelta(hours=rng.randint(1, 72)),
                               "storetime": admit + timedelta(hours=rng.randint(73, 90)), "text": text})
        exam = next(e for e, _ in EXAMS[region_of(doc.admission.coded[0])])
        details = (("exam_name", exam), ("exam_code", f"C{rng.randint(10, 999)}"),
                   ("cpt_code", str(rng.randint(70010, 76999))))
        for name, value in details:
            rows.radiology_detail.append({"note_id": note_id, "subject_id": subject, "field_name": name,
                                          "field_value": value, "field_ordinal": 1})
        if rng.random() < 0.03:  # an addendum note pointing at its parent
            seq += 1
            addendum = f"{subject}-AR-{seq}"
            rows.radiology.append({**rows.radiology[-1], "note_id": addendum, "note_type": "AR", "note_seq": seq,
                                   "text": "ADDENDUM: findings discussed with the covering team.\n\n" + text})
            rows.radiology_detail.append({"note_id": addendum, "subject_id": subject, "field_name":
                                          "parent_note_id", "field_value": note_id, "field_ordinal": 1})
            rows.radiology_detail.append({"note_id": note_id, "subject_id": subject, "field_name":
                                          "addendum_note_id", "field_value": addendum, "field_ordinal": 1})
    return seq


def _other_notes3(rows: Rows, subject: int, hadm: int, admit: datetime, discharge: datetime, doc: Document,
                  rng: random.Random) -> None:
    """MIMIC-III extras a pipeline must filter: addenda (kept) and other note categories (dropped)."""
    if rng.random() < 0.06:
        rows.add_note3(subject, hadm, discharge, "Discharge summary", "Addendum",
                       "Addendum:\nPatient's discharge medications were reconciled with pharmacy. "
                       "Follow up appointment confirmed.\n")
    for category, description in rng.sample((("Nursing/other", "Report"), ("Radiology", "CHEST (PORTABLE AP)"),
                                             ("ECG", "Report"), ("Physician ", "Physician Resident Progress Note"),
                                             ("Echo", "Report")), rng.randint(1, 3)):
        text = f"{description}\nPatient seen and examined. Vital signs stable. Plan per primary team.\n"
        rows.add_note3(subject, hadm, admit + timedelta(hours=rng.randint(1, 48)), category, description, text,
                       timed=True, caregiver=rng.randint(14000, 21000))


def _chunks(size: int) -> Iterator[tuple[int, int]]:
    start = 0
    while True:
        yield start, start + size
        start += size


def _gzip(path: Path) -> gzip.GzipFile:
    """A gzip writer with a fixed header time, so equal content gives equal bytes."""
    return gzip.GzipFile(filename=str(path), mode="wb", compresslevel=4, mtime=0)


def write_mimic_files(out_dir: Path, *, version: str = "mimic4", n_notes: int = 1000, words_per_note: int = 1500,
                      seed: int = 0, radiology: bool = True, chunk_patients: int = 400, workers: int = 1,
                      n_tail_dx: int | None = None, n_tail_proc: int | None = None) -> dict[str, int]:
    """Write MIMIC-shaped raw files under ``out_dir``; return row counts per file.

    ``n_notes`` discharge notes ("Discharge summary" reports for MIMIC-III) are written; the tail of the code
    pool grows with the size so that big runs have MIMIC-like thousands of codes, many of them rare.
    """
    if version not in ("mimic4", "mimic3"):
        raise ValueError(f"version must be 'mimic4' or 'mimic3', not {version!r}")
    scale = max(1.0, n_notes / 6000) ** 0.5
    cfg = WriterConfig(version, words_per_note, seed, radiology and version == "mimic4",
                       n_tail_dx if n_tail_dx is not None else int(850 * scale),
                       n_tail_proc if n_tail_proc is not None else int(130 * scale))
    files = MIMIC4_FILES if version == "mimic4" else MIMIC3_FILES
    out_dir = Path(out_dir)
    for rel in files.values():
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    if not cfg.radiology:
        files = {k: v for k, v in files.items() if not k.startswith("radiology")}
    handles = {name: _gzip(out_dir / rel) for name, rel in files.items()
               if name not in ("d_diagnoses", "d_procedures")}
    counts = dict.fromkeys(handles, 0)
    quoting = "non_numeric" if version == "mimic3" else "necessary"  # MIMIC-III quotes every text field
    written = 0
    executor = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        chunks = _chunks(chunk_patients)
        mapper = executor.map if executor else map
        while written < n_notes:
            batch = [next(chunks) for _ in range(max(1, workers))]
            for rows in mapper(chunk_rows, [cfg] * len(batch), [a for a, _ in batch], [b for _, b in batch]):
                rows.truncate(n_notes - written, mimic4=version == "mimic4")
                written += rows.n_discharge(mimic4=version == "mimic4")
                for name, handle in handles.items():
                    data = frame(version, name, rows, row_offset=counts[name])
                    if data.height or counts[name] == 0:  # whole bytes: a flush would change the gzip stream
                        handle.write(data.write_csv(include_header=counts[name] == 0, quote_style=quoting,
                                                    datetime_format="%Y-%m-%d %H:%M:%S",
                                                    date_format="%Y-%m-%d").encode())
                    counts[name] += data.height
                if written >= n_notes:
                    break
    finally:
        if executor:
            executor.shutdown()
        for handle in handles.values():
            handle.close()
    for name, data in dictionary_frames(version).items():
        with _gzip(out_dir / files[name]) as handle:
            handle.write(data.write_csv(quote_style=quoting).encode())
        counts[name] = data.height
    return {files[name]: n for name, n in counts.items()}

