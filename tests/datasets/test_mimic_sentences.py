"""MIMIC text is stored cleaned, without the punctuation and line breaks that end sentences, so the preparation
stores each note's sentences as offsets into its cleaned text: RAC's sentence permutation then shuffles real
sentences on MIMIC splits (before, every prepared note was one sentence and the permuted copies were copies)."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures_mimic import Admission, write_mimic3, write_mimic4

from icdbench.datasets.augment import permute_sentences
from icdbench.datasets.inputs import tokenize_document
from icdbench.datasets.registry import PrepareOptions, get_split
from icdbench.datasets.storage import PARTS, load_split
from icdbench.datasets.text import clean_sentence_spans, clean_text

NOTE = ("Chief Complaint:\nChest pain.\n\nHistory of Present Illness:\nPt. {i} is a 70 y/o man with CHF (EF 35%). "
        "Given lasix 40 mg. Dr. Smith saw him.\nDischarge Diagnosis: CHF")
ADDENDUM = "Addendum: seen by cardiology.\nNo change."


def _sentences(split, part="train"):
    frame = split.part(part)
    return list(zip(frame["doc_id"].to_list(), frame["text"].to_list(), frame["sentences"].to_list()))


def _check_tiling(text: str, sentences: list[dict]) -> list[str]:
    """The stored sentences cover the cleaned text's words in order, joined by single spaces."""
    pieces = [text[s["start"] : s["end"]] for s in sentences]
    assert " ".join(pieces) == text and all(p == p.strip() and p for p in pieces)
    return pieces


def test_clean_sentence_spans_tile_the_cleaned_text():
    raw = "Chief Complaint:\nCHF.\nPt. had CHF (EF 35%), on 2.5mg. Given 5 mg.\n\nHISTORY: Café 70 y/o.  Dr. X saw him"
    spans = clean_sentence_spans(raw)
    text = clean_text(raw)
    assert [text[s:e] for s, e in spans] == ["chief complaint", "chf", "pt had chf ef on 5mg", "given mg", "history",
                                            "caf y o", "dr x saw him"]
    assert " ".join(text[s:e] for s, e in spans) == text
    assert clean_sentence_spans("12. 34.") == [] and clean_sentence_spans("") == []


@pytest.fixture(scope="module")
def mimic4(tmp_path_factory):
    adms = [Admission(1 + i // 2, 100 + i, [NOTE.format(i=i)], dx=["I10", "E785"], proc=["0DTJ4ZZ"]) for i in range(24)]
    adms[3].notes = [NOTE.format(i=3), "", ADDENDUM]  # several notes (one empty): offsets shift per note
    root = write_mimic4(tmp_path_factory.mktemp("raw4"), adms)
    out = tmp_path_factory.mktemp("data4") / "mimic4-icd10"
    return load_split(get_split("mimic4-icd10").prepare(out, PrepareOptions(source=root, command="test")))


def test_mimic4_notes_keep_their_sentences(mimic4):
    for part in PARTS:
        for _, text, sentences in _sentences(mimic4, part):
            assert len(_check_tiling(text, sentences)) >= 6
    docs = {doc_id: (text, sentences) for p in PARTS for doc_id, text, sentences in _sentences(mimic4, p)}
    text, sentences = docs["103"]  # report, empty note, addendum: the addendum's sentences follow the report's
    pieces = _check_tiling(text, sentences)
    assert pieces[-3:] == ["addendum", "seen by cardiology", "no change"]  # a header is a sentence of its own
    assert pieces[:-3] == [clean_text(NOTE.format(i=3))[s:e] for s, e in clean_sentence_spans(NOTE.format(i=3))]


def test_mimic3_notes_keep_their_sentences(tmp_path):
    adms = [Admission(1 + i // 2, 100 + i, [NOTE.format(i=i)], dx=["4019", "4280"], proc=["3893"], icd_version=9)
            for i in range(24)]
    root = write_mimic3(tmp_path / "raw3", adms, addenda={101: [ADDENDUM]})
    split = load_split(get_split("mimic3-clean").prepare(tmp_path / "mimic3-clean", PrepareOptions(source=root)))
    counts = [len(_check_tiling(text, sentences)) for p in PARTS for _, text, sentences in _sentences(split, p)]
    assert min(counts) >= 6 and max(counts) > min(counts)  # the admission with an addendum has more


def test_permutation_shuffles_real_sentences_of_a_prepared_note(mimic4):
    _, text, sentences = _sentences(mimic4)[0]
    tokens, starts = tokenize_document(text, sentences)
    assert len(starts) >= 6  # one sentence per note before sentences were stored
    ids = np.arange(1, len(tokens) + 1)
    permuted = permute_sentences(ids, starts, np.random.default_rng(0))
    assert not np.array_equal(permuted, ids) and sorted(permuted) == sorted(ids)


def test_word_inputs_count_the_train_notes_permutation_cannot_shuffle():
    import polars as pl

    from icdbench.datasets.inputs import WordInputs
    from icdbench.datasets.vocab import Vocab

    frame = pl.DataFrame({"text": ["one long sentence without an end", "First one. Second one."]})
    inputs = WordInputs(Vocab.build([t.split() for t in frame["text"]], min_count=1), max_tokens=100)
    inputs.features(frame, train=False)
    assert inputs.train_docs_under_2_sentences is None  # only the train part is counted
    inputs.features(frame, train=True)
    assert inputs.train_docs_under_2_sentences == 1
