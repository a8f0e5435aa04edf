"""What runs at MIMIC scale equals its reference: the polars cleaning expression equals
``icdbench.datasets.text.clean_text``; the in-place word count equals ``stats.split_card``'s."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from icdbench.datasets.mimic.cleaning import clean_expr, reason_for_visit_expr
from icdbench.datasets.mimic.pipeline import statistics_card
from icdbench.datasets.stats import split_card
from icdbench.datasets.text import clean_text

NOTE_TEXT = st.text(st.sampled_from(list("abcXYZ0129 .,:;-()[]*%/_\n\t?!'\"é\u0130ßµ\u212a²٣")), max_size=120)


@settings(max_examples=300, deadline=None)
@given(st.lists(NOTE_TEXT, min_size=1, max_size=20))
def test_clean_expr_equals_clean_text(texts):
    cleaned = pl.DataFrame({"text": texts}).select(clean_expr(pl.col("text")))["text"].to_list()
    assert cleaned == [clean_text(t) for t in texts]


def test_reason_for_visit():
    texts = ["Name: ___\nChief Complaint:\nChest pain, 2 days\n\nHPI: ...", "CHIEF COMPLAINT: SOB\n", "no header",
             "Chief Complaint:\n\n"]
    reasons = pl.DataFrame({"t": texts}).select(reason_for_visit_expr(pl.col("t")))["t"].to_list()
    assert reasons == ["chest pain days", "sob", None, None]


def test_statistics_card_equals_split_card():
    texts = ["a b  c", "", " x\ny z ", "one", "w w w w"]
    parts = {p: pl.DataFrame({"subject_id": ["1", "2", "3", "4", "5"], "codes": [["A"], ["B"], ["A", "B"], [], ["A"]],
                              "text": texts}) for p in ("train", "val", "test")}
    codes = pl.DataFrame({"code": ["A", "B"], "kind": ["dx", "proc"], "train_count": [3, 12]})
    assert statistics_card(parts, codes) == split_card(parts, codes)
    cleaned = {p: f.with_columns(pl.col("text").map_elements(clean_text, return_dtype=pl.String))
               for p, f in parts.items()}
    assert statistics_card(cleaned, codes, single_spaced=True) == split_card(cleaned, codes)
