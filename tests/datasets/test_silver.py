"""Silver evidence: phrases from code titles and synonyms, matched to sentences."""

from __future__ import annotations

import polars as pl

from icdbench.datasets.silver import CodePhrases, icd10cm_synonyms, phrase_stems, silver_evidence, stem


def codes_table(rows: list[tuple[str, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"code": [r[0] for r in rows], "kind": ["dx"] * len(rows), "title": [r[1] for r in rows],
         "short_title": [r[2] for r in rows]},
        schema_overrides={"short_title": pl.String},
    )  # fmt: skip


def spans_text(text: str, spans: list[dict]) -> list[tuple[str, str]]:
    return [(s["code"], text[s["start"] : s["end"]]) for s in spans]


def test_phrase_stems_keep_content_words_only():
    assert phrase_stems("Essential (primary) hypertension") == {stem("essential"), stem("hypertension")}
    assert phrase_stems("Epilepsy, unspecified, not intractable, without status epilepticus") == {
        stem("epilepsy"), stem("intractable")}  # fmt: skip
    assert phrase_stems("Other specified disorders, NOS") == {stem("disorders")}
    assert phrase_stems("(unspecified)") == frozenset()


def test_icd10cm_synonyms_come_from_the_code_tables():
    assert "Seizure disorder NOS" in icd10cm_synonyms("G40.909")  # an inclusion term
    assert "high blood pressure" in icd10cm_synonyms("I10")  # an "includes" note
    assert icd10cm_synonyms("not-a-code") == []


def test_titles_and_synonyms_find_their_sentences():
    table = CodePhrases.from_codes(codes_table([
        ("G40.909", "Epilepsy, unspecified, not intractable, without status epilepticus", None),
        ("I10", "Essential (primary) hypertension", None),
        ("N18.30", "Chronic kidney disease, stage 3 unspecified", None),
    ]))  # fmt: skip
    text = (
        "History of seizure disorder. Blood pressure stable. "
        "Known chronic renal insufficiency, stage 3 kidney disease. Essential hypertension, on lisinopril."
    )
    spans = silver_evidence(text, ["G40.909", "I10", "N18.30"], table)
    assert spans_text(text, spans) == [
        ("G40.909", "seizure disorder"),  # an inclusion term ("Seizure disorder NOS")
        ("I10", "Essential hypertension"),
        ("N18.30", "chronic renal insufficiency, stage 3 kidney disease"),  # gaps of <= 2 words bridged
    ]


def test_rare_words_weigh_more_than_shared_ones():
    table = CodePhrases.from_codes(codes_table([
        ("Z79.01", "Long term (current) use of anticoagulants", None),
        ("Z79.02", "Long term (current) use of antithrombotics/antiplatelets", None),
        ("Z79.82", "Long term (current) use of aspirin", None),
    ]))  # fmt: skip
    text = "Long term drug use. On chronic anticoagulants."
    assert spans_text(text, silver_evidence(text, ["Z79.01"], table)) == [("Z79.01", "anticoagulants")]


def test_no_span_below_the_coverage_without_the_key_word_or_for_unknown_codes():
    title = "Chronic obstructive pulmonary disease with (acute) exacerbation"  # 5 stems, equal weights
    table = CodePhrases.from_codes(codes_table([("J44.1", title, None)]))
    assert table.key_stem(phrase_stems(title)) == stem("chronic")  # ties: the first stem in order
    assert silver_evidence("Chronic cough.", ["J44.1"], table) == []  # 1 of 5 stems < MIN_COVERAGE
    assert silver_evidence("Obstructive pulmonary disease.", ["J44.1"], table) == []  # no key stem
    text = "Chronic pulmonary disease."
    assert spans_text(text, silver_evidence(text, ["J44.1"], table)) == [("J44.1", "Chronic pulmonary disease")]
    assert silver_evidence(text, ["X99"], table) == []
    assert silver_evidence("", ["J44.1"], table) == []


def test_given_sentences_are_used():
    table = CodePhrases.from_codes(codes_table([("I10", "Essential (primary) hypertension", "HTN")]))
    text = "Assessment: essential hypertension"
    one = silver_evidence(text, ["I10"], table, [(0, len(text))])
    assert spans_text(text, one) == [("I10", "essential hypertension")]
    assert silver_evidence(text, ["I10"], table, [(0, 11)]) == []  # the words lie outside every sentence
