"""The ``sentences`` input kind: document layout, focus/code/evidence targets, batches, level-2 examples."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from icdbench.datasets.sentences import (
    FocusSentences,
    SentenceInputs,
    layout_document,
    sentence_targets,
)
from icdbench.datasets.vocab import Vocab

TEXT = "Chief complaint: fever. ___ . Pneumonia of the right lower lobe and sepsis. Hypertension, on lisinopril."
SENTENCES = [{"start": 0, "end": 16}, {"start": 17, "end": 23}, {"start": 24, "end": 29},
             {"start": 30, "end": 75}, {"start": 76, "end": 104}]  # fmt: skip
CODES = ["J18.9", "A41.9", "I10"]
EVIDENCE = [
    {"code": "J18.9", "start": 30, "end": 39},  # "Pneumonia"
    {"code": "A41.9", "start": 68, "end": 74},  # "sepsis"
    {"code": "I10", "start": 76, "end": 88},  # "Hypertension"
    {"code": "Z99", "start": 17, "end": 22},  # a code outside the label set
]


def vocab() -> Vocab:
    return Vocab.build([TEXT.lower().replace(".", " ").replace(",", " ").replace(":", " ").split()], min_count=1)


CODES_TABLE = pl.DataFrame(
    {"code": CODES, "kind": ["dx"] * 3, "title": ["Pneumonia", "Sepsis", "Essential (primary) hypertension"],
     "short_title": [None, None, None]}, schema_overrides={"short_title": pl.String})  # fmt: skip


def inputs(codes: pl.DataFrame | None = CODES_TABLE) -> SentenceInputs:
    return SentenceInputs(vocab(), 64, 64, codes=codes)


def test_layout_keeps_sentences_with_words_and_maps_words_to_text():
    layout = layout_document(TEXT, SENTENCES, max_sentences=64, sentence_length=64)
    assert layout.n_sentences == 4  # "___ ." has no word
    assert [TEXT[s:e] for s, e in layout.sentence_spans][1] == "fever."
    words = [layout.tokens[layout.bounds[n] : layout.bounds[n + 1]] for n in range(layout.n_sentences)]
    assert words[0] == ["chief", "complaint"] and words[3] == ["hypertension", "on", "lisinopril"]
    assert all(TEXT[s:e].lower() == t for t, (s, e) in zip(layout.tokens, layout.token_spans))


def test_layout_truncates_sentences_and_words_and_splits_when_no_offsets_are_stored():
    layout = layout_document(TEXT, SENTENCES, max_sentences=3, sentence_length=2)
    assert layout.n_sentences == 3 and np.diff(layout.bounds).tolist() == [2, 1, 2]
    assert layout.tokens[-2:] == ["pneumonia", "of"]
    assert layout_document(TEXT, None, 64, 64).n_sentences == 4  # the project's sentence splitter


def test_targets_mark_focus_sentences_their_single_code_and_evidence_words():
    layout = layout_document(TEXT, SENTENCES, 64, 64)
    focus, codes, words = sentence_targets(layout, EVIDENCE, {c: i for i, c in enumerate(CODES)})
    assert focus.tolist() == [0, 0, 1, 1]
    assert codes.tolist() == [-1, -1, -1, 2]  # sentence 2 carries two codes: focus, but no level-2 example
    assert [t for t, w in zip(layout.tokens, words) if w] == ["pneumonia", "sepsis", "hypertension"]


def test_features_prefer_gold_evidence_and_fall_back_to_silver():
    frame = pl.DataFrame(
        {"text": [TEXT, TEXT], "sentences": [SENTENCES, SENTENCES], "codes": [CODES, ["I10"]],
         "evidence": [EVIDENCE, []], "reason_for_visit": ["fever", None]},
    )  # fmt: skip
    encoding = inputs()
    gold, silver = encoding.features(frame, train=True)
    assert dict(encoding.supervision) == {"gold": 1, "silver": 1}
    assert gold.focus.tolist() == [0, 0, 1, 1] and silver.focus.tolist() == [0, 0, 0, 1]
    assert silver.codes.tolist() == [-1, -1, -1, 2]
    assert encoding.vocab.tokens[gold.r4v[0]] == "fever" and len(silver.r4v) == 0
    unsupervised = inputs(None).features(frame.drop("evidence"), train=False)[1]
    assert unsupervised.focus.sum() == 0  # at inference nothing is derived


def test_collate_shapes_masks_and_values():
    frame = pl.DataFrame({"text": [TEXT, "Sepsis."], "codes": [CODES, ["A41.9"]],
                          "evidence": [EVIDENCE, [{"code": "A41.9", "start": 0, "end": 6}]]})  # fmt: skip
    encoding = inputs()
    features = encoding.features(frame, train=False)
    batch = encoding.collate(features)
    assert batch["sentence_ids"].shape == (2, 4, 8)  # 4 sentences (the splitter's), the longest has 8 words
    assert batch["sentence_mask"].tolist() == [[True] * 4, [True, False, False, False]]
    assert batch["word_mask"][1].sum() == 1 and batch["word_mask"][0, 2].sum() == 8
    assert (batch["word_mask"] == (batch["sentence_ids"] != 0)).all()
    assert batch["r4v_ids"].shape == (2, 1) and not batch["r4v_mask"].any()  # no reason for visit
    assert batch["focus"].tolist() == [[0, 0, 1, 1], [1, 0, 0, 0]]
    assert batch["sentence_codes"].tolist() == [[-1, -1, -1, 2], [1, -1, -1, -1]]
    assert batch["evidence_words"][0, 2].tolist() == [1, 0, 0, 0, 0, 0, 0, 1]  # pneumonia ... sepsis
    assert batch["evidence_words"].dtype == torch.float32
    word = encoding.vocab.tokens[int(batch["sentence_ids"][0, 3, 0])]
    assert word == "hypertension"


def test_level_two_examples_are_the_single_code_focus_sentences():
    frame = pl.DataFrame({"text": [TEXT], "sentences": [SENTENCES], "codes": [CODES], "evidence": [EVIDENCE]})
    encoding = inputs()
    dataset = FocusSentences(encoding.features(frame, train=False))
    assert dataset.items == [(0, 3)] and dataset.lengths().tolist() == [3]
    doc, feature = dataset[0]
    batch = encoding.collate([feature])
    assert doc == 0 and batch["sentence_ids"].shape == (1, 1, 3)
    assert batch["sentence_codes"].tolist() == [[2]] and batch["evidence_words"][0, 0].tolist() == [1, 0, 0]


def test_bad_limits_are_user_errors():
    from omegaconf import OmegaConf

    from icdbench.datasets.sentences import _check_limits
    from icdbench.errors import UserError

    with pytest.raises(UserError, match="data.max_sentences"):
        _check_limits(OmegaConf.create({"data": {"max_sentences": 0, "sentence_length": 4}}))
