"""The board's split line says the ceiling recall its records report (CodiEsp), and nothing for other splits."""

from __future__ import annotations

from fake_records import fake_record, loaded

from icdbench.results.board import ceiling_text
from icdbench.results.leaderboard import build_tables

CEILING = {"label_set": 1.0, "seen_in_train": 0.825, "seen_in_train_val": 0.8582}


def _table(records):
    (table,) = build_tables(loaded(records), ["lr", "prior"])
    return table


def test_split_line_shows_the_ceiling_recall_of_its_records():
    records = [fake_record("lr", "codiesp-d"), fake_record("prior", "codiesp-d")]
    records[1]["ceiling_recall"] = CEILING
    text = ceiling_text(_table(records))
    assert "Ceiling recall: 100.0% of the test code occurrences" in text
    assert "82.5% a code with a train document, 85.8% with a train or validation one" in text


def test_no_ceiling_line_where_records_report_none():
    assert ceiling_text(_table([fake_record("lr", "synth-icd10")])) == ""
