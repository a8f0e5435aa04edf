"""Evidence metrics on hand-made notes, attributions and spans; position mapping of the input kinds."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import torch

from icdbench.datasets.inputs import SegmentInputs, WordInputs
from icdbench.datasets.sentences import SentenceInputs
from icdbench.datasets.text import split_sentences, tokenize_with_offsets
from icdbench.datasets.vocab import Vocab
from icdbench.metrics.functional.evidence import (
    DocumentAttributions,
    EvidenceCase,
    cases_to_explain,
    evidence_metrics,
    evidence_report,
    overlaps,
    predicted_spans,
    snapped_gold,
    top_k_hits,
    top_sentence_hit,
)

TEXT = "Chronic kidney disease, stage 3. Patient denies chest pain. History of chronic kidney disease."
#       0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123
WORDS = [w for w, _, _ in tokenize_with_offsets(TEXT)]
# chronic kidney disease stage | patient denies chest pain | history of chronic kidney disease
CKD_FIRST = (0, 23)  # "Chronic kidney disease," -- gold spans may include punctuation
CKD_SECOND = (71, 93)  # "chronic kidney disease" in the last sentence


def positions() -> np.ndarray:
    return np.asarray([(s, e) for _, s, e in tokenize_with_offsets(TEXT)], dtype=np.int64)


def case(weights: dict[str, float] | list[float], gold=(CKD_FIRST,)) -> EvidenceCase:
    if isinstance(weights, dict):
        attribution = np.zeros(len(WORDS))
        for word, value in weights.items():
            attribution[WORDS.index(word)] = value
    else:
        attribution = np.asarray(weights, dtype=np.float64)
    return EvidenceCase(
        attribution=attribution,
        positions=positions(),
        sentences=np.asarray(split_sentences(TEXT), dtype=np.int64),
        gold=np.asarray(gold, dtype=np.int64),
        text=TEXT,
    )


def test_words_and_sentences_of_the_note():
    assert WORDS[:4] == ["chronic", "kidney", "disease", "stage"] and len(WORDS) == 13
    assert [TEXT[s:e] for s, e in split_sentences(TEXT)][1] == "Patient denies chest pain."
    assert overlaps(np.asarray([[0, 5], [5, 9]]), np.asarray([[4, 6]])).ravel().tolist() == [True, True]
    assert overlaps(np.asarray([[0, 4]]), np.asarray([[4, 6]])).ravel().tolist() == [False]  # half-open


def test_precision_and_recall_at_k_by_hand():
    # top 5: kidney .9, chest .8, chronic .7, pain .6, disease .5 -> 3 of the gold words chronic/kidney/disease
    c = case({"kidney": 0.9, "chest": 0.8, "chronic": 0.7, "pain": 0.6, "disease": 0.5, "stage": 0.1})
    assert top_k_hits(c, 5) == (3, 5)
    assert top_k_hits(c, 2) == (1, 2)
    assert top_k_hits(c, 20) == (3, 13)  # k beyond the note: min(k, positions)
    report = evidence_metrics([c])
    assert report["evidence_p@5"] == pytest.approx(3 / 5)
    assert report["evidence_r@5"] == pytest.approx(3 / 3)
    assert report["evidence_p@10"] == pytest.approx(3 / 10)


def test_scores_pool_over_cases():
    hit = case({"kidney": 1.0})
    both = case({"chest": 1.0}, gold=(CKD_FIRST, CKD_SECOND))  # 6 gold words
    report = evidence_metrics([hit, both])
    # ties keep text order: top 5 = the attributed word, then chronic, kidney/disease, stage, ...
    assert top_k_hits(hit, 5) == (3, 5) and top_k_hits(both, 5) == (3, 5)
    assert report["evidence_p@5"] == pytest.approx(6 / 10)
    assert report["evidence_r@5"] == pytest.approx(6 / 9)
    assert report["evidence_n_cases"] == 2


def test_sentence_hit():
    assert top_sentence_hit(case({"kidney": 0.6, "chest": 0.3, "pain": 0.3}))
    assert not top_sentence_hit(case({"kidney": 0.4, "chest": 0.3, "pain": 0.3}))  # sentence 2 sums to 0.6
    # gold only in the last sentence; attribution on the first mention
    assert not top_sentence_hit(case({"kidney": 1.0}, gold=(CKD_SECOND,)))
    report = evidence_metrics([case({"kidney": 0.6, "chest": 0.5}), case({"pain": 1.0})])
    assert report["evidence_sentence_hit"] == 0.5


def test_predicted_spans_are_runs_above_half_the_peak():
    c = case({"chronic": 0.9, "kidney": 1.0, "disease": 0.6, "stage": 0.4, "chest": 0.55})
    assert predicted_spans(c) == {(0, 22), (48, 53)}  # "Chronic kidney disease", "chest"
    assert predicted_spans(c, threshold=0.95) == {(8, 14)}
    assert predicted_spans(case([0.0] * 13)) == set()


def test_gold_spans_snap_to_token_boundaries():
    assert snapped_gold(case({}, gold=(CKD_FIRST, (200, 210)))) == {(0, 22)}  # comma dropped; outside: gone


def test_span_f1_exact_and_position_independent_by_hand():
    exact = case({"chronic": 1.0, "kidney": 1.0, "disease": 1.0})
    elsewhere = case({"chronic": 0.0, "history": 0.0}, gold=(CKD_FIRST,))
    elsewhere.attribution[-3:] = 1.0  # the second "chronic kidney disease" only
    partial = case({"kidney": 1.0, "disease": 1.0})
    assert evidence_metrics([exact])["evidence_span_f1_exact"] == 1.0
    report = evidence_metrics([elsewhere])
    assert report["evidence_span_f1_exact"] == 0.0  # other offsets
    assert report["evidence_span_f1_pi"] == 1.0  # same text: "chronic kidney disease"
    report = evidence_metrics([exact, elsewhere, partial])
    # exact: tp 1, fp 2, fn 2 -> 2/(2+4); pi: tp 2 (exact, elsewhere), fp 1 ("kidney disease"), fn 1
    assert report["evidence_span_f1_exact"] == pytest.approx(2 / 6)
    assert report["evidence_span_f1_pi"] == pytest.approx(4 / 6)


def test_cases_without_evidence_in_view_are_skipped_and_no_case_is_nan():
    out_of_view = case({"kidney": 1.0}, gold=((200, 210),))
    report = evidence_metrics([out_of_view])
    assert report["evidence_n_cases"] == 0
    assert all(math.isnan(v) for k, v in report.items() if k != "evidence_n_cases")


def _frame() -> pl.DataFrame:
    evidence = [
        [{"code": "N18.30", "start": 0, "end": 23}, {"code": "I10", "start": 40, "end": 44}],
        [{"code": "N18.30", "start": 0, "end": 23}],
        [],
    ]
    return pl.DataFrame(
        {"text": [TEXT] * 3, "codes": [["N18.30", "I10"], ["N18.30"], ["N18.30"]], "evidence": evidence},
        schema_overrides={"evidence": pl.List(pl.Struct({"code": pl.String, "start": pl.Int64, "end": pl.Int64}))},
    )


def test_cases_to_explain_are_predicted_gold_codes_with_evidence():
    codes = ["I10", "N18.30", "Z99"]
    predicted = np.asarray([[True, True, True], [False, False, True], [False, True, False]])
    # row 0: both gold codes predicted and evidenced; row 1: its gold code missed; row 2: no evidence
    assert cases_to_explain(_frame(), codes, predicted) == {0: [0, 1]}


def test_evidence_report_from_a_part():
    codes = ["I10", "N18.30"]
    predicted = np.asarray([[False, True], [False, True], [False, True]])
    attribution = np.zeros(len(WORDS))
    attribution[:3] = 1.0
    attributions = {0: DocumentAttributions(positions(), {1: attribution}),
                    1: DocumentAttributions(positions(), {1: attribution[::-1].copy()})}  # fmt: skip
    report = evidence_report(_frame(), codes, attributions, predicted)
    assert report["evidence_n_cases"] == 2
    assert report["evidence_sentence_hit"] == 0.5  # the reversed one points at the last sentence
    assert report["evidence_span_f1_exact"] == pytest.approx(2 / 4)  # tp 1, fp 1, fn 1
    assert report["evidence_span_f1_pi"] == pytest.approx(1.0)  # both say "chronic kidney disease"


def test_word_positions_follow_the_words_input():
    inputs = WordInputs(Vocab(["<pad>", "<unk>"]), max_tokens=4)
    spans = inputs.positions(TEXT, None, {"input_ids": torch.zeros(1, 6, dtype=torch.long)})
    assert [TEXT[s:e] for s, e in spans[:4]] == ["Chronic", "kidney", "disease", "stage"]
    assert (spans[4:] == -1).all()


def test_sentence_positions_follow_the_sentences_input():
    inputs = SentenceInputs(Vocab(["<pad>", "<unk>"]), max_sentences=2, sentence_length=3)
    spans = inputs.positions(TEXT, None, {"sentence_ids": torch.zeros(1, 3, 4, dtype=torch.long)}).reshape(3, 4, 2)
    assert [TEXT[s:e] for s, e in spans[0, :3]] == ["Chronic", "kidney", "disease"]  # cut at 3 words
    assert [TEXT[s:e] for s, e in spans[1, :3]] == ["Patient", "denies", "chest"]
    assert (spans[0, 3] == -1).all() and (spans[2] == -1).all()


def test_segment_positions_and_tokens_agree_with_the_subword_input():
    """Each located subword of the ``segments`` input spans the raw text its token spells (two segments here)."""
    inputs = SegmentInputs("minilm", segment_length=10, max_segments=2)
    (feature,) = inputs.features(pl.DataFrame({"text": [TEXT]}), train=False)
    batch = inputs.collate([feature])
    spans, tokens = inputs.positions(TEXT, None, batch), inputs.position_tokens(batch)
    assert batch["input_ids"].shape[1] == 2 and len(spans) == len(tokens) == 20
    located = [(TEXT[s:e].lower(), token.removeprefix("##")) for (s, e), token in zip(spans.tolist(), tokens) if s >= 0]
    assert len(located) == len(feature) > inputs.body and all(text == piece for text, piece in located)
    assert all(spans[i][0] == -1 for i, token in enumerate(tokens) if token is None)  # special tokens, padding
