"""The CI regression check on records (no training): a perturbed committed number fails it, as do a missing,
a removed or a failing model and another split content; the tolerance depends on whether the machine
fingerprint matches, and across machines a change shared by every model fails even when each number is within
the per-number tolerance."""

from __future__ import annotations

import copy

import pytest
from fake_records import fake_record

from icdbench.app import regress as app_regress
from icdbench.cli import main
from icdbench.models.registry import all_models
from icdbench.results import regress
from icdbench.results.leaderboard import HEADLINE_KEYS
from icdbench.results.record import RunRecord
from icdbench.results.regress import (
    CROSS_MACHINE_ATOL,
    CROSS_MACHINE_MEAN_ATOL,
    SAME_MACHINE_ATOL,
    compare_rows,
    read_ci,
    rows_of_record,
    write_ci,
)
from icdbench.results.sources import leaderboards_dir

HERE = "torch 2.13.0; Test CPU; 2 threads"
MODELS = ["caml", "lr", "rac"]


def _rows(fingerprint: str = HERE) -> list[dict]:
    records = [fake_record(m, split="synth-tiny", profile="ci", shift=0.05 * i) for i, m in enumerate(MODELS)]
    return [row for record in records for row in rows_of_record(RunRecord.from_dict(record), fingerprint)]


def _committed(tmp_path, rows) -> list[dict]:
    """What a test reads back after writing ci.csv: the strings a real check compares with."""
    write_ci(tmp_path / "ci.csv", rows)
    return read_ci(tmp_path / "ci.csv")


def test_identical_numbers_pass_and_ci_csv_keeps_full_precision(tmp_path):
    fresh = _rows()
    committed = _committed(tmp_path, fresh)
    assert len(committed) == len(MODELS) * 2  # full and top50 per model
    comparison = compare_rows(committed, fresh, MODELS, HERE)
    assert comparison.ok and comparison.differences == []
    assert comparison.n_compared == len(committed) * len(HEADLINE_KEYS)
    record = fake_record("caml", split="synth-tiny", profile="ci")
    caml = next(r for r in committed if r["model"] == "caml" and r["setting"] == "full")
    assert float(caml["micro_f1"]) == record["metrics"]["full"]["micro_f1"]  # repr round-trips exactly


@pytest.mark.parametrize("delta", [1e-4, -0.003])
def test_a_perturbed_committed_number_fails_on_the_same_machine(tmp_path, delta, capsys):
    fresh = _rows()
    committed = copy.deepcopy(_committed(tmp_path, fresh))
    committed[3]["p@8"] = repr(float(committed[3]["p@8"]) + delta)
    comparison = compare_rows(committed, fresh, MODELS, HERE)
    assert not comparison.ok
    (diff,) = comparison.differences
    assert diff.key == "p@8" and diff.drift and diff.tolerance == SAME_MACHINE_ATOL
    assert diff.delta == pytest.approx(-delta)
    table = regress.diff_table(comparison)
    assert "DRIFT" in table and "p@8" in table and "1 beyond tolerance" in table


MANY = [f"model{i:02d}" for i in range(20)]  # as many as the registry has: the mean check averages over them
OTHER = "torch 2.13.0 AVX2; numpy 2.0; Other CPU (flags 0000); 1 thread"


def _many(fingerprint: str = HERE) -> list[dict]:
    records = [fake_record(m, split="synth-tiny", profile="ci", shift=0.01 * i) for i, m in enumerate(MANY)]
    return [row for record in records for row in rows_of_record(RunRecord.from_dict(record), fingerprint)]


def test_another_machine_gets_the_stated_tolerance(tmp_path):
    committed = _committed(tmp_path, _many(fingerprint=OTHER))
    small, large = copy.deepcopy(committed), copy.deepcopy(committed)
    small[0]["emr"] = repr(float(small[0]["emr"]) + CROSS_MACHINE_ATOL / 2)
    large[0]["emr"] = repr(float(large[0]["emr"]) + CROSS_MACHINE_ATOL * 2)
    assert compare_rows(small, _many(), MANY, HERE).ok  # one model went another way: within tolerance
    assert len(compare_rows(small, _many(), MANY, HERE).differences) == 1
    assert not compare_rows(large, _many(), MANY, HERE).ok


def test_a_change_shared_by_every_model_fails_on_another_machine_though_each_number_is_within_tolerance(tmp_path):
    committed = _committed(tmp_path, _many(fingerprint=OTHER))
    step = CROSS_MACHINE_MEAN_ATOL * 1.5
    shifted, scattered = copy.deepcopy(committed), copy.deepcopy(committed)
    for i, (a, b) in enumerate(zip(shifted, scattered)):
        a["macro_f1"] = repr(float(a["macro_f1"]) - step)  # e.g. a metric bug: every model one way
        b["macro_f1"] = repr(float(b["macro_f1"]) + (step if i % 2 else -step))  # rounding: either way
    together = compare_rows(shifted, _many(), MANY, HERE)
    assert not together.ok and not any(d.drift for d in together.differences)
    (problem,) = together.problems
    assert problem.startswith(f"macro_f1: changed by {step:+.4f} on average over the 40 rows")
    assert compare_rows(scattered, _many(), MANY, HERE).ok
    assert not compare_rows(scattered, _many(), MANY, OTHER).ok  # on the machine it was made on: exact


def test_another_split_content_is_one_problem_per_split(tmp_path):
    committed = _committed(tmp_path, _rows())
    fresh = _rows()
    for row in fresh:
        row["split_hash"] = "0123456789ab"
    problems = compare_rows(committed, fresh, MODELS, HERE).problems
    assert len(problems) == 1 and "same version, other content" in problems[0] and "0123456789ab" in problems[0]
    for row in fresh:
        row["split_version"] = "1.1.0"
    (problem,) = compare_rows(committed, fresh, MODELS, HERE).problems
    assert "version 1.0.0" in problem and "1.1.0" in problem and "make regress UPDATE=1" in problem


def test_the_fingerprint_names_what_changes_rounding():
    import torch

    fingerprint = regress.machine_fingerprint()
    assert fingerprint.startswith(f"torch {torch.__version__} {torch.backends.cpu.get_cpu_capability()}; ")
    assert all(f"{name} " in fingerprint for name in regress.NUMERIC_LIBRARIES) and fingerprint.endswith("1 thread")


def test_missing_removed_and_failing_models_fail(tmp_path):
    committed = _committed(tmp_path, _rows())
    fresh = _rows()
    new_model = compare_rows(committed, fresh, [*MODELS, "laat"], HERE)
    assert not new_model.ok and any("laat: registered but missing" in p for p in new_model.problems)
    removed = compare_rows(committed, [r for r in fresh if r["model"] != "rac"], ["caml", "lr"], HERE)
    assert not removed.ok and any("rac: in ci.csv but no longer registered" in p for p in removed.problems)
    failed = compare_rows(committed, [r for r in fresh if r["model"] != "lr"], MODELS, HERE, {"lr": "ValueError: x"})
    assert not failed.ok and failed.problems == ["lr: the run failed (ValueError: x)"]
    nan = copy.deepcopy(committed)
    nan[0]["macro_auc_roc"] = ""  # undefined before, a number now: that is a change too
    assert not compare_rows(nan, fresh, MODELS, HERE).ok


def test_the_cross_validated_job_must_have_its_rows_and_its_failure_is_one_problem(tmp_path):
    """The CMC fold rows (``FOLD_JOB``) are compared like the others: fresh fold rows missing from ci.csv fail,
    and a failed fold job is reported once, not as one missing row per fold."""
    folds = [fake_record(regress.FOLD_MODEL, split=regress.FOLD_SPLIT, profile="ci", shift=0.01 * k) for k in range(3)]
    for k, record in enumerate(folds):
        record["fold"] = k
    fold_rows = [row for record in folds for row in rows_of_record(RunRecord.from_dict(record), HERE)]
    assert {row["fold"] for row in fold_rows} == {"0", "1", "2"}
    without = _committed(tmp_path, _rows())
    missing = compare_rows(without, _rows() + fold_rows, MODELS, HERE)
    assert missing.problems == [f"{regress.FOLD_JOB}: fresh results with no row in ci.csv (make regress UPDATE=1, "
                                "with a CHANGELOG line)"]  # fmt: skip
    committed = _committed(tmp_path, _rows() + fold_rows)
    assert compare_rows(committed, _rows() + fold_rows, MODELS, HERE).ok
    failed = compare_rows(committed, _rows(), MODELS, HERE, {regress.FOLD_JOB: "UserError: x"})
    assert failed.problems == [f"{regress.FOLD_JOB}: the run failed (UserError: x)"]
    perturbed = copy.deepcopy(committed)
    row = next(r for r in perturbed if r["fold"] == "1" and r["setting"] == "full")
    row["micro_f1"] = repr(float(row["micro_f1"]) + 1e-3)
    (diff,) = compare_rows(perturbed, _rows() + fold_rows, MODELS, HERE).differences
    assert diff.row == (regress.FOLD_MODEL, regress.FOLD_SPLIT, "1", "full") and diff.drift


def test_regress_command_exits_1_on_drift_and_update_rewrites_ci_csv(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ICDBENCH_LEADERBOARDS", str(tmp_path))
    records = [RunRecord.from_dict(fake_record(m, split="synth-tiny", profile="ci")) for m in MODELS]
    monkeypatch.setattr(app_regress, "run_models", lambda models, **options: (records, {}, {}))
    monkeypatch.setattr(app_regress, "all_models", lambda: dict.fromkeys(MODELS))
    monkeypatch.setattr(app_regress, "machine_fingerprint", lambda: HERE)
    assert main(["regress"]) == 1 and "does not exist" in capsys.readouterr().err
    assert main(["regress", "--update"]) == 0 and (tmp_path / "ci.csv").is_file()
    assert main(["regress"]) == 0 and "0 changed" in capsys.readouterr().out
    text = (tmp_path / "ci.csv").read_text()
    value = next(r for r in read_ci(tmp_path / "ci.csv") if r["model"] == "lr")["macro_f1"]
    (tmp_path / "ci.csv").write_text(text.replace(value, repr(float(value) + 0.01), 1))
    assert main(["regress"]) == 1 and "DRIFT" in capsys.readouterr().out


def test_committed_ci_csv_covers_every_registered_model():
    """Adding or removing a model without `make regress UPDATE=1` fails here too, before CI runs regress."""
    committed = read_ci(leaderboards_dir() / "ci.csv")
    assert committed, "leaderboards/ci.csv is missing; create it with make regress UPDATE=1"
    registered = list(all_models())
    problems = compare_rows(committed, committed, registered, "").problems
    assert problems == []


def _codiesp_rows(fingerprint: str = HERE, shift: float = 0.0) -> list[dict]:
    record = fake_record(regress.CODIESP_MODEL, split=regress.CODIESP_SPLIT, profile="ci", shift=shift)
    return rows_of_record(RunRecord.from_dict(record), fingerprint)


def test_the_codiesp_job_is_its_own_job_beside_lr_on_synth_tiny():
    assert regress.job_of(regress.SPLIT, "lr") == "lr"
    assert regress.job_of(regress.CODIESP_SPLIT, "lr") == regress.CODIESP_JOB == "lr@codiesp-d-en"
    assert regress.job_of(regress.FOLD_SPLIT, "lr") == regress.FOLD_JOB


def test_without_the_corpus_the_codiesp_job_is_skipped_in_one_line_and_its_rows_do_not_fail(tmp_path, monkeypatch):
    monkeypatch.setenv(regress.CODIESP_ENV, str(tmp_path / "absent"))
    (why,) = regress.skipped_jobs().values()
    assert str(tmp_path / "absent") in why and "CODIESP_SOURCE" in why and "\n" not in why
    committed = _committed(tmp_path, _rows() + _codiesp_rows())
    skipped = frozenset(regress.skipped_jobs())
    assert compare_rows(committed, _rows(), MODELS, HERE, skipped=skipped).ok
    problems = compare_rows(committed, _rows(), MODELS, HERE).problems  # not skipped: its rows are missing
    assert problems == ["lr / codiesp-d-en / full: no fresh result for this row",
                        "lr / codiesp-d-en / top50: no fresh result for this row"]  # fmt: skip
    perturbed = copy.deepcopy(committed)
    next(r for r in perturbed if r["split"] == "synth-tiny" and r["model"] == "lr")["emr"] = "0.5"
    assert not compare_rows(perturbed, _rows(), MODELS, HERE, skipped=skipped).ok  # the others are still compared


def test_with_the_corpus_the_codiesp_rows_are_compared_like_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv(regress.CODIESP_ENV, str(tmp_path))
    assert regress.skipped_jobs() == {}
    committed = _committed(tmp_path, _rows() + _codiesp_rows())
    assert compare_rows(committed, _rows() + _codiesp_rows(), MODELS, HERE).ok
    drifted = compare_rows(committed, _rows() + _codiesp_rows(shift=1e-3), MODELS, HERE)
    assert not drifted.ok and {d.row[:2] for d in drifted.differences} == {("lr", "codiesp-d-en")}
    failed = compare_rows(committed, _rows(), MODELS, HERE, {regress.CODIESP_JOB: "UserError: x"})
    assert failed.problems == ["lr@codiesp-d-en: the run failed (UserError: x)"]  # lr on synth-tiny still compared


def _run_regress(monkeypatch, tmp_path, records, corpus: bool):
    monkeypatch.setenv("ICDBENCH_LEADERBOARDS", str(tmp_path))
    monkeypatch.setenv(regress.CODIESP_ENV, str(tmp_path if corpus else tmp_path / "absent"))
    asked = {}

    def run_models(models, debug=False, skip=frozenset(), only=None):
        asked.update(skip=skip, only=only)
        wanted = [RunRecord.from_dict(r) for r in records if regress.job_of(r["split"], r["model"]) not in skip
                  and (only is None or regress.job_of(r["split"], r["model"]) in only)]  # fmt: skip
        return wanted, {}, {}

    monkeypatch.setattr(app_regress, "run_models", run_models)
    monkeypatch.setattr(app_regress, "all_models", lambda: dict.fromkeys(MODELS))
    monkeypatch.setattr(app_regress, "machine_fingerprint", lambda: HERE)
    return asked


def test_regress_skips_the_codiesp_job_without_the_corpus_and_keeps_its_rows_on_update(tmp_path, monkeypatch, capsys):
    records = [fake_record(m, split="synth-tiny", profile="ci") for m in MODELS]
    codiesp = fake_record("lr", split=regress.CODIESP_SPLIT, profile="ci")
    asked = _run_regress(monkeypatch, tmp_path, records + [codiesp], corpus=True)
    assert main(["regress", "--update"]) == 0 and asked["skip"] == frozenset()
    before = (tmp_path / "ci.csv").read_text()
    assert "codiesp-d-en" in before and main(["regress"]) == 0
    asked = _run_regress(monkeypatch, tmp_path, records + [codiesp], corpus=False)
    capsys.readouterr()
    assert main(["regress"]) == 0 and asked["skip"] == {regress.CODIESP_JOB}
    skip_lines = [line for line in capsys.readouterr().out.splitlines() if "skipping" in line]
    assert len(skip_lines) == 1 and skip_lines[0].startswith("regress: skipping lr@codiesp-d-en: no CodiEsp corpus at")
    assert main(["regress", "--update"]) == 0 and (tmp_path / "ci.csv").read_text() == before  # rows kept


def test_a_partial_update_adds_one_jobs_rows_and_leaves_every_other_byte_identical(tmp_path, monkeypatch):
    from icdbench.app.requests import RegressRequest

    records = [fake_record(m, split="synth-tiny", profile="ci") for m in MODELS]
    _run_regress(monkeypatch, tmp_path, records, corpus=True)
    assert main(["regress", "--update"]) == 0
    before = (tmp_path / "ci.csv").read_text().splitlines()
    codiesp = fake_record("lr", split=regress.CODIESP_SPLIT, profile="ci")
    moved = [fake_record(m, split="synth-tiny", profile="ci", shift=0.1) for m in MODELS]  # would change the others
    _run_regress(monkeypatch, tmp_path, moved + [codiesp], corpus=True)
    assert app_regress.regress(RegressRequest(update=True, only=frozenset({regress.CODIESP_JOB}))) == 0
    after = (tmp_path / "ci.csv").read_text().splitlines()
    added = [line for line in after if line not in before]
    assert set(before) <= set(after) and len(added) == 2 and all(",codiesp-d-en,," in line for line in added)


def test_run_models_launches_neither_skipped_jobs_nor_an_empty_grid(monkeypatch):
    """The runs regress launches: not the skipped CodiEsp job, and nothing at all (no crash) when every job asked
    for is skipped. Preparing and launching are stubbed: nothing trains here."""
    from icdbench.grid.spec import GridRun

    planned = [GridRun("lr", regress.SPLIT, "ci", 0), GridRun("lr", regress.CODIESP_SPLIT, "ci", 0)]
    prepared, launched = [], []
    monkeypatch.setattr(app_regress, "ensure_split", lambda split, source=None: prepared.append(split))
    monkeypatch.setattr(app_regress, "write_cmc_file", lambda *args, **kwargs: None)
    monkeypatch.setattr(app_regress, "load_grid", lambda name: type("Grid", (), {"runs": lambda _, m: planned})())
    monkeypatch.setattr(app_regress, "launch", lambda grid, runs, options: launched.append(runs))
    skip = frozenset({regress.CODIESP_JOB})
    assert app_regress.run_models(["lr"], skip=skip) == ([], {}, {})
    assert [[run.split for run in runs] for runs in launched] == [[regress.SPLIT]]
    assert regress.CODIESP_SPLIT not in prepared
    launched.clear()
    assert app_regress.run_models(["lr"], skip=skip, only=skip) == ([], {}, {}) and launched == []
    app_regress.run_models(["lr"], only=skip)
    assert [[run.split for run in runs] for runs in launched] == [[regress.CODIESP_SPLIT]]
    assert prepared[-1] == regress.CODIESP_SPLIT
