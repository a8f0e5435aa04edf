"""The synthetic corpus: determinism, statistics, patient-level split, evidence, distractors, code order."""

from __future__ import annotations

import dataclasses
import json
import re

import polars as pl
import pytest

from icdbench.datasets.registry import PrepareOptions, get_split
from icdbench.datasets.storage import PARTS, load_split
from icdbench.datasets.synthetic import concepts
from icdbench.datasets.synthetic.corpus import GENERATOR_VERSION, iter_documents
from icdbench.datasets.synthetic.generator import CorpusConfig
from icdbench.datasets.synthetic.mentions import build_forms, clean_title
from icdbench.datasets.synthetic.pool import build_pool
from icdbench.datasets.synthetic.splits import SPLITS, renderer_for


@pytest.fixture(scope="module")
def tiny(synth_tiny_data):
    return load_split(synth_tiny_data / "synth-tiny")


@pytest.fixture(scope="module")
def midsize():
    """1,500 documents with the synth-icd10 settings (generated in memory, not split)."""
    split, _ = SPLITS["synth-icd10"]
    cfg = dataclasses.replace(split.config, n_docs=1500)
    pool = build_pool("icd10", n_tail_dx=cfg.n_tail_dx, n_tail_proc=cfg.n_tail_proc, seed=0, zipf=cfg.zipf,
                      tail_top_weight=cfg.tail_top_weight)
    return pool, list(iter_documents(pool, cfg, 0, renderer_for(dataclasses.replace(split, config=cfg))))


def test_generation_is_deterministic(tiny, tmp_path):
    again = get_split("synth-tiny").prepare(tmp_path / "again", PrepareOptions(seed=0))
    manifest = json.loads((again / "manifest.json").read_text())
    assert manifest["content_sha256"] == tiny.manifest["content_sha256"]
    assert manifest["files"] == tiny.manifest["files"]
    other = get_split("synth-tiny").prepare(tmp_path / "other", PrepareOptions(seed=1))
    assert json.loads((other / "manifest.json").read_text())["content_sha256"] != manifest["content_sha256"]


def test_manifest_records_provenance(tiny):
    m = tiny.manifest
    assert m["split"] == "synth-tiny" and m["split_version"] == GENERATOR_VERSION
    assert m["seed"] == 0 and m["size"] == SPLITS["synth-tiny"][0].config.n_docs
    assert m["source"].startswith("synthetic generator") and m["preprocessing_version"]
    assert {"documents", "label_set", "distractor_doc_share", "rare_code_share"} <= set(m["stats"])


def test_tiny_statistics_within_ranges(tiny):
    card = tiny.manifest["stats"]
    docs = card["documents"]
    total = sum(docs.values())
    assert 250 <= total <= 300
    assert 0.65 <= docs["train"] / total <= 0.85 and 0.05 <= docs["val"] / total <= 0.16
    assert 5 <= card["codes_per_document"]["median"] <= 12
    assert 180 <= card["words_per_document"]["median"] <= 400
    assert card["distractor_doc_share"] >= 0.7
    assert 0.3 <= card["rare_code_share"] <= 0.95
    assert tiny.codes.height == card["label_set"] >= 100


def test_midsize_statistics_within_ranges(midsize):
    pool, docs = midsize
    counts: dict[str, int] = {}
    for d in docs:
        for c in set(d.codes):
            counts[c] = counts.get(c, 0) + 1
    n_codes = sorted(len(d.codes) for d in docs)
    n_words = sorted(len(d.text.split()) for d in docs)
    assert 6 <= n_codes[len(n_codes) // 2] <= 12
    assert 300 <= n_words[len(n_words) // 2] <= 460
    assert 500 <= len(counts)  # long tail: hundreds of distinct codes in 1,500 documents
    assert sum(n < 10 for n in counts.values()) / len(counts) >= 0.5  # most codes are rare
    top = max(counts.values()) / len(docs)
    assert 0.1 <= top <= 0.4  # the most frequent code is common but not everywhere
    with_distractors = sum(bool(d.admission.distractors) for d in docs) / len(docs)
    assert with_distractors >= 0.85
    kinds = {k for d in docs for k, _ in d.admission.distractors}
    assert {"negated", "ruled_out", "family", "resolved", "hypothetical", "deferred"} <= kinds


def test_patients_never_cross_parts(tiny):
    subjects = [set(tiny.part(p)["subject_id"].to_list()) for p in PARTS]
    assert not (subjects[0] & subjects[1]) and not (subjects[0] & subjects[2]) and not (subjects[1] & subjects[2])
    per_patient = pl.concat([tiny.part(p) for p in PARTS]).group_by("subject_id").len()
    assert per_patient["len"].max() >= 2  # patients have several admissions, so the patient split matters


def test_label_set_and_codes_table(tiny):
    label_set = set(tiny.code_list)
    for p in PARTS:
        frame = tiny.part(p)
        assert frame.height and frame["codes"].list.len().min() >= 1
        assert set(frame["codes"].explode().to_list()) <= label_set
        for codes, kinds in zip(frame["codes"].to_list(), frame["code_kinds"].to_list(), strict=True):
            assert len(codes) == len(kinds) == len(set(codes))
            assert kinds == sorted(kinds, key=lambda k: k == "proc")  # diagnoses before procedures
    train_counts = tiny.train["codes"].explode().value_counts()
    expected = dict(zip(train_counts["codes"].to_list(), train_counts["count"].to_list(), strict=True))
    assert dict(zip(tiny.codes["code"].to_list(), tiny.codes["train_count"].to_list(), strict=True)) == expected
    assert tiny.codes["title"].null_count() == 0 and tiny.codes["ancestors"].list.len().min() >= 1


def _forms_of(code: str) -> list[str]:
    from icdbench.codes import get_system

    system = get_system("icd10pcs" if re.fullmatch(r"[0-9A-HJ-NP-Z]{7}", code) and "." not in code else "icd10cm")
    forms = build_forms(code, system.title(code), overrides=concepts.SURFACE_OVERRIDES.get(code))
    return [f.lower() for f in forms.inline + forms.core]


def test_evidence_spans_mention_their_code(tiny):
    checked = 0
    for row in tiny.train.head(60).iter_rows(named=True):
        text, sentences = row["text"], [(s["start"], s["end"]) for s in row["sentences"]]
        assert sentences == sorted(sentences) and all(a < b <= len(text) for a, b in sentences)
        assert all(sentences[i][1] <= sentences[i + 1][0] for i in range(len(sentences) - 1))
        assert {e["code"] for e in row["evidence"]} <= set(row["codes"])
        for ev in row["evidence"]:
            span = text[ev["start"] : ev["end"]]
            assert span.strip() and any(a <= ev["start"] and ev["end"] <= b for a, b in sentences)
            # the span is one of the code's surface forms, whole or with its qualifier moved
            assert any(form in span.lower() for form in _forms_of(ev["code"])), (ev["code"], span)
            checked += 1
    assert checked > 200
    with_evidence = sum(bool(e) for e in tiny.train["evidence"].to_list()) / tiny.train.height
    assert with_evidence == 1.0


def test_distractors_are_mentioned_but_not_coded(midsize):
    _, docs = midsize
    siblings = 0
    for d in docs[:300]:
        labels = set(d.codes)
        for kind, code in d.admission.distractors:
            assert code.code not in labels
            if kind != "status":
                assert any(f.lower() in d.text.lower() for f in code.forms.inline + code.forms.core)
        siblings += any(c.parent == code.parent for _, code in d.admission.distractors for c in d.admission.coded)
    assert siblings >= 20  # distractors of sibling codes: the same words, another qualifier


def test_coding_rules_in_sequences(midsize):
    _, docs = midsize
    rule = concepts.HTN_COMBINATIONS["icd10"]
    for d in docs:
        codes = d.codes
        hf, ckd = any(c.startswith("I50") for c in codes), any(c.startswith("N18") for c in codes)
        htn = [c for c in codes if c in {rule[k] for k in ("htn", "hf", "ckd", "esrd", "both")}]
        assert len(htn) <= 1
        if htn and hf and ckd:
            assert htn == ["I13.0"]
        assert not ({"F17.210", "Z87.891"} <= set(codes))
        if "G30.9" in codes and "F02.80" in codes and "omitted" not in d.admission.noise:
            assert codes.index("G30.9") < codes.index("F02.80")  # etiology before manifestation
    principals = {d.admission.coded[0].role for d in docs}
    assert principals <= {"principal", "symptom"} and "symptom" in principals


def test_clean_title_drops_coder_boilerplate():
    assert clean_title("Pneumonia, unspecified organism") == "pneumonia"
    assert clean_title("Acute on chronic systolic (congestive) heart failure") == \
        "acute on chronic systolic heart failure"
    assert clean_title("Fracture of unspecified part of neck of right femur, initial encounter for closed fracture") \
        == "fracture of neck of right femur, closed"
    forms = build_forms("I50.23", "Acute on chronic systolic (congestive) heart failure")
    assert forms.qualifier == "acute on chronic" and forms.core[0] == "systolic heart failure"
    assert {"HFrEF", "systolic CHF", "systolic HF", "heart failure with reduced ejection fraction"} & set(forms.core)


def test_config_changes_output():
    small = CorpusConfig(n_docs=5, n_tail_dx=0, n_tail_proc=0)
    pool = build_pool("icd10", n_tail_dx=0, n_tail_proc=0, seed=0)

    def texts(cfg: CorpusConfig) -> list[str]:
        render = renderer_for(dataclasses.replace(SPLITS["synth-tiny"][0], config=cfg))
        return [d.text for d in iter_documents(pool, cfg, 0, render)]

    first = texts(small)
    assert first == texts(small)
    assert first != texts(dataclasses.replace(small, words=600))
    assert first != texts(dataclasses.replace(small, distractors=0.5))
