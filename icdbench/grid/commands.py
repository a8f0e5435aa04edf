"""``icdbench grid GRID``: run every run of a grid that has no record yet, on the chosen engine.

Planning happens in the driver: a run whose record exists (same config hash, split content hash, seed, fold;
for a ``store: committed`` grid, its committed record) is skipped, an unfinished folder with a checkpoint is
resumed, the rest start fresh. Outcomes come back to the driver, which writes a record that is not under its
RUNS_DIR yet (workers without a shared filesystem), copies records into ``leaderboards/records`` for a committed
grid, keeps ``status.json`` for ``--retry-failed`` and prints the summary. Exit: 0 when every run has its record,
1 when one failed, 143 when the grid itself was stopped by SIGTERM or Ctrl-C (run it again to go on).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from icdbench.app.requests import GridRequest
from icdbench.grid.launchers import RayInstance, available_cpus, require, run_local, run_ray
from icdbench.grid.process import TERMINATED, Outcome
from icdbench.grid.progress import FAILED, Progress, summary
from icdbench.grid.spec import Grid, GridRun, load_grid
from icdbench.grid.state import (
    STATUS_FILE,
    find_record,
    find_resumable,
    grid_dir,
    identity,
    log_path,
    matches,
    read_status,
    write_status,
)
from icdbench.io import atomic_write_json
from icdbench.paths import data_dir, runs_dir, settings_dir
from icdbench.results.record import RECORD_FILE, read_record_file
from icdbench.results.run_index import append_run
from icdbench.results.sources import (
    commit_record,
    committed_path,
    config_key,
    leaderboards_dir,
    time_budget_conflict,
)


@dataclass
class Plan:
    todo: list[GridRun]
    resume: list[str]  # keys of todo runs that continue an unfinished folder
    recorded: int  # runs whose record exists
    stale: int  # committed records made with another config or split than the current code resolves


def plan(grid: Grid, runs: list[GridRun]) -> Plan:
    todo, resume, recorded, stale = [], [], 0, 0
    for run in runs:
        ident = identity(run)
        if grid.store == "committed":
            path = committed_path(run.split, run.model, run.profile, run.seed)
            if path.is_file():  # the committed boards keep their record until someone replaces it on purpose
                recorded += 1
                record = read_record_file(path)
                # an unprepared split cannot be compared: the config alone decides then
                stale += not matches(record, run, ident) if ident.split_hash else \
                    config_key(record) != ident.settings_key  # fmt: skip
                continue
        elif find_record(run, ident) is not None:
            recorded += 1
            continue
        todo.append(run)
        if find_resumable(run, ident) is not None:
            resume.append(run.key)
    return Plan(todo, resume, recorded, stale)


def worker_env() -> dict[str, str]:
    """What every worker needs to find the same data and write to the same places (absolute paths)."""
    return {"RUNS_DIR": str(runs_dir().resolve()), "DATA_DIR": str(data_dir().resolve()),
            "ICDBENCH_SETTINGS": str(settings_dir().resolve()),
            "ICDBENCH_LEADERBOARDS": str(leaderboards_dir().resolve())}  # fmt: skip


def store_outcome(grid: Grid, outcome: Outcome) -> None:
    """Write a returned record where the driver keeps records (if the worker's files are elsewhere)."""
    if outcome.record is None or outcome.status not in ("done", "skipped"):
        return
    if outcome.run_dir and not Path(outcome.run_dir).is_absolute():
        here = runs_dir() / outcome.run_dir
        if not (here / RECORD_FILE).is_file():  # no shared filesystem: the record came back with the outcome
            atomic_write_json(here / RECORD_FILE, outcome.record.to_dict())
            append_run(outcome.record, here)
    if grid.store == "committed":
        conflict = time_budget_conflict(outcome.record)
        if conflict:  # the run stays in RUNS_DIR; the row keeps the replicates it had
            print(f"icdbench: warning: not committed: {conflict}", file=sys.stderr)
        else:
            commit_record(outcome.record)


def _selected(runs: list[GridRun], name: str, retry_failed: bool) -> list[GridRun]:
    if not retry_failed:
        return runs
    failed = {key for key, entry in read_status(name).items() if entry.get("status") in FAILED}
    return [run for run in runs if run.key in failed]


def plan_line(grid: Grid, runs: list[GridRun], todo: Plan, where: str) -> str:
    resume = f", {len(todo.resume)} of them resumed from a checkpoint" if todo.resume else ""
    stale = (f" ({todo.stale} committed record(s) were made with another config or split than today's code "
             "resolves; delete one to re-run it)") if todo.stale else ""  # fmt: skip
    return (f"grid {grid.name}: {len(runs)} run(s), {todo.recorded} recorded{stale}, {len(todo.todo)} to run"
            f"{resume}; {where}")


def prepare_splits(grid: Grid) -> None:
    """Prepare every split of the grid once, before the workers need it (a missing source fails here, in one line)."""
    from icdbench.datasets.prepared import ensure_split  # heavy: polars and numpy, for a grid that runs

    for split, source in sorted({(split, block.source) for block in grid.blocks for split in block.splits}, key=str):
        ensure_split(split, Path(source) if source else None)


@dataclass
class Launch:
    launcher: str = "local"
    cpus: int | None = None  # local pool / local Ray instance size (default: the cores)
    address: str | None = None  # ray cluster
    slurm_cluster: str = "slurm"  # slurm | local (submitit's local executor)
    settings: dict = field(default_factory=dict)  # sbatch settings over the grid file's
    quiet: bool = False  # no progress line (a caller that prints its own)
    on_outcome: Callable[[Outcome], None] | None = None

    def where(self) -> str:
        cpus = self.cpus or available_cpus()
        if self.launcher == "ray":
            return f"Ray at {self.address}" if self.address else f"local Ray instance, {cpus} CPUs"
        return f"submitit {self.slurm_cluster}" if self.launcher == "slurm" else f"local pool, {cpus} CPUs"


def launch(grid: Grid, runs: list[GridRun], options: Launch) -> tuple[list[Outcome], bool]:
    """Run ``runs`` on the chosen engine; store each returned record, keep the status file: (outcomes, stopped)."""
    logs = {run.key: log_path(grid.name, run) for run in runs}
    cpus = options.cpus or available_cpus()
    slots = max(1, cpus // min(run.resources.cpus for run in runs))

    def stored(outcome: Outcome) -> None:
        store_outcome(grid, outcome)
        if options.on_outcome is not None:
            options.on_outcome(outcome)

    progress = Progress(grid.name, len(runs), slots, on_outcome=stored, stream=open(os.devnull, "w") if options.quiet
                        else None)  # fmt: skip
    env = worker_env()
    if options.launcher == "local":
        outcomes, stopped = run_local(runs, logs, env, cpus, progress)
    elif options.launcher == "ray":
        instance = RayInstance(options.address, options.cpus)
        try:
            outcomes, stopped = run_ray(runs, logs, env, instance, progress)
        finally:
            instance.close()
    else:
        from icdbench.grid.slurm import run_slurm  # optional: submitit (icdbench[slurm])

        outcomes, stopped = run_slurm(runs, logs, env, {**grid.slurm, **options.settings}, grid.name,
                                      grid_dir(grid.name) / "slurm", options.slurm_cluster, progress)  # fmt: skip
    progress.close()
    write_status(grid.name, {o.key: {"status": o.status, "command": o.command, "log": o.log, "error": o.error}
                             for o in outcomes})  # fmt: skip
    return outcomes, stopped


def grid(request: GridRequest) -> int:
    """``icdbench grid GRID``: plan, then run (or list, with ``dry_run``) every run without a record."""
    loaded = load_grid(request.grid)
    name = loaded.name
    if request.launcher != "local":  # a missing engine is one line before any planning work
        require("ray" if request.launcher == "ray" else "submitit", "ray" if request.launcher == "ray" else "slurm")
    if not request.dry_run:
        prepare_splits(loaded)
    runs = _selected(loaded.runs(), name, request.retry_failed)
    if request.retry_failed and not runs:
        print(f"grid {name}: no failed run in {grid_dir(name) / STATUS_FILE}; nothing to retry")
        return 0
    todo = plan(loaded, runs)
    settings = {k: v for k, v in (("partition", request.partition), ("account", request.account)) if v}
    options = Launch(request.launcher, request.cpus, request.address, request.slurm_cluster, settings)
    print(plan_line(loaded, runs, todo, options.where()), flush=True)
    if request.dry_run:
        for run in todo.todo:
            print(f"  {'resume' if run.key in todo.resume else 'run   '}  {run.command}")
        if request.launcher == "slurm" and todo.todo:
            from icdbench.grid.slurm import sbatch_scripts  # optional: submitit (icdbench[slurm])

            for script in sbatch_scripts(todo.todo, {**loaded.slurm, **settings}, name, grid_dir(name) / "slurm"):
                print(f"\n{script}")
        return 0
    if not todo.todo:
        return 0
    outcomes, stopped = launch(loaded, todo.todo, options)
    print(summary(outcomes, todo.recorded))
    left = len(todo.todo) - len(outcomes)
    if left:
        print(f"grid {name}: {left} run(s) not started; run the same command to go on", file=sys.stderr)
    if stopped:
        return TERMINATED
    failed = [o for o in outcomes if o.status in FAILED]
    if failed:
        print(f"grid {name}: {len(failed)} run(s) did not finish; `icdbench grid {request.grid} --retry-failed` runs "
              "only those", file=sys.stderr)  # fmt: skip
        return 1
    return 0
