"""``title-match``: the note's TF-IDF cosine to each code title; labels are never read."""

from __future__ import annotations

import numpy as np
import pytest

from icdbench.errors import UserError
from icdbench.models.base import ModelContext
from icdbench.models.registry import get_model

CODES = ["A01.00", "E11.9", "I10", "S72.001A"]
TITLES = ["Typhoid fever, unspecified", "Type 2 diabetes mellitus without complications",
          "Essential (primary) hypertension", "Fracture of unspecified part of neck of right femur"]
NOTES = ["Patient with typhoid fever after travel.", "Known type 2 diabetes, on metformin.",
         "Hypertension controlled.", "Paciente con diabétes e hipertensión esencial."]


def _context(titles=TITLES) -> ModelContext:
    return ModelContext(codes=CODES, kinds=["dx"] * 4, titles=titles, short_titles=[None] * 4,
                        ancestors=[[]] * 4, train_counts=np.array([1, 1, 1, 0]), n_train_docs=4)


def _model(titles=TITLES):
    spec = get_model("title-match")
    return spec.build(spec.default_config(), _context(titles))


def test_each_note_ranks_the_code_its_words_name_first_and_labels_change_nothing():
    labels = np.eye(4, dtype=bool)
    scores = _model().fit(NOTES, labels).predict_scores(NOTES[:3])
    assert scores.shape == (3, 4) and ((scores >= 0) & (scores <= 1)).all()
    assert scores.argmax(axis=1).tolist() == [0, 1, 2]
    again = _model().fit(NOTES, ~labels).predict_scores(NOTES[:3])
    np.testing.assert_array_equal(scores, again)  # no label is read


def test_accents_are_stripped_so_shared_words_match_across_languages():
    scores = _model().fit(NOTES, None).predict_scores([NOTES[3]])[0]
    assert scores[1] > 0  # "diabétes" is "diabetes" once accents are stripped
    assert scores[0] == scores[2] == scores[3] == 0  # "hipertensión" is another word than "hypertension"
    unseen = _model().fit(NOTES, None).predict_scores(["fracture of the right femur neck"])[0]
    assert unseen.argmax() == 3  # a code never seen in training is scored from its title alone


def test_no_titles_is_one_clear_error():
    with pytest.raises(UserError, match="title-match needs code titles"):
        _model(["", "", "", ""])
