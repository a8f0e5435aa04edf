"""The CodiEsp boards (issue 17): the committed plan (every model on the English translation, no
transformer-encoder model on the Spanish text, and the board says so), the official MAP column, the ceiling
recall and stop-reason marks, and the published numbers beside the Spanish splits."""

from __future__ import annotations

import csv
import io

from fake_records import commit_all, fake_record, loaded

from icdbench.app.leaderboard import COMMITTED_PLAN, _summary_table, committed_board
from icdbench.metrics.keys import METRICS
from icdbench.models.registry import all_models, get_model
from icdbench.paths import REPO_ROOT
from icdbench.results.html import html_page
from icdbench.results.leaderboard import OFFICIAL_KEYS, build_tables
from icdbench.results.render import csv_document, markdown

SPANISH, ENGLISH = ("codiesp-d", "codiesp-p"), ("codiesp-d-en", "codiesp-p-en")
CEILING = {"label_set": 1.0, "seen_in_train": 0.825, "seen_in_train_val": 0.8582}


def _codiesp_record(model: str, split: str, **options) -> dict:
    """What a CodiEsp run records: the official MAP in the full setting only, and the split's ceiling recall."""
    record = fake_record(model, split, **options)
    for key in OFFICIAL_KEYS:
        record["metrics"]["top50"].pop(key)
    record["ceiling_recall"] = CEILING
    return record


def test_spanish_codiesp_boards_leave_out_exactly_the_transformer_encoder_models():
    plan = {entry.split: entry for entry in COMMITTED_PLAN}
    encoders = {name for name in all_models() if getattr(get_model(name).default_config(), "encoder", None)}
    assert encoders  # the packaged MiniLM stands in for their English encoders
    for split in SPANISH:
        assert set(plan[split].excluded) == encoders and plan[split].seeds == (0,)
    for split in ENGLISH:
        assert plan[split].excluded == () and plan[split].seeds == (0,)


def test_a_codiesp_table_shows_the_official_map_first_and_only_where_records_have_it():
    from icdbench.results.cells import metric_grid, side_by_side_grid

    records = [_codiesp_record("lr", "codiesp-d-en"), _codiesp_record("svm", "codiesp-d-en", shift=0.1)]
    (table,) = build_tables(loaded(records), ["lr", "svm"])
    full, top50 = metric_grid(table, "full"), metric_grid(table, "top50")
    assert full.header[2] == "MAP (official)" and "MAP (official)" not in top50.header
    svm = next(row for row in full.rows if row[0].text == "svm")
    assert svm[2].sort == records[1]["metrics"]["full"]["map_codiesp"]
    assert "MAP (official) full" in side_by_side_grid(table).header
    summary = _summary_table([table], [])  # what `icdbench leaderboard` prints
    assert summary.splitlines()[1].split()[2:4] == ["MAP", "(official)"]
    synthetic = [fake_record("lr", "synth-icd10")]
    for record in synthetic:
        for setting in ("full", "top50"):
            record["metrics"][setting].pop("map_codiesp")
    (plain,) = build_tables(loaded(synthetic), ["lr"])
    assert "MAP (official)" not in metric_grid(plain, "full").header


def test_the_committed_codiesp_boards_show_map_ceiling_marks_references_and_the_left_out_models(tmp_path):
    registered = list(all_models())
    records = [_codiesp_record("lr", "codiesp-d"), _codiesp_record("caml", "codiesp-d", stop_reason="budget"),
               _codiesp_record("lr", "codiesp-d-en")]  # fmt: skip
    commit_all(tmp_path, records)
    board = committed_board(tmp_path, registered)  # no references.csv in tmp_path: the repository's
    assert set(board.references) == set(SPANISH)
    readme, html = markdown(board, {}), html_page(board, {})  # the board's files, without drawing its plots
    spanish = readme.split("## codiesp-d — cpu profile")[1].split("\n## ")[0]
    english = readme.split("## codiesp-d-en — cpu profile")[1].split("\n## ")[0]
    assert "MAP (official)" in spanish and "| caml † |" in spanish and "† training stopped at its budget" in spanish
    assert "Ceiling recall: 100.0%" in spanish and "unseen recall" in spanish
    assert "Not run here: bert-attn, bert-cls, bert-xml, hmhan, hmhan-nosmote, plm-icd" in spanish
    assert "| plm-icd |" not in spanish and "| plm-icd |" in english and "Not run here" not in english
    assert "Published numbers" in spanish and "López-García et al. 2021" in spanish and "0.662" in spanish
    assert "Published numbers" not in english  # teams were scored on the Spanish text
    assert "English-only" in readme.split("\n## ")[0]  # the introduction says why
    assert "Ceiling recall: 100.0%" in html and "Not run here: bert-attn" in html and "MAP (official)" in html
    rows = list(csv.DictReader(io.StringIO(csv_document(board))))
    lr = next(r for r in rows if (r["split"], r["model"], r["setting"]) == ("codiesp-d", "lr", "full"))
    assert float(lr["map_codiesp"]) == records[0]["metrics"]["full"]["map_codiesp"]


def test_codiesp_references_name_their_source_and_what_they_were_scored_on():
    with (REPO_ROOT / "leaderboards" / "references.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"].startswith("codiesp")]
    assert {row["split"] for row in rows} == set(SPANISH)
    best = max((row for row in rows if row["metric"] == "map_codiesp" and row["split"] == "codiesp-d"
                and "2020" in row["model"]), key=lambda row: float(row["value"]))  # fmt: skip
    assert best["model"].startswith("IXA-AAA") and best["value"] == "0.593"  # the 2020 track's best D run
    for row in rows:
        assert row["metric"] in METRICS and 0 < float(row["value"]) < 1 and row["citation"] and row["table"]
        assert "codiesp-d-en and codiesp-p-en are the English machine translation" in row["note"]
        if "ODESIA" in row["table"] or row["table"].startswith("secondary"):  # not the track overview itself
            assert row["note"].startswith("secondary source")
