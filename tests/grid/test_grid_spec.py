"""Grid files, their expansion, what counts as already recorded or resumable, and the sbatch script of a dry run
(no run is trained here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grid_files import write_grid
from omegaconf import OmegaConf

from icdbench.app.leaderboard import COMMITTED_PLAN
from icdbench.cli import main
from icdbench.config import resolve_config
from icdbench.errors import UserError
from icdbench.grid.launchers import require
from icdbench.grid.spec import GridRun, Resources, grid_path, load_grid
from icdbench.grid.state import find_record, find_resumable, identity
from icdbench.models.registry import all_models, get_model
from icdbench.results import regress


def test_the_committed_grid_is_the_committed_plan_for_every_registered_model():
    grid = load_grid("committed")
    registered = list(all_models())
    runs = grid.runs(registered)
    assert grid.store == "committed"
    assert {(r.split, r.profile, r.seed) for r in runs} == {(e.split, e.profile, s) for e in COMMITTED_PLAN
                                                           for s in e.seeds}  # fmt: skip
    assert len(runs) == sum(len(e.seeds) * len(set(registered) - set(e.excluded)) for e in COMMITTED_PLAN)
    assert len({run.key for run in runs}) == len(runs)
    assert all(run.threads == run.resources.cpus == 1 for run in runs)  # how the 0.2.0+ records were made


def test_the_regress_grid_is_what_regress_compares():
    grid = load_grid(regress.REGRESS_GRID)
    every, folds, codiesp = grid.blocks
    assert grid.threads == regress.THREADS and grid.store == "runs"
    assert (every.models, every.splits, every.profiles, every.seeds) == (None, (regress.SPLIT,), (regress.PROFILE,),
                                                                         (regress.SEED,))  # fmt: skip
    assert (folds.models, folds.splits, folds.profiles, folds.folds) == ((regress.FOLD_MODEL,), (regress.FOLD_SPLIT,),
                                                                         (regress.PROFILE,), "all")  # fmt: skip
    assert (codiesp.models, codiesp.splits, codiesp.profiles, codiesp.source) == (
        (regress.CODIESP_MODEL,), (regress.CODIESP_SPLIT,), (regress.PROFILE,), None)  # regress prepares it first


def test_a_source_names_an_environment_variable_with_a_fallback_relative_to_the_grid_file(tmp_path, monkeypatch):
    """The committed grid is package data: only a variable can say where CodiEsp lies once installed from a wheel."""
    monkeypatch.delenv("CODIESP_SOURCE", raising=False)
    grid_dir = load_grid("committed").blocks[-1]
    assert grid_dir.source == str((Path(grid_path("committed")).parent / "../../../../shared/data/codiesp").resolve())
    monkeypatch.setenv("CODIESP_SOURCE", str(tmp_path / "codiesp"))
    assert {block.source for block in load_grid("committed").blocks} == {None, str(tmp_path / "codiesp")}


def test_a_run_travels_to_a_worker_as_json():
    run = GridRun("caml", "synth-tiny", "ci", 3, None, ("optim.lr=0.01",), Resources(2, 1, 8.0, 30), 2)
    assert GridRun.from_json(run.to_json()) == run
    assert run.key != GridRun("caml", "synth-tiny", "ci", 3).key  # overrides are part of the key
    assert run.command == "icdbench bench caml synth-tiny --profile ci --seeds 3 optim.lr=0.01"


@pytest.mark.parametrize("content, problem", [
    ({"runs": [{"models": ["lr"], "splits": ["synth-tiny"], "profiles": ["ci"], "seeds": [0]}], "workers": 3},
     "unknown keys ['workers']"),
    ({"runs": [{"models": ["lr"], "splits": ["synth-tiny"], "profiles": ["ci"]}]}, "lacks ['seeds']"),
    ({"resources": {"cores": 2}, "runs": [{"models": ["lr"], "splits": ["synth-tiny"], "profiles": ["ci"],
                                           "seeds": [0]}]}, "unknown resources ['cores']"),
    ({"runs": [{"models": ["lr"], "splits": ["synth-tiny"], "profiles": ["ci"], "seeds": ["a"]}]}, "seeds must be"),
    ({"runs": []}, "non-empty runs"),
    ({"runs": [{"models": ["lr"], "exclude": ["svm"], "splits": ["synth-tiny"], "profiles": ["ci"], "seeds": [0]}]},
     "exclude goes with models: all"),
    ({"runs": [{"models": ["lr"], "splits": ["synth-tiny"], "profiles": ["ci"], "seeds": [0],
                "source": "${ICDBENCH_TEST_UNSET_SOURCE}/x"}]}, "export ICDBENCH_TEST_UNSET_SOURCE=PATH"),
])  # fmt: skip
def test_a_bad_grid_file_is_one_line_naming_the_file(tmp_path, capsys, content, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(content))
    assert main(["grid", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and problem in err, err


def test_unknown_models_splits_and_folds_on_a_plain_split_fail_at_expansion(tmp_path):
    with pytest.raises(UserError, match="nosuchmodel"):
        load_grid(write_grid(tmp_path, "a", [{"models": ["nosuchmodel"]}])).runs()
    with pytest.raises(UserError, match="synth-tinyy"):
        load_grid(write_grid(tmp_path, "b", [{"models": ["lr"], "splits": ["synth-tinyy"]}])).runs()
    with pytest.raises(UserError, match="not folds"):
        load_grid(write_grid(tmp_path, "c", [{"models": ["lr"], "folds": 2}])).runs()
    with pytest.raises(UserError, match="unknown grid 'nosuchgrid'; available: .*committed"):
        load_grid("nosuchgrid")
    with pytest.raises(UserError, match="nosuchmodel"):
        load_grid(write_grid(tmp_path, "d", [{"models": "all", "exclude": ["nosuchmodel"]}])).runs()


def test_exclude_leaves_models_out_of_an_all_models_block(tmp_path):
    grid = load_grid(write_grid(tmp_path, "a", [{"models": "all", "exclude": ["lr", "svm"]}]))
    assert sorted(run.model for run in grid.runs()) == sorted(set(all_models()) - {"lr", "svm"})


def test_a_missing_engine_says_which_extra_installs_it():
    with pytest.raises(UserError) as caught:
        require("icdbench_no_such_engine", "ray")
    assert str(caught.value) == "the ray launcher needs icdbench_no_such_engine: pip install 'icdbench[ray]'"


def test_a_record_counts_only_for_the_same_config_split_and_seed_and_a_checkpointed_folder_resumes(run_env):
    _, runs = run_env
    run = GridRun("lr", "synth-tiny", "ci", 0)
    ident = identity(run)
    assert ident.split_hash is not None
    folder = runs / "synth-tiny" / "lr" / "20260101-000000-ci-seed0"
    folder.mkdir(parents=True)
    config = OmegaConf.to_container(resolve_config(get_model("lr"), split="synth-tiny", profile="ci", seed=0).cfg)
    record = {"schema": 1, "run_id": folder.name, "config_hash": ident.config_hash, "seed": 0, "profile": "ci",
              "split_hashes": {"content_sha256": ident.split_hash}, "model": "lr", "split": "synth-tiny",
              "config": config, "metrics": {"full": {}}}  # fmt: skip
    (folder / "record.json").write_text(json.dumps(record))
    assert find_record(run, ident)[1] == folder
    # a record made before train.num_nodes existed ran on one node: the same run, though its config hash differs
    older = {**config, "train": {k: v for k, v in config["train"].items() if k != "num_nodes"}}
    (folder / "record.json").write_text(json.dumps({**record, "config": older, "config_hash": "older"}))
    assert find_record(run, ident)[1] == folder
    two_nodes = {**config, "train": {**config["train"], "num_nodes": 2}}
    (folder / "record.json").write_text(json.dumps({**record, "config": two_nodes}))
    assert find_record(run, ident) is None  # another setting: not this run's record
    (folder / "record.json").write_text(json.dumps(record))
    assert find_record(GridRun("lr", "synth-tiny", "ci", 1), identity(GridRun("lr", "synth-tiny", "ci", 1))) is None
    other = GridRun("lr", "synth-tiny", "ci", 0, overrides=("optim.lr=0.5",))
    assert find_record(other, identity(other)) is None  # another config: not this run's record
    (folder / "record.json").write_text(json.dumps({**record, "split_hashes": {"content_sha256": "other"}}))
    assert find_record(run, ident) is None  # another preparation of the split

    caml = GridRun("caml", "synth-tiny", "ci", 0)
    unfinished = runs / "synth-tiny" / "caml" / "20260101-000000-ci-seed0"
    (unfinished / "checkpoints").mkdir(parents=True)
    (unfinished / "config.yaml").write_text(resolve_config(get_model("caml"), split="synth-tiny", profile="ci",
                                                           seed=0).yaml)  # fmt: skip
    (unfinished / "config_layers.yaml").write_text("profile: ci\nlayers: []\n")
    assert find_resumable(caml, identity(caml)) is None  # no checkpoint yet: start over
    (unfinished / "checkpoints" / "last.ckpt").write_bytes(b"x")
    assert find_resumable(caml, identity(caml)) == unfinished
    assert find_resumable(GridRun("caml", "synth-tiny", "ci", 1), identity(GridRun("caml", "synth-tiny", "ci", 1))) \
        is None  # fmt: skip


def test_the_slurm_dry_run_prints_one_array_per_resource_request(run_env, tmp_path, capsys):
    path = write_grid(tmp_path, "arrays", [
        {"models": ["prior", "lr"], "seeds": [0, 1], "resources": {"cpus": 2, "gpus": 1, "mem_gb": 6, "time_min": 15}},
        {"models": ["lr"], "seeds": [5]},
    ], slurm={"partition": "cpu", "qos": "normal"})  # fmt: skip
    assert main(["grid", str(path), "--launcher", "slurm", "--dry-run", "--partition", "gpu", "--account", "lab"]) == 0
    out = capsys.readouterr().out
    first, second = out.split("#!/bin/bash")[1:]
    for line in ("#SBATCH --array=0-3%4", "#SBATCH --cpus-per-task=2", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --mem=6GB", "#SBATCH --time=15", "#SBATCH --partition=gpu", "#SBATCH --account=lab",
                 "#SBATCH --qos=normal", "#SBATCH --signal=USR2@90", "submitit.core._submit"):  # fmt: skip
        assert line in first.splitlines() or line in first, line
    assert "#SBATCH --array=0-0%1" in second and "#SBATCH --cpus-per-task=1" in second and "gpus" not in second
    assert "grid arrays: 5 run(s), 0 recorded, 5 to run" in out
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("record.json"))


def test_the_slurm_dry_run_gives_a_ddp_run_one_task_per_process_on_its_nodes(run_env, tmp_path, capsys):
    path = write_grid(tmp_path, "ddp", [
        {"models": ["caml"], "overrides": ["train.strategy=ddp", "train.devices=2", "train.num_nodes=3"],
         "resources": {"cpus": 4, "gpus": 2}},
        {"models": ["caml"], "resources": {"cpus": 4, "gpus": 2}},  # the same resources, one process
    ])  # fmt: skip
    assert main(["grid", str(path), "--launcher", "slurm", "--dry-run"]) == 0
    ddp, single = (script.splitlines() for script in capsys.readouterr().out.split("#!/bin/bash")[1:])
    for line in ("#SBATCH --nodes=3", "#SBATCH --ntasks-per-node=2", "#SBATCH --gpus-per-node=2",
                 "#SBATCH --cpus-per-task=4", "#SBATCH --array=0-0%1"):  # fmt: skip
        assert line in ddp, line
    assert "#SBATCH --nodes=1" in single and "#SBATCH --ntasks-per-node=1" in single
    assert any(line.startswith("srun ") for line in ddp)  # srun starts every task; Lightning reads their ranks
