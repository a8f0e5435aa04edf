"""Why runs stopped, on every board (issue 15): a row knows its runs' stop reasons, every rendered form marks a row
that did not converge and explains the mark, ``--converged-only`` hides such rows, and records written before
stop reasons existed read "unrecorded" without breaking anything."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fake_records import commit_all, fake_record, loaded, write_run

from icdbench.app.leaderboard import committed_board, hide_unconverged
from icdbench.cli import main
from icdbench.models import registry
from icdbench.results.cells import STOP_MARKS, STOP_NOTES, provenance_grid
from icdbench.results.html import html_page
from icdbench.results.leaderboard import build_tables, converged_only
from icdbench.results.render import Leaderboard, csv_document, json_document, markdown
from icdbench.results.sources import PlanEntry

PLAN = (PlanEntry("synth-icd10", "cpu", (0,)),)  # gives a registered model without records its "not run" row
BUDGET_NOTE = ("† training stopped at its budget (epochs, optimiser steps or wall time) while the validation monitor "
               "still improved")


def boards_part(readme: str) -> str:
    """A leaderboard README up to its fidelity table, which lists every registered model whatever its runs."""
    return readme.split("## Fidelity to the papers")[0]


def _board(records: list[dict]) -> Leaderboard:
    tables = build_tables(loaded(records), sorted({r["model"] for r in records}))
    return Leaderboard("test board", "intro", tables)


def _rows(board: Leaderboard, setting: str = "full") -> dict[str, dict]:
    return {r["model"]: r for r in csv.DictReader(io.StringIO(csv_document(board))) if r["setting"] == setting}


def _budget_board() -> Leaderboard:
    return _board([fake_record("caml", shift=0.1, stop_reason="budget"), fake_record("lr")])


def test_a_row_knows_the_stop_reasons_of_its_runs_and_converges_only_when_all_did():
    runs = [fake_record("caml", seed=0), fake_record("caml", seed=1, stop_reason="budget"),
            fake_record("caml", seed=2), fake_record("lr"), fake_record("svm", stop_reason=None)]  # fmt: skip
    (table,) = build_tables(loaded(runs), ["caml", "lr", "svm", "rac"], PLAN)
    rows = {row.model: row for row in table.rows}
    assert rows["caml"].stop_reasons == ["converged", "budget", "converged"]  # one per seed, in seed order
    assert (rows["caml"].converged, rows["caml"].stop_reason) == (False, "converged/budget")
    assert (rows["lr"].converged, rows["lr"].stop_reason) == (True, "converged")
    assert (rows["svm"].converged, rows["svm"].stop_reason) == (False, "unrecorded")  # an old record
    assert (rows["rac"].converged, rows["rac"].stop_reason) == (False, "")  # not run: nothing converged
    (cells,) = [row for row in provenance_grid(table).rows if row[0].sort == "caml"]
    assert cells[3].text == "converged (seeds 0,2), budget (seeds 1)"  # which seed stopped how


def test_a_budget_row_is_marked_and_footnoted_in_markdown():
    text = markdown(_budget_board(), {})
    assert "| caml † |" in text and "| lr |" in text  # the mark sits next to the label; lr converged: no mark
    full = text.split("### Full label set")[1].split("###")[0]
    table, _, below = full.strip().partition("\n\n")  # the footnote is its own paragraph, not one more table row
    assert "| caml † |" in table and below.startswith(BUDGET_NOTE) and "‡" not in full and "?" not in full
    # under each table that lists models: side by side, full, top-50, evidence, provenance
    assert text.count(BUDGET_NOTE) == 5
    assert "not every run of the row converged" in text  # the legend in the page's introduction


def test_a_budget_row_is_marked_and_footnoted_in_html():
    page = html_page(_budget_board(), {})
    assert 'data-v="caml">caml †</td>' in page and 'data-v="lr">lr</td>' in page  # sorting still uses the label
    assert f'<p class="footnote">{BUDGET_NOTE}' in page
    assert page.index("</table>") < page.index('<p class="footnote">')  # under the table


def test_csv_and_json_carry_the_stop_reason_of_each_row():
    board = _budget_board()
    rows = _rows(board)
    assert (rows["caml"]["stop_reason"], rows["lr"]["stop_reason"]) == ("budget", "converged")
    assert _rows(board, "top50")["caml"]["stop_reason"] == "budget"  # both settings come from the same runs
    document = json.loads(json_document(board))
    by_model = {row["model"]: row for row in document["tables"][0]["rows"] if row["setting"] == "full"}
    assert by_model["caml"]["stop_reason"] == "budget"
    assert document["stop_reasons"]["budget"].startswith("training stopped at its budget")
    mixed = _board([fake_record("caml", seed=0), fake_record("caml", seed=1, stop_reason="budget")])
    assert _rows(mixed)["caml"]["stop_reason"] == "converged/budget"  # runs differ: their reasons, joined


def test_an_old_record_without_a_stop_reason_renders_as_unrecorded():
    old = fake_record("caml", stop_reason=None)
    assert "stop_reason" not in old and "convergence" not in old  # what records committed before issue 15 hold
    board = _board([old, fake_record("lr")])
    text, page = markdown(board, {}), html_page(board, {})
    assert "| caml ? |" in text and f"\n? {STOP_NOTES['unrecorded']}\n" in text
    assert "caml ?</td>" in page and f'<p class="footnote">? {STOP_NOTES["unrecorded"]}' in page
    assert _rows(board)["caml"]["stop_reason"] == "unrecorded"
    strange = _board([fake_record("caml", stop_reason="from-a-newer-suite")])  # a reason this version lacks
    assert "| caml ? |" in markdown(strange, {}) and _rows(strange)["caml"]["stop_reason"] == "from-a-newer-suite"


@pytest.mark.parametrize("reason", ["prior", "collapse"])
def test_prior_and_collapse_rows_get_their_own_marks(reason):
    text = markdown(_board([fake_record("caml", stop_reason=reason)]), {})
    assert f"| caml {STOP_MARKS[reason]} |" in text and f"\n{STOP_MARKS[reason]} {STOP_NOTES[reason]}\n" in text


def test_a_run_at_the_prior_that_a_budget_ended_carries_both_marks():
    ended = fake_record("caml", stop_reason="prior")
    ended["convergence"]["budget_hit"] = "max_minutes"  # HMHAN on synth-icd10: still improving at 15 minutes
    patient = fake_record("lr", shift=0.1, stop_reason="prior")  # patience ran out at the prior: no budget mark
    text = markdown(_board([ended, patient]), {})
    both = STOP_MARKS["budget"] + STOP_MARKS["prior"]
    assert f"| caml {both} |" in text and f"| lr {STOP_MARKS['prior']} |" in text
    assert BUDGET_NOTE in text and f"\n{STOP_MARKS['prior']} {STOP_NOTES['prior']}\n" in text
    assert _rows(_board([ended]))["caml"]["stop_reason"] == "prior"  # the record's reason itself is unchanged


def test_converged_only_hides_rows_that_did_not_all_converge_and_keeps_rows_without_runs():
    runs = [fake_record("caml", shift=0.2, stop_reason="budget"), fake_record("laat", stop_reason=None),
            fake_record("lr", seed=0), fake_record("lr", seed=1, stop_reason="prior")]
    runs += [fake_record(m, shift=0.01 * i) for i, m in enumerate(["svm", "cnn", "rnn"])]  # fmt: skip
    registered = ["caml", "laat", "lr", "svm", "cnn", "rnn", "rac"]
    tables = build_tables(loaded(runs), registered, PLAN)
    (kept,), hidden = converged_only(tables)
    assert sorted(row.model for row in hidden) == ["caml", "laat", "lr"]
    assert sorted(row.model for row in kept.rows) == ["cnn", "rac", "rnn", "svm"]  # rac: not run, no number
    assert kept.tau["micro_f1"][2] == 3  # Kendall tau over the rows kept
    board = hide_unconverged(Leaderboard("t", "i", tables))
    text = boards_part(markdown(board, {}))
    assert "| caml" not in text and "| laat" not in text and BUDGET_NOTE not in text and "| rac |" in text
    assert "Built with `--converged-only`: 3 row(s)" in text and "caml (synth-icd10, cpu: budget)" in text


def test_converged_only_option_hides_budget_rows_and_says_how_many(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ICDBENCH_LEADERBOARDS", str(tmp_path / "lb"))
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("icdbench.app.leaderboard.all_models", lambda: {"caml": None, "lr": None})
    commit_all(tmp_path / "lb", [fake_record("caml", stop_reason="budget"), fake_record("lr")])
    write_run(tmp_path / "runs", fake_record("caml", split="synth-tiny", profile="ci", stop_reason="budget"))
    write_run(tmp_path / "runs", fake_record("lr", split="synth-tiny", profile="ci"))
    assert main(["leaderboard"]) == 0
    out = capsys.readouterr().out
    assert "caml †" in out and BUDGET_NOTE in out and "--converged-only" not in out  # shown, marked, explained
    assert main(["leaderboard", "--converged-only"]) == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if "--converged-only" in line]
    assert "hid 2 row(s) whose runs did not all converge (budget 2)" in line
    caml = [line.split() for line in out.splitlines() if line.startswith("caml")]
    assert caml and all(runs == "0" for _, runs, *_ in caml)  # both boards' caml rows gone; "not run" rows stay
    runs_readme = boards_part((tmp_path / "runs" / "leaderboard" / "README.md").read_text())
    assert "| caml" not in runs_readme and "1 row(s) whose runs did not all converge are hidden" in runs_readme
    committed = (tmp_path / "lb" / "README.md").read_text()
    assert "| caml † |" in committed  # the committed files stay a function of the records alone
    assert main(["leaderboard", "--converged-only", "synth-tiny"]) == 0
    assert "hid 1 row(s)" in capsys.readouterr().out  # counts the splits asked for


def test_a_newly_registered_model_joins_every_committed_table_without_being_listed(tmp_path, monkeypatch):
    """The committed plan names splits, not models: a model registered tomorrow (``prior``) gets a row on every
    committed board, and ``--run`` would run it."""
    registry.all_models()  # import every model module first, so none registers into the patched dict later
    monkeypatch.setitem(registry._MODELS, "newcomer", next(iter(registry._MODELS.values())))
    from icdbench.app.leaderboard import COMMITTED_PLAN, missing_committed

    registered = list(registry.all_models())
    assert "newcomer" in registered
    board = committed_board(tmp_path, registered)
    assert all("newcomer" in {row.model for row in table.rows} for table in board.tables)
    todo = [entry for entry in missing_committed(registered, root=tmp_path) if entry[2] == "newcomer"]
    assert len(todo) == sum(len(entry.seeds) for entry in COMMITTED_PLAN)  # what --run would run for it
