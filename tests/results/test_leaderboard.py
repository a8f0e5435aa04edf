"""Leaderboards from run records: aggregation over seeds, intervals, Kendall tau between settings, every
registered model present, byte-for-byte rebuilds, references only beside splits with runs."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from fake_records import commit_all, fake_record, loaded, write_run
from scipy import stats as scipy_stats

from icdbench.app.leaderboard import COMMITTED_PLAN, committed_board, missing_committed, runs_board
from icdbench.cli import main
from icdbench.metrics.stats import aggregate_seeds
from icdbench.models.registry import all_models
from icdbench.results.leaderboard import EVIDENCE_KEYS, HEADLINE_KEYS, build_tables
from icdbench.results.render import Leaderboard, rebuild_leaderboard
from icdbench.results.sources import committed_records, leaderboards_dir

REFERENCES = (
    "split,setting,model,registry_model,metric,value,published,plus_minus,citation,table,definition,note\n"
    "mimic3-full,full,CAML,caml,micro_f1,0.539,53.9,,Mullenbach et al. 2018,Kim 2021 Table 2,pooled,x\n"
)


def write_leaderboard(board: Leaderboard, out_dir) -> list:
    """Render an already built board (the command builds it inside the folder's lock)."""
    return rebuild_leaderboard(out_dir, lambda: board)[1]


def test_a_row_averages_its_seeds_with_a_t_interval_and_one_run_keeps_its_bootstrap_interval():
    runs = [fake_record("caml", seed=s) for s in (0, 1, 2)] + [fake_record("laat", seed=0, shift=0.1)]
    (table,) = build_tables(loaded(runs), ["caml", "laat"])
    caml = next(r for r in table.rows if r.model == "caml")
    expected = aggregate_seeds([r["metrics"]["full"] for r in runs[:3]])
    for key in HEADLINE_KEYS:
        stat = caml.stats["full"][key]
        assert (stat.mean, stat.std, stat.low, stat.high, stat.n, stat.ci) == pytest.approx(
            (expected[key]["mean"], expected[key]["std"], expected[key]["low"], expected[key]["high"], 3, "seeds"))
    assert caml.replicates == [("seed", 0), ("seed", 1), ("seed", 2)] and caml.train_seconds == pytest.approx(11.0)
    laat = next(r for r in table.rows if r.model == "laat")
    single = laat.stats["full"]["micro_f1"]
    interval = runs[3]["ci"]["full"]["micro_f1"]
    assert (single.std, single.low, single.high, single.ci) == (None, interval["low"], interval["high"], "bootstrap")
    assert laat.stats["full"]["emr"].ci is None  # the record has no interval for it: none is invented
    assert [r.model for r in table.rows] == ["laat", "caml"]  # sorted by full micro-F1


def test_rerun_of_a_seed_replaces_the_older_run_and_other_configs_get_their_own_row():
    old, new = fake_record("caml", seed=0), fake_record("caml", seed=0, shift=0.2)
    new["run_id"] = "20260101-000000-cpu-seed0"
    tuned = fake_record("caml", seed=0, shift=-0.1)
    tuned["config"]["optim"]["lr"] = 0.01
    (table,) = build_tables(loaded([new, old, tuned]), ["caml"])
    assert len(table.rows) == 2 and all(row.n_runs == 1 for row in table.rows)
    assert table.rows[0].value("full", "micro_f1") == new["metrics"]["full"]["micro_f1"]
    assert all(row.label.startswith("caml [") for row in table.rows)  # told apart by config hash


def test_kendall_tau_compares_the_full_and_top50_rankings():
    runs = [fake_record(f"m{i}", shift=0.05 * i, top50_shift=-0.1 * i) for i in range(5)]
    (table,) = build_tables(loaded(runs), [])
    full = [r["metrics"]["full"]["micro_f1"] for r in runs]
    top = [r["metrics"]["top50"]["micro_f1"] for r in runs]
    tau, p, n = table.tau["micro_f1"]
    assert n == 5 and tau == pytest.approx(scipy_stats.kendalltau(full, top).statistic)
    assert tau < 0  # this construction reverses the order: rankings do not carry over
    (two,) = build_tables(loaded(runs[:2]), [])
    assert two.tau["micro_f1"] is None  # too few models for a rank correlation


def test_committed_leaderboard_lists_every_registered_model_and_what_is_missing(tmp_path):
    registered = list(all_models())
    commit_all(tmp_path, [fake_record(registered[0], seed=s) for s in (0, 1, 2)])
    board = committed_board(tmp_path, registered)
    assert {(t.split, t.profile) for t in board.tables} == {(e.split, e.profile) for e in COMMITTED_PLAN}
    planned = {(e.split, e.profile): e for e in COMMITTED_PLAN}
    for table in board.tables:
        excluded = planned[(table.split, table.profile)].excluded
        assert sorted(row.model for row in table.rows) == sorted(set(registered) - set(excluded))
        assert table.excluded == excluded
    missing = missing_committed(registered, root=tmp_path)
    assert (COMMITTED_PLAN[0].split, "cpu", registered[0], 0) not in missing
    assert len(missing) == sum(len(e.seeds) * len(set(registered) - set(e.excluded)) for e in COMMITTED_PLAN) - 3
    write_leaderboard(board, tmp_path)
    readme = (tmp_path / "README.md").read_text()
    assert "not run" in readme and "## How to cite a number" in readme


def _build(root, registered):
    write_leaderboard(committed_board(root, registered), root)
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and
            "records" not in p.parts and not p.name.startswith(".")}  # fmt: skip


def test_the_committed_leaderboard_rebuilds_byte_for_byte_from_its_records(tmp_path):
    models = ["caml", "laat", "lr", "rac"]
    records = [fake_record(m, seed=s, shift=0.03 * i) for i, m in enumerate(models) for s in (0, 1, 2)]
    records += [fake_record(m, split="synth-icd10-50", shift=0.02 * i) for i, m in enumerate(models)]
    commit_all(tmp_path / "a", records)
    first = _build(tmp_path / "a", models)
    assert {"README.md", "leaderboard.csv", "leaderboard.json", "index.html"} <= {p.name for p in first}
    assert any(p.suffix == ".png" for p in first)
    assert _build(tmp_path / "a", models) == first  # twice in place
    shutil.copytree(tmp_path / "a" / "records", tmp_path / "b" / "records")
    assert _build(tmp_path / "b", models) == first  # from a copy of the records alone


def test_generated_files_carry_the_numbers_and_the_fields_that_identify_them(tmp_path):
    records = [fake_record("caml", seed=s) for s in (0, 1, 2)]
    commit_all(tmp_path, records)
    write_leaderboard(committed_board(tmp_path, ["caml"]), tmp_path)
    rows = list(csv.DictReader((tmp_path / "leaderboard.csv").open()))
    row = next(r for r in rows if r["split"] == "synth-icd10" and r["setting"] == "full")
    mean = sum(r["metrics"]["full"]["macro_f1"] for r in records) / 3
    assert float(row["macro_f1"]) == pytest.approx(mean, abs=1e-6) and row["macro_f1_ci"] == "seeds"
    assert (row["replicates"], row["config_hash"], row["suite_version"]) == ("seeds 0,1,2", row["config_hash"], "0.1.0")
    assert row["split_version"] == "1.0.0" and row["split_hash"] == "ab" * 6 and len(row["config_hash"]) == 12
    document = json.loads((tmp_path / "leaderboard.json").read_text())
    assert {t["split"] for t in document["tables"]} >= {"synth-icd10"}
    html = (tmp_path / "index.html").read_text()
    assert "<script>" in html and "sortable" in html and "http" not in html.split("<script>")[1]  # no CDN
    assert 'src="plots/synth-icd10-cpu-rare-f1.png"' in html and (tmp_path / "plots/synth-icd10-cpu-pr.png").is_file()


def test_the_evidence_table_shows_the_models_with_attributions_and_only_them(tmp_path):
    def without_evidence(record):  # what a model without attributions records
        record["metrics"]["full"] = {k: v for k, v in record["metrics"]["full"].items() if k not in EVIDENCE_KEYS}
        return record

    pointing = [fake_record("caml", seed=s) for s in (0, 1)]
    for seed, record in enumerate(pointing):
        record["metrics"]["full"].update({"evidence_p@5": 0.6 + 0.1 * seed, "evidence_sentence_hit": 0.9})
    commit_all(tmp_path, pointing + [without_evidence(fake_record("lr", seed=0))])
    write_leaderboard(committed_board(tmp_path, ["caml", "lr"]), tmp_path)
    readme = (tmp_path / "README.md").read_text()
    section = readme.split("### Evidence")[1].split("###")[0]
    assert "| caml | 2 | 0.650 ± 0.071" in section and "| lr |" not in section
    assert "### Evidence" in (tmp_path / "index.html").read_text().replace("<h3>", "### ")
    rows = list(csv.DictReader((tmp_path / "leaderboard.csv").open()))
    caml = next(r for r in rows if r["model"] == "caml" and r["setting"] == "full" and r["split"] == "synth-icd10")
    assert float(caml["evidence_p@5"]) == pytest.approx(0.65) and caml["evidence_p@5_ci"] == "seeds"
    commit_all(tmp_path / "none", [without_evidence(fake_record("lr", seed=0))])
    write_leaderboard(committed_board(tmp_path / "none", ["lr"]), tmp_path / "none")
    assert "### Evidence" not in (tmp_path / "none" / "README.md").read_text()  # no attributions: no table


def test_published_numbers_appear_only_beside_splits_with_runs_and_are_never_merged(tmp_path, monkeypatch):
    (tmp_path / "lb").mkdir()
    (tmp_path / "lb" / "references.csv").write_text(REFERENCES)
    monkeypatch.setenv("ICDBENCH_LEADERBOARDS", str(tmp_path / "lb"))
    runs = tmp_path / "runs"
    write_run(runs, fake_record("caml", split="synth-icd10"))
    board = runs_board(runs, ["caml"], tmp_path / "data")
    assert board.references == {}
    write_run(runs, fake_record("caml", split="mimic3-full"))
    board = runs_board(runs, ["caml"], tmp_path / "data")
    assert list(board.references) == ["mimic3-full"]
    write_leaderboard(board, tmp_path / "out")
    assert "Published numbers" in (tmp_path / "out" / "README.md").read_text()
    rows = list(csv.DictReader((tmp_path / "out" / "leaderboard.csv").open()))
    assert all(r["micro_f1"] != "0.539000" for r in rows) and len(rows) == 4  # 2 splits x 2 settings, ours only


def test_leaderboard_command_builds_both_boards_and_skips_incompatible_records(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ICDBENCH_LEADERBOARDS", str(tmp_path / "lb"))
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    commit_all(tmp_path / "lb", [fake_record("caml")])
    write_run(tmp_path / "runs", fake_record("lr", split="synth-tiny", profile="ci"))
    stale = fake_record("cnn", split="synth-tiny", profile="ci")
    stale["schema"] = 0
    write_run(tmp_path / "runs", stale)
    assert main(["leaderboard"]) == 0
    out, err = capsys.readouterr()
    assert "incompatible icdbench version" in err and "cnn" in err
    assert (tmp_path / "lb" / "README.md").is_file() and (tmp_path / "runs" / "leaderboard" / "README.md").is_file()
    assert "synth-tiny (ci profile" in out and "lr" in out
    assert [r.record.model for r in committed_records(tmp_path / "lb")] == ["caml"]
    assert main(["leaderboard", "synth-tny"]) == 2
    assert "unknown split 'synth-tny'; did you mean synth-tiny" in capsys.readouterr().err


def test_the_committed_leaderboard_files_are_what_the_committed_records_build(tmp_path):
    """`make leaderboard` output is generated, never typed: rebuilding from leaderboards/records gives the same
    text files (PNGs are compared by the rebuild test above; their bytes depend on the matplotlib version)."""
    root = leaderboards_dir()
    assert (root / "README.md").is_file(), "leaderboards/README.md is missing: run make leaderboard"
    if (root / "records").is_dir():
        shutil.copytree(root / "records", tmp_path / "records")
    write_leaderboard(committed_board(tmp_path, list(all_models())), tmp_path)
    for name in ("README.md", "leaderboard.csv", "leaderboard.json", "index.html"):
        assert (tmp_path / name).read_text() == (root / name).read_text(), f"{name} is stale: run make leaderboard"


def test_run_option_launches_each_missing_record_on_the_committed_grid_and_reports_failures(tmp_path, monkeypatch,
                                                                                            capsys):
    """``leaderboard --run`` plans the committed grid's missing records (a committed record is kept) and reports the
    failed ones; the grid's own tests (tests/grid) run real workers and check the records they commit."""
    from icdbench.app import leaderboard as app_leaderboard
    from icdbench.grid.process import Outcome
    from icdbench.models.registry import get_model

    monkeypatch.setenv("ICDBENCH_LEADERBOARDS", str(tmp_path / "lb"))
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    specs = {name: get_model(name) for name in ("caml", "lr")}
    excluded = {name: get_model(name) for entry in COMMITTED_PLAN for name in entry.excluded}  # the grid names them
    monkeypatch.setattr(app_leaderboard, "all_models", lambda: {**specs, **excluded})
    commit_all(tmp_path / "lb", [fake_record("caml", seed=0)])
    launched = []

    def fake_launch(grid, runs, options):
        launched.extend((run.model, run.split, run.profile, run.seed) for run in runs if run.model in specs)
        return [Outcome(run.key, "failed" if (run.model, run.split) == ("lr", "synth-radiology") else "done",
                        command=f"icdbench train {run.model} {run.split}", log="run.log",
                        error="RuntimeError: out of memory") for run in runs], False  # fmt: skip

    monkeypatch.setattr(app_leaderboard, "launch", fake_launch)
    monkeypatch.setattr(app_leaderboard, "prepare_splits", lambda grid: None)
    assert main(["leaderboard", "--run", "synth-icd10", "synth-radiology", "mimic3-full"]) == 1
    out, err = capsys.readouterr()
    assert ("caml", "synth-icd10", "cpu", 0) not in launched and len(launched) == 5 + 2  # 3 + 3 - 1, and 1 + 1
    assert {split for _, split, _, _ in launched} == {"synth-icd10", "synth-radiology"}  # only the splits asked for
    assert "nothing is planned for mimic3-full" in out
    assert "1 run(s) failed" in err and "RuntimeError: out of memory" in err and "run.log" in err
