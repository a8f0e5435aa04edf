"""``mimic4-radiology-top10`` (HMHAN setting) on hand-built MIMIC-IV + MIMIC-IV-Note radiology files."""

from __future__ import annotations

import random
from collections import Counter

import polars as pl
import pytest
from fixtures_mimic import Admission, write_mimic4, write_radiology

from icdbench.codes import get_system
from icdbench.datasets.registry import PrepareOptions, get_split
from icdbench.datasets.storage import load_split

POOL = ["I10", "E785", "Z87891", "K219", "N179", "I2510", "E119", "J189", "A419", "N390", "D649", "E871", "F329",
        "G4733"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    rng = random.Random(2)
    weights = list(range(len(POOL), 0, -1))  # I10 most frequent, G47.33 least
    adms = [Admission(10 + i // 3, 500 + i, ["discharge"], dx=list(dict.fromkeys(rng.choices(POOL, weights, k=3))),
                      icd_version=10 if i % 4 else 9) for i in range(240)]
    for adm in adms:
        if adm.icd_version == 9:
            adm.dx = ["4019", "2724"]
    reports = [(a.subject_id, a.hadm_id if i % 9 else None, f"{a.subject_id}-RR-{i}",
                f"INDICATION: ___ with cough.\nIMPRESSION: No acute process {i}.") for i, a in enumerate(adms)]
    root = write_mimic4(tmp_path_factory.mktemp("rad") / "src", adms)
    write_radiology(root, reports, addenda={reports[1][2]: "ADDENDUM: small effusion.",
                                            reports[2][2]: "ADDENDUM: discussed.\n\n" + reports[2][3]})
    out = get_split("mimic4-radiology-top10").prepare(tmp_path_factory.mktemp("out") / "rad",
                                                      PrepareOptions(source=root, seed=0))
    return load_split(out), adms, reports


def test_top10_over_all_reports_with_admission(prepared):
    split, adms, reports = prepared
    by_hadm = {a.hadm_id: a for a in adms}
    counts, labels = Counter(), {}
    for _, hadm, note_id, _ in reports:
        if hadm is not None:
            adm = by_hadm[hadm]
            system = get_system("icd10cm" if adm.icd_version == 10 else "icd9cm")
            labels[note_id] = {system.normalize(c) for c in adm.dx}
            counts.update(labels[note_id])
    expected = [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
    assert sorted(split.code_list) == sorted(expected)  # ICD-9 and ICD-10 codes side by side
    docs = pl.concat([split.train, split.val, split.test])
    assert sorted(docs["doc_id"].to_list()) == sorted(n for n, codes in labels.items() if codes & set(expected))
    assert not set(docs["doc_id"].to_list()) & {r[2] for r in reports if r[1] is None}


def test_report_fields(prepared):
    split, adms, reports = prepared
    docs = pl.concat([split.train, split.val, split.test])
    first = docs.filter(pl.col("doc_id") == reports[1][2]).to_dicts()[0]
    assert first["text"] == reports[1][3] + "\nADDENDUM: small effusion."  # raw text, addendum after the report
    assert {m["field"]: m["value"] for m in first["metadata"]} == {"cpt_code": "71046",
                                                                   "exam_name": f"CHEST (PA AND LAT) {reports[1][2]}"}
    assert first["age"] == 50.0 and first["sex"] in ("F", "M")
    repeated = docs.filter(pl.col("doc_id") == reports[2][2])["text"][0]
    assert repeated == "ADDENDUM: discussed.\n\n" + reports[2][3]  # an addendum repeating its report replaces it
    assert [first["text"][s["start"]:s["end"]] for s in first["sentences"]][-2:] == ["ADDENDUM:", "small effusion."]
    adm = next(a for a in adms if a.hadm_id == reports[1][1])
    order = [get_system("icd10cm").normalize(c) for c in adm.dx]
    assert first["codes"] == [c for c in order if c in split.code_list]  # sequence order kept


def test_patient_level_70_15_15(prepared):
    split, _, _ = prepared
    subjects = [set(split.part(p)["subject_id"].to_list()) for p in ("train", "val", "test")]
    assert not (subjects[0] & subjects[1] or subjects[0] & subjects[2] or subjects[1] & subjects[2])
    rows = split.manifest["rows"]
    assert abs(rows["train"] / sum(rows.values()) - 0.70) < 0.06
    assert split.manifest["split_fractions"] == {"train": 0.7, "val": 0.15, "test": 0.15}
