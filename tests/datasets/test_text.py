"""Cleaning (the published MIMIC settings), offsets into cleaned text, tokens and sentence splitting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icdbench.datasets.text import (
    clean_text,
    clean_with_offsets,
    map_span,
    split_sentences,
    tokenize,
    tokenize_with_offsets,
)

# Raw text with what clinical notes hold: letters, digits, punctuation, line breaks, some non-ASCII.
# "\u0130" (İ) lowers to two characters, "\u212a" (Kelvin sign) to an ASCII "k".
NOTE_TEXT = st.text(st.sampled_from(list("abcXYZ019 .,:;-()[]*%/\n\t?!'\"é\u0130ßµ\u212a")), max_size=200)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Pt. had CHF (EF 35%), on 2.5mg", "pt had chf ef on 5mg"),
        ("  Admission Date:  [**2151-7-16**]   ", "admission date"),
        ("HbA1c 7.2; B12 low", "hba1c b12 low"),
        ("s/p CABG x3\n\nfollow-up", "s p cabg x3 follow up"),
        ("café naïve", "caf na ve"),  # non-ASCII letters are not alphanumerics of [a-z0-9]
        ("under_score", "under score"),
        ("123 456", ""),
        ("", ""),
    ],
)
def test_clean_text_examples(raw, clean):
    assert clean_text(raw) == clean


@given(NOTE_TEXT)
def test_clean_text_is_idempotent_and_tokens_are_its_words(raw):
    clean = clean_text(raw)
    assert clean_text(clean) == clean
    assert tokenize(raw) == clean.split() == tokenize(clean)
    assert all(not token.isdigit() for token in tokenize(raw))


@settings(max_examples=300)
@given(NOTE_TEXT)
def test_offset_map_points_each_kept_character_at_itself(raw):
    clean, offset_map = clean_with_offsets(raw)
    assert clean == clean_text(raw)
    assert offset_map.shape == (len(raw),) and offset_map.dtype == np.int64
    kept = np.flatnonzero(offset_map >= 0)
    targets = offset_map[kept]
    # every non-space character of the cleaned text comes from exactly one raw character, in order
    assert np.all(np.diff(targets) > 0)
    assert sorted(targets.tolist()) == [i for i, ch in enumerate(clean) if ch != " "]
    for i in kept:
        assert clean[offset_map[i]] in raw[i].lower()
    # every ASCII alphanumeric maps to the same (lower-cased) character, unless in a dropped all-digit token
    for i, char in enumerate(raw):
        if char.isascii() and char.isalnum():
            assert clean[offset_map[i]] == char.lower() if offset_map[i] >= 0 else char.isdigit()


def test_offset_map_drops_punctuation_and_digit_tokens():
    raw = "EF 35%, on Lasix."
    clean, offset_map = clean_with_offsets(raw)
    assert clean == "ef on lasix"
    assert offset_map.tolist() == [0, 1, -1, -1, -1, -1, -1, -1, 3, 4, -1, 6, 7, 8, 9, 10, -1]


def test_map_span_moves_evidence_into_clean_text():
    raw = "History: CHF (EF 35%) and Type-2 diabetes.\nPlan: 2.5 mg daily"
    clean, offset_map = clean_with_offsets(raw)
    phrases = [("Type-2 diabetes", "type diabetes"), ("CHF (EF 35%)", "chf ef"), ("Plan", "plan")]
    for phrase, expected in phrases:
        start = raw.index(phrase)
        a, b = map_span(offset_map, start, start + len(phrase))
        assert clean[a:b] == expected
    start = raw.index("2.5")
    a, b = map_span(offset_map, start, start + 3)  # nothing of "2.5" survives: an empty span before "mg"
    assert a == b == clean.index("mg")
    a, b = map_span(offset_map, len(raw) - 1, len(raw))  # the last char survives
    assert clean[a:b] == "y"
    assert map_span(np.full(3, -1, dtype=np.int64), 0, 3) == (0, 0)


def test_tokenize_with_offsets_points_into_raw_text():
    raw = "Pt. had CHF (EF 35%)"
    tokens = tokenize_with_offsets(raw)
    assert [t for t, _, _ in tokens] == ["pt", "had", "chf", "ef"]
    assert all(raw[s:e].lower() == t for t, s, e in tokens)


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_split_sentences_rules():
    text = (
        "DISCHARGE SUMMARY\n\n"
        "Chief Complaint: Shortness of breath.\n"
        "HISTORY OF PRESENT ILLNESS:\n"
        "Mr. Smith, 67, was seen by Dr. Jones. He takes metoprolol 25 mg p.o. b.i.d. and\n"
        "lasix daily, e.g. for edema. EF was 3.5. Any pain? No! Done.\n"
        "- item one\n"
        "- item two"
    )
    assert _sentences(text) == [
        "DISCHARGE SUMMARY",
        "Chief Complaint:",
        "Shortness of breath.",
        "HISTORY OF PRESENT ILLNESS:",
        "Mr. Smith, 67, was seen by Dr. Jones.",
        "He takes metoprolol 25 mg p.o. b.i.d. and\nlasix daily, e.g. for edema.",
        "EF was 3.5.",
        "Any pain?",
        "No!",
        "Done.",
        "- item one",
        "- item two",
    ]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Temp 98.6 and HR 80. Stable.", ["Temp 98.6 and HR 80.", "Stable."]),
        ("Given 5 mg. Then improved.", ["Given 5 mg.", "Then improved."]),
        ("Seen by J. Smith today.", ["Seen by J. Smith today."]),
        ('He said "no." She agreed.', ['He said "no."', "She agreed."]),
        ("Wait... what?! Yes.", ["Wait... what?!", "Yes."]),
        ("approx. two weeks", ["approx. two weeks"]),
        ("  \n\n  ", []),
        ("", []),
    ],
)
def test_split_sentences_examples(text, sentences):
    assert _sentences(text) == sentences


@given(NOTE_TEXT)
def test_sentences_are_ordered_trimmed_and_cover_all_text(text):
    spans = split_sentences(text)
    covered = np.zeros(len(text), dtype=bool)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        covered[start:end] = True
        previous_end = end
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(text))
